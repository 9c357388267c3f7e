/**
 * Server configuration: one table of fields (the schema), each readable from the YAML file
 * (`--config`), the environment (PALISADE_*) and a command-line flag. Later sources win:
 * file < env < flags. Everything is validated once, at start, and every error names the field
 * (`server.port: must be an integer 1-65535, got "x"`) and where the bad value came from, so a
 * typo never turns into a silently ignored setting.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PalisadeError } from '@palisade/core';
import { DEFAULT_INGEST_RATE_LIMIT } from '../runtime/rate-limit.js';
import { DEFAULT_ALERT_RETENTION_DAYS } from '../runtime/retention.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TlsConfig {
  cert: string;
  key: string;
}

export interface ServerConfig {
  server: {
    host: string;
    port: number;
    /** Largest accepted request body, bytes. */
    bodyLimit: number;
    /** Both files, or null for plain HTTP. */
    tls: TlsConfig | null;
  };
  /** Embedded database, admin token, layer cache and the default vulnerability DB live here. */
  dataDir: string;
  /** PostgreSQL instead of the embedded database when set. */
  databaseUrl: string | null;
  vulnDbPath: string;
  worker: {
    /** Scans run at once by this server. */
    concurrency: number;
    /** Scans run at once against one registered registry (across all replicas). */
    registryConcurrency: number;
    /**
     * Whether POST /api/v1/scans may name local paths (oci:DIR, archive:FILE, dir:PATH). Off by
     * default: with it an operator token can make the server read any file it can read.
     */
    allowLocalSources: boolean;
    /**
     * Lease of a claimed scan job, renewed every third of it. A replica that dies (SIGKILL, lost
     * host) holds its jobs until the lease runs out; then another worker (or the same data dir
     * restarted) reclaims them.
     */
    leaseMs: number;
  };
  log: { level: LogLevel };
  /** Periodic work (docs/server-scheduling.md); durations in milliseconds. */
  scheduler: {
    /** Run the scheduler in this process. Off: the replica neither queues nor runs periodic work. */
    enabled: boolean;
    rescan: {
      /** How often the rescan plan runs. */
      intervalMs: number;
      /** Images pushed or pulled this recently are kept fresh. */
      windowMs: number;
      /** Rescan a digest when its last scan is at least this old. */
      everyMs: number;
    };
    /** How often each registry without a webhook is polled. */
    poll: { intervalMs: number };
    /** Rematch every scanned digest when the vulnerability DB file is replaced. */
    rematch: boolean;
  };
  /** Connected clusters (docs/clusters.md). */
  clusters: {
    /**
     * Whether a registered kubeconfig may use an exec credential plugin. Off by default: the
     * plugin is a command the server runs on its host, so with it any admin token could run
     * commands there. EKS, GKE and AKS kubeconfigs need it (or a static token instead).
     */
    allowExecPlugins: boolean;
    /** Snapshots kept per cluster (older ones and their changes are pruned). */
    keepSnapshots: number;
    /** Objects per list request of a snapshot. */
    pageSize: number;
    /** Interval of a cluster registered without `intervalSeconds`. */
    defaultIntervalSeconds: number;
  };
  /** Runtime threat detection in the server (docs/runtime-alerts.md). */
  runtime: {
    /** JetStream between ingest and detection; null: detection runs in the ingest request. */
    natsUrl: string | null;
    /** Rule files loaded after the built-in library (later files override earlier rules). */
    ruleFiles: string[];
    /** Alerts of one rule on one workload within this tumbling window form a group. */
    groupWindowMs: number;
    /** NATS credentials file (JWT + NKEY seed) instead of credentials in natsUrl; null: none. */
    natsCredsFile: string | null;
    /** Alerts, alert groups, Kubernetes events and silent nodes older than this are pruned. */
    alertRetentionDays: number;
    /** Per-cluster ingest rate limit of each replica: alerts + events + kube events per second. */
    ingestItemsPerSecond: number;
    /** Per-cluster ingest rate limit of each replica: decoded body bytes per second. */
    ingestBytesPerSecond: number;
  };
  /** Registries the server keeps registered (upserted by name at start); file only. */
  registries: RegistryConfig[];
}

/**
 * Where a configured registry's credentials come from: names of environment variables, never
 * the secrets themselves, so the file can be committed and shown. Either username + password, or
 * a token (sent as the password; username from usernameEnv, else DEFAULT_TOKEN_USERNAME).
 */
export interface RegistryCredentialEnv {
  usernameEnv: string | null;
  passwordEnv: string | null;
  tokenEnv: string | null;
}

export interface RegistryConfig {
  name: string;
  /** http(s)://host[:port], without a trailing slash (as POST /api/v1/registries stores it). */
  url: string;
  insecure: boolean;
  readOnly: boolean;
  /** Default: true unless readOnly (as in the API). */
  publishResults: boolean;
  /** Null: the registry is used anonymously (and any stored credentials are removed). */
  credentials: RegistryCredentialEnv | null;
}

/**
 * The user name sent with a token when no usernameEnv is given. Stored credentials are a user
 * name and a password, and registries that take access tokens (GHCR, GitLab, Quay…) accept the
 * token as the password with any user name.
 */
export const DEFAULT_TOKEN_USERNAME = 'token';

/** Flags as the CLI hands them over: strings, absent when not given. */
export interface ConfigFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  databaseUrl?: string;
  db?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  bodyLimit?: string;
  workerConcurrency?: string;
  registryConcurrency?: string;
  allowLocalSources?: string | boolean;
  allowExecPlugins?: string | boolean;
  natsUrl?: string;
  /** Comma-separated paths. */
  ruleFiles?: string;
  groupWindow?: string;
}

export interface LoadConfigOptions {
  /** YAML file (`--config`). */
  file?: string;
  env?: Readonly<Record<string, string | undefined>>;
  flags?: ConfigFlags;
  /** Base for relative paths; default process.cwd(). */
  cwd?: string;
}

type Kind = 'string' | 'port' | 'size' | 'count' | 'bool' | 'level' | 'path' | 'paths' | 'url' | 'nats' | 'duration';

interface FieldSpec {
  /** Dotted path in the YAML file and in error messages. */
  path: string;
  kind: Kind;
  env?: readonly string[];
  flag?: keyof ConfigFlags;
  /** How the flag is spelled on the command line, for messages. */
  flagName?: string;
  /** Bounds of a count (default 1 to 256) or a duration in ms (default 1 s to 366 days). */
  min?: number;
  max?: number;
}

/** The one schema: every field, its type and its three spellings. */
export const CONFIG_FIELDS: readonly FieldSpec[] = [
  { path: 'server.host', kind: 'string', env: ['PALISADE_HOST'], flag: 'host', flagName: '--host' },
  { path: 'server.port', kind: 'port', env: ['PALISADE_PORT'], flag: 'port', flagName: '--port' },
  { path: 'server.bodyLimit', kind: 'size', env: ['PALISADE_BODY_LIMIT'], flag: 'bodyLimit', flagName: '--body-limit' },
  { path: 'server.tls.cert', kind: 'path', env: ['PALISADE_TLS_CERT'], flag: 'tlsCert', flagName: '--tls-cert' },
  { path: 'server.tls.key', kind: 'path', env: ['PALISADE_TLS_KEY'], flag: 'tlsKey', flagName: '--tls-key' },
  { path: 'dataDir', kind: 'path', env: ['PALISADE_DATA_DIR'], flag: 'dataDir', flagName: '--data-dir' },
  {
    path: 'databaseUrl',
    kind: 'url',
    env: ['PALISADE_DATABASE_URL', 'DATABASE_URL'],
    flag: 'databaseUrl',
    flagName: '--database-url',
  },
  { path: 'vulnDbPath', kind: 'path', env: ['PALISADE_DB'], flag: 'db', flagName: '--db' },
  {
    path: 'worker.concurrency',
    kind: 'count',
    env: ['PALISADE_WORKER_CONCURRENCY'],
    flag: 'workerConcurrency',
    flagName: '--worker-concurrency',
  },
  {
    path: 'worker.registryConcurrency',
    kind: 'count',
    env: ['PALISADE_REGISTRY_CONCURRENCY'],
    flag: 'registryConcurrency',
    flagName: '--registry-concurrency',
  },
  {
    path: 'worker.allowLocalSources',
    kind: 'bool',
    env: ['PALISADE_ALLOW_LOCAL_SOURCES'],
    flag: 'allowLocalSources',
    flagName: '--allow-local-sources',
  },
  { path: 'worker.lease', kind: 'duration', env: ['PALISADE_WORKER_LEASE'] },
  { path: 'log.level', kind: 'level', env: ['PALISADE_LOG_LEVEL'], flag: 'logLevel', flagName: '--log-level' },
  { path: 'scheduler.enabled', kind: 'bool', env: ['PALISADE_SCHEDULER'] },
  { path: 'scheduler.rescan.interval', kind: 'duration', env: ['PALISADE_RESCAN_INTERVAL'] },
  { path: 'scheduler.rescan.window', kind: 'duration', env: ['PALISADE_RESCAN_WINDOW'] },
  { path: 'scheduler.rescan.every', kind: 'duration', env: ['PALISADE_RESCAN_EVERY'] },
  { path: 'scheduler.poll.interval', kind: 'duration', env: ['PALISADE_POLL_INTERVAL'] },
  { path: 'scheduler.rematch', kind: 'bool', env: ['PALISADE_REMATCH'] },
  {
    path: 'clusters.allowExecPlugins',
    kind: 'bool',
    env: ['PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS'],
    flag: 'allowExecPlugins',
    flagName: '--allow-exec-plugins',
  },
  { path: 'clusters.keepSnapshots', kind: 'count', env: ['PALISADE_CLUSTERS_KEEP_SNAPSHOTS'], max: 10_000 },
  { path: 'clusters.pageSize', kind: 'count', env: ['PALISADE_CLUSTERS_PAGE_SIZE'], max: 5000 },
  {
    path: 'clusters.defaultInterval',
    kind: 'duration',
    env: ['PALISADE_CLUSTERS_DEFAULT_INTERVAL'],
    // The bounds of a cluster's own intervalSeconds (POST /api/v1/clusters).
    min: 60_000,
    max: 7 * 86_400_000,
  },
  // NATS_URL, not PALISADE_NATS_URL: the name NATS tooling and the deploy manifests already use.
  { path: 'runtime.natsUrl', kind: 'nats', env: ['NATS_URL'], flag: 'natsUrl', flagName: '--nats-url' },
  {
    path: 'runtime.ruleFiles',
    kind: 'paths',
    env: ['PALISADE_RULE_FILES'],
    flag: 'ruleFiles',
    flagName: '--rule-files',
  },
  {
    path: 'runtime.groupWindow',
    kind: 'duration',
    env: ['PALISADE_RUNTIME_GROUP_WINDOW'],
    flag: 'groupWindow',
    flagName: '--group-window',
    // A day-long group hides a burst inside a quiet day; under a second every alert is its own group.
    max: 86_400_000,
  },
  // NATS_CREDS: the name the NATS CLI reads.
  { path: 'runtime.natsCredsFile', kind: 'path', env: ['NATS_CREDS'] },
  { path: 'runtime.alertRetentionDays', kind: 'count', env: ['PALISADE_RUNTIME_ALERT_RETENTION_DAYS'], max: 3650 },
  {
    path: 'runtime.ingestItemsPerSecond',
    kind: 'count',
    env: ['PALISADE_RUNTIME_INGEST_ITEMS_PER_SECOND'],
    max: 10_000_000,
  },
  { path: 'runtime.ingestBytesPerSecond', kind: 'size', env: ['PALISADE_RUNTIME_INGEST_BYTES_PER_SECOND'] },
];

const SECOND_MS = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Defaults of docs/server-scheduling.md. */
export const SCHEDULER_DEFAULTS = {
  rescanIntervalMs: HOUR_MS,
  rescanWindowMs: 30 * DAY_MS,
  rescanEveryMs: DAY_MS,
  pollIntervalMs: 15 * 60_000,
} as const;
// Bounds of any duration setting: under a second would make the scheduler spin on its own
// queue; over a year is a typo (or a unit mix-up) more often than an intent.
const MIN_DURATION_MS = SECOND_MS;
const MAX_DURATION_MS = 366 * DAY_MS;

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const MAX_BODY_LIMIT = 64 * 1024 * 1024;
const MAX_COUNT = 256;
/** The worker's own default (packages/server/src/worker/worker.ts). */
export const DEFAULT_LEASE_MS = 60_000;
/** Defaults of docs/clusters.md (the connector's own defaults). */
export const CLUSTER_DEFAULTS = { keepSnapshots: 96, pageSize: 500, defaultIntervalSeconds: 900 } as const;
/** The grouping window of docs/runtime-alerts.md. */
export const DEFAULT_GROUP_WINDOW_MS = 10 * 60_000;

/** Read, merge and validate the configuration. Throws E_CONFIG naming the field at fault. */
export function loadConfig(opts: LoadConfigOptions = {}): ServerConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const values = new Map<string, { value: unknown; source: string }>();
  let registries: RegistryConfig[] = [];
  if (opts.file !== undefined) {
    const file = readFile(opts.file);
    for (const [path, value] of file.fields) values.set(path, { value, source: opts.file });
    registries = parseRegistries(file.registries, env);
  }
  for (const f of CONFIG_FIELDS) {
    for (const name of [...(f.env ?? [])].reverse()) {
      // Listed first = preferred: iterate in reverse so the first one set wins.
      const v = env[name];
      if (v !== undefined && v !== '') values.set(f.path, { value: v, source: `env ${name}` });
    }
  }
  for (const f of CONFIG_FIELDS) {
    const v = f.flag === undefined ? undefined : opts.flags?.[f.flag];
    if (v !== undefined) values.set(f.path, { value: v, source: f.flagName ?? f.flag ?? f.path });
  }

  const parsed = new Map<string, string | number | boolean | string[]>();
  for (const f of CONFIG_FIELDS) {
    const entry = values.get(f.path);
    if (entry === undefined || entry.value === null) continue;
    parsed.set(f.path, parseValue(f, entry.value, entry.source, cwd));
  }
  const str = (p: string): string | undefined => {
    const v = parsed.get(p);
    return typeof v === 'string' ? v : undefined;
  };
  const num = (p: string, d: number): number => {
    const v = parsed.get(p);
    return typeof v === 'number' ? v : d;
  };

  const dataDir = str('dataDir') ?? resolve(cwd, 'palisade-data');
  const cert = str('server.tls.cert');
  const key = str('server.tls.key');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? 'server.tls.cert' : 'server.tls.key';
    throw configError(missing, 'TLS needs both a certificate and a key (--tls-cert and --tls-key)');
  }
  const leaseMs = num('worker.lease', DEFAULT_LEASE_MS);
  // A lease is renewed every third of it: past an hour a dead replica's scans would wait that long.
  if (leaseMs > HOUR_MS) throw configError('worker.lease', `must be a duration from 1s to 1h, got ${leaseMs} ms`);
  const level = parsed.get('log.level');
  const allowLocal = parsed.get('worker.allowLocalSources');
  const flag = (p: string, d: boolean): boolean => {
    const v = parsed.get(p);
    return typeof v === 'boolean' ? v : d;
  };
  const ruleFiles = parsed.get('runtime.ruleFiles');
  return {
    server: {
      host: str('server.host') ?? '127.0.0.1',
      port: num('server.port', 8080),
      bodyLimit: num('server.bodyLimit', DEFAULT_BODY_LIMIT),
      tls: cert !== undefined && key !== undefined ? { cert, key } : null,
    },
    dataDir,
    databaseUrl: str('databaseUrl') ?? null,
    vulnDbPath: str('vulnDbPath') ?? resolve(dataDir, 'vuln.db'),
    worker: {
      concurrency: num('worker.concurrency', 2),
      registryConcurrency: num('worker.registryConcurrency', 2),
      allowLocalSources: typeof allowLocal === 'boolean' ? allowLocal : false,
      leaseMs,
    },
    log: { level: typeof level === 'string' && isLogLevel(level) ? level : 'info' },
    scheduler: {
      enabled: flag('scheduler.enabled', true),
      rescan: {
        intervalMs: num('scheduler.rescan.interval', SCHEDULER_DEFAULTS.rescanIntervalMs),
        windowMs: num('scheduler.rescan.window', SCHEDULER_DEFAULTS.rescanWindowMs),
        everyMs: num('scheduler.rescan.every', SCHEDULER_DEFAULTS.rescanEveryMs),
      },
      poll: { intervalMs: num('scheduler.poll.interval', SCHEDULER_DEFAULTS.pollIntervalMs) },
      rematch: flag('scheduler.rematch', true),
    },
    clusters: {
      allowExecPlugins: flag('clusters.allowExecPlugins', false),
      keepSnapshots: num('clusters.keepSnapshots', CLUSTER_DEFAULTS.keepSnapshots),
      pageSize: num('clusters.pageSize', CLUSTER_DEFAULTS.pageSize),
      defaultIntervalSeconds: Math.round(
        num('clusters.defaultInterval', CLUSTER_DEFAULTS.defaultIntervalSeconds * 1000) / 1000,
      ),
    },
    runtime: {
      natsUrl: str('runtime.natsUrl') ?? null,
      ruleFiles: Array.isArray(ruleFiles) ? ruleFiles : [],
      groupWindowMs: num('runtime.groupWindow', DEFAULT_GROUP_WINDOW_MS),
      natsCredsFile: str('runtime.natsCredsFile') ?? null,
      alertRetentionDays: num('runtime.alertRetentionDays', DEFAULT_ALERT_RETENTION_DAYS),
      ingestItemsPerSecond: num('runtime.ingestItemsPerSecond', DEFAULT_INGEST_RATE_LIMIT.itemsPerSecond),
      ingestBytesPerSecond: num('runtime.ingestBytesPerSecond', DEFAULT_INGEST_RATE_LIMIT.bytesPerSecond),
    },
    registries,
  };
}

function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

function configError(field: string, message: string): PalisadeError {
  return new PalisadeError('E_CONFIG', message, { subject: field });
}

/** A value as it appears in an error message: quoted, shortened, never a secret. */
function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function parseValue(f: FieldSpec, raw: unknown, source: string, cwd: string): string | number | boolean | string[] {
  const from = source.startsWith('env ') || source.startsWith('--') ? ` (from ${source})` : '';
  const fail = (what: string, showValue = true): never => {
    throw configError(f.path, `${what}${showValue ? `, got ${shown(raw)}` : ''}${from}`);
  };
  // A list in the file, or comma-separated in the environment and on the command line.
  if (f.kind === 'paths') return parsePaths(raw, cwd, fail);
  const text =
    typeof raw === 'string'
      ? raw.trim()
      : typeof raw === 'number' || typeof raw === 'boolean'
        ? String(raw)
        : undefined;
  if (text === undefined) return fail(`must be a ${f.kind === 'bool' ? 'boolean' : 'scalar value'}`);
  switch (f.kind) {
    case 'port': {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      // Port 0 asks the OS for a free port: tests and throwaway servers use it.
      if (!Number.isInteger(n) || n < 0 || n > 65535) return fail('must be an integer 1-65535');
      return n;
    }
    case 'size': {
      const n = parseSize(text);
      if (n === undefined || n < 1024 || n > MAX_BODY_LIMIT)
        return fail(`must be a size from 1kb to ${MAX_BODY_LIMIT / 1024 / 1024}mb (e.g. 1048576, 512kb, 2mb)`);
      return n;
    }
    case 'count': {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      const [min, max] = [f.min ?? 1, f.max ?? MAX_COUNT];
      if (!Number.isInteger(n) || n < min || n > max) return fail(`must be an integer ${min}-${max}`);
      return n;
    }
    case 'bool': {
      if (['true', '1', 'yes', 'on'].includes(text.toLowerCase())) return true;
      if (['false', '0', 'no', 'off'].includes(text.toLowerCase())) return false;
      return fail('must be true or false');
    }
    case 'level': {
      const l = text.toLowerCase();
      if (!isLogLevel(l)) return fail(`must be one of ${LOG_LEVELS.join(', ')}`);
      return l;
    }
    case 'duration': {
      const n = parseDuration(text);
      const [min, max] = [f.min ?? MIN_DURATION_MS, f.max ?? MAX_DURATION_MS];
      if (n === undefined || n < min || n > max)
        return fail(
          `must be a duration from ${durationText(min)} to ${durationText(max)} (e.g. 90s, 15m, 1h, 30d, or milliseconds)`,
        );
      return n;
    }
    case 'path':
      if (text === '') return fail('must not be empty');
      return resolve(cwd, text);
    case 'url': {
      // A database URL carries a password: never echo it back.
      let u: URL;
      try {
        u = new URL(text);
      } catch {
        return fail('must be a postgres:// or postgresql:// URL', false);
      }
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
        return fail('must be a postgres:// or postgresql:// URL', false);
      return text;
    }
    case 'nats':
      // May carry a user and password: never echoed.
      if (!isNatsServers(text)) return fail('must be nats://host:port (several separated by commas)', false);
      return text;
    case 'string':
      if (text === '') return fail('must not be empty');
      return text;
  }
}

/** `nats://host:port`, `tls://…`, `ws(s)://…` or a bare `host:port`, comma-separated. */
function isNatsServers(text: string): boolean {
  const servers = text.split(',').map((s) => s.trim());
  return servers.every((s) => {
    if (s === '' || /\s/.test(s)) return false;
    if (!s.includes('://')) return /^[A-Za-z0-9.[\]:-]+$/.test(s);
    try {
      const u = new URL(s);
      return ['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol) && u.hostname !== '';
    } catch {
      return false;
    }
  });
}

function parsePaths(raw: unknown, cwd: string, fail: (what: string, showValue?: boolean) => never): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (items === undefined) return fail('must be a list of paths (comma-separated outside the file)');
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') return fail('must be a list of paths (comma-separated outside the file)');
    // A trailing comma or an empty entry in a list is noise, not a path.
    if (item.trim() !== '') out.push(resolve(cwd, item.trim()));
  }
  return out;
}

/** 60000 → `1m`, for messages about bounds. */
function durationText(ms: number): string {
  for (const [unit, size] of [
    ['d', DAY_MS],
    ['h', HOUR_MS],
    ['m', 60_000],
    ['s', SECOND_MS],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `90s`, `15m`, `1h`, `30d`, `500ms`, or a plain number of milliseconds. */
function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(text);
  if (!m?.[1]) return undefined;
  const unit = (m[2] ?? 'ms').toLowerCase();
  const mult: Record<string, number> = { ms: 1, s: SECOND_MS, m: 60_000, h: HOUR_MS, d: DAY_MS };
  return Number(m[1]) * (mult[unit] ?? 1);
}

function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(b|kb|k|mb|m)?$/i.exec(text);
  if (!m?.[1]) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1;
  return Number(m[1]) * mult;
}

/**
 * The YAML file as (dotted path, value) pairs, plus the raw `registries` list (validated
 * separately: it is the one list in the file); an unknown key or a non-mapping is an error.
 */
function readFile(file: string): { fields: Array<[string, unknown]>; registries: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PalisadeError(
      'E_CONFIG',
      `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new PalisadeError(
      'E_CONFIG',
      `not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  if (doc === null || doc === undefined) return { fields: [], registries: undefined };
  let registries: unknown;
  if (typeof doc === 'object' && !Array.isArray(doc) && 'registries' in doc) {
    const { registries: r, ...rest } = doc as Record<string, unknown>;
    registries = r;
    doc = rest;
  }
  const known = new Set(CONFIG_FIELDS.map((f) => f.path));
  const prefixes = new Set(
    CONFIG_FIELDS.flatMap((f) =>
      f.path
        .split('.')
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join('.')),
    ),
  );
  const out: Array<[string, unknown]> = [];
  const walk = (node: unknown, prefix: string): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new PalisadeError(
        'E_CONFIG',
        `${prefix === '' ? 'the file' : prefix} must be a mapping of keys to values`,
        { subject: file },
      );
    }
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const path = prefix === '' ? k : `${prefix}.${k}`;
      if (known.has(path)) out.push([path, v]);
      else if (prefixes.has(path)) walk(v, path);
      else {
        const siblings = [...known, ...prefixes]
          .filter(
            (p) =>
              p.startsWith(prefix === '' ? '' : `${prefix}.`) &&
              !p.slice(prefix === '' ? 0 : prefix.length + 1).includes('.'),
          )
          .map((p) => p.slice(prefix === '' ? 0 : prefix.length + 1));
        if (prefix === '') siblings.push('registries');
        throw new PalisadeError('E_CONFIG', `unknown key "${path}" (known here: ${siblings.join(', ')})`, {
          subject: file,
        });
      }
    }
  };
  walk(doc, '');
  return { fields: out, registries };
}

const REGISTRY_KEYS = [
  'name',
  'url',
  'insecure',
  'readOnly',
  'publishResults',
  'usernameEnv',
  'passwordEnv',
  'tokenEnv',
];
// The API's limits (POST /api/v1/registries), so a registry from the file is one the API could have made.
const REGISTRY_NAME = /^[A-Za-z0-9._-]{1,63}$/;
const MAX_REGISTRY_URL = 512;
const MAX_USERNAME = 256;
const MAX_PASSWORD = 8192;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `registries:` list: each entry checked field by field, errors naming `registries[i].field`. */
function parseRegistries(raw: unknown, env: Readonly<Record<string, string | undefined>>): RegistryConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw configError('registries', 'must be a list of registries (name, url, ...)');
  const seen = new Set<string>();
  return raw.map((entry: unknown, i) => {
    const at = `registries[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw configError(
        at,
        'must be a mapping (name, url, insecure, readOnly, publishResults, usernameEnv, passwordEnv, tokenEnv)',
      );
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!REGISTRY_KEYS.includes(k)) {
        // A literal secret is the likeliest unknown key here: say where it belongs instead.
        const hint = ['password', 'token', 'username', 'credentials'].includes(k)
          ? `; credentials come from the environment: name the variable with ${k === 'credentials' ? 'usernameEnv/passwordEnv/tokenEnv' : `${k}Env`}`
          : '';
        throw configError(`${at}.${k}`, `unknown key (known here: ${REGISTRY_KEYS.join(', ')})${hint}`);
      }
    }
    const name = e['name'];
    if (typeof name !== 'string' || !REGISTRY_NAME.test(name))
      throw configError(`${at}.name`, `must be 1-63 letters, digits, '.', '_' or '-', got ${shown(name ?? null)}`);
    if (seen.has(name)) throw configError(`${at}.name`, `${shown(name)} is listed twice`);
    seen.add(name);
    const url = registryUrl(e['url'], `${at}.url`);
    const bool = (k: string, d: boolean): boolean => {
      const v = e[k];
      if (v === undefined || v === null) return d;
      if (typeof v === 'boolean') return v;
      throw configError(`${at}.${k}`, `must be true or false, got ${shown(v)}`);
    };
    const insecure = bool('insecure', false);
    const readOnly = bool('readOnly', false);
    return {
      name,
      url,
      insecure,
      readOnly,
      publishResults: bool('publishResults', !readOnly),
      credentials: credentialEnv(e, at, env),
    };
  });
}

function registryUrl(v: unknown, field: string): string {
  const fail = (): never => {
    throw configError(
      field,
      `must be an http:// or https:// URL of at most ${MAX_REGISTRY_URL} characters, got ${shown(v ?? null)}`,
    );
  };
  if (typeof v !== 'string' || v.length > MAX_REGISTRY_URL) return fail();
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    return fail();
  }
  // Userinfo would be a secret in the file, and a path/query is not where a registry API lives.
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '') return fail();
  if (u.search !== '' || u.hash !== '') return fail();
  return v.trim().replace(/\/+$/, '');
}

function credentialEnv(
  e: Record<string, unknown>,
  at: string,
  env: Readonly<Record<string, string | undefined>>,
): RegistryCredentialEnv | null {
  const name = (k: 'usernameEnv' | 'passwordEnv' | 'tokenEnv'): string | null => {
    const v = e[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || !ENV_NAME.test(v))
      throw configError(`${at}.${k}`, `must name an environment variable (letters, digits, '_'), got ${shown(v)}`);
    return v;
  };
  const c = { usernameEnv: name('usernameEnv'), passwordEnv: name('passwordEnv'), tokenEnv: name('tokenEnv') };
  if (c.usernameEnv === null && c.passwordEnv === null && c.tokenEnv === null) return null;
  if (c.passwordEnv !== null && c.tokenEnv !== null)
    throw configError(`${at}.tokenEnv`, 'give either passwordEnv or tokenEnv, not both');
  if (c.passwordEnv === null && c.tokenEnv === null)
    throw configError(`${at}.passwordEnv`, 'usernameEnv needs passwordEnv (or tokenEnv)');
  if (c.passwordEnv !== null && c.usernameEnv === null)
    throw configError(`${at}.usernameEnv`, 'passwordEnv needs usernameEnv');
  // Checked now, not at the first pull: a missing secret should stop the start, not fail scans later.
  resolveRegistryCredentials(c, env, at);
  return c;
}

/**
 * The credentials a configured registry names, read from the environment. E_CONFIG naming the
 * field and the variable (never a value) when one is unset or too long.
 */
export function resolveRegistryCredentials(
  c: RegistryCredentialEnv,
  env: Readonly<Record<string, string | undefined>>,
  at: string,
): { username: string; password: string } {
  const read = (k: keyof RegistryCredentialEnv, max: number): string | null => {
    const varName = c[k];
    if (varName === null) return null;
    const v = env[varName];
    if (v === undefined || v === '') throw configError(`${at}.${k}`, `environment variable ${varName} is not set`);
    if (v.length > max)
      throw configError(`${at}.${k}`, `environment variable ${varName} is longer than ${max} characters`);
    return v;
  };
  const username = read('usernameEnv', MAX_USERNAME) ?? DEFAULT_TOKEN_USERNAME;
  const password = read('passwordEnv', MAX_PASSWORD) ?? read('tokenEnv', MAX_PASSWORD);
  if (password === null) throw configError(`${at}.passwordEnv`, 'usernameEnv needs passwordEnv (or tokenEnv)');
  return { username, password };
}
