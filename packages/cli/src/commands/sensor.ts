/**
 * `palisade sensor collect`: runs the eBPF sensor on this machine and evaluates every event with
 * the rule engine. With --local it prints alerts as JSON lines; otherwise it hands alerts (and
 * the raw events chosen with --forward-events) to the node's publisher over its unix socket.
 * `palisade sensor publish`: receives from the collector, spools on disk and sends batches to
 * the server's runtime ingest endpoint over HTTPS.
 * Both run until SIGINT/SIGTERM (or --duration) and can serve Prometheus counters on a
 * loopback --metrics-addr.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { PalisadeError, isRuntimeEventType, type RuntimeEvent, type SensorCounterDelta } from '@palisade/core';
import { RuleEngine } from '@palisade/rules';
import {
  DEFAULT_SOCKET_PATH,
  SENSOR_EVENT_TYPES,
  Sensor,
  TransportClient,
  createIngestClient,
  parseMetricsAddr,
  runCollector,
  runPublisher,
  startMetricsServer,
  type CollectorSink,
  type MetricFamily,
  type MetricsAddress,
  type MetricsServer,
  type MetricsSource,
  type SensorCounters,
  type TransportItem,
} from '@palisade/sensor';
import { EXIT_ERROR } from '../exit-codes.js';
import type { Io } from '../output.js';
import { collect } from '../source-options.js';
import { formatLoadError, ruleSources } from './rules.js';
import { RESOLVER_CHOICES, onPath, startAttribution, type ResolverChoice } from '../collect/attribution.js';
import { ENFORCE_MECHANISMS, pumpStops, setupDrift, withDrift, type EnforceMechanismChoice } from '../collect/drift.js';
import { addInventoryCommand } from './sensor-inventory.js';

export const DEFAULT_SPOOL_DIR = '/var/lib/palisade/spool';
export const DEFAULT_SPOOL_LIMIT = 256 * 1024 * 1024;

interface CollectOptions {
  local: boolean;
  rules: string[];
  builtin: boolean;
  duration?: number;
  mode: 'all' | 'container' | 'host';
  socket: string;
  forwardEvents: string[];
  bufferItems: number;
  bufferBytes: number;
  metricsAddr?: MetricsAddress;
  node?: string;
  resolver: ResolverChoice;
  kubeconfig?: string;
  runtimeRoot: string;
  resolveWaitMs: number;
  driftPolicy?: string;
  enforceDrift: boolean;
  enforceMechanism: EnforceMechanismChoice;
}

interface PublishOptions {
  server?: string;
  tokenFile?: string;
  caFile?: string;
  insecure: boolean;
  socket: string;
  spoolDir?: string;
  spool?: string;
  spoolLimit: number;
  batchSize: number;
  batchWait: number;
  metricsAddr?: MetricsAddress;
  node?: string;
  duration?: number;
}

function parseDuration(subject: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new PalisadeError('E_INPUT', `--duration must be a positive number of seconds, got "${value}"`, {
        subject,
      });
    return n;
  };
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
};

/** `268435456`, `256Mi`, `1G`, `512k`: a whole number of bytes. */
export function parseBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]i?)?[bB]?$/.exec(value.trim());
  const unit = BYTE_UNITS[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new PalisadeError('E_INPUT', `must be a size in bytes (e.g. 268435456, 256Mi, 1G), got "${value}"`, {
      subject: flag,
    });
  return n;
}

function parseCount(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1 || n > max)
      throw new PalisadeError('E_INPUT', `must be a whole number from 1 to ${max}, got "${value}"`, { subject: flag });
    return n;
  };
}

function parseEventTypes(value: string, previous: string[]): string[] {
  const out = [...previous];
  for (const t of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!isRuntimeEventType(t))
      throw new PalisadeError('E_INPUT', `unknown event type "${t}" (e.g. process.exec, network.connect)`, {
        subject: '--forward-events',
      });
    out.push(t);
  }
  return out;
}

function parseMetrics(value: string): MetricsAddress {
  return parseMetricsAddr(value);
}

/** The counters summary: one line per event type, then the totals of the pipeline. */
export function formatCounters(c: SensorCounters, alerts: number): string {
  const lines = ['sensor counters:'];
  for (const t of SENSOR_EVENT_TYPES) {
    const k = c.byType[t];
    lines.push(
      `  ${t.padEnd(18)} seen=${k.seen} filtered-in-kernel=${k.filteredInKernel} dropped-in-kernel=${k.droppedInKernel} ` +
        `decoded=${k.decoded} dropped-in-userspace=${k.droppedInUserspace}`,
    );
  }
  lines.push(`  frames=${c.frames} decode-errors=${c.decodeErrors} alerts=${alerts}`);
  return lines.join('\n') + '\n';
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function nodeName(opt: string | undefined, io: Io): string {
  return opt ?? io.env['PALISADE_NODE_NAME'] ?? hostname();
}

/** --local: alerts (and forwarded events) straight to stdout as JSON lines. */
class StdoutSink implements CollectorSink {
  constructor(private readonly io: Io) {}
  offer(item: Exclude<TransportItem, { k: 'counters' }>): boolean {
    this.io.stdout.write(JSON.stringify(item.k === 'alert' ? item.alert : item.event) + '\n');
    return true;
  }
  addCounters(_delta: SensorCounterDelta): void {
    // printed at the end from the sensor's own counters
  }
  droppedItems(): number {
    return 0;
  }
}

/** Resolves on SIGINT/SIGTERM or after `duration` seconds; `cleanup` removes the handlers. */
function untilStopped(duration: number | undefined): { stopped: Promise<void>; cleanup: () => void } {
  let done!: () => void;
  const stopped = new Promise<void>((r) => (done = r));
  const onSignal = (): void => done();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = duration !== undefined ? setTimeout(done, duration * 1000) : undefined;
  return {
    stopped,
    cleanup: (): void => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function maybeMetrics(
  addr: MetricsAddress | undefined,
  sources: MetricsSource[],
  io: Io,
  who: string,
): Promise<MetricsServer | undefined> {
  if (!addr) return undefined;
  const srv = await startMetricsServer(addr, sources);
  io.stderr.write(`${who}: metrics on ${srv.url}\n`);
  return srv;
}

async function runCollect(opts: CollectOptions, io: Io): Promise<number> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PalisadeError('E_INPUT', 'needs root to load eBPF programs (run with sudo)', {
      subject: 'sensor collect',
    });
  }
  if (!opts.local && !existsSync(dirname(opts.socket))) {
    throw new PalisadeError(
      'E_CONFIG',
      `the publisher's socket directory ${dirname(opts.socket)} does not exist: run \`palisade sensor publish\`, pass --socket, or use --local`,
      { subject: 'sensor collect' },
    );
  }
  const { engine, errors } = RuleEngine.fromSources(ruleSources(opts.rules, opts.builtin));
  if (errors.length > 0) {
    // A collector must not run with rules silently left out.
    for (const e of errors) io.stderr.write(formatLoadError(e) + '\n');
    io.stderr.write('sensor not started: fix the rule files above\n');
    return EXIT_ERROR;
  }
  const node = nodeName(opts.node, io);
  // The Kubernetes node name is never guessed from the host name: pods are listed by it.
  const k8sNode = opts.node ?? io.env['NODE_NAME'] ?? io.env['PALISADE_NODE_NAME'];
  const log = (l: string): void => void io.stderr.write(l + '\n');
  // Flags are checked (resolver, policy) before anything is started.
  const attribution = await startAttribution({
    choice: opts.resolver,
    runtimeRoot: opts.runtimeRoot,
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(k8sNode !== undefined ? { nodeName: k8sNode } : {}),
    env: io.env,
    podmanCli: onPath('podman', io.env),
    log,
    waitMs: opts.resolveWaitMs,
  });
  const drift = await setupDrift({
    ...(opts.driftPolicy !== undefined ? { policyFile: opts.driftPolicy } : {}),
    enforce: opts.enforceDrift,
    mechanism: opts.enforceMechanism,
  });

  let sensor: Sensor;
  try {
    sensor = await Sensor.start({ mode: opts.mode, node });
  } catch (err) {
    await drift.enforcer?.stop();
    attribution?.resolver.close();
    const msg = err instanceof Error ? err.message : String(err);
    throw new PalisadeError('E_CONFIG', `cannot start the sensor: ${oneLine(msg)}`, {
      subject: 'sensor collect',
      cause: err,
    });
  }
  const transport = opts.local
    ? undefined
    : new TransportClient({
        socketPath: opts.socket,
        node,
        maxBufferedItems: opts.bufferItems,
        maxBufferedBytes: opts.bufferBytes,
        log,
      });
  transport?.start();
  const sink = transport ?? new StdoutSink(io);
  const collector = runCollector({
    sensor,
    engine: withDrift(engine, drift.monitor),
    transport: attribution ? attribution.sink(sink) : sink,
    ...(attribution ? { enrich: (ev: RuntimeEvent) => attribution.enrich(ev) } : {}),
    forwardTypes: opts.forwardEvents,
    log,
  });
  const stops = pumpStops(drift, attribution?.resolver, (a) => collector.offerAlert(a));
  let metrics: MetricsServer | undefined;
  const stop = untilStopped(opts.duration);
  let counters: SensorCounters;
  let alerts = 0;
  try {
    metrics = await maybeMetrics(
      opts.metricsAddr,
      [
        (): MetricFamily[] => collector.metrics(),
        ...(transport ? [(): MetricFamily[] => transport.metrics()] : []),
        ...(attribution ? [(): MetricFamily[] => attribution.metrics()] : []),
      ],
      io,
      'collector',
    );
    io.stderr.write(
      `sensor: collecting (${opts.mode} processes, ${engine.rules.length} rules, ` +
        `containers resolved by ${attribution ? attribution.sources.join(' > ') : 'none'}, ${drift.describe()}` +
        (transport ? `, to the publisher at ${opts.socket}` : '') +
        ')' +
        (opts.duration !== undefined ? ` for ${opts.duration}s` : '; Ctrl-C to stop') +
        '\n',
    );
    // The collector ends when the sensor's queue does, i.e. after stop() or a loader failure.
    await Promise.race([stop.stopped, collector.done]);
  } finally {
    stop.cleanup();
    counters = await sensor.stop();
    await collector.done;
    // The enforcer's last stop records, then the alerts held for attribution, before the transport closes.
    await drift.enforcer?.stop();
    await stops;
    await attribution?.drain();
    attribution?.resolver.close();
    alerts = collector.stats().alerts;
    if (attribution) io.stderr.write(attribution.summary() + '\n');
    if (transport) {
      // Give the publisher a moment to take what is buffered; whatever is left is reported.
      const flushed = await transport.close(5000);
      const st = transport.stats();
      if (!flushed) io.stderr.write(`collector: ${st.bufferedItems} items not acknowledged by the publisher at exit\n`);
      io.stderr.write(
        `collector: ${st.itemsAcked} items delivered to the publisher, ${st.dropped.alert + st.dropped.event} dropped (buffer full)\n`,
      );
    }
    await metrics?.close();
  }
  io.stderr.write(formatCounters(counters, alerts));
  if (sensor.streamError !== undefined) {
    throw new PalisadeError('E_CORRUPT', `sensor stream broken: ${oneLine(sensor.streamError)}`, {
      subject: 'sensor collect',
    });
  }
  return 0;
}

/** The ingest token: from --token-file (re-read per send, so a rotated Secret is picked up) or the environment. */
function tokenSource(opts: PublishOptions, io: Io): () => string {
  if (opts.tokenFile !== undefined) {
    const file = opts.tokenFile;
    const read = (): string => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new PalisadeError(
          'E_CONFIG',
          `cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          {
            subject: file,
          },
        );
      }
      const t = text.trim();
      if (t === '' || /\s/.test(t))
        throw new PalisadeError('E_CONFIG', 'the token file must hold one token', { subject: file });
      return t;
    };
    let last = read();
    return (): string => {
      try {
        last = read();
      } catch {
        // Keep the last good token while a Secret is being rewritten.
      }
      return last;
    };
  }
  const env = io.env['PALISADE_INGEST_TOKEN']?.trim();
  if (env) return () => env;
  throw new PalisadeError('E_CONFIG', 'no ingest token: pass --token-file FILE or set PALISADE_INGEST_TOKEN', {
    subject: 'sensor publish',
  });
}

async function runPublish(opts: PublishOptions, io: Io): Promise<number> {
  const server = opts.server ?? io.env['PALISADE_SERVER_URL'];
  if (!server)
    throw new PalisadeError('E_CONFIG', 'no server: pass --server URL or set PALISADE_SERVER_URL', {
      subject: 'sensor publish',
    });
  if (opts.caFile !== undefined && (!existsSync(opts.caFile) || !statSync(opts.caFile).isFile()))
    throw new PalisadeError('E_CONFIG', 'CA file not found', { subject: opts.caFile });
  const log = (l: string): void => void io.stderr.write(l + '\n');
  const client = createIngestClient({
    url: server,
    token: tokenSource(opts, io),
    ...(opts.caFile !== undefined ? { caFile: opts.caFile } : {}),
    insecure: opts.insecure,
    env: io.env,
  });
  if (opts.insecure) log('publisher: WARNING: --insecure: the server certificate is NOT verified');
  const spoolDir = opts.spoolDir ?? opts.spool ?? DEFAULT_SPOOL_DIR;
  const pub = await runPublisher({
    socketPath: opts.socket,
    spoolDir,
    spoolLimitBytes: opts.spoolLimit,
    client,
    node: nodeName(opts.node, io),
    batchMaxItems: opts.batchSize,
    batchMaxWaitMs: opts.batchWait,
    log,
  });
  const stop = untilStopped(opts.duration);
  let metrics: MetricsServer | undefined;
  try {
    metrics = await maybeMetrics(opts.metricsAddr, [() => pub.metrics()], io, 'publisher');
    io.stderr.write(
      `publisher: listening on ${opts.socket}, spooling in ${spoolDir} (limit ${opts.spoolLimit} bytes), ` +
        `sending to ${client.endpoint}${client.proxy ? ` via ${client.proxy}` : ''}\n`,
    );
    await stop.stopped;
  } finally {
    stop.cleanup();
    await pub.stop();
    await metrics?.close();
  }
  const st = pub.stats();
  io.stderr.write(
    `publisher: ${st.itemsReceived} items received, ${st.alertsSent} alerts and ${st.eventsSent} events sent in ` +
      `${st.batchesSent} batches, ${st.spoolItems} still spooled, ${st.spoolDrops} dropped (spool full), ` +
      `${st.deadLetteredBatches} batches dead-lettered\n`,
  );
  return 0;
}

function addCommonOptions(cmd: Command): Command {
  const subject = `sensor ${cmd.name()}`;
  return cmd
    .option('--socket <path>', "the publisher's unix socket", DEFAULT_SOCKET_PATH)
    .option('--metrics-addr <host:port>', 'serve Prometheus metrics on this loopback address', parseMetrics)
    .option('--node <name>', 'node name (default: $PALISADE_NODE_NAME or the host name)')
    .option('--duration <seconds>', 'stop after this many seconds', parseDuration(subject));
}

export function sensorCommand(io: Io, setExit: (code: number) => void): Command {
  const sensor = new Command('sensor').description('eBPF runtime sensor');
  addCommonOptions(
    sensor
      .command('collect')
      .description(
        'run the sensor on this machine (root only) and evaluate every event with the rules until SIGINT/SIGTERM or ' +
          '--duration: alerts go to the publisher (--socket), or to stdout as JSON lines with --local; counters go to stderr at the end',
      )
      .option('--local', 'print alerts to stdout instead of sending them to the publisher', false),
  )
    .option(
      '--rules <file>',
      'extra rule file, loaded after the built-in library (repeatable)',
      collect,
      [] as string[],
    )
    .option('--no-builtin', 'use only the --rules files, without the built-in library')
    .addOption(
      new Option('--mode <mode>', 'which processes to watch').choices(['all', 'container', 'host']).default('all'),
    )
    .option(
      '--forward-events <types>',
      'also send raw events of these types (comma-separated, repeatable), besides alerts',
      parseEventTypes,
      [] as string[],
    )
    .addOption(
      new Option('--resolver <source>', 'where container names, images and pods come from (see docs/sensor.md)')
        .choices(RESOLVER_CHOICES)
        .default('auto'),
    )
    .option('--kubeconfig <file>', 'kubeconfig for the Kubernetes resolver outside a pod (needs --node or NODE_NAME)')
    .option(
      '--runtime-root <dir>',
      "where the host's /run is seen: runtime sockets and state under DIR/run (e.g. /host in a pod)",
      '/',
    )
    .option(
      '--resolve-wait-ms <ms>',
      "longest an event waits for its new container's lookup before going on unresolved",
      parseCount('--resolve-wait-ms', 5000),
      200,
    )
    .option('--drift-policy <file>', 'binary drift allow-list (YAML); without it every drift alerts')
    .option('--enforce-drift', 'stop executions of binaries not in the image (drift) in the kernel', false)
    .addOption(
      new Option('--enforce-mechanism <mechanism>', 'how drift is stopped: BPF LSM, SIGKILL at exec, or the best one')
        .choices(ENFORCE_MECHANISMS)
        .default('auto'),
    )
    .option('--buffer-items <n>', 'items held while the publisher is away', parseCount('--buffer-items'), 50_000)
    .option(
      '--buffer-bytes <bytes>',
      'bytes held while the publisher is away (e.g. 64Mi)',
      (v: string) => parseBytes(v, '--buffer-bytes'),
      64 * 1024 * 1024,
    )
    .action(async (opts: CollectOptions) => {
      setExit(await runCollect(opts, io));
    });

  addCommonOptions(
    sensor
      .command('publish')
      .description(
        "receive the collector's alerts and events on --socket, spool them on disk and send them to the server " +
          '(POST /api/v1/ingest/runtime) with the cluster ingest token; honours HTTPS_PROXY / NO_PROXY',
      )
      .option('--server <url>', 'the Palisade server (default: $PALISADE_SERVER_URL)')
      .option('--token-file <file>', 'file holding the cluster ingest token (default: $PALISADE_INGEST_TOKEN)'),
  )
    .option('--ca-file <pem>', "extra CA certificate(s) to trust for the server's certificate")
    .option('--insecure', 'do not verify the server certificate (testing only)', false)
    .option('--spool-dir <dir>', 'where undelivered items are kept', undefined)
    .addOption(new Option('--spool <dir>', 'alias of --spool-dir').hideHelp())
    .option(
      '--spool-limit <bytes>',
      'spool size limit (e.g. 256Mi); beyond it new items are dropped and counted',
      (v: string) => parseBytes(v, '--spool-limit'),
      DEFAULT_SPOOL_LIMIT,
    )
    .option('--batch-size <n>', 'items per request (at most 5000)', parseCount('--batch-size', 5000), 1000)
    .option(
      '--batch-wait <ms>',
      "how long a batch's first item waits for more before it is sent (alert latency vs requests per node)",
      parseCount('--batch-wait', 60_000),
      // 250 ms keeps event → alert visible in the API under the 1 s p99 target; a busy node
      // fills batches by size long before the wait runs out.
      250,
    )
    .action(async (opts: PublishOptions) => {
      setExit(await runPublish(opts, io));
    });
  addInventoryCommand(sensor, io, setExit);
  return sensor;
}
