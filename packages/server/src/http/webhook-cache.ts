/**
 * The registries the webhook route authenticates against, cached by id. At thousands of
 * notifications a second, reading the same registry row twice per request (token check, then
 * the row itself) was a large share of the intake's cost; the row and its token hash change only
 * on rotation, deletion or update.
 *
 * Staleness is bounded two ways: this process's own changes (the registry routes) invalidate
 * the entry at once, and every entry expires after `ttlMs` (1 s by default), so a rotation or
 * deletion made by another replica (or directly in storage) takes effect here within that time.
 * Misses (unknown ids) are not cached: a later create must not be refused.
 */
import { tokenMatches } from '../secrets/tokens.js';
import type { Registry, Storage } from '../storage/index.js';

export interface WebhookRegistryCache {
  /** The registry when `token` is its webhook token; null otherwise (unknown id, no token, wrong token). */
  authenticate(id: string, token: string): Promise<Registry | null>;
  /** Drop the entry of a registry this process changed (rotation, deletion, update). */
  invalidate(id: string): void;
}

interface Entry {
  registry: Registry;
  tokenHash: string | null;
  /** performance.now() after which the entry is read again: a monotonic clock, not the app's (tests move that one). */
  until: number;
}

/** Entries beyond this are dropped oldest first: ids are attacker-chosen only after a row exists, but bound it anyway. */
const MAX_ENTRIES = 1_000;

export function createWebhookRegistryCache(storage: Storage, ttlMs = 1_000): WebhookRegistryCache {
  const entries = new Map<string, Entry>();
  /** Concurrent misses of one id share one read. */
  const loading = new Map<string, Promise<Entry | null>>();
  // Bumped by invalidate(): a read that started before an invalidation must not repopulate the cache.
  let generation = 0;

  const load = (id: string): Promise<Entry | null> => {
    const pending = loading.get(id);
    if (pending) return pending;
    const startedAt = generation;
    const p = storage.registries.webhookAuth(id).then(
      (found) => {
        loading.delete(id);
        if (!found) return null;
        const entry: Entry = { ...found, until: performance.now() + ttlMs };
        if (startedAt === generation && ttlMs > 0) {
          if (entries.size >= MAX_ENTRIES) {
            const oldest = entries.keys().next();
            if (!oldest.done) entries.delete(oldest.value);
          }
          entries.set(id, entry);
        }
        return entry;
      },
      (err: unknown) => {
        loading.delete(id);
        throw err;
      },
    );
    loading.set(id, p);
    return p;
  };

  return {
    async authenticate(id, token) {
      let entry = entries.get(id);
      if (entry === undefined || entry.until <= performance.now()) {
        entries.delete(id);
        entry = (await load(id)) ?? undefined;
      }
      if (entry === undefined || entry.tokenHash === null) return null;
      // tokenMatches hashes the presented token and compares the digests with timingSafeEqual:
      // the cache saves the database read, never the constant-time comparison.
      return tokenMatches(token, entry.tokenHash) ? entry.registry : null;
    },
    invalidate(id) {
      generation++;
      entries.delete(id);
      loading.delete(id);
    },
  };
}
