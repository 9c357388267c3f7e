/**
 * Offset and keyset paging over a sort of one or more expressions plus a unique tie-breaker.
 * A cursor carries the sort values of the last row of a page; the next page is the rows after
 * that tuple, `(k0, k1, …, id) > ($a, $b, …)` (row-value comparison, on both engines), which stays
 * fast at any depth and stable while rows are added.
 */
import { PalisadeError } from '@palisade/core';
import type { Params, Row, SqlValue } from './sql.js';
import type { SortOrder } from './types.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1)
    throw new PalisadeError('E_INPUT', 'limit must be a positive integer', { subject: 'limit' });
  return Math.min(limit, MAX_LIMIT);
}

export function clampOffset(offset: number | undefined): number {
  if (offset === undefined) return 0;
  if (!Number.isInteger(offset) || offset < 0)
    throw new PalisadeError('E_INPUT', 'offset must be a non-negative integer', { subject: 'offset' });
  return offset;
}

export function encodeCursor(values: readonly SqlValue[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): SqlValue[] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== arity || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
    throw new PalisadeError('E_INPUT', 'invalid cursor (was it made for another sort?)', { subject: 'cursor' });
  }
  return v;
}

export interface KeysetPlan {
  /** Expressions aliased k0..kn in the SELECT list. */
  select: string;
  orderBy: string;
  /** Condition for rows after the cursor, or '' without one. */
  after: string;
}

/** `exprs` must end with a unique column so the order is total. */
export function keyset(exprs: readonly string[], order: SortOrder, cursor: string | undefined, p: Params): KeysetPlan {
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  const select = exprs.map((e, i) => `${e} AS k${i}`).join(', ');
  const orderBy = exprs.map((e) => `${e} ${dir}`).join(', ');
  if (cursor === undefined) return { select, orderBy, after: '' };
  const values = decodeCursor(cursor, exprs.length);
  const after = `(${exprs.join(', ')}) ${order === 'asc' ? '>' : '<'} (${values.map((v) => p.add(v)).join(', ')})`;
  return { select, orderBy, after };
}

/** The cursor of a row fetched with `keyset(...).select`. */
export function cursorOf(row: Row, arity: number): string {
  const values: SqlValue[] = [];
  for (let i = 0; i < arity; i++) {
    const v = row[`k${i}`];
    // Sort expressions are text or numbers; a BIGINT may come back as bigint.
    values.push(typeof v === 'number' || typeof v === 'string' ? v : typeof v === 'bigint' ? Number(v) : null);
  }
  return encodeCursor(values);
}

/** LIKE pattern for a substring, with the wildcards in the text escaped (use with `ESCAPE '\'`). */
export function likeContains(text: string): string {
  return `%${escapeLike(text.toLowerCase())}%`;
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
