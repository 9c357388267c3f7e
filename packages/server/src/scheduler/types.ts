/**
 * What the scheduler needs from the rest of the server, as small structural interfaces, so the
 * worker's real implementations fit and tests can pass their own.
 */
import type { VulnDb } from '@palisade/vulndb';

/** Job kinds the scheduler enqueues and runs itself (the worker runs only `scan`). */
export const RESCAN_PLAN_JOB_KIND = 'rescan-plan';
export const REGISTRY_POLL_JOB_KIND = 'registry-poll';
export const REMATCH_JOB_KIND = 'rematch';
export const TREND_SNAPSHOT_JOB_KIND = 'trend-snapshot';
export const SCHEDULER_JOB_KINDS: readonly string[] = [
  RESCAN_PLAN_JOB_KIND,
  REGISTRY_POLL_JOB_KIND,
  REMATCH_JOB_KIND,
  TREND_SNAPSHOT_JOB_KIND,
];

/**
 * Queues a scan of a reference. The worker's `ScanQueue` (createScanQueue) fits: it creates the
 * scan record and the `scan` job together and deduplicates on the reference, so a reference by
 * digest (`host/repo@sha256:…`) is deduplicated by digest.
 */
export interface ScanEnqueuer {
  enqueue(imageRef: string): Promise<{ created: boolean; scan: { id: string } }>;
}

/** The DB the worker matches with; the worker's VulnDbHolder fits. */
export interface VulnDbSource {
  acquire(): { db: VulnDb; release(): void };
}

/** Logger methods used here (pino/Fastify loggers and the worker's WorkerLogger fit). */
export interface SchedulerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const DAY_MS = 86_400_000;
