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

/** One image a notification names, with the registry name its image row is filed under. */
export interface EventImage {
  /** The image row's registry (imageIdentity of the reference), e.g. `registry.example.com:5000`. */
  imageRegistry: string;
  repository: string;
  digest: string;
  tag?: string;
}

/** What one webhook request reported: recorded together, in one transaction. */
export interface RegistryEventsInput {
  registry: Registry;
  pushes: readonly EventImage[];
  pulls: readonly EventImage[];
  /** When they happened (lastPushedAt / lastPulledAt). */
  at: string;
}

export interface RecordedEvents {
  queued: number;
  deduplicated: number;
  /** Pulls of known images recorded. */
  pulls: number;
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
  /**
   * Record a webhook request's pushes (image rows upserted, one scan per registry + digest
   * queued as enqueueDigest would) and pulls (lastPulledAt of known images), all in one
   * transaction: when this resolves everything is committed, when it rejects nothing is.
   */
  recordRegistryEvents(input: RegistryEventsInput): Promise<RecordedEvents>;
}

export interface ScanQueueOptions {
  /** Accept oci:DIR, archive:FILE and dir:PATH (paths on the server's own disk). */
  allowLocalSources: boolean;
  /** Called after a new job is committed, so a worker in this process starts it without waiting for its poll. */
  onEnqueued?: () => void;
  maxAttempts?: number;
  /**
   * How long (ms) a digest this process saw committed as pending or scanned is answered from
   * memory by recordRegistryEvents, without asking storage. Default 2,000; 0 turns it off.
   */
  recentDigestTtlMs?: number;
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
    s: Storage,
    imageRef: string,
    digest: string | undefined,
    dedupeKey: string,
    registry: Registry | null,
  ): Promise<ScanRecord> =>
    // Inside recordRegistryEvents `s` is already a transaction: this is then a savepoint, so a
    // deduplicated enqueue rolls back its scan row without undoing the request's other writes.
    s.withTransaction(async (tx) => {
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

  const existingScan = async (s: Storage, scanId: string): Promise<ScanRecord> => {
    const existing = await s.scans.get(scanId);
    if (!existing) throw new PalisadeError('E_INTERNAL', 'queued job points at a missing scan', { subject: scanId });
    return existing;
  };

  /** enqueueDigest on `s` (storage, or a transaction of it); does not call onEnqueued. */
  const enqueueDigestOn = async (
    s: Storage,
    { registry, repository, digest }: PushedDigest,
  ): Promise<EnqueuedDigestScan> => {
    const host = registryHost(registry);
    const imageRef = `${host}/${repository}@${digest}`;
    parseReference(imageRef); // E_INPUT when the parts do not make a reference
    // Scans of this digest, newest first: a success through this registry means nothing to do.
    // (Failed scans do not count: a new push is a good reason to try again.)
    const previous = (await s.scans.list({ digest, limit: 20 })).items.filter((r) => refHost(r.imageRef) === host);
    const done = previous.find((r) => r.status === 'succeeded');
    if (done) return { scan: done, created: false, reason: 'scanned' };
    // A flood of repeats finds its pending scan here, without a write; the dedupe key below
    // still decides races between concurrent first events.
    // Only a recent one: a scan row left "running" by a job that died out of attempts must not
    // block new pushes for ever (the transaction below consults the job itself).
    const recent = Date.now() - PENDING_TRUST_MS;
    const pending = previous.find(
      (r) => (r.status === 'queued' || r.status === 'running') && Date.parse(r.queuedAt) >= recent,
    );
    if (pending) return { scan: pending, created: false, reason: 'pending' };
    try {
      const scan = await enqueueJob(s, imageRef, digest, digestDedupeKey(registry.id, digest), registry);
      return { scan, created: true };
    } catch (err) {
      if (!(err instanceof Deduplicated)) throw err;
      return { scan: await existingScan(s, err.scanId), created: false, reason: 'pending' };
    }
  };

  const recentDigests = createRecentDigests(opts.recentDigestTtlMs ?? DEFAULT_RECENT_DIGEST_TTL_MS);

  return {
    async enqueueDigest(pushed) {
      const out = await enqueueDigestOn(storage, pushed);
      if (out.created) opts.onEnqueued?.();
      return out;
    },

    async recordRegistryEvents({ registry, pushes, pulls, at }) {
      // One order for every request, so two concurrent transactions on PostgreSQL take the row
      // locks and dedupe keys of the digests they share in the same order (no deadlock).
      const ordered = [...pushes].sort((a, b) => compare(a.digest, b.digest) || compare(a.repository, b.repository));
      let seen: string[] = [];
      const out = await retryDeadlock(() =>
        storage.withTransaction(async (tx) => {
          seen = [];
          const counts: RecordedEvents = { queued: 0, deduplicated: 0, pulls: 0 };
          for (const push of ordered) {
            await tx.images.upsert({
              registry: push.imageRegistry,
              repository: push.repository,
              digest: push.digest,
              ...(push.tag !== undefined ? { tags: [push.tag] } : {}),
              pushedAt: at,
            });
            const key = digestDedupeKey(registry.id, push.digest);
            // A digest this process saw committed as pending or scanned moments ago: enqueueDigest
            // would answer "deduplicated" after a query. Other replicas do not share this memory;
            // they ask storage, where the job's dedupe key stays the one source of truth.
            if (recentDigests.has(key)) {
              counts.deduplicated++;
              continue;
            }
            const r = await enqueueDigestOn(tx, { registry, repository: push.repository, digest: push.digest });
            if (r.created) counts.queued++;
            else counts.deduplicated++;
            seen.push(key);
          }
          for (const pull of pulls) {
            // Only images Palisade knows: a pull is no reason to start tracking (or scanning) one.
            if (!(await tx.images.find(pull.imageRegistry, pull.repository, pull.digest))) continue;
            await tx.images.upsert({
              registry: pull.imageRegistry,
              repository: pull.repository,
              digest: pull.digest,
              ...(pull.tag !== undefined ? { tags: [pull.tag] } : {}),
              pulledAt: at,
            });
            counts.pulls++;
          }
          return counts;
        }),
      );
      // Only now, after the commit: an entry must never stand for a scan that was rolled back.
      for (const key of seen) recentDigests.add(key);
      if (out.queued > 0) opts.onEnqueued?.();
      return out;
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
        const scan = await enqueueJob(storage, ref, digest, key, registry);
        opts.onEnqueued?.();
        return { scan, created: true };
      } catch (err) {
        if (!(err instanceof Deduplicated)) throw err;
        return { scan: await existingScan(storage, err.scanId), created: false };
      }
    },
  };
}

const DEFAULT_RECENT_DIGEST_TTL_MS = 2_000;
/** Bound on remembered digests; the oldest go first. */
const RECENT_DIGESTS_MAX = 10_000;

/**
 * Dedupe keys recently seen committed with a pending (or succeeded) scan. Short-lived on
 * purpose: a scan that fails is retried on a later push, and that push is answered from here
 * for at most the TTL. Timed with performance.now(): monotonic, and apart from the app's clock
 * (tests stop that one).
 */
function createRecentDigests(ttlMs: number): { has(key: string): boolean; add(key: string): void } {
  const until = new Map<string, number>();
  return {
    has(key) {
      const t = until.get(key);
      if (t === undefined) return false;
      if (t > performance.now()) return true;
      until.delete(key);
      return false;
    },
    add(key) {
      if (ttlMs <= 0) return;
      until.delete(key); // re-inserted last: Map order is then oldest first
      if (until.size >= RECENT_DIGESTS_MAX) {
        const oldest = until.keys().next();
        if (!oldest.done) until.delete(oldest.value);
      }
      until.set(key, performance.now() + ttlMs);
    },
  };
}

/**
 * Run a whole transaction again when PostgreSQL chose it as a deadlock victim. Two requests
 * that each add several new image rows can deadlock (a new row takes the findings lock while
 * the other waits on that row's insert); the victim was rolled back entirely, and nothing was
 * remembered or answered for it, so running it again is safe.
 */
async function retryDeadlock<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
      if (code !== '40P01' || attempt >= 5) throw err;
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
