import type { Clock } from '@palisade/core';
import type { SecretBox } from '../secrets/box.js';
import type { SqlExecutor } from './sql.js';

/** What every repository is built from: the executor (the pool, or one transaction) and services. */
export interface RepoContext {
  ex: SqlExecutor;
  clock: Clock;
  box: SecretBox;
  /** Prefix of advisory lock names, so storages in different schemas do not block each other. */
  lockPrefix: string;
  backoff: BackoffPolicy;
}

/** Retry delay after a job's n-th failed attempt: baseMs * 2^(n-1), at most maxMs. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export function nowIso(ctx: { clock: Clock }): string {
  return ctx.clock.now().toISOString();
}
