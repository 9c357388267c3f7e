/**
 * A durable job queue in the database. Jobs survive restarts; a worker holds a job through a
 * lease it renews with heartbeat(), and a job whose lease ran out (its worker was killed) goes
 * back to the queue through recoverExpired(). Several server replicas can share one PostgreSQL:
 * claims lock their row with FOR UPDATE SKIP LOCKED, so two workers never get the same job and
 * never wait on each other; per-key concurrency limits are checked under an advisory lock on
 * the key. On SQLite a claim is one IMMEDIATE transaction, serialized with every other write.
 */
import { randomUUID } from 'node:crypto';
import { PalisadeError } from '@palisade/core';
import { nowIso, type BackoffPolicy, type RepoContext } from './context.js';
import { clampLimit, clampOffset } from './paging.js';
import { first, forUpdate, lockTx, num, optStr, Params, str, type Row, type SqlExecutor } from './sql.js';
import type { Page } from './types.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface Job {
  id: string;
  kind: string;
  /** The JSON payload given to enqueue, parsed. */
  payload: unknown;
  status: JobStatus;
  dedupeKey: string | null;
  concurrencyKey: string | null;
  /** Attempts started so far (a claim starts one). */
  attempts: number;
  maxAttempts: number;
  /** Not claimable before this time (set by backoff after a failure). */
  runAt: string;
  lockedBy: string | null;
  leaseUntil: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface EnqueueInput {
  kind: string;
  /** Anything JSON.stringify accepts. */
  payload: unknown;
  /** Only one queued or running job per key: a second enqueue returns the first. */
  dedupeKey?: string;
  runAt?: string;
  /** Jobs sharing a key count against one limit (e.g. `registry:<id>`). */
  concurrencyKey?: string;
  /** Default 5. */
  maxAttempts?: number;
}

export interface EnqueueResult {
  job: Job;
  /** False when an existing job with the same dedupe key was returned. */
  created: boolean;
}

export interface ClaimOptions {
  /** Only these kinds; all kinds when absent. */
  kinds?: readonly string[];
  leaseMs: number;
  /** At most n running jobs per concurrency key; keys not listed are unlimited. */
  concurrencyLimits?: Readonly<Record<string, number>>;
}

export interface JobQueue {
  enqueue(input: EnqueueInput): Promise<EnqueueResult>;
  /** The next due job, now running and leased to `workerId`; null when none is claimable. */
  claim(workerId: string, options: ClaimOptions): Promise<Job | null>;
  /** Extend the lease; false when the worker no longer holds the job (its lease expired and it was recovered). */
  heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean>;
  /** Mark done; false when the worker no longer holds the job. */
  complete(jobId: string, workerId: string): Promise<boolean>;
  /**
   * Record a failed attempt: back to the queue after an exponential backoff, or failed for good
   * (reason kept) once attempts reach maxAttempts or when `retryable` is false. Null when the
   * worker no longer holds the job.
   */
  fail(jobId: string, workerId: string, error: string, options?: { retryable?: boolean }): Promise<Job | null>;
  /**
   * Requeue running jobs whose lease has expired (their worker died); a job out of attempts
   * fails instead. Returns how many jobs were recovered. Call at start and periodically.
   */
  recoverExpired(): Promise<number>;
  get(id: string): Promise<Job | null>;
  list(query?: { status?: JobStatus; kind?: string; limit?: number; offset?: number }): Promise<Page<Job>>;
  counts(): Promise<Record<JobStatus, number>>;
  /** Delete finished jobs (succeeded or failed) that finished before `before`. */
  purgeFinished(before: string): Promise<number>;
}

const DEFAULT_MAX_ATTEMPTS = 5;

export function createJobQueue(ctx: RepoContext): JobQueue {
  const { ex } = ctx;
  return {
    enqueue: (input) => enqueue(ctx, input),
    claim: (workerId, options) => claim(ctx, workerId, options),

    async heartbeat(jobId, workerId, leaseMs) {
      checkLease(leaseMs);
      const n = await ex.run(
        `UPDATE jobs SET lease_until = $3, updated_at = $4 WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
        [jobId, workerId, later(ctx, leaseMs), nowIso(ctx)],
      );
      return n > 0;
    },

    async complete(jobId, workerId) {
      const now = nowIso(ctx);
      const n = await ex.run(
        `UPDATE jobs SET status = 'succeeded', locked_by = NULL, lease_until = NULL, finished_at = $3, updated_at = $3
         WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
        [jobId, workerId, now],
      );
      return n > 0;
    },

    fail: (jobId, workerId, error, options) => fail(ctx, jobId, workerId, error, options?.retryable ?? true),

    async recoverExpired() {
      const now = nowIso(ctx);
      return ex.run(
        `UPDATE jobs SET
           status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END,
           last_error = 'lease expired: worker ' || COALESCE(locked_by, '?') || ' stopped without finishing the job',
           locked_by = NULL, lease_until = NULL, run_at = $1, updated_at = $1
         WHERE status = 'running' AND lease_until < $1`,
        [now],
      );
    },

    async get(id) {
      const row = await first(ex, 'SELECT * FROM jobs WHERE id = $1', [id]);
      return row ? toJob(row) : null;
    },

    async list(q = {}) {
      const p = new Params();
      const where: string[] = [];
      if (q.status !== undefined) where.push(`status = ${p.add(q.status)}`);
      if (q.kind !== undefined) where.push(`kind = ${p.add(q.kind)}`);
      const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
      const total = num((await first(ex, `SELECT COUNT(*) AS n FROM jobs${w}`, p.values)) ?? {}, 'n');
      const rows = await ex.all(
        `SELECT * FROM jobs${w} ORDER BY created_at DESC, id DESC LIMIT ${clampLimit(q.limit)} OFFSET ${clampOffset(q.offset)}`,
        p.values,
      );
      return { items: rows.map(toJob), total, nextCursor: null };
    },

    async counts() {
      const out: Record<JobStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0 };
      for (const r of await ex.all('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status')) {
        const s = str(r, 'status');
        if ((JOB_STATUSES as readonly string[]).includes(s)) out[s as JobStatus] = num(r, 'n');
      }
      return out;
    },

    purgeFinished(before) {
      return ex.run(`DELETE FROM jobs WHERE status IN ('succeeded', 'failed') AND finished_at < $1`, [before]);
    },
  };
}

async function enqueue(ctx: RepoContext, input: EnqueueInput): Promise<EnqueueResult> {
  const payload = JSON.stringify(input.payload);
  if (!input.kind) throw new PalisadeError('E_INPUT', 'a job needs a kind', { subject: 'jobs' });
  if (payload === undefined) throw new PalisadeError('E_INPUT', 'job payload must be JSON', { subject: input.kind });
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new PalisadeError('E_INPUT', 'maxAttempts must be ≥ 1', { subject: input.kind });
  const now = nowIso(ctx);
  // The insert and the lookup are two statements: the existing job may finish between them, and
  // then the next insert succeeds. A few rounds always settle it.
  for (let round = 0; round < 5; round++) {
    const row = await first(
      ctx.ex,
      `INSERT INTO jobs (id, kind, payload, status, dedupe_key, concurrency_key, attempts, max_attempts, run_at, created_at, updated_at)
       VALUES ($1, $2, $3, 'queued', $4, $5, 0, $6, $7, $8, $8) ON CONFLICT DO NOTHING RETURNING *`,
      [
        randomUUID(),
        input.kind,
        payload,
        input.dedupeKey ?? null,
        input.concurrencyKey ?? null,
        maxAttempts,
        input.runAt ?? now,
        now,
      ],
    );
    if (row) return { job: toJob(row), created: true };
    if (input.dedupeKey === undefined) break;
    const existing = await first(
      ctx.ex,
      `SELECT * FROM jobs WHERE dedupe_key = $1 AND status IN ('queued', 'running')`,
      [input.dedupeKey],
    );
    if (existing) return { job: toJob(existing), created: false };
  }
  throw new PalisadeError('E_INTERNAL', 'could not enqueue the job', { subject: input.dedupeKey ?? input.kind });
}

function claim(ctx: RepoContext, workerId: string, options: ClaimOptions): Promise<Job | null> {
  checkLease(options.leaseMs);
  const limits = options.concurrencyLimits ?? {};
  return ctx.ex.transaction(async (tx) => {
    const now = nowIso(ctx);
    const saturated = new Set(await saturatedKeys(tx, limits));
    // Each round either claims, finds nothing, or marks one more key saturated.
    for (let round = 0; round <= Object.keys(limits).length; round++) {
      const candidate = await nextCandidate(tx, options.kinds, [...saturated], now);
      if (!candidate) return null;
      const key = optStr(candidate, 'concurrency_key');
      const limit = key === null ? undefined : limits[key];
      if (key !== null && limit !== undefined && !(await underLimit(ctx, tx, key, limit))) {
        saturated.add(key);
        continue;
      }
      const row = await first(
        tx,
        `UPDATE jobs SET status = 'running', locked_by = $2, lease_until = $3, attempts = attempts + 1,
           started_at = COALESCE(started_at, $4), updated_at = $4
         WHERE id = $1 RETURNING *`,
        [str(candidate, 'id'), workerId, later(ctx, options.leaseMs), now],
      );
      return row ? toJob(row) : null;
    }
    return null;
  });
}

async function saturatedKeys(tx: SqlExecutor, limits: Readonly<Record<string, number>>): Promise<string[]> {
  const keys = Object.keys(limits);
  if (keys.length === 0) return [];
  const p = new Params();
  const rows = await tx.all(
    `SELECT concurrency_key, COUNT(*) AS n FROM jobs WHERE status = 'running' AND concurrency_key IN (${p.list(keys)}) GROUP BY concurrency_key`,
    p.values,
  );
  const running = new Map(rows.map((r) => [str(r, 'concurrency_key'), num(r, 'n')] as const));
  return keys.filter((k) => (running.get(k) ?? 0) >= (limits[k] ?? Infinity));
}

/** The oldest due job, row-locked on PostgreSQL (rows other claimers hold are skipped, not waited for). */
async function nextCandidate(
  tx: SqlExecutor,
  kinds: readonly string[] | undefined,
  saturated: string[],
  now: string,
): Promise<Row | undefined> {
  const p = new Params();
  const where = [`status = 'queued'`, `run_at <= ${p.add(now)}`];
  if (kinds !== undefined) where.push(`kind IN (${p.list(kinds)})`);
  if (saturated.length > 0) where.push(`(concurrency_key IS NULL OR concurrency_key NOT IN (${p.list(saturated)}))`);
  return first(
    tx,
    `SELECT id, concurrency_key FROM jobs WHERE ${where.join(' AND ')} ORDER BY run_at, id LIMIT 1${forUpdate(tx, 'SKIP LOCKED')}`,
    p.values,
  );
}

/**
 * Is there room for one more running job under this key? On PostgreSQL two claimers could each
 * count before the other commits; the advisory lock on the key (held to commit) makes the
 * second count after the first claim is visible.
 */
async function underLimit(ctx: RepoContext, tx: SqlExecutor, key: string, limit: number): Promise<boolean> {
  await lockTx(tx, `${ctx.lockPrefix}.jobs.${key}`);
  const row = await first(tx, `SELECT COUNT(*) AS n FROM jobs WHERE status = 'running' AND concurrency_key = $1`, [
    key,
  ]);
  return num(row ?? {}, 'n') < limit;
}

async function fail(
  ctx: RepoContext,
  jobId: string,
  workerId: string,
  error: string,
  retryable: boolean,
): Promise<Job | null> {
  return ctx.ex.transaction(async (tx) => {
    const cur = await first(
      tx,
      `SELECT * FROM jobs WHERE id = $1 AND locked_by = $2 AND status = 'running'${forUpdate(tx)}`,
      [jobId, workerId],
    );
    if (!cur) return null;
    const job = toJob(cur);
    const now = nowIso(ctx);
    const final = !retryable || job.attempts >= job.maxAttempts;
    const row = await first(
      tx,
      `UPDATE jobs SET status = $2, last_error = $3, run_at = $4, finished_at = $5, locked_by = NULL, lease_until = NULL, updated_at = $6
       WHERE id = $1 RETURNING *`,
      [
        jobId,
        final ? 'failed' : 'queued',
        error,
        final ? job.runAt : later(ctx, backoffMs(ctx.backoff, job.attempts)),
        final ? now : null,
        now,
      ],
    );
    return row ? toJob(row) : null;
  });
}

/** Delay before the next attempt after `attempts` failed ones: base·2^(attempts−1), capped. */
export function backoffMs(policy: BackoffPolicy, attempts: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
}

function later(ctx: RepoContext, ms: number): string {
  return new Date(ctx.clock.now().getTime() + ms).toISOString();
}

function checkLease(ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0)
    throw new PalisadeError('E_INPUT', 'lease must be a positive number of milliseconds', { subject: 'jobs' });
}

function toJob(r: Row): Job {
  return {
    id: str(r, 'id'),
    kind: str(r, 'kind'),
    payload: JSON.parse(str(r, 'payload')) as unknown,
    status: str(r, 'status') as JobStatus,
    dedupeKey: optStr(r, 'dedupe_key'),
    concurrencyKey: optStr(r, 'concurrency_key'),
    attempts: num(r, 'attempts'),
    maxAttempts: num(r, 'max_attempts'),
    runAt: str(r, 'run_at'),
    lockedBy: optStr(r, 'locked_by'),
    leaseUntil: optStr(r, 'lease_until'),
    lastError: optStr(r, 'last_error'),
    createdAt: str(r, 'created_at'),
    updatedAt: str(r, 'updated_at'),
    startedAt: optStr(r, 'started_at'),
    finishedAt: optStr(r, 'finished_at'),
  };
}
