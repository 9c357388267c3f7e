/**
 * The embedded backend: better-sqlite3 in WAL mode, one connection per process.
 * better-sqlite3 is synchronous while repositories are async; a transaction awaits between its
 * statements, so every top-level call waits its turn on an in-process lock and nothing from
 * another caller slips into an open transaction.
 *
 * Waiting for another connection's write lock is done here, asynchronously, not with SQLite's
 * busy_timeout: that one sleeps inside the call and would block the event loop, so a second
 * connection in the same process could never let the first one finish.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { PalisadeError } from '@palisade/core';
import {
  normalizeParam,
  toSqlitePlaceholders,
  type Database,
  type Row,
  type SqlExecutor,
  type SqlValue,
} from './sql.js';

export interface SqliteOptions {
  /** File path, or ':memory:' */
  path: string;
  /** How long to wait for another process's write lock before failing. */
  busyTimeoutMs?: number;
}

type Statement = BetterSqlite3.Statement<Record<string, string | number | null>>;

// Queries with `IN (…)` lists of varying length make distinct SQL; bound the cache.
const STATEMENT_CACHE_LIMIT = 512;

export function openSqlite(opts: SqliteOptions): Database {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(opts.path);
    db.pragma('busy_timeout = 0');
    setWal(db);
    // WAL + NORMAL is durable across application crashes; only an OS crash can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new PalisadeError('E_DB', 'cannot open the embedded database', { subject: opts.path, cause: err });
  }
  return new SqliteDatabase(db, opts.busyTimeoutMs ?? 10_000);
}

/** WAL is a property of the file: if another connection holds a lock right now, it already set it. */
function setWal(db: BetterSqlite3.Database): void {
  try {
    db.pragma('journal_mode = WAL');
  } catch (err) {
    if (!isBusy(err)) throw err;
  }
}

function isBusy(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Retry `fn` while the database is locked by another connection. Only for work that failed
 * before changing anything: a single statement, or BEGIN.
 */
async function whileBusy<T>(timeoutMs: number, fn: () => T): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
    }
    await sleep(wait);
  }
}

class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Statement>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly busyTimeoutMs: number,
  ) {}

  all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.exclusive(() => whileBusy(this.busyTimeoutMs, () => this.allNow(sql, params)));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.exclusive(() => whileBusy(this.busyTimeoutMs, () => this.runNow(sql, params)));
  }

  exec(sql: string): Promise<void> {
    return this.exclusive(() => whileBusy(this.busyTimeoutMs, () => this.execNow(sql)));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.runTransaction(fn, 0));
  }

  async close(): Promise<void> {
    await this.exclusive(() => Promise.resolve());
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** Chain `fn` after everything queued before it; a failure does not break the chain. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.closed) throw new PalisadeError('E_DB', 'the embedded database is closed');
      return fn();
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>, depth: number): Promise<T> {
    const sp = `sp${depth}`;
    if (depth === 0) await whileBusy(this.busyTimeoutMs, () => this.execNow('BEGIN IMMEDIATE'));
    else this.execNow(`SAVEPOINT ${sp}`);
    const tx = new SqliteTx(this, depth);
    try {
      const out = await fn(tx);
      this.execNow(depth === 0 ? 'COMMIT' : `RELEASE ${sp}`);
      return out;
    } catch (err) {
      if (depth === 0) {
        if (this.db.inTransaction) this.execNow('ROLLBACK');
      } else {
        this.execNow(`ROLLBACK TO ${sp}`);
        this.execNow(`RELEASE ${sp}`);
      }
      throw err;
    } finally {
      tx.done = true;
    }
  }

  /** Inside a transaction: runs at once (the caller already holds the lock). */
  nested<T>(fn: (tx: SqlExecutor) => Promise<T>, depth: number): Promise<T> {
    return this.runTransaction(fn, depth);
  }

  allNow(sql: string, params: readonly SqlValue[]): Row[] {
    const stmt = this.prepare(sql);
    const bound = bind(params);
    if (stmt.reader) return stmt.all(bound) as Row[];
    stmt.run(bound);
    return [];
  }

  runNow(sql: string, params: readonly SqlValue[]): number {
    return this.prepare(sql).run(bind(params)).changes;
  }

  execNow(sql: string): void {
    this.db.exec(sql);
  }

  private prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE_LIMIT) this.statements.clear();
      stmt = this.db.prepare(toSqlitePlaceholders(sql));
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

class SqliteTx implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  done = false;

  constructor(
    private readonly owner: SqliteDatabase,
    private readonly depth: number,
  ) {}

  all(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.now(() => this.owner.allNow(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.now(() => this.owner.runNow(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.now(() => this.owner.execNow(sql));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.check();
    return this.owner.nested(fn, this.depth + 1);
  }

  private now<T>(fn: () => T): Promise<T> {
    try {
      this.check();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private check(): void {
    // A statement after the transaction ended would run outside it, silently.
    if (this.done) throw new PalisadeError('E_INTERNAL', 'transaction used after it ended', { subject: 'storage' });
  }
}

function bind(params: readonly SqlValue[]): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  params.forEach((v, i) => {
    out[`p${i + 1}`] = normalizeParam(v);
  });
  return out;
}
