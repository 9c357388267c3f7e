/**
 * The Scheduler runs the periodic work: rescan planning, registry polling, and watching the
 * vulnerability DB for updates (which queues a rematch). Each periodic task is a durable job
 * with a fixed dedupe key (`rescan-plan`, `registry-poll:<id>`), so however many replicas run a
 * Scheduler, one of each is queued or running at a time and one replica runs it:
 *
 * - every tick, each replica "ensures" the task's job: an enqueue with the task's dedupe key,
 *   which is a no-op while one is queued (possibly for later) or running;
 * - the replica that claims and finishes the job completes it and queues the next occurrence
 *   (runAt = now + interval) in the same transaction, so the chain never has a gap another
 *   replica could fill early; after a final failure the next occurrence is queued the same way;
 * - a replica killed mid-task leaves its job running with a lease: recoverExpired puts it back.
 *
 * The DB check is per replica (each may have its own copy of the file); the rematch it queues is
 * deduplicated by the DB's build time (see rematch.ts). The Scheduler claims only its own job
 * kinds; `scan` jobs stay with the worker. A poll job carries the registry's concurrency key,
 * so it counts against the same per-registry limit as scans.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { PalisadeError, systemClock, toPalisadeError, type Clock, type ErrorCode } from '@palisade/core';
import type { Job, Storage, TrendPoint } from '../storage/index.js';
import { createScanQueue, registryKey } from '../worker/queue.js';
import {
  pollRegistry,
  selectPolledRegistries,
  type PollLimits,
  type PollResult,
  type PollSelection,
  type RegistryClientFactory,
} from './poll.js';
import { createDbWatcher, rematchAll, type DbCheck, type DbWatcher, type RematchResult } from './rematch.js';
import { planRescans, type RescanPlanResult } from './rescan.js';
import {
  DAY_MS,
  REGISTRY_POLL_JOB_KIND,
  REMATCH_JOB_KIND,
  RESCAN_PLAN_JOB_KIND,
  SCHEDULER_JOB_KINDS,
  TREND_SNAPSHOT_JOB_KIND,
  type ScanEnqueuer,
  type SchedulerLogger,
  type VulnDbSource,
} from './types.js';

export interface RescanSchedule {
  enabled?: boolean;
  /** How often the plan runs. Default 1 h (a due image waits at most this long past `everyMs`). */
  intervalMs?: number;
  /** Default 30 days. */
  windowMs?: number;
  /** Default 1 day. */
  everyMs?: number;
  maxImages?: number;
  maxEnqueues?: number;
}

export interface PollSchedule extends PollLimits {
  enabled?: boolean;
  /** How often each polled registry is polled. Default 15 min. */
  intervalMs?: number;
  /** Default `without-webhook`: registries with no webhook token. */
  registries?: PollSelection;
  clientFactory?: RegistryClientFactory;
}

export interface RematchSchedule {
  enabled?: boolean;
  /** How often this replica looks at the DB file. Default 1 min. */
  checkIntervalMs?: number;
  batchSize?: number;
  maxDigests?: number;
}

export interface TrendSchedule {
  /**
   * Off by default here (the server turns it on): a library user may keep its own trend, and
   * the other tasks' tests count the jobs a tick creates.
   */
  enabled?: boolean;
  /**
   * How often today's point is taken again. Default 1 h. A snapshot replaces the same day's
   * point, so each day ends up with its last count; a period under a day also means no day is
   * skipped when the chain drifts (each occurrence is queued `interval` after the last ended).
   */
  intervalMs?: number;
}

/**
 * Periodic work contributed from outside the scheduler (cluster snapshots), as its own job kind.
 * The scheduler calls `ensure` every tick (queue what is due, deduplicated by the task's own
 * dedupe keys) and claims, leases and runs the task's jobs like its own; the task decides its
 * schedule itself (no chained next occurrence is queued for it).
 */
export interface SchedulerTask {
  readonly kind: string;
  /** Queue the jobs that are due; returns the dedupe keys of the jobs it created. */
  ensure(storage: Storage, now: Date): Promise<string[]>;
  /** Run one claimed job of this kind; what it returns is logged and reported as the run's `output`. */
  run(job: Job, now: Date, signal: AbortSignal): Promise<unknown>;
}

/** Where task outcomes are counted (the /metrics registry). */
export interface SchedulerObserver {
  observeTask(kind: string, outcome: TaskOutcome, seconds: number): void;
}

export interface SchedulerOptions {
  storage: Storage;
  clock?: Clock;
  /** The DB rematch jobs match with (the worker's VulnDbHolder); rematch jobs fail without one. */
  vulnDb?: VulnDbSource;
  /** The DB file to watch; no watching without it. */
  dbPath?: string;
  /** Passed to the DB watcher (tests); default opens the file and reads its build time. */
  readBuiltAt?: (path: string) => string | null;
  /** Where rescans and polled images are queued; the app passes its ScanQueue (which wakes the worker). */
  scans?: ScanEnqueuer;
  rescan?: RescanSchedule;
  poll?: PollSchedule;
  rematch?: RematchSchedule;
  /** The daily trend point (storage.trends.snapshot). */
  trend?: TrendSchedule;
  /** More periodic tasks, each with its own job kind (e.g. cluster snapshots). */
  tasks?: readonly SchedulerTask[];
  /** Claim and run scheduler jobs in this process (default true). False: only queue them. */
  runJobs?: boolean;
  /** Scheduler jobs run per tick, one after another. Default 4. */
  maxJobsPerTick?: number;
  /** Running jobs per registry concurrency key, as the worker's registryConcurrency. Default 2. */
  registryConcurrency?: number;
  /** Lease of a claimed scheduler job, renewed every leaseMs / 3. Default 5 min. */
  leaseMs?: number;
  /** Time between ticks once started. Default 30 s. */
  tickMs?: number;
  workerId?: string;
  logger?: SchedulerLogger;
  observer?: SchedulerObserver;
}

export type TaskOutcome = 'succeeded' | 'retried' | 'failed' | 'lost';

export type TaskResult =
  | { kind: typeof RESCAN_PLAN_JOB_KIND; result: RescanPlanResult }
  | { kind: typeof REGISTRY_POLL_JOB_KIND; result: PollResult | null }
  | { kind: typeof REMATCH_JOB_KIND; result: RematchResult }
  | { kind: typeof TREND_SNAPSHOT_JOB_KIND; result: TrendPoint };

export interface TaskRun {
  jobId: string;
  kind: string;
  outcome: TaskOutcome;
  /** Present when a built-in task succeeded. */
  task?: TaskResult;
  /** Present when a task of `options.tasks` succeeded: what its run returned. */
  output?: unknown;
  error?: string;
}

export interface SchedulerTick {
  /** Jobs this tick created (deduplicated ones are not listed), by dedupe key. */
  enqueued: string[];
  dbCheck: DbCheck | null;
  ran: TaskRun[];
  recovered: number;
}

export interface Scheduler {
  readonly workerId: string;
  /** Tick now and then every tickMs, until stop(). */
  start(): void;
  /** Stop ticking; abort the running task (its job goes back to the queue) and wait for the tick to end. */
  stop(): Promise<void>;
  /** One tick at `now` (default the clock's now): ensure periodic jobs, check the DB, run due jobs. */
  runOnce(now?: Date): Promise<SchedulerTick>;
}

export const RESCAN_PLAN_DEDUPE_KEY = RESCAN_PLAN_JOB_KIND;
export const TREND_SNAPSHOT_DEDUPE_KEY = TREND_SNAPSHOT_JOB_KIND;

export function pollDedupeKey(registryId: string): string {
  return `${REGISTRY_POLL_JOB_KIND}:${registryId}`;
}

interface PollJobPayload {
  registryId: string;
}

function parsePollPayload(payload: unknown): PollJobPayload | null {
  if (typeof payload === 'object' && payload !== null) {
    const id = (payload as Record<string, unknown>)['registryId'];
    if (typeof id === 'string') return { registryId: id };
  }
  return null;
}

const PERIODIC_MAX_ATTEMPTS = 3;

// Failures another attempt of the same occurrence cannot fix; the next occurrence still runs.
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_INPUT',
  'E_CONFIG',
  'E_AUTH',
  'E_NOT_FOUND',
  'E_UNSUPPORTED',
]);

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const { storage } = opts;
  const clock = opts.clock ?? systemClock;
  const workerId = opts.workerId ?? `scheduler:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = opts.logger;
  const leaseMs = opts.leaseMs ?? 300_000;
  const tickMs = opts.tickMs ?? 30_000;
  const maxJobs = Math.max(0, opts.maxJobsPerTick ?? 4);
  const rescan = { enabled: true, intervalMs: 3_600_000, windowMs: 30 * DAY_MS, everyMs: DAY_MS, ...opts.rescan };
  const poll = { enabled: true, intervalMs: 900_000, registries: 'without-webhook' as PollSelection, ...opts.poll };
  const rematch = { enabled: true, checkIntervalMs: 60_000, ...opts.rematch };
  const trend = { enabled: false, intervalMs: 3_600_000, ...opts.trend };
  const pollLimits: PollLimits & { clientFactory?: RegistryClientFactory } = {
    ...pick(poll, [
      'maxRepositories',
      'maxTagsPerRepository',
      'pageSize',
      'concurrency',
      'requestTimeoutMs',
      'deadlineMs',
    ]),
    ...(poll.clientFactory ? { clientFactory: poll.clientFactory } : {}),
  };
  const scans = opts.scans ?? createScanQueue(storage, { allowLocalSources: false });
  const extensions = new Map<string, SchedulerTask>();
  for (const t of opts.tasks ?? []) {
    if (SCHEDULER_JOB_KINDS.includes(t.kind) || extensions.has(t.kind))
      throw new PalisadeError('E_INTERNAL', 'scheduler task kind registered twice', { subject: t.kind });
    extensions.set(t.kind, t);
  }
  const claimKinds = [...SCHEDULER_JOB_KINDS, ...extensions.keys()];
  const watcher: DbWatcher | null =
    rematch.enabled && opts.dbPath !== undefined
      ? createDbWatcher({
          storage,
          path: opts.dbPath,
          ...(opts.readBuiltAt ? { readBuiltAt: opts.readBuiltAt } : {}),
        })
      : null;

  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let timer: NodeJS.Timeout | undefined;
  let lastDbCheck = -Infinity;
  // Ticks run one at a time (the timer's and a manual runOnce alike).
  let chain: Promise<unknown> = Promise.resolve();
  let current: AbortController | null = null;

  const intervalOf = (kind: string): number =>
    kind === RESCAN_PLAN_JOB_KIND
      ? rescan.intervalMs
      : kind === TREND_SNAPSHOT_JOB_KIND
        ? trend.intervalMs
        : poll.intervalMs;
  const isPeriodic = (kind: string): boolean =>
    kind === RESCAN_PLAN_JOB_KIND || kind === REGISTRY_POLL_JOB_KIND || kind === TREND_SNAPSHOT_JOB_KIND;

  /** The next occurrence of a periodic task, `intervalMs` after now. Inside the caller's transaction. */
  const nextOccurrence = async (tx: Storage, job: Job, now: Date): Promise<void> => {
    if (!isPeriodic(job.kind)) return;
    if (job.dedupeKey === null) return;
    await tx.jobs.enqueue({
      kind: job.kind,
      payload: job.payload,
      dedupeKey: job.dedupeKey,
      runAt: new Date(now.getTime() + intervalOf(job.kind)).toISOString(),
      maxAttempts: PERIODIC_MAX_ATTEMPTS,
      ...(job.concurrencyKey !== null ? { concurrencyKey: job.concurrencyKey } : {}),
    });
  };

  /** Queue each periodic task that has no queued or running job (first start, or a task newly enabled). */
  const ensure = async (now: Date): Promise<string[]> => {
    const created: string[] = [];
    const runAt = now.toISOString();
    if (rescan.enabled) {
      const r = await storage.jobs.enqueue({
        kind: RESCAN_PLAN_JOB_KIND,
        payload: {},
        dedupeKey: RESCAN_PLAN_DEDUPE_KEY,
        runAt,
        maxAttempts: PERIODIC_MAX_ATTEMPTS,
      });
      if (r.created) created.push(RESCAN_PLAN_DEDUPE_KEY);
    }
    if (trend.enabled) {
      const r = await storage.jobs.enqueue({
        kind: TREND_SNAPSHOT_JOB_KIND,
        payload: {},
        dedupeKey: TREND_SNAPSHOT_DEDUPE_KEY,
        runAt,
        maxAttempts: PERIODIC_MAX_ATTEMPTS,
      });
      if (r.created) created.push(TREND_SNAPSHOT_DEDUPE_KEY);
    }
    if (poll.enabled) {
      for (const reg of selectPolledRegistries(await storage.registries.list(), poll.registries)) {
        const payload: PollJobPayload = { registryId: reg.id };
        const key = pollDedupeKey(reg.id);
        const r = await storage.jobs.enqueue({
          kind: REGISTRY_POLL_JOB_KIND,
          payload,
          dedupeKey: key,
          runAt,
          concurrencyKey: registryKey(reg.id),
          maxAttempts: PERIODIC_MAX_ATTEMPTS,
        });
        if (r.created) created.push(key);
      }
    }
    for (const t of extensions.values()) created.push(...(await t.ensure(storage, now)));
    return created;
  };

  const runTask = async (job: Job, now: Date, signal: AbortSignal): Promise<TaskResult> => {
    switch (job.kind) {
      case RESCAN_PLAN_JOB_KIND:
        return {
          kind: RESCAN_PLAN_JOB_KIND,
          // A plan queued before rescans were disabled considers nothing (and its chain ends).
          result: await planRescans(storage, {
            now,
            windowMs: rescan.windowMs,
            everyMs: rescan.everyMs,
            scans,
            ...(rescan.maxImages !== undefined ? { maxImages: rescan.maxImages } : {}),
            ...(rescan.maxEnqueues !== undefined ? { maxEnqueues: rescan.maxEnqueues } : {}),
            ...(rescan.enabled ? {} : { maxImages: 0 }),
          }),
        };
      case REGISTRY_POLL_JOB_KIND: {
        const p = parsePollPayload(job.payload);
        const reg = p ? await storage.registries.get(p.registryId) : null;
        // Deleted, or no longer polled (it got a webhook token): nothing to do.
        if (!reg || !poll.enabled || selectPolledRegistries([reg], poll.registries).length === 0) {
          return { kind: REGISTRY_POLL_JOB_KIND, result: null };
        }
        return {
          kind: REGISTRY_POLL_JOB_KIND,
          result: await pollRegistry(storage, reg.id, {
            ...pollLimits,
            now,
            // Successive polls cover successive windows of a registry larger than one poll's limits.
            round: Math.floor(now.getTime() / poll.intervalMs),
            scans,
            signal,
          }),
        };
      }
      case REMATCH_JOB_KIND: {
        if (!opts.vulnDb) throw new PalisadeError('E_DB', 'no vulnerability DB to rematch with', { subject: job.id });
        const lease = opts.vulnDb.acquire();
        try {
          return {
            kind: REMATCH_JOB_KIND,
            result: await rematchAll(storage, lease.db, {
              signal,
              ...(rematch.batchSize !== undefined ? { batchSize: rematch.batchSize } : {}),
              ...(rematch.maxDigests !== undefined ? { maxDigests: rematch.maxDigests } : {}),
            }),
          };
        } finally {
          lease.release();
        }
      }
      case TREND_SNAPSHOT_JOB_KIND:
        // The tick's day (not the wall clock's), so a run with an injected clock is reproducible.
        return { kind: TREND_SNAPSHOT_JOB_KIND, result: await storage.trends.snapshot(now.toISOString().slice(0, 10)) };
      default:
        throw new PalisadeError('E_INTERNAL', 'not a scheduler job kind', { subject: job.kind });
    }
  };

  /** Drop periodic jobs of a task that is no longer wanted, instead of chaining them forever. */
  const stillWanted = (job: Job, task: TaskResult | undefined): boolean =>
    job.kind === RESCAN_PLAN_JOB_KIND
      ? rescan.enabled
      : job.kind === TREND_SNAPSHOT_JOB_KIND
        ? trend.enabled
        : !(task?.kind === REGISTRY_POLL_JOB_KIND && task.result === null);

  const runJob = async (job: Job, now: Date, signal: AbortSignal): Promise<TaskRun> => {
    const started = Date.now();
    // The lease is renewed while the task runs; a lost lease means another replica recovered it.
    let lost = false;
    const heartbeat = setInterval(
      () => {
        storage.jobs.heartbeat(job.id, workerId, leaseMs).then(
          (held) => {
            if (!held) lost = true;
          },
          (err: unknown) => log?.warn({ job: job.id, err: toPalisadeError(err).describe() }, 'lease heartbeat failed'),
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    const seconds = (): number => (Date.now() - started) / 1000;
    try {
      const extension = extensions.get(job.kind);
      let task: TaskResult | undefined;
      let output: unknown;
      if (extension) output = await extension.run(job, now, signal);
      else task = await runTask(job, now, signal);
      const done = await storage.withTransaction(async (tx) => {
        if (!(await tx.jobs.complete(job.id, workerId))) return false;
        if (stillWanted(job, task)) await nextOccurrence(tx, job, laterOf(now, clock.now()));
        return true;
      });
      const outcome: TaskOutcome = done && !lost ? 'succeeded' : 'lost';
      opts.observer?.observeTask(job.kind, outcome, seconds());
      log?.info(
        { job: job.id, kind: job.kind, outcome, result: task ? task.result : output },
        'scheduler task finished',
      );
      return { jobId: job.id, kind: job.kind, outcome, ...(task ? { task } : { output }) };
    } catch (err) {
      const reason = toPalisadeError(err).describe();
      // Stopping (aborted) hands the job back; errors another attempt cannot fix end this occurrence.
      const code = toPalisadeError(err).code;
      const retryable = signal.aborted || !PERMANENT.has(code);
      const after = await storage.jobs.fail(job.id, workerId, reason, { retryable });
      let outcome: TaskOutcome = 'lost';
      if (after?.status === 'failed') {
        outcome = 'failed';
        // The chain goes on after a final failure: the next occurrence is tried at the next interval.
        if (stillWanted(job, undefined)) await nextOccurrence(storage, job, laterOf(now, clock.now()));
      } else if (after) {
        outcome = 'retried';
      }
      opts.observer?.observeTask(job.kind, outcome, seconds());
      log?.warn({ job: job.id, kind: job.kind, outcome, reason }, 'scheduler task failed');
      return { jobId: job.id, kind: job.kind, outcome, error: reason };
    } finally {
      clearInterval(heartbeat);
    }
  };

  const tick = async (at: Date | undefined): Promise<SchedulerTick> => {
    const now = at ?? clock.now();
    const out: SchedulerTick = { enqueued: [], dbCheck: null, ran: [], recovered: 0 };
    out.recovered = await storage.jobs.recoverExpired();
    out.enqueued.push(...(await ensure(now)));
    if (watcher && now.getTime() - lastDbCheck >= rematch.checkIntervalMs) {
      lastDbCheck = now.getTime();
      out.dbCheck = await watcher.check();
      if (out.dbCheck.outcome === 'rematch-queued' && out.dbCheck.created) {
        out.enqueued.push(`${REMATCH_JOB_KIND}:${out.dbCheck.builtAt}`);
      }
    }
    if (opts.runJobs === false) return out;
    const limits: Record<string, number> = {};
    for (const r of await storage.registries.list()) limits[registryKey(r.id)] = opts.registryConcurrency ?? 2;
    for (let i = 0; i < maxJobs && state !== 'stopped'; i++) {
      const job = await storage.jobs.claim(workerId, {
        kinds: claimKinds,
        leaseMs,
        concurrencyLimits: limits,
      });
      if (!job) break;
      const abort = new AbortController();
      current = abort;
      try {
        out.ran.push(await runJob(job, now, abort.signal));
      } finally {
        current = null;
      }
    }
    return out;
  };

  const runOnce = (at?: Date): Promise<SchedulerTick> => {
    const p = chain.then(() => tick(at));
    chain = p.catch(() => undefined);
    return p;
  };

  const schedule = (): void => {
    if (state !== 'running') return;
    timer = setTimeout(() => {
      timer = undefined;
      runOnce().then(
        () => schedule(),
        (err: unknown) => {
          log?.error({ err: toPalisadeError(err).describe() }, 'scheduler tick failed');
          schedule();
        },
      );
    }, tickMs);
    timer.unref();
  };

  return {
    workerId,
    start() {
      if (state !== 'idle') return;
      state = 'running';
      runOnce().then(
        () => schedule(),
        (err: unknown) => {
          log?.error({ err: toPalisadeError(err).describe() }, 'scheduler tick failed');
          schedule();
        },
      );
    },
    async stop() {
      state = 'stopped';
      if (timer) clearTimeout(timer);
      timer = undefined;
      current?.abort();
      await chain;
    },
    runOnce,
  };
}

/** The keys of `o` among `keys` that are set (exactOptionalPropertyTypes forbids passing undefined on). */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function laterOf(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
