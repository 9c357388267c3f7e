/**
 * `palisade sensor inventory`: the cluster-level collector (one Deployment per cluster). It
 * watches the cluster's Events, and its Pods with the ReplicaSets and Jobs that own them, with a
 * read-only identity (deploy/manifests/30-inventory-rbac.yaml or `palisade cluster bind`) and
 * sends Kubernetes events and container records (the context the server fills into alerts whose
 * node could not resolve it) to the server's runtime ingest endpoint as `inventory` batches,
 * until SIGINT/SIGTERM or --duration; counters go to stderr at the end.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { PalisadeError } from '@palisade/core';
import { KubeClient, inClusterConfig, loadKubeconfig, type ClusterConfig } from '@palisade/kube';
import { createIngestClient, runInventoryCollector } from '@palisade/sensor';
import type { Io } from '../output.js';

interface InventoryFlags {
  server?: string;
  tokenFile?: string;
  caFile?: string;
  insecure: boolean;
  inCluster: boolean;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** false with --no-containers. */
  containers: boolean;
  duration?: number;
}

const SUBJECT = 'sensor inventory';

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new PalisadeError('E_INPUT', `--duration must be a positive number of seconds, got "${value}"`, {
      subject: SUBJECT,
    });
  return n;
}

/** The ingest token, re-read per send (a rotated Secret is picked up; the last good one is kept meanwhile). */
function ingestToken(flags: InventoryFlags, io: Io): () => string {
  const file = flags.tokenFile;
  if (file === undefined) {
    const env = io.env['PALISADE_INGEST_TOKEN']?.trim();
    if (env) return () => env;
    throw new PalisadeError('E_CONFIG', 'no ingest token: pass --token-file FILE or set PALISADE_INGEST_TOKEN', {
      subject: SUBJECT,
    });
  }
  const read = (): string => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new PalisadeError(
        'E_CONFIG',
        `cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        {
          subject: file,
        },
      );
    }
    if (text === '' || /\s/.test(text))
      throw new PalisadeError('E_CONFIG', 'the token file must hold one token', { subject: file });
    return text;
  };
  let last = read();
  return () => {
    try {
      last = read();
    } catch {
      // keep the last good token
    }
    return last;
  };
}

function clusterConfig(flags: InventoryFlags, io: Io): ClusterConfig {
  if (flags.inCluster) {
    if (flags.kubeconfig !== undefined || flags.context !== undefined)
      throw new PalisadeError('E_INPUT', '--in-cluster cannot be combined with --kubeconfig or --context', {
        subject: SUBJECT,
      });
    return inClusterConfig({ env: io.env });
  }
  return loadKubeconfig({
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    env: io.env,
  });
}

async function runInventory(flags: InventoryFlags, io: Io): Promise<number> {
  const server = flags.server ?? io.env['PALISADE_SERVER_URL'];
  if (!server)
    throw new PalisadeError('E_CONFIG', 'no server: pass --server URL or set PALISADE_SERVER_URL', {
      subject: SUBJECT,
    });
  if (flags.caFile !== undefined && (!existsSync(flags.caFile) || !statSync(flags.caFile).isFile()))
    throw new PalisadeError('E_CONFIG', 'CA file not found', { subject: flags.caFile });
  const log = (l: string): void => void io.stderr.write(l + '\n');
  const sink = createIngestClient({
    url: server,
    token: ingestToken(flags, io),
    ...(flags.caFile !== undefined ? { caFile: flags.caFile } : {}),
    insecure: flags.insecure,
    env: io.env,
  });
  if (flags.insecure) log('inventory: WARNING: --insecure: the server certificate is NOT verified');
  const client = new KubeClient(clusterConfig(flags, io));
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const timer = flags.duration !== undefined ? setTimeout(stop, flags.duration * 1000) : undefined;
  try {
    log(
      `inventory: watching Events${flags.containers ? ', Pods, ReplicaSets and Jobs' : ''} of cluster ${client.cluster}, sending to ${sink.endpoint}`,
    );
    const stats = await runInventoryCollector({
      client,
      sink,
      signal: abort.signal,
      log,
      containers: flags.containers,
      // The Deployment passes its pod name (deploy/manifests/60-inventory.yaml); else the host name.
      ...(io.env['PALISADE_POD_NAME'] ? { node: io.env['PALISADE_POD_NAME'] } : {}),
      ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    });
    log(`inventory: ${JSON.stringify(stats)}`);
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.close();
  }
}

/** Adds `sensor inventory` to the `sensor` command. */
export function addInventoryCommand(sensor: Command, io: Io, setExit: (code: number) => void): void {
  sensor
    .command('inventory')
    .description(
      "watch the cluster's Events and Pods (as a Deployment, with a read-only ClusterRole) and send Kubernetes events " +
        'and container records (pod, namespace, workload, image digest of each container id) to the server ' +
        '(POST /api/v1/ingest/runtime, source "inventory") until SIGINT/SIGTERM or --duration',
    )
    .option('--server <url>', 'the Palisade server (default: $PALISADE_SERVER_URL)')
    .option('--token-file <file>', 'file holding the cluster ingest token (default: $PALISADE_INGEST_TOKEN)')
    .option('--ca-file <pem>', "extra CA certificate(s) to trust for the server's certificate")
    .option('--insecure', 'do not verify the server certificate (testing only)', false)
    .option('--in-cluster', "use the pod's service account", false)
    .option('--kubeconfig <file>', 'kubeconfig (default $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <ns>', 'watch this namespace only (default: all)')
    .option('--no-containers', 'do not watch Pods, ReplicaSets and Jobs (Events only)')
    .option('--duration <seconds>', 'stop after this many seconds', positiveSeconds)
    .action(async (flags: InventoryFlags) => {
      setExit(await runInventory(flags, io));
    });
}
