/**
 * Retention of runtime data as scheduler work: alerts older than the retention (by event time),
 * groups whose last alert is older, Kubernetes events older, nodes silent for as long, batch ids
 * past their dedupe window, container records deleted a day ago or not reported for a day (the
 * inventory collector reports every running one hourly), and what a deleted cluster left behind. One `runtime-retention` job
 * is queued per interval (dedupe key, so however many replicas tick, one runs), and each run
 * deletes in bounded batches, at most `maxRowsPerTable` rows per table: a backlog (a retention
 * just shortened) is worked off over several runs instead of one long transaction.
 */
import { PalisadeError } from '@palisade/core';
import type { RuntimePruneResult, Storage } from '../storage/index.js';
import type { SchedulerTask } from '../scheduler/index.js';
import { DEFAULT_BATCH_RETENTION_MS } from '../storage/alerts.js';

export const RUNTIME_RETENTION_JOB_KIND = 'runtime-retention';
/** Default retention of alerts and alert groups (docs/runtime-alerts.md). */
export const DEFAULT_ALERT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
/** A deleted container's record is kept this long: alerts still in a publisher's spool find their context. */
export const DEFAULT_CONTAINER_DELETED_GRACE_MS = DAY_MS;
/** A container record not reported for this long is dropped (the collector resends every record hourly). */
export const DEFAULT_CONTAINER_STALE_MS = DAY_MS;

export interface RuntimeRetentionOptions {
  /** Alerts, groups, kube events and silent nodes older than this many days are removed. Default 30. */
  alertRetentionDays?: number;
  /** How often a pruning run is queued; default 1 h. */
  intervalMs?: number;
  /** Rows per DELETE; default 1,000. */
  batchSize?: number;
  /** Rows removed per table per run; default 100,000. */
  maxRowsPerTable?: number;
  /** How long a deleted container's record is kept; default 1 day. */
  containerDeletedGraceMs?: number;
  /** How long a container record not reported again is kept; default 1 day. */
  containerStaleMs?: number;
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new PalisadeError('E_CONFIG', `must be a whole number of days from 1 to 3650, not ${days}`, {
      subject: 'runtime.alertRetentionDays',
    });
}

/** One pruning pass at `now`. */
export async function pruneRuntimeData(
  storage: Pick<Storage, 'alerts'>,
  now: Date,
  opts: RuntimeRetentionOptions = {},
): Promise<RuntimePruneResult> {
  const days = opts.alertRetentionDays ?? DEFAULT_ALERT_RETENTION_DAYS;
  checkDays(days);
  const ago = (ms: number): string => new Date(now.getTime() - ms).toISOString();
  return storage.alerts.prune({
    before: ago(days * DAY_MS),
    batchesBefore: ago(DEFAULT_BATCH_RETENTION_MS),
    containersDeletedBefore: ago(opts.containerDeletedGraceMs ?? DEFAULT_CONTAINER_DELETED_GRACE_MS),
    containersStaleBefore: ago(opts.containerStaleMs ?? DEFAULT_CONTAINER_STALE_MS),
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.maxRowsPerTable !== undefined ? { maxRowsPerTable: opts.maxRowsPerTable } : {}),
  });
}

/** The scheduler task that prunes runtime data of `storage` every `intervalMs`. */
export function runtimeRetentionTask(
  storage: Pick<Storage, 'alerts'>,
  opts: RuntimeRetentionOptions = {},
): SchedulerTask {
  const intervalMs = opts.intervalMs ?? 3_600_000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1000)
    throw new PalisadeError('E_CONFIG', `must be at least 1000 ms, not ${intervalMs}`, {
      subject: 'runtime retention intervalMs',
    });
  // Checked at start rather than at the first run an interval later.
  checkDays(opts.alertRetentionDays ?? DEFAULT_ALERT_RETENTION_DAYS);
  return {
    kind: RUNTIME_RETENTION_JOB_KIND,
    async ensure(jobsOf, now) {
      // Queued one interval ahead; while it waits or runs, its dedupe key keeps it the only one.
      const r = await jobsOf.jobs.enqueue({
        kind: RUNTIME_RETENTION_JOB_KIND,
        payload: {},
        dedupeKey: RUNTIME_RETENTION_JOB_KIND,
        runAt: new Date(now.getTime() + intervalMs).toISOString(),
        maxAttempts: 3,
      });
      return r.created ? [RUNTIME_RETENTION_JOB_KIND] : [];
    },
    run: (_job, now) => pruneRuntimeData(storage, now, opts),
  };
}
