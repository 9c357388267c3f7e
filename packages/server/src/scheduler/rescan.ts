/**
 * Periodic rescans: every image pushed or pulled within the window (30 days by default) whose
 * digest was last scanned longer ago than `every` (a day by default), or never, gets a scan job.
 *
 * The job is the worker's own `scan` job, queued through its ScanQueue with a reference by
 * digest (`<registry>/<repository>@<digest>`): the queue's dedupe key is `scan:<reference>`, so
 * while a rescan of the digest is queued or running, planning again adds nothing. Images filed
 * under the `local` registry (oci:/archive:/dir: scans) are never rescanned: their files may be
 * gone, and servers usually refuse local sources.
 */
import { toPalisadeError } from '@palisade/core';
import type { ImageSummary, Storage } from '../storage/index.js';
import { createScanQueue } from '../worker/queue.js';
import { DAY_MS, type ScanEnqueuer } from './types.js';

export interface RescanPlanOptions {
  now: Date;
  /** Images pushed or pulled this recently are kept fresh. Default 30 days. */
  windowMs?: number;
  /** Rescan a digest when its last scan is at least this old. Default 1 day. */
  everyMs?: number;
  /** Where scans are queued; default the worker's ScanQueue without local sources. */
  scans?: ScanEnqueuer;
  /** Images read per page (1..500). Default 200. */
  pageSize?: number;
  /** Images looked at per plan, so one plan's work is bounded however large the catalog. Default 100,000. */
  maxImages?: number;
  /** Scans queued per plan; the rest are queued by the next plan. Default 5,000. */
  maxEnqueues?: number;
}

export interface RescanPlanResult {
  /** Images looked at. */
  considered: number;
  /** Of those, images due for a rescan. */
  due: number;
  /** New scan jobs. */
  enqueued: number;
  /** Due images whose rescan was already queued or running (deduplicated). */
  alreadyQueued: number;
  /** Due images not queued because a limit was reached (they are picked up by the next plan). */
  deferred: number;
  /** References that could not be queued, with the reason (at most 20 listed). */
  errors: string[];
  durationMs: number;
}

const MAX_ERRORS = 20;

/** Is this image due: seen in use within the window, and not scanned within `every`? */
export function isDueForRescan(image: ImageSummary, now: Date, windowMs: number, everyMs: number): boolean {
  if (image.registry === 'local') return false;
  const t = now.getTime();
  const used = Math.max(isoMs(image.lastPushedAt), isoMs(image.lastPulledAt));
  if (used < t - windowMs) return false;
  return image.lastScannedAt === null || isoMs(image.lastScannedAt) <= t - everyMs;
}

/** The reference a rescan pulls: by digest, so a moved tag does not change what is rescanned. */
export function rescanReference(image: { registry: string; repository: string; digest: string }): string {
  return `${image.registry}/${image.repository}@${image.digest}`;
}

export async function planRescans(storage: Storage, opts: RescanPlanOptions): Promise<RescanPlanResult> {
  const started = Date.now();
  const windowMs = opts.windowMs ?? 30 * DAY_MS;
  const everyMs = opts.everyMs ?? DAY_MS;
  const pageSize = Math.min(500, Math.max(1, opts.pageSize ?? 200));
  const maxImages = opts.maxImages ?? 100_000;
  const maxEnqueues = opts.maxEnqueues ?? 5_000;
  const scans = opts.scans ?? createScanQueue(storage, { allowLocalSources: false });
  const out: RescanPlanResult = {
    considered: 0,
    due: 0,
    enqueued: 0,
    alreadyQueued: 0,
    deferred: 0,
    errors: [],
    durationMs: 0,
  };
  // Several images (repositories) can share a digest; each is its own reference, but one plan
  // queues a digest once.
  const queuedDigests = new Set<string>();
  let cursor: string | undefined;
  // Keyset paging on (repository, id): stable while the plan enqueues, and bounded by maxImages.
  while (out.considered < maxImages) {
    const page = await storage.images.list({
      sort: 'repository',
      order: 'asc',
      limit: Math.min(pageSize, maxImages - out.considered),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const image of page.items) {
      out.considered++;
      if (!isDueForRescan(image, opts.now, windowMs, everyMs)) continue;
      out.due++;
      if (queuedDigests.has(image.digest)) {
        out.alreadyQueued++;
        continue;
      }
      if (out.enqueued >= maxEnqueues) {
        out.deferred++;
        continue;
      }
      const ref = rescanReference(image);
      try {
        const { created } = await scans.enqueue(ref);
        queuedDigests.add(image.digest);
        if (created) out.enqueued++;
        else out.alreadyQueued++;
      } catch (err) {
        if (out.errors.length < MAX_ERRORS) out.errors.push(`${ref}: ${toPalisadeError(err).describe()}`);
      }
    }
    if (page.nextCursor === null || page.items.length === 0) break;
    cursor = page.nextCursor;
  }
  out.durationMs = Date.now() - started;
  return out;
}

function isoMs(iso: string | null): number {
  if (iso === null) return -Infinity;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
}
