/**
 * The one seam between the repositories and the two database engines. Repositories write SQL
 * in a portable subset with PostgreSQL's `$n` placeholders; each backend adapts it.
 */
import { PalisadeError } from '@palisade/core';

export type Dialect = 'sqlite' | 'postgres';
/** Values bound to placeholders. Booleans are stored as INTEGER 0/1 on both engines. */
export type SqlValue = string | number | boolean | null;
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  readonly dialect: Dialect;
  /** Rows of a query (or of a statement with RETURNING). */
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Run a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Run a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Run `fn` in a transaction: committed when it resolves, rolled back when it throws.
   * Nested calls become savepoints. SQLite transactions are IMMEDIATE (they take the write
   * lock up front), so a read-then-write inside one never fails half way with SQLITE_BUSY.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

export interface Database extends SqlExecutor {
  close(): Promise<void>;
}

/** `$1`, `$2`… to better-sqlite3's named `@p1`, `@p2`…, so a parameter can be used twice. */
export function toSqlitePlaceholders(sql: string): string {
  // Our SQL never has `$` inside string literals, so a plain scan is enough.
  return sql.replace(/\$(\d+)/g, '@p$1');
}

/** Collects parameters while a query is built: `p.add(v)` returns its placeholder. */
export class Params {
  readonly values: SqlValue[] = [];

  add(v: SqlValue): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }

  /** Placeholders for a list, for `IN (…)`; an empty list gives `NULL` so `IN (NULL)` matches nothing. */
  list(vs: readonly SqlValue[]): string {
    return vs.length === 0 ? 'NULL' : vs.map((v) => this.add(v)).join(', ');
  }
}

/** Booleans as 0/1: neither better-sqlite3 nor an INTEGER column on PostgreSQL accepts true/false. */
export function normalizeParam(v: SqlValue): string | number | null {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

// Row readers: columns come back untyped from both drivers; these check and convert.

export function str(row: Row, col: string): string {
  const v = row[col];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw new PalisadeError('E_INTERNAL', `column ${col} is not text`, { subject: 'storage' });
}

export function optStr(row: Row, col: string): string | null {
  const v = row[col];
  return v === null || v === undefined ? null : str(row, col);
}

export function num(row: Row, col: string): number {
  const v = row[col];
  if (typeof v === 'number') return v;
  // PostgreSQL returns BIGINT and NUMERIC as strings unless told otherwise.
  if (typeof v === 'string' || typeof v === 'bigint') return Number(v);
  if (v === null || v === undefined) return 0;
  throw new PalisadeError('E_INTERNAL', `column ${col} is not a number`, { subject: 'storage' });
}

export function optNum(row: Row, col: string): number | null {
  const v = row[col];
  return v === null || v === undefined ? null : num(row, col);
}

export function bool(row: Row, col: string): boolean {
  return num(row, col) !== 0;
}

export function jsonArray(row: Row, col: string): string[] {
  const v = optStr(row, col);
  if (v === null) return [];
  const parsed: unknown = JSON.parse(v);
  return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
}

export async function first(ex: SqlExecutor, sql: string, params?: readonly SqlValue[]): Promise<Row | undefined> {
  const rows = await ex.all(sql, params);
  return rows[0];
}

/**
 * Serialize transactions that must not interleave (migrations, findings replacement) across
 * every process sharing the database. PostgreSQL: a transaction-scoped advisory lock, released
 * at commit or rollback. SQLite: nothing to do, IMMEDIATE transactions are already serialized.
 */
export async function lockTx(tx: SqlExecutor, name: string): Promise<void> {
  if (tx.dialect === 'postgres') await tx.all('SELECT pg_advisory_xact_lock(hashtext($1)) AS locked', [name]);
}

/** `FOR UPDATE` where the engine has row locks (PostgreSQL); SQLite's IMMEDIATE transaction locks everything. */
export function forUpdate(ex: SqlExecutor, extra = ''): string {
  return ex.dialect === 'postgres' ? ` FOR UPDATE${extra ? ` ${extra}` : ''}` : '';
}

/** PostgreSQL 23505 / SQLite SQLITE_CONSTRAINT_UNIQUE or _PRIMARYKEY. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
