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

/** A manifest a registry reported pushed (webhook): scanned by digest with the registry's settings. */
export interface PushedDigest {
  registry: Registry;
  repository: string;
  digest: string;
}

export interface EnqueuedDigestScan extends EnqueuedScan {
  /** Why no new scan was made: one of this digest is queued or running, or one already succeeded. */
  reason?: 'pending' | 'scanned';
}

export interface ScanQueue {
  /** Validate the reference and queue a scan of it (or return the pending one). E_INPUT on a bad reference. */
  enqueue(imageRef: string): Promise<EnqueuedScan>;
  /**
   * Queue one scan of a pushed digest. The job's dedupe key is registry + digest, so repeated
   * events and pushes of the same digest (to any repository of the registry, under any tag) make
   * one scan; a digest of this registry already scanned successfully is not scanned again (its
   * content cannot change; new advisories reach it through rematching and rescans).
   */
  enqueueDigest(pushed: PushedDigest): Promise<EnqueuedDigestScan>;
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

/** `host[:port]` of a registered registry, as references name it. */
export function registryHost(registry: Registry): string {
  return new URL(registry.url).host;
}

/** The dedupe key of push-triggered scans: one pending scan per registry and digest. */
export function digestDedupeKey(registryId: string, digest: string): string {
  return `scan:registry:${registryId}:${digest}`;
}

/**
 * The one dedupe key scheme of scan jobs. A reference by digest into a registered registry is
 * keyed by registry + digest, the key pushes use (enqueueDigest), so a scheduled rescan, a push
 * and a manual scan of the same digest share one pending scan whatever repository or spelling
 * of the host they name. Anything else (tags, unregistered registries, local sources) is keyed
 * by the reference itself.
 */
export function scanDedupe(ref: string, registry: Registry | null): { key: string; digest?: string } {
  if (registry !== null && !isLocalRef(ref)) {
    const digest = parseReference(ref).digest;
    if (digest !== undefined) return { key: digestDedupeKey(registry.id, digest), digest };
  }
  return { key: `scan:${ref}` };
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

/** How long a queued or running scan row is taken as pending without asking the job queue. */
const PENDING_TRUST_MS = 10 * 60_000;

class Deduplicated extends Error {
  constructor(readonly scanId: string) {
    super('deduplicated');
  }
}

export function createScanQueue(storage: Storage, opts: ScanQueueOptions): ScanQueue {
  /** Create the scan and its job together; Deduplicated (rolled back) when the key is pending. */
  const enqueueJob = async (
    imageRef: string,
    digest: string | undefined,
    dedupeKey: string,
    registry: Registry | null,
  ): Promise<ScanRecord> =>
    storage.withTransaction(async (tx) => {
      const created = await tx.scans.create({ imageRef, ...(digest !== undefined ? { digest } : {}) });
      const payload: ScanJobPayload = { scanId: created.id, imageRef, registryId: registry?.id ?? null };
      const { created: isNew, job } = await tx.jobs.enqueue({
        kind: SCAN_JOB_KIND,
        payload,
        dedupeKey,
        ...(registry ? { concurrencyKey: registryKey(registry.id) } : {}),
        ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      });
      // Roll back the scan record made for nothing; the pending one is returned instead.
      if (!isNew) throw new Deduplicated(parseScanPayload(job.payload).scanId);
      return created;
    });

  const existingScan = async (scanId: string): Promise<ScanRecord> => {
    const existing = await storage.scans.get(scanId);
    if (!existing) throw new PalisadeError('E_INTERNAL', 'queued job points at a missing scan', { subject: scanId });
    return existing;
  };

  return {
    async enqueueDigest({ registry, repository, digest }) {
      const host = registryHost(registry);
      const imageRef = `${host}/${repository}@${digest}`;
      parseReference(imageRef); // E_INPUT when the parts do not make a reference
      // Scans of this digest, newest first: a success through this registry means nothing to do.
      // (Failed scans do not count: a new push is a good reason to try again.)
      const previous = (await storage.scans.list({ digest, limit: 20 })).items.filter(
        (s) => refHost(s.imageRef) === host,
      );
      const done = previous.find((s) => s.status === 'succeeded');
      if (done) return { scan: done, created: false, reason: 'scanned' };
      // A flood of repeats finds its pending scan here, without a write; the dedupe key below
      // still decides races between concurrent first events.
      // Only a recent one: a scan row left "running" by a job that died out of attempts must not
      // block new pushes for ever (the transaction below consults the job itself).
      const recent = Date.now() - PENDING_TRUST_MS;
      const pending = previous.find(
        (s) => (s.status === 'queued' || s.status === 'running') && Date.parse(s.queuedAt) >= recent,
      );
      if (pending) return { scan: pending, created: false, reason: 'pending' };
      try {
        const scan = await enqueueJob(imageRef, digest, digestDedupeKey(registry.id, digest), registry);
        opts.onEnqueued?.();
        return { scan, created: true };
      } catch (err) {
        if (!(err instanceof Deduplicated)) throw err;
        return { scan: await existingScan(err.scanId), created: false, reason: 'pending' };
      }
    },

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
      const { key, digest } = scanDedupe(ref, registry);
      try {
        const scan = await enqueueJob(ref, digest, key, registry);
        opts.onEnqueued?.();
        return { scan, created: true };
      } catch (err) {
        if (!(err instanceof Deduplicated)) throw err;
        return { scan: await existingScan(err.scanId), created: false };
      }
    },
  };
}

/** The host a scan's reference names (`registry` of parseReference), or '' for local sources. */
function refHost(ref: string): string {
  if (isLocalRef(ref)) return '';
  try {
    return parseReference(ref).registry;
  } catch {
    return '';
  }
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
