/**
 * The PostgreSQL backend: a node-postgres Pool. Connections the server drops (restart,
 * failover, pg_terminate_backend) are discarded by the pool; a single statement that failed
 * because its connection was gone is retried on a fresh one, so callers see no error.
 */
import pg from 'pg';
import { PalisadeError } from '@palisade/core';
import { normalizeParam, type Database, type Row, type SqlExecutor, type SqlValue } from './sql.js';

export interface PostgresOptions {
  connectionString: string;
  /** Schema to work in (set as search_path on every pooled connection); default: the server's default. */
  schema?: string;
  /** Pool size. */
  max?: number;
  applicationName?: string;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;
// Tries of a statement (or BEGIN) on a lost connection, beyond the pool's size: after a
// failover every idle client may be dead without the pool knowing yet, and each try can draw
// another of them before a fresh connection is made.
const EXTRA_RETRIES = 2;

export function openPostgres(opts: PostgresOptions): Database {
  if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) {
    throw new PalisadeError('E_CONFIG', 'schema name must be lowercase letters, digits and _', {
      subject: opts.schema,
    });
  }
  // Counts and BIGINTs as numbers, on this pool only (pg.types is process-wide).
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, (v: string) => Number(v));
  types.setTypeParser(NUMERIC_OID, (v: string) => Number(v));
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'palisade',
    types,
    ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle client whose connection dies emits 'error' on the pool; without a listener that
  // would crash the process. The pool has already removed the client; nothing else to do.
  pool.on('error', () => undefined);
  return new PostgresDatabase(pool, (opts.max ?? 10) + EXTRA_RETRIES);
}

function ignoreClientError(): void {
  // The statement in flight fails with the same error; that is where it is handled.
}

/** True when an error means "the connection is gone", not "the statement is wrong". */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 57P01-03: admin shutdown / crash shutdown / cannot connect now; class 08: connection exceptions.
    if (/^57P0[123]$/.test(code) || code.startsWith('08')) return true;
    if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
  }
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|not queryable/i.test(
    message,
  );
}

class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    private readonly retries: number,
  ) {}

  all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.retrying(async () => (await this.pool.query<Row>(sql, params.map(normalizeParam))).rows);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.retrying(async () => (await this.pool.query(sql, params.map(normalizeParam))).rowCount ?? 0);
  }

  exec(sql: string): Promise<void> {
    return this.retrying(async () => {
      await this.pool.query(sql);
    });
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.begin();
    const tx = new PostgresTx(client, 0);
    let broken: unknown;
    try {
      const out = await fn(tx);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      if (isConnectionError(err)) broken = err;
      else await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw wrapConnection(err);
    } finally {
      tx.done = true;
      // Releasing with an error destroys the client instead of returning it to the pool.
      client.release(broken !== undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * A client with BEGIN done. Only here is a retry of a transaction safe: nothing of it has run.
   * After BEGIN, a lost connection fails the transaction (the server rolls it back).
   */
  private async begin(): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        // While checked out, a client has no pool listener: a server restart would emit an
        // unhandled 'error' and crash the process. The failing query reports the loss instead.
        if (client.listenerCount('error') === 0) client.on('error', ignoreClientError);
        await client.query('BEGIN');
        return client;
      } catch (err) {
        client?.release(true);
        if (!isConnectionError(err) || attempt >= this.retries) throw wrapConnection(err);
      }
    }
  }

  /**
   * A statement that failed on a dead connection was not committed (a statement outside a
   * transaction commits only when it completes), so running it again on a new one is safe.
   */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isConnectionError(err) || attempt >= this.retries) throw wrapConnection(err);
      }
    }
  }
}

class PostgresTx implements SqlExecutor {
  readonly dialect = 'postgres' as const;
  done = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly depth: number,
  ) {}

  async all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    this.check();
    return (await this.client.query<Row>(sql, params.map(normalizeParam))).rows;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    this.check();
    return (await this.client.query(sql, params.map(normalizeParam))).rowCount ?? 0;
  }

  async exec(sql: string): Promise<void> {
    this.check();
    await this.client.query(sql);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.check();
    const sp = `sp${this.depth + 1}`;
    await this.client.query(`SAVEPOINT ${sp}`);
    const inner = new PostgresTx(this.client, this.depth + 1);
    try {
      const out = await fn(inner);
      await this.client.query(`RELEASE SAVEPOINT ${sp}`);
      return out;
    } catch (err) {
      if (!isConnectionError(err)) await this.client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
      throw err;
    } finally {
      inner.done = true;
    }
  }

  private check(): void {
    if (this.done) throw new PalisadeError('E_INTERNAL', 'transaction used after it ended', { subject: 'storage' });
  }
}

function wrapConnection(err: unknown): unknown {
  if (!isConnectionError(err)) return err;
  return new PalisadeError(
    'E_NETWORK',
    `lost the connection to PostgreSQL: ${err instanceof Error ? err.message : String(err)}`,
    {
      subject: 'DATABASE_URL',
      cause: err,
    },
  );
}
