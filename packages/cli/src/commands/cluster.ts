/**
 * `palisade cluster manifests` prints, and `palisade cluster bind` applies (server-side apply,
 * field manager `palisade`), the read-only identity Palisade needs in a cluster: ServiceAccount,
 * ClusterRole (get/list/watch of the kinds it reads, never secrets) and ClusterRoleBinding.
 */
import { Command } from 'commander';
import { PalisadeError } from '@palisade/core';
import { KubeClient, bindPalisade, loadKubeconfig, readOnlyRbacManifests, type BindResult } from '@palisade/kube';
import { emit, type Io } from '../output.js';

interface BindFlags {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  dryRun: boolean;
  forceConflicts: boolean;
  printKubeconfig: boolean;
  requestTimeout?: number;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new PalisadeError('E_INPUT', `--request-timeout must be 1-3600 seconds, got "${v}"`);
  return n;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function describeBind(result: BindResult, dryRun: boolean): string {
  const suffix = dryRun ? ' (dry run: nothing stored)' : '';
  const lines = result.applied.map(
    (a) => `${a.kind} ${a.namespace !== undefined ? `${a.namespace}/` : ''}${a.name}: ${a.result}${suffix}`,
  );
  for (const s of result.skipped)
    lines.push(`${s}: not dry-run (its namespace does not exist yet; it would be created)`);
  return lines.join('\n') + '\n';
}

async function runBind(flags: BindFlags, io: Io): Promise<void> {
  if (!NAMESPACE.test(flags.namespace) || flags.namespace.length > 63)
    throw new PalisadeError('E_INPUT', `--namespace must be a DNS label, got "${flags.namespace}"`);
  if (flags.printKubeconfig && flags.dryRun)
    throw new PalisadeError('E_INPUT', '--print-kubeconfig needs a real apply: it cannot be combined with --dry-run');
  const client = new KubeClient(
    loadKubeconfig({
      ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
      ...(flags.context !== undefined ? { context: flags.context } : {}),
      env: io.env,
    }),
    flags.requestTimeout !== undefined ? { requestTimeoutMs: Math.round(flags.requestTimeout * 1000) } : {},
  );
  try {
    const result = await bindPalisade(client, {
      namespace: flags.namespace,
      dryRun: flags.dryRun,
      forceConflicts: flags.forceConflicts,
      kubeconfig: flags.printKubeconfig,
    });
    io.stderr.write(describeBind(result, flags.dryRun));
    // The kubeconfig holds the ServiceAccount's token: stdout only, for the caller to store.
    if (result.kubeconfig !== undefined) io.stdout.write(result.kubeconfig);
  } finally {
    client.close();
  }
}

/** `palisade cluster manifests|bind`: the read-only identity Palisade needs in a cluster. */
export function clusterCommand(io: Io, setExit: (code: number) => void): Command {
  const cluster = new Command('cluster').description('connect Palisade to Kubernetes clusters');
  cluster
    .command('manifests')
    .description(
      'print the ServiceAccount, read-only ClusterRole (get/list/watch of the kinds Palisade reads; never secrets) and binding to apply with kubectl',
    )
    .option('-o, --output <file>', 'write the manifests to a file instead of stdout')
    .action((flags: { output?: string }) => {
      emit(io, readOnlyRbacManifests(), flags.output);
      setExit(0);
    });
  cluster
    .command('bind')
    .description(
      'apply (server-side apply, field manager "palisade") the Namespace, ServiceAccount, read-only ClusterRole and ClusterRoleBinding of `cluster manifests`',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig with a credential allowed to create RBAC (default $KUBECONFIG or ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context (default current-context)')
    .option('--namespace <ns>', 'namespace of the ServiceAccount', 'palisade')
    .option('--dry-run', 'server-side dry run (dryRun=All): validate and admit, store nothing', false)
    .option('--force-conflicts', 'take over fields another field manager owns instead of failing', false)
    .option(
      '--print-kubeconfig',
      'also create a long-lived token Secret for the ServiceAccount and print a kubeconfig using it (to register the cluster with the server)',
      false,
    )
    .option('--request-timeout <seconds>', 'budget of one API request (default 30)', parseSeconds)
    .action(async (flags: BindFlags) => {
      await runBind(flags, io);
      setExit(0);
    });
  return cluster;
}
