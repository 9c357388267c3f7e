/**
 * startServer: the one place that wires the server's singletons: storage, vulnerability DB,
 * scan queue and worker, the first admin token, and the HTTP app, then listens. Everything else
 * takes its dependencies as arguments.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PalisadeError, systemClock, type Clock } from '@palisade/core';
import { resolveRegistryCredentials, type RegistryConfig, type ServerConfig } from './config/index.js';
import { defaultConsoleDir } from './http/console.js';
import { createApp } from './http/app.js';
import { createAuthenticator } from './http/auth.js';
import { createMetrics } from './http/metrics.js';
import { createScheduler, type Scheduler, type SchedulerOptions } from './scheduler/index.js';
import { hashToken } from './secrets/index.js';
import { openStorage, type CommonStorageOptions, type Storage } from './storage/index.js';
import type { RegistryCredentials, RegistryPatch } from './storage/types.js';
import { createScanQueue } from './worker/queue.js';
import { createVulnDbHolder } from './worker/vulndb.js';
import { createScanWorker, type ScanFn, type ScanWorker, type StopOptions } from './worker/worker.js';
import { clusterSnapshotTask, createClusterConnector, type ConnectorOptions } from './clusters/index.js';
import {
  createClusterIngestAuthenticator,
  createRuntimePipeline,
  loadRuntimeEngine,
  type NatsPipelineOptions,
  type RuntimePipeline,
  runtimeRetentionTask,
} from './runtime/index.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
export const ADMIN_TOKEN_ENV = 'PALISADE_ADMIN_TOKEN';
const MIN_ENV_TOKEN_LENGTH = 32;

/** Where the first admin token came from; the token itself is never part of it. */
export type AdminTokenSource =
  { kind: 'env' } | { kind: 'generated'; file: string } | { kind: 'existing'; file: string | null };

export interface RunningServer {
  /** `http(s)://host:port` as bound (the real port when 0 was asked for). */
  url: string;
  port: number;
  adminToken: AdminTokenSource;
  app: FastifyInstance;
  storage: Storage;
  worker: ScanWorker;
  /** The periodic work (rescans, polling, rematch, trend); null when `scheduler.enabled` is off. */
  scheduler: Scheduler | null;
  /** Runtime ingest, detection and storage (JetStream when `runtime.natsUrl` / NATS_URL is set). */
  runtime: RuntimePipeline;
  /** Stop accepting requests, let running scans finish (or release them), close storage. */
  close(options?: StopOptions): Promise<void>;
}

export interface StartOptions {
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Where logs go (default stdout); false for none. */
  logStream?: NodeJS.WritableStream | false;
  /** Storage options for tests (secret key, backoff, PostgreSQL schema). */
  storage?: CommonStorageOptions & { schema?: string };
  /** Worker knobs for tests. */
  worker?: { leaseMs?: number; pollMs?: number; scan?: ScanFn; workerId?: string };
  /** Scheduler knobs for tests (tick period, DB build-time reader, registry client). */
  scheduler?: Pick<SchedulerOptions, 'tickMs' | 'workerId' | 'readBuiltAt' | 'leaseMs'>;
  /** The built console to serve at `/` (default: packages/console/dist when it was built; null: none). */
  consoleDir?: string | null;
  /** Cluster connector knobs (tests): override the config's `clusters` settings, request timeout. */
  clusters?: Omit<ConnectorOptions, 'storage' | 'clock'>;
  /** Runtime knobs (tests, benchmarks): override the config's `runtime` settings; JetStream names. */
  runtime?: { ruleFiles?: string[]; groupWindowMs?: number; nats?: Partial<NatsPipelineOptions> };
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const env = opts.env ?? process.env;
  const clock = opts.clock ?? systemClock;
  const envToken = env[ADMIN_TOKEN_ENV];
  if (envToken !== undefined && envToken !== '' && (envToken.length < MIN_ENV_TOKEN_LENGTH || /\s/.test(envToken))) {
    // Never echo the value: only what is wrong with it.
    throw new PalisadeError('E_CONFIG', `must be at least ${MIN_ENV_TOKEN_LENGTH} characters without spaces`, {
      subject: ADMIN_TOKEN_ENV,
    });
  }
  const https = config.server.tls
    ? {
        cert: readTlsFile(config.server.tls.cert, 'server.tls.cert'),
        key: readTlsFile(config.server.tls.key, 'server.tls.key'),
      }
    : undefined;
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new PalisadeError('E_CONFIG', 'cannot create the data directory', { subject: 'dataDir', cause: err });
  }

  const storageOpts = { clock, env, ...opts.storage };
  const storage = await openStorage(
    config.databaseUrl !== null
      ? { ...storageOpts, databaseUrl: config.databaseUrl, dataDir: config.dataDir }
      : { ...storageOpts, dataDir: config.dataDir },
  );
  const vulnDb = createVulnDbHolder(config.vulnDbPath);
  let worker: ScanWorker | undefined;
  let scheduler: Scheduler | null = null;
  let app: FastifyInstance | undefined;
  let runtime: RuntimePipeline | undefined;
  try {
    const adminToken = await ensureAdminToken(storage, config.dataDir, envToken !== undefined && envToken !== '');
    const metrics = createMetrics();
    const scanQueue = createScanQueue(storage, {
      allowLocalSources: config.worker.allowLocalSources,
      onEnqueued: () => worker?.wake(),
    });
    const logStream = opts.logStream ?? process.stdout;
    const consoleDir = opts.consoleDir === null ? undefined : (opts.consoleDir ?? defaultConsoleDir());
    const rules = loadRuntimeEngine(opts.runtime?.ruleFiles ?? config.runtime.ruleFiles);
    const natsUrl = opts.runtime?.nats?.url ?? config.runtime.natsUrl;
    runtime = createRuntimePipeline({
      storage,
      engine: rules.engine,
      clock,
      observer: metrics,
      ...(natsUrl !== null
        ? {
            nats: {
              ...(config.runtime.natsCredsFile !== null ? { credsFile: config.runtime.natsCredsFile } : {}),
              ...opts.runtime?.nats,
              url: natsUrl,
            },
          }
        : {}),
      groupWindowMs: opts.runtime?.groupWindowMs ?? config.runtime.groupWindowMs,
      rateLimit: {
        itemsPerSecond: config.runtime.ingestItemsPerSecond,
        bytesPerSecond: config.runtime.ingestBytesPerSecond,
      },
    });
    app = createApp({
      runtime,
      ingestAuth: createClusterIngestAuthenticator(storage.clusters),
      clusters: {
        allowExecPlugins: config.clusters.allowExecPlugins,
        defaultIntervalSeconds: config.clusters.defaultIntervalSeconds,
      },
      storage,
      clock,
      scanQueue,
      vulnDbStatus: () => vulnDb.status(),
      logger: logStream === false ? false : { level: config.log.level, stream: logStream },
      metrics,
      authenticator: createAuthenticator(storage, envToken ? { envAdminTokenHash: hashToken(envToken) } : {}),
      bodyLimit: config.server.bodyLimit,
      ...(https ? { https } : {}),
      ...(consoleDir ? { consoleDir } : {}),
    });
    for (const e of rules.errors) app.log.warn({ rule: e.ruleId, file: e.file, line: e.line }, e.describe());
    // Before listening: with NATS_URL the stream must exist before the first batch is accepted.
    await runtime.start(app.log.child({ component: 'runtime' }));
    // Before the worker starts: a queued scan of a configured registry should find its credentials.
    await upsertConfiguredRegistries(storage, config.registries, env, app.log.child({ component: 'config' }));
    worker = createScanWorker({
      storage,
      vulnDb,
      cacheDir: join(config.dataDir, 'cache'),
      concurrency: config.worker.concurrency,
      registryConcurrency: config.worker.registryConcurrency,
      clock,
      leaseMs: config.worker.leaseMs,
      logger: app.log.child({ component: 'worker' }),
      observer: metrics,
      ...opts.worker,
    });
    if (config.scheduler.enabled) {
      const sc = config.scheduler;
      scheduler = createScheduler({
        storage,
        clock,
        vulnDb,
        // Without rematching there is nothing to watch: no DB check, no rematch job.
        ...(sc.rematch ? { dbPath: config.vulnDbPath } : {}),
        rematch: { enabled: sc.rematch },
        // The app's queue: its onEnqueued wakes this process's worker for the rescans it queues.
        scans: scanQueue,
        rescan: { intervalMs: sc.rescan.intervalMs, windowMs: sc.rescan.windowMs, everyMs: sc.rescan.everyMs },
        poll: { intervalMs: sc.poll.intervalMs },
        trend: { enabled: true },
        registryConcurrency: config.worker.registryConcurrency,
        logger: app.log.child({ component: 'scheduler' }),
        observer: metrics,
        // Snapshots of registered clusters at their interval (docs/clusters.md).
        tasks: [
          clusterSnapshotTask(
            createClusterConnector({
              storage,
              clock,
              keepSnapshots: config.clusters.keepSnapshots,
              pageSize: config.clusters.pageSize,
              allowExecPlugins: config.clusters.allowExecPlugins,
              ...opts.clusters,
            }),
          ),
          runtimeRetentionTask(storage, { alertRetentionDays: config.runtime.alertRetentionDays }),
        ],
        ...opts.scheduler,
      });
    }
    await app.listen({ host: config.server.host, port: config.server.port });
    worker.start();
    // After the worker: the first tick may queue rescans, and the worker should be there to wake.
    scheduler?.start();
    const addr = app.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `${https ? 'https' : 'http'}://${host}:${addr.port}`;
    const running = { app, worker, scheduler, runtime };
    let closed: Promise<void> | undefined;
    return {
      url,
      port: addr.port,
      adminToken,
      app,
      storage,
      worker,
      scheduler,
      runtime,
      close(stopOpts) {
        closed ??= (async () => {
          await running.app.close();
          // After the app (no new batches), before storage: the consumer finishes the batch in hand.
          await running.runtime.close();
          // Before the worker and storage: a running task is aborted and its job handed back.
          await running.scheduler?.stop();
          await running.worker.stop(stopOpts);
          vulnDb.close();
          await storage.close();
        })();
        return closed;
      },
    };
  } catch (err) {
    worker?.halt();
    await runtime?.close().catch(() => undefined);
    await scheduler?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    vulnDb.close();
    await storage.close().catch(() => undefined);
    throw err;
  }
}

type RegistryAction = 'created' | 'updated' | 'unchanged';

/**
 * Register the registries of the config file, by name: created when missing, brought in line
 * with the file when a setting differs, left untouched (no write, no new updatedAt) when equal,
 * so restarts are idempotent. The file is authoritative for the registries it lists, credentials
 * included (none in the file removes stored ones); registries added by the API are not touched.
 * No webhook token is made here: it is a secret shown once, and there is no one to show it to
 * at start (POST /api/v1/registries/{id}/webhook-token makes one). Credentials are never logged.
 */
export async function upsertConfiguredRegistries(
  storage: Storage,
  registries: readonly RegistryConfig[],
  env: Readonly<Record<string, string | undefined>>,
  log?: { info(obj: object, msg: string): void },
): Promise<Array<{ name: string; id: string; action: RegistryAction }>> {
  const out: Array<{ name: string; id: string; action: RegistryAction }> = [];
  // Read again here (not only in loadConfig): the environment of startServer is what counts. All
  // first, so a missing variable stops the start before any registry is written.
  const resolved = registries.map((reg, i) =>
    reg.credentials ? resolveRegistryCredentials(reg.credentials, env, `registries[${i}]`) : null,
  );
  for (const [i, reg] of registries.entries()) {
    const credentials = resolved[i] ?? null;
    const input = {
      name: reg.name,
      url: reg.url,
      insecure: reg.insecure,
      readOnly: reg.readOnly,
      publishResults: reg.publishResults,
    };
    let existing = await storage.registries.getByName(reg.name);
    if (!existing) {
      try {
        const created = await storage.registries.create({ ...input, credentials });
        out.push({ name: reg.name, id: created.id, action: 'created' });
        continue;
      } catch (err) {
        // Another replica starting with the same file created it first: update it instead.
        existing = await storage.registries.getByName(reg.name);
        if (!existing) throw err;
      }
    }
    const patch: RegistryPatch = {};
    if (existing.url !== input.url) patch.url = input.url;
    if (existing.insecure !== input.insecure) patch.insecure = input.insecure;
    if (existing.readOnly !== input.readOnly) patch.readOnly = input.readOnly;
    if (existing.publishResults !== input.publishResults) patch.publishResults = input.publishResults;
    // Compared decrypted: re-sealing equal credentials would change the row on every start.
    const stored = existing.hasCredentials ? await storage.registries.credentials(existing.id) : null;
    if (!sameCredentials(stored, credentials)) patch.credentials = credentials;
    if (Object.keys(patch).length === 0) {
      out.push({ name: reg.name, id: existing.id, action: 'unchanged' });
      continue;
    }
    await storage.registries.update(existing.id, patch);
    out.push({ name: reg.name, id: existing.id, action: 'updated' });
  }
  for (const r of out) {
    // Which settings changed is enough to audit; the values of credentials never reach the log.
    if (r.action !== 'unchanged')
      log?.info({ registry: r.name, id: r.id, action: r.action }, `registry from config ${r.action}`);
  }
  return out;
}

function sameCredentials(a: RegistryCredentials | null, b: RegistryCredentials | null): boolean {
  if (a === null || b === null) return a === b;
  return a.username === b.username && a.password === b.password;
}

function readTlsFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new PalisadeError('E_CONFIG', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      subject: field,
      cause: err,
    });
  }
}

/**
 * The first admin token. With PALISADE_ADMIN_TOKEN nothing is stored (only its hash is kept in
 * memory by the authenticator). Otherwise, when no active admin token exists, one is generated
 * and its plaintext written to `<dataDir>/admin-token` (0600, created exclusively so an existing
 * file, or a symlink planted there, is never followed or overwritten). It is never logged.
 */
export async function ensureAdminToken(storage: Storage, dataDir: string, fromEnv: boolean): Promise<AdminTokenSource> {
  if (fromEnv) return { kind: 'env' };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const now = Date.now();
  const active = (await storage.tokens.list()).some(
    (t) => t.role === 'admin' && t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > now),
  );
  if (active) return { kind: 'existing', file: existsSync(file) ? file : null };
  const created = await storage.tokens.create({ name: 'initial admin', role: 'admin' });
  let fd: number;
  try {
    // A stale file (its token revoked) is replaced: unlink removes a planted symlink itself, not
    // its target, and 'wx' then creates a fresh file with mode 0600 or fails.
    if (existsSync(file) || isSymlink(file)) unlinkSync(file);
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    await storage.tokens.revoke(created.record.id);
    throw new PalisadeError(
      'E_CONFIG',
      `cannot write the admin token file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  try {
    writeSync(fd, `${created.token}\n`);
  } finally {
    closeSync(fd);
  }
  return { kind: 'generated', file };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
