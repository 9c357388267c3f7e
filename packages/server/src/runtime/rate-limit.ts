/**
 * A per-cluster ingest rate limit: two token buckets per cluster (items per second and decoded
 * bytes per second), in memory, per replica. One ingest token can otherwise push 16 MiB per
 * request as fast as the server takes them, and the database pays for all of it.
 *
 * A request is admitted while both buckets are not in debt; its real cost (known only once the
 * body is read) is then charged, which may take a bucket below zero. The debt is paid back at
 * the configured rate before the next request of that cluster is admitted, so the long-run rate
 * is bounded by the settings whatever the request sizes, and a refused request costs nothing:
 * it is refused before its body is read. The answer is 429 with Retry-After, which the
 * publisher honours (it keeps the batch in its spool meanwhile).
 */
import { PalisadeError, type Clock } from '@palisade/core';

export interface IngestRateLimitOptions {
  /** Alerts + events + kube events per second per cluster. */
  itemsPerSecond: number;
  /** Decoded body bytes per second per cluster. */
  bytesPerSecond: number;
  /** Bucket size, in seconds of the rates: how long a cluster may send faster than the rate. Default 10. */
  burstSeconds?: number;
}

/** Defaults (docs/runtime-alerts.md): generous for a large cluster, a ceiling for a runaway or hostile sender. */
export const DEFAULT_INGEST_RATE_LIMIT: Required<IngestRateLimitOptions> = {
  itemsPerSecond: 20_000,
  bytesPerSecond: 16 * 1024 * 1024,
  burstSeconds: 10,
};

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

export interface IngestRateLimiter {
  /** May this cluster send a request now? Costs nothing. */
  admit(clusterId: string): Admission;
  /** What an admitted request cost. */
  charge(clusterId: string, items: number, bytes: number): void;
}

interface Buckets {
  items: number;
  bytes: number;
  at: number;
}

/**
 * Every this many calls, clusters whose buckets have refilled are forgotten (a full bucket is what
 * a new entry starts with), so memory follows the clusters sending now, not all that ever sent.
 */
const IDLE_SWEEP_EVERY = 1024;

export function createIngestRateLimiter(opts: IngestRateLimitOptions, clock: Clock): IngestRateLimiter {
  for (const [name, v] of [
    ['itemsPerSecond', opts.itemsPerSecond],
    ['bytesPerSecond', opts.bytesPerSecond],
    ['burstSeconds', opts.burstSeconds ?? DEFAULT_INGEST_RATE_LIMIT.burstSeconds],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0)
      throw new PalisadeError('E_CONFIG', `must be a positive number, not ${v}`, { subject: `rateLimit.${name}` });
  }
  const burst = opts.burstSeconds ?? DEFAULT_INGEST_RATE_LIMIT.burstSeconds;
  const itemCap = opts.itemsPerSecond * burst;
  const byteCap = opts.bytesPerSecond * burst;
  const clusters = new Map<string, Buckets>();
  let calls = 0;

  const refill = (clusterId: string): Buckets => {
    const now = clock.now().getTime();
    const b = clusters.get(clusterId) ?? { items: itemCap, bytes: byteCap, at: now };
    // A clock that went back adds nothing rather than taking away.
    const dt = Math.max(0, now - b.at) / 1000;
    b.items = Math.min(itemCap, b.items + dt * opts.itemsPerSecond);
    b.bytes = Math.min(byteCap, b.bytes + dt * opts.bytesPerSecond);
    b.at = now;
    clusters.set(clusterId, b);
    if (++calls % IDLE_SWEEP_EVERY === 0) sweep(now);
    return b;
  };

  const sweep = (now: number): void => {
    for (const [id, b] of clusters) {
      const dt = Math.max(0, now - b.at) / 1000;
      if (b.items + dt * opts.itemsPerSecond >= itemCap && b.bytes + dt * opts.bytesPerSecond >= byteCap)
        clusters.delete(id);
    }
  };

  return {
    admit(clusterId) {
      const b = refill(clusterId);
      if (b.items >= 0 && b.bytes >= 0) return { admitted: true };
      const wait = Math.max(-b.items / opts.itemsPerSecond, -b.bytes / opts.bytesPerSecond);
      return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
    },
    charge(clusterId, items, bytes) {
      const b = refill(clusterId);
      b.items -= items;
      b.bytes -= bytes;
    },
  };
}
