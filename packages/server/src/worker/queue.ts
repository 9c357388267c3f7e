/**
 * Enqueueing scans: a scan record (what the API shows) and a durable job (what the worker runs),
 * created together in one transaction. A reference that already has a queued or running scan
 * gets that scan back instead of a second one (the job's dedupe key is the reference).
 */
import { PalisadeError } from '@palisade/core';
import { parseReference } from '@palisade/oci';
import type { Registry, ScanRecord, Storage } from '../storage/index.js';

export const SCAN_JOB_KIND = 'scan';

/** What a scan job carries. Never credentials: the worker reads them from storage when it runs. */
export interface ScanJobPayload {
  scanId: string;
  imageRef: string;
  registryId: string | null;
}

export interface EnqueuedScan {
  scan: ScanRecord;
  /** False when an existing queued or running scan of the same reference was returned. */
  created: boolean;
}

export interface ScanQueue {
  /** Validate the reference and queue a scan of it (or return the pending one). E_INPUT on a bad reference. */
  enqueue(imageRef: string): Promise<EnqueuedScan>;
}

export interface ScanQueueOptions {
  /** Accept oci:DIR, archive:FILE and dir:PATH (paths on the server's own disk). */
  allowLocalSources: boolean;
  /** Called after a new job is committed, so a worker in this process starts it without waiting for its poll. */
  onEnqueued?: () => void;
  maxAttempts?: number;
}

const LOCAL_PREFIXES = ['oci:', 'archive:', 'dir:', 'docker-archive:', 'oci-archive:'];

export function isLocalRef(ref: string): boolean {
  return LOCAL_PREFIXES.some((p) => ref.startsWith(p));
}

/** The concurrency key of jobs against one registry. */
export function registryKey(registryId: string): string {
  return `registry:${registryId}`;
}

/** The registered registry a reference points at (same host and port), if any. */
export function registryFor(ref: string, registries: readonly Registry[]): Registry | null {
  if (isLocalRef(ref)) return null;
  const parsed = parseReference(ref);
  for (const r of registries) {
    let host: string;
    try {
      host = new URL(r.url).host;
    } catch {
      continue;
    }
    if (host === parsed.domain || host === parsed.registry) return r;
  }
  return null;
}

class Deduplicated extends Error {
  constructor(readonly scanId: string) {
    super('deduplicated');
  }
}

export function createScanQueue(storage: Storage, opts: ScanQueueOptions): ScanQueue {
  return {
    async enqueue(imageRef) {
      const ref = imageRef.trim();
      if (isLocalRef(ref)) {
        if (!opts.allowLocalSources) {
          throw new PalisadeError(
            'E_INPUT',
            'local sources (oci:, archive:, dir:) are disabled on this server (worker.allowLocalSources)',
            {
              subject: ref,
            },
          );
        }
      } else {
        parseReference(ref); // E_INPUT naming the reference when it is malformed
      }
      const registry = registryFor(ref, await storage.registries.list());
      try {
        const scan = await storage.withTransaction(async (tx) => {
          const created = await tx.scans.create({ imageRef: ref });
          const payload: ScanJobPayload = { scanId: created.id, imageRef: ref, registryId: registry?.id ?? null };
          const { created: isNew, job } = await tx.jobs.enqueue({
            kind: SCAN_JOB_KIND,
            payload,
            dedupeKey: `scan:${ref}`,
            ...(registry ? { concurrencyKey: registryKey(registry.id) } : {}),
            ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
          });
          // Roll back the scan record made for nothing; the pending one is returned instead.
          if (!isNew) throw new Deduplicated(parseScanPayload(job.payload).scanId);
          return created;
        });
        opts.onEnqueued?.();
        return { scan, created: true };
      } catch (err) {
        if (!(err instanceof Deduplicated)) throw err;
        const existing = await storage.scans.get(err.scanId);
        if (!existing)
          throw new PalisadeError('E_INTERNAL', 'queued job points at a missing scan', { subject: err.scanId });
        return { scan: existing, created: false };
      }
    },
  };
}

/** Check a job payload read back from storage. */
export function parseScanPayload(payload: unknown): ScanJobPayload {
  if (typeof payload === 'object' && payload !== null) {
    const p = payload as Record<string, unknown>;
    const registryId = p['registryId'];
    if (
      typeof p['scanId'] === 'string' &&
      typeof p['imageRef'] === 'string' &&
      (registryId === null || registryId === undefined || typeof registryId === 'string')
    ) {
      return {
        scanId: p['scanId'],
        imageRef: p['imageRef'],
        registryId: typeof registryId === 'string' ? registryId : null,
      };
    }
  }
  throw new PalisadeError('E_CORRUPT', 'scan job payload is malformed', { subject: 'jobs' });
}
