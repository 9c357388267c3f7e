/**
 * `palisade posture`: Kubernetes posture assessment of manifests. `posture scan PATH…` reads
 * YAML/JSON manifests (files, directories, `-` for stdin) and reports Pod Security Standards
 * violations and workload misconfigurations; `posture scan --kubeconfig FILE [--context C]`
 * (or `--in-cluster`) runs the same checks on a live snapshot of a cluster; `posture checks`
 * lists the catalogue.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { PalisadeError, SEVERITIES, isSeverity, type PssLevel, type Severity } from '@palisade/core';
import {
  POSTURE_FORMATS,
  PSS_LATEST_MINOR,
  formatPssVersion,
  loadCustomChecks,
  manifestInputs,
  parsePssVersion,
  parseImageVulns,
  scanWithAttackPaths,
  unjudgeableAbsenceChecks,
  writePostureReport,
  type AttackPathOptions,
  type Check,
  type ConditionLanguage,
  type PostureInput,
  type PostureReportWithAttackPaths as PostureReport,
} from '@palisade/posture';
import {
  KubeClient,
  inClusterConfig,
  loadKubeconfig,
  SNAPSHOT_KINDS,
  takeSnapshot,
  type ClusterConfig,
  type KubeObject,
  type Snapshot,
} from '@palisade/kube';
import { CelError, compileCel, displayValue, typeName } from '@palisade/rules';
import { EXIT_ERROR } from '../exit-codes.js';
import { emit, type Io } from '../output.js';
import { collect } from '../source-options.js';

/** Custom check conditions are CEL, compiled by the runtime rules' evaluator. */
const CEL_CONDITIONS: ConditionLanguage = {
  compile: (source, variables) => compileCel(source, { variables }),
  errorOf: (v) => (v instanceof CelError ? v.message : undefined),
  describe: (v) => `${typeName(v)} ${displayValue(v)}`,
};

function loadCatalogue(files: readonly string[]): Check[] {
  return loadCustomChecks(files, CEL_CONDITIONS);
}

interface PostureScanFlags {
  format: string;
  output?: string;
  pssVersion: string;
  pssLevel: PssLevel;
  pssOnly: boolean;
  skipCheck: string[];
  checks: string[];
  severity?: string;
  exitCode: number;
  allowUnreadable: boolean;
  kubeconfig?: string;
  context?: string;
  inCluster: boolean;
  allowIncomplete: boolean;
  pageSize?: number;
  requestTimeout?: number;
  imageVulns?: string;
}

/** Attack path options: image vulnerability counts from --image-vulns FILE, when given. */
function attackPathOptions(flags: PostureScanFlags): AttackPathOptions {
  const file = flags.imageVulns;
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new PalisadeError('E_INPUT', `cannot read the --image-vulns file: ${why}`, { subject: file });
  }
  return { imageVulnerabilities: parseImageVulns(text, file).lookup };
}

function parseExitCode(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new PalisadeError('E_INPUT', `--exit-code must be 0-255, got "${v}"`);
  return n;
}

function parseSeverities(list: string | undefined): Severity[] | undefined {
  if (!list) return undefined;
  return list.split(',').map((raw) => {
    const s = raw.trim().toLowerCase();
    if (!isSeverity(s))
      throw new PalisadeError('E_INPUT', `unknown severity "${raw}" (known: ${SEVERITIES.join(', ')})`, {
        subject: '--severity',
      });
    return s;
  });
}

function knownCheckIds(ids: readonly string[], catalogue: readonly Check[]): string[] {
  const known = new Set(catalogue.map((c) => c.id));
  const out = ids
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const id of out) {
    if (!known.has(id))
      throw new PalisadeError('E_INPUT', `unknown check "${id}" (see \`palisade posture checks\`)`, {
        subject: '--skip-check',
      });
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Keep only the asked-for severities; the summary keeps counting what was read. */
function filterSeverities(report: PostureReport, severities: Severity[] | undefined): PostureReport {
  if (!severities) return report;
  const misconfigurations = report.misconfigurations.filter((m) => severities.includes(m.severity));
  return { ...report, misconfigurations, summary: { ...report.summary, findings: misconfigurations.length } };
}

/** Unreadable input may hide misconfigurations: a CI gate fails closed unless told otherwise. */
function reportErrors(io: Io, report: PostureReport, allow: boolean): number {
  if (report.errors.length === 0) return 0;
  const label = allow ? 'warning' : 'palisade';
  for (const e of report.errors) io.stderr.write(`${label}: ${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}\n`);
  return allow ? 0 : EXIT_ERROR;
}

function parsePageSize(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 5000)
    throw new PalisadeError('E_INPUT', `--page-size must be 1-5000, got "${v}"`);
  return n;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new PalisadeError('E_INPUT', `--request-timeout must be 0-3600 seconds, got "${v}"`);
  return n;
}

function isLive(flags: PostureScanFlags): boolean {
  return flags.kubeconfig !== undefined || flags.context !== undefined || flags.inCluster;
}

const CONTROLLER_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

/**
 * The snapshot as posture inputs, one object each. Objects created by a controller that is
 * itself in the snapshot (a Deployment's ReplicaSets and their Pods, a CronJob's Jobs) are
 * left out: the controller's template is where the fix goes, and judging every replica too
 * would repeat each finding once per pod. Owners outside the snapshot (custom controllers)
 * keep their objects in, so nothing goes unjudged.
 */
function* snapshotInputs(snap: Snapshot): Generator<PostureInput> {
  const controllers = new Set<string>();
  for (const o of snap.objects) {
    const uid = (o['metadata'] as { uid?: unknown } | undefined)?.uid;
    if (CONTROLLER_KINDS.has(String(o['kind'])) && typeof uid === 'string') controllers.add(uid);
  }
  const file = `cluster ${snap.cluster}`;
  for (const o of snap.objects) {
    if (controlledBy(o, controllers)) continue;
    yield { file, text: JSON.stringify(o) };
  }
}

function controlledBy(o: KubeObject, controllers: Set<string>): boolean {
  const owners = (o['metadata'] as { ownerReferences?: unknown } | undefined)?.ownerReferences;
  if (!Array.isArray(owners)) return false;
  return owners.some(
    (r: { controller?: unknown; uid?: unknown }) =>
      r.controller === true && typeof r.uid === 'string' && controllers.has(r.uid),
  );
}

/**
 * Kinds the snapshot holds every object of: what it lists, less what failed to list. A kind
 * the cluster does not serve counts (it has none). Checks that report an absence of a kind
 * the snapshot could not read are skipped, not run blind.
 */
function readableKinds(snap: Snapshot): string[] {
  if (snap.errors.some((e) => e.kind === 'discovery')) return [];
  const failed = new Set(snap.errors.map((e) => e.kind.slice(e.kind.lastIndexOf('/') + 1)));
  return SNAPSHOT_KINDS.map((k) => k.kind).filter((k) => !failed.has(k));
}

function clusterConfig(flags: PostureScanFlags, io: Io): ClusterConfig {
  if (flags.inCluster) {
    if (flags.kubeconfig !== undefined || flags.context !== undefined)
      throw new PalisadeError('E_INPUT', '--in-cluster cannot be combined with --kubeconfig or --context');
    return inClusterConfig({ env: io.env });
  }
  return loadKubeconfig({
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context !== undefined ? { context: flags.context } : {}),
    env: io.env,
  });
}

async function runLiveScan(flags: PostureScanFlags, io: Io): Promise<number> {
  const pssVersion = parsePssVersion(flags.pssVersion);
  const severities = parseSeverities(flags.severity);
  const catalogue = loadCatalogue(flags.checks);
  const skip = knownCheckIds(flags.skipCheck, catalogue);
  const attackPaths = attackPathOptions(flags);
  const client = new KubeClient(
    clusterConfig(flags, io),
    flags.requestTimeout !== undefined ? { requestTimeoutMs: Math.round(flags.requestTimeout * 1000) } : {},
  );
  let snap: Snapshot;
  try {
    snap = await takeSnapshot(client, flags.pageSize !== undefined ? { pageSize: flags.pageSize } : {});
  } finally {
    client.close();
  }
  const scanned = scanWithAttackPaths(snapshotInputs(snap), {
    pssLevel: flags.pssLevel,
    pssVersion,
    pssOnly: flags.pssOnly,
    skip: [...skip, ...unjudgeableAbsenceChecks(readableKinds(snap))],
    checks: catalogue,
    cluster: snap.cluster,
    attackPaths,
  });
  // Findings of a live scan are located by resource.cluster (and namespace/kind/name); the
  // synthetic per-object "file" the engine needs means nothing to a reader, so it is dropped.
  const misconfigurations = scanned.misconfigurations.map(({ source: _source, ...m }) => m);
  // Failed lists go in the report's errors too, so a stored JSON report says it is partial.
  const errors = [
    ...scanned.errors,
    ...snap.errors.map((e) => ({ file: `cluster ${snap.cluster}: ${e.kind}`, message: e.message })),
  ];
  const report = filterSeverities({ ...scanned, misconfigurations, errors }, severities);
  emit(io, writePostureReport(report, flags.format), flags.output);
  if (!snap.complete) {
    const label = flags.allowIncomplete ? 'warning' : 'palisade';
    io.stderr.write(
      `${label}: snapshot of cluster ${snap.cluster} is incomplete (${snap.errors.length} kind${snap.errors.length === 1 ? '' : 's'} not read): findings cover only what was read\n`,
    );
    for (const e of snap.errors) io.stderr.write(`${label}: ${e.kind}: ${e.message}\n`);
    if (!flags.allowIncomplete) return EXIT_ERROR;
  }
  const problems = reportErrors(io, { ...report, errors: scanned.errors }, flags.allowUnreadable);
  if (problems !== 0) return problems;
  return flags.exitCode !== 0 && report.misconfigurations.length > 0 ? flags.exitCode : 0;
}

async function runPostureScan(paths: string[], flags: PostureScanFlags, io: Io): Promise<number> {
  if (isLive(flags)) {
    if (paths.length > 0)
      throw new PalisadeError(
        'E_INPUT',
        'give manifest paths or a cluster (--kubeconfig/--context/--in-cluster), not both',
      );
    return runLiveScan(flags, io);
  }
  if (paths.length === 0)
    throw new PalisadeError('E_INPUT', 'nothing to scan: give manifest paths, - for stdin, or --kubeconfig FILE');
  const pssVersion = parsePssVersion(flags.pssVersion);
  const severities = parseSeverities(flags.severity);
  // Custom check files load before any input is read: a broken file fails the scan (exit 2).
  const catalogue = loadCatalogue(flags.checks);
  const skip = knownCheckIds(flags.skipCheck, catalogue);
  const attackPaths = attackPathOptions(flags);
  if (paths.filter((p) => p === '-').length > 1) throw new PalisadeError('E_INPUT', 'stdin (-) can be given only once');
  const stdinText = paths.includes('-') ? await readAll(io.stdin) : '';
  const report = filterSeverities(
    scanWithAttackPaths(
      manifestInputs(paths, () => stdinText),
      {
        pssLevel: flags.pssLevel,
        pssVersion,
        pssOnly: flags.pssOnly,
        skip,
        checks: catalogue,
        attackPaths,
      },
    ),
    severities,
  );
  emit(io, writePostureReport(report, flags.format), flags.output);
  const problems = reportErrors(io, report, flags.allowUnreadable);
  if (problems !== 0) return problems;
  return flags.exitCode !== 0 && report.misconfigurations.length > 0 ? flags.exitCode : 0;
}

function checksTable(catalogue: readonly Check[]): string {
  const rows = catalogue.map((c) => [
    c.id,
    c.severity,
    c.pss ? `${c.pss.level} ${c.pss.control} (v1.${c.pss.since}+)` : '',
    c.title,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')).join('\n') + '\n';
}

export function postureCommand(io: Io, setExit: (code: number) => void): Command {
  const posture = new Command('posture').description(
    'Kubernetes posture: Pod Security Standards and workload misconfigurations in manifests',
  );
  const scan = new Command('scan')
    .description(
      'scan Kubernetes manifests (YAML/JSON files or directories, Lists, kubectl -o json dumps, Helm output; - for stdin), or a live cluster with --kubeconfig',
    )
    .argument('[paths...]', 'manifest files or directories, - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...POSTURE_FORMATS]).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option(
      '--pss-version <version>',
      `Pod Security Standards policy version, v1.0 … ${formatPssVersion(PSS_LATEST_MINOR)} or latest`,
      'latest',
    )
    .addOption(
      new Option('--pss-level <level>', 'Pod Security Standards level to judge by')
        .choices(['baseline', 'restricted'])
        .default('restricted'),
    )
    .option('--pss-only', 'run only the Pod Security Standards checks', false)
    .option('--skip-check <ids>', 'do not run these checks (comma-separated, repeatable)', collect, [])
    .option('--checks <file>', 'add the custom checks (CEL conditions) in this YAML file (repeatable)', collect, [])
    .option('--severity <list>', `only report these severities (comma-separated: ${SEVERITIES.join(',')})`)
    .option('--exit-code <n>', 'exit with this code when misconfigurations are found (CI gates)', parseExitCode, 0)
    .option(
      '--image-vulns <file>',
      'rank attack paths with image vulnerability counts from this JSON file (image → {critical, high, kev, fixable}, or palisade scan -f json reports)',
    )
    .option(
      '--allow-unreadable',
      'exit 0 even when some input could not be parsed (by default the scan fails closed)',
      false,
    )
    .option('--kubeconfig <file>', 'scan a live cluster: take a snapshot with this kubeconfig (read-only)')
    .option('--context <name>', 'kubeconfig context of the cluster to scan (default current-context; uses $KUBECONFIG)')
    .option('--in-cluster', 'scan the cluster Palisade runs in, with its service account', false)
    .option('--page-size <n>', 'objects per list page when reading a cluster (1-5000, default 500)', parsePageSize)
    .option('--request-timeout <seconds>', 'time budget of one API request (default 30)', parseSeconds)
    .option(
      '--allow-incomplete',
      'exit as usual even when some kinds could not be read from the cluster (by default the scan fails closed)',
      false,
    )
    .action(async (paths: string[], flags: PostureScanFlags) => {
      setExit(await runPostureScan(paths, flags, io));
    });
  const checks = new Command('checks')
    .description('list the posture checks')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('--checks <file>', 'include the custom checks in this YAML file (repeatable)', collect, [])
    .action((flags: { format: string; checks: string[] }) => {
      const catalogue = loadCatalogue(flags.checks);
      const text =
        flags.format === 'json'
          ? JSON.stringify(
              catalogue.map(({ id, version, title, severity, description, remediation, frameworks, pss }) => ({
                id,
                version,
                title,
                severity,
                description,
                remediation,
                frameworks,
                ...(pss ? { pss } : {}),
              })),
              null,
              2,
            )
          : checksTable(catalogue);
      emit(io, text, undefined);
    });
  posture.addCommand(scan);
  posture.addCommand(checks);
  return posture;
}
