/**
 * Re-matching stored inventories against a new vulnerability DB, without pulling any layer.
 *
 * What is stored per digest (`packagesForDigest`) is not enough to match: it has no source
 * package (Debian advisories are filed by source package), no OS (distro packages are matched
 * only against their release's feed) and no locations. The scan report kept with the digest's
 * last scan has all of it, so the inventory is rebuilt from `scans.report(scanId)`; a digest
 * whose report is gone is skipped (counted), never matched with half the facts, which would
 * silently drop its OS findings.
 *
 * New findings replace the digest's old ones atomically with `replaceForDigest`, under the
 * scan's own `scannedAt`: a real rescan that lands while a rematch runs is newer, and the
 * rematch's write is then refused instead of overwriting it. The digest keeps its last-scan
 * time, so periodic rescans are not postponed by a rematch; the stored report keeps the
 * matches of the scan that made it (it is that scan's record).
 *
 * DbWatcher notices a replaced DB file and queues one `rematch` job for the new DB (deduplicated
 * by the DB's build time), so when several replicas notice the same update, one rematch runs.
 */
import { statSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { toPalisadeError, type ScanReport } from '@palisade/core';
import { openVulnDb, type VulnDb } from '@palisade/vulndb';
import { resultFromReport, type Finding, type FindingInput, type Storage } from '../storage/index.js';
import { REMATCH_JOB_KIND } from './types.js';

export interface RematchOptions {
  /** Images read per page (1..500); also how often the loop yields to other work. Default 200. */
  batchSize?: number;
  /** Digests matched per run, so a run's work is bounded. Default 100,000. */
  maxDigests?: number;
  signal?: AbortSignal;
}

export interface RematchResult {
  /** The DB's build time the findings now come from. */
  dbBuiltAt: string | null;
  /** Scanned digests looked at. */
  digests: number;
  /** Digests whose findings changed (and were replaced). */
  changed: number;
  /** Digests whose findings were the same (nothing written). */
  unchanged: number;
  /** Digests without a stored report to rebuild the inventory from. */
  skipped: number;
  /** Digests a newer scan landed on while matching (its findings were kept). */
  superseded: number;
  /** Digests that failed, with the reason (at most 20 listed). */
  errors: string[];
  findingsBefore: number;
  findingsAfter: number;
  /** True when maxDigests stopped the run before every digest was matched. */
  truncated: boolean;
  durationMs: number;
}

const MAX_ERRORS = 20;

export async function rematchAll(storage: Storage, db: VulnDb, opts: RematchOptions = {}): Promise<RematchResult> {
  const started = Date.now();
  const batchSize = Math.min(500, Math.max(1, opts.batchSize ?? 200));
  const maxDigests = opts.maxDigests ?? 100_000;
  let dbBuiltAt: string | null = null;
  try {
    dbBuiltAt = db.status().builtAt;
  } catch {
    dbBuiltAt = null;
  }
  const out: RematchResult = {
    dbBuiltAt,
    digests: 0,
    changed: 0,
    unchanged: 0,
    skipped: 0,
    superseded: 0,
    errors: [],
    findingsBefore: 0,
    findingsAfter: 0,
    truncated: false,
    durationMs: 0,
  };
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    opts.signal?.throwIfAborted();
    const page = await storage.images.list({
      sort: 'repository',
      order: 'asc',
      limit: batchSize,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const image of page.items) {
      // Images of several repositories can share a digest: its findings are matched once.
      if (image.scanId === null || image.lastScannedAt === null || seen.has(image.digest)) continue;
      if (out.digests >= maxDigests) {
        out.truncated = true;
        break;
      }
      opts.signal?.throwIfAborted();
      seen.add(image.digest);
      out.digests++;
      try {
        await rematchDigest(storage, db, image.digest, image.scanId, image.lastScannedAt, out);
      } catch (err) {
        if (out.errors.length < MAX_ERRORS) out.errors.push(`${image.digest}: ${toPalisadeError(err).describe()}`);
      }
    }
    if (out.truncated || page.nextCursor === null || page.items.length === 0) break;
    cursor = page.nextCursor;
    // Matching is synchronous: let requests and heartbeats run between batches.
    await yieldToLoop();
  }
  out.durationMs = Date.now() - started;
  return out;
}

async function rematchDigest(
  storage: Storage,
  db: VulnDb,
  digest: string,
  scanId: string,
  scannedAt: string,
  out: RematchResult,
): Promise<void> {
  const report: ScanReport | null = await storage.scans.report(scanId);
  if (!report) {
    out.skipped++;
    return;
  }
  const before = await storage.findings.forDigest(digest);
  out.findingsBefore += before.length;
  const matches = db.match(report.packages, report.artifact.os);
  const result = resultFromReport({ ...report, vulnerabilities: matches }, scanId);
  if (sameFindings(before, result.findings)) {
    out.unchanged++;
    out.findingsAfter += before.length;
    return;
  }
  // The stored inventory is kept as it is: only the matches are new.
  const packages = await storage.findings.packagesForDigest(digest);
  const replaced = await storage.findings.replaceForDigest(digest, {
    scanId,
    scannedAt,
    packages,
    findings: result.findings,
  });
  if (replaced) {
    out.changed++;
    out.findingsAfter += result.findings.length;
  } else {
    out.superseded++;
    out.findingsAfter += before.length;
  }
}

/** Same vulnerabilities on the same packages with the same facts: nothing to write. */
function sameFindings(stored: readonly Finding[], fresh: readonly FindingInput[]): boolean {
  const key = (f: FindingInput): string =>
    JSON.stringify([
      f.vulnerabilityId,
      f.packageId,
      f.severity,
      [...f.fixedVersions].sort(),
      [...f.aliases].sort(),
      f.kev,
      f.epss,
      f.epssPercentile,
      f.title,
    ]);
  // Duplicates (same vulnerability on the same package) are stored once.
  const a = new Set(stored.map(key));
  const b = new Set(fresh.map(key));
  if (a.size !== b.size) return false;
  for (const k of a) if (!b.has(k)) return false;
  return true;
}

// ---------- DB update detection ----------

export interface DbWatcherOptions {
  storage: Storage;
  /** The vulnerability DB file the worker matches with. */
  path: string;
  /**
   * The build time of the DB at `path`, or null when it cannot be read (missing, half written).
   * Default: open it read-only, read status().builtAt, close it.
   */
  readBuiltAt?: (path: string) => string | null;
  /** Attempts of the rematch job; default 3. */
  maxAttempts?: number;
}

export type DbCheck =
  | { outcome: 'baseline'; builtAt: string | null }
  | { outcome: 'unchanged' }
  | { outcome: 'unreadable' }
  /** The file changed but its build time did not (touched, or copied again). */
  | { outcome: 'same-build'; builtAt: string }
  | { outcome: 'rematch-queued'; builtAt: string; jobId: string; created: boolean }
  /** This build was already rematched (by this or another replica). */
  | { outcome: 'already-rematched'; builtAt: string };

export interface DbWatcher {
  /**
   * Look at the file once. The first check records what is there (no rematch: the findings in
   * storage may well come from it); after that a file with a new build time queues a rematch.
   */
  check(): Promise<DbCheck>;
}

export interface RematchJobPayload {
  /** The build the rematch is for (the handler matches with whatever DB is current when it runs). */
  builtAt: string;
}

export function rematchDedupeKey(builtAt: string): string {
  return `${REMATCH_JOB_KIND}:${builtAt}`;
}

export function parseRematchPayload(payload: unknown): RematchJobPayload {
  if (typeof payload === 'object' && payload !== null) {
    const builtAt = (payload as Record<string, unknown>)['builtAt'];
    if (typeof builtAt === 'string') return { builtAt };
  }
  return { builtAt: '' };
}

export function defaultReadBuiltAt(path: string): string | null {
  let db: VulnDb | undefined;
  try {
    db = openVulnDb(path);
    return db.status().builtAt;
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

/** How many recent rematch jobs are looked at to tell whether a build was already rematched. */
const RECENT_REMATCHES = 50;

export function createDbWatcher(opts: DbWatcherOptions): DbWatcher {
  const readBuiltAt = opts.readBuiltAt ?? defaultReadBuiltAt;
  let fileKey: string | null | undefined; // undefined: never checked
  let builtAt: string | null = null;

  const statKey = (): string | null => {
    try {
      const s = statSync(opts.path);
      // A DB update renames a new file over the old one: the inode, size or mtime moves.
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return null;
    }
  };

  /** Did a rematch for this build already run (or is one queued)? Checked across replicas via the jobs table. */
  const alreadyRematched = async (build: string): Promise<boolean> => {
    const recent = await opts.storage.jobs.list({ kind: REMATCH_JOB_KIND, limit: RECENT_REMATCHES });
    return recent.items.some((j) => j.status === 'succeeded' && parseRematchPayload(j.payload).builtAt === build);
  };

  return {
    async check() {
      const key = statKey();
      if (fileKey === undefined) {
        fileKey = key;
        builtAt = key === null ? null : readBuiltAt(opts.path);
        return { outcome: 'baseline', builtAt };
      }
      if (key === fileKey) return { outcome: 'unchanged' };
      if (key === null) {
        fileKey = null;
        return { outcome: 'unreadable' };
      }
      const next = readBuiltAt(opts.path);
      // Unreadable (e.g. being written by hand): look again next time instead of recording the key.
      if (next === null) return { outcome: 'unreadable' };
      fileKey = key;
      if (next === builtAt) return { outcome: 'same-build', builtAt: next };
      builtAt = next;
      if (await alreadyRematched(next)) return { outcome: 'already-rematched', builtAt: next };
      const payload: RematchJobPayload = { builtAt: next };
      const { job, created } = await opts.storage.jobs.enqueue({
        kind: REMATCH_JOB_KIND,
        payload,
        // Replicas noticing the same update while the rematch is queued or running get this one back.
        dedupeKey: rematchDedupeKey(next),
        maxAttempts: opts.maxAttempts ?? 3,
      });
      return { outcome: 'rematch-queued', builtAt: next, jobId: job.id, created };
    },
  };
}
