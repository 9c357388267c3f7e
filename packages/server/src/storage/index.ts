/**
 * openStorage: the embedded database under `--data-dir` by default, PostgreSQL when a
 * DATABASE_URL is given. Both run the same numbered migrations at open and return the same
 * Storage interface.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError, systemClock, type Clock } from '@palisade/core';
import { createSecretBox } from '../secrets/box.js';
import { loadSecretKey } from '../secrets/keys.js';
import type { BackoffPolicy, RepoContext } from './context.js';
import { createFindingRepository } from './findings.js';
import { createImageRepository } from './images.js';
import { createJobQueue } from './jobs.js';
import { createClusterRepository } from './clusters.js';
import { createAlertRepository } from './alerts.js';
import { appliedVersions, migrate, MIGRATIONS, type Migration } from './migrations.js';
import { openPostgres } from './postgres.js';
import { createRegistryRepository } from './registries.js';
import { createScanRepository } from './scans.js';
import { openSqlite } from './sqlite.js';
import type { Database, SqlExecutor } from './sql.js';
import { createTokenRepository } from './tokens.js';
import { createTrendRepository } from './trends.js';
import type { Storage } from './types.js';
import { createVulnerabilityRepository } from './vulnerabilities.js';

export const EMBEDDED_DB_FILE = 'palisade.sqlite';

export interface CommonStorageOptions {
  clock?: Clock;
  /** The migration list; tests inject their own. Default: MIGRATIONS. */
  migrations?: readonly Migration[];
  /** 32-byte key for credentials; default from PALISADE_SECRET_KEY or `<dataDir>/secret.key`. */
  secretKey?: Buffer;
  /** Environment to read PALISADE_SECRET_KEY from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Job retry backoff; default 10 s doubling up to 1 h. */
  backoff?: Partial<BackoffPolicy>;
}

export interface EmbeddedStorageOptions extends CommonStorageOptions {
  dataDir: string;
  databaseUrl?: undefined;
}

export interface PostgresStorageOptions extends CommonStorageOptions {
  databaseUrl: string;
  /** Optional here: only used for the secret key file when PALISADE_SECRET_KEY is unset. */
  dataDir?: string;
  /** Schema to use (search_path); default the server's default. */
  schema?: string;
  poolSize?: number;
  /** application_name of the connections (shows in pg_stat_activity); default "palisade". */
  applicationName?: string;
}

export type OpenStorageOptions = EmbeddedStorageOptions | PostgresStorageOptions;

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 3_600_000 };

/** Options from the environment: PostgreSQL when DATABASE_URL is set, else embedded in `dataDir`. */
export function storageOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  dataDir: string,
): OpenStorageOptions {
  const url = env['DATABASE_URL'];
  return url !== undefined && url.trim() !== '' ? { databaseUrl: url.trim(), dataDir, env } : { dataDir, env };
}

export async function openStorage(opts: OpenStorageOptions): Promise<Storage> {
  const clock = opts.clock ?? systemClock;
  const key =
    opts.secretKey ??
    loadSecretKey({ env: opts.env, ...(opts.dataDir !== undefined ? { dataDir: ensureDir(opts.dataDir) } : {}) });
  const db =
    opts.databaseUrl !== undefined
      ? openPg(opts)
      : openSqlite({ path: join(ensureDir(opts.dataDir), EMBEDDED_DB_FILE) });
  const lockPrefix = `palisade.${opts.databaseUrl !== undefined ? (opts.schema ?? 'default') : 'embedded'}`;
  try {
    await migrate(db, opts.migrations ?? MIGRATIONS, clock, `${lockPrefix}.migrate`);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  const ctx: RepoContext = {
    ex: db,
    clock,
    box: createSecretBox(key),
    lockPrefix,
    backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
  };
  return buildStorage(ctx, () => db.close());
}

function openPg(opts: PostgresStorageOptions): Database {
  return openPostgres({
    connectionString: opts.databaseUrl,
    ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
    ...(opts.poolSize !== undefined ? { max: opts.poolSize } : {}),
    ...(opts.applicationName !== undefined ? { applicationName: opts.applicationName } : {}),
  });
}

function ensureDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new PalisadeError('E_CONFIG', 'cannot create the data directory', { subject: dir, cause: err });
  }
  return dir;
}

function buildStorage(ctx: RepoContext, close: () => Promise<void>): Storage {
  const bound = (ex: SqlExecutor): RepoContext => ({ ...ctx, ex });
  return {
    backend: ctx.ex.dialect,
    tokens: createTokenRepository(ctx),
    registries: createRegistryRepository(ctx),
    images: createImageRepository(ctx),
    findings: createFindingRepository(ctx),
    vulnerabilities: createVulnerabilityRepository(ctx),
    trends: createTrendRepository(ctx),
    scans: createScanRepository(ctx),
    jobs: createJobQueue(ctx),
    clusters: createClusterRepository(ctx),
    alerts: createAlertRepository(ctx),
    withTransaction: (fn) =>
      ctx.ex.transaction((tx) =>
        fn(
          buildStorage(bound(tx), () =>
            Promise.reject(new PalisadeError('E_INTERNAL', 'close() called on a transaction', { subject: 'storage' })),
          ),
        ),
      ),
    async migrationStatus() {
      const applied = [...(await appliedVersions(ctx.ex))];
      return { applied, version: Math.max(0, ...applied) };
    },
    close,
  };
}

export * from './types.js';
export { MIGRATIONS, type Migration, type MigrationResult } from './migrations.js';
export type { Job, JobQueue, JobStatus, EnqueueInput, EnqueueResult, ClaimOptions } from './jobs.js';
export { JOB_STATUSES, backoffMs } from './jobs.js';
export { resultFromReport } from './findings.js';
export { imageId } from './images.js';
export type { BackoffPolicy } from './context.js';
