/** Stand-ins shared by the worker tests: the worker only passes the DB on to the scan function. */
import { PALISADE_VERSION, type ScanReport } from '@palisade/core';
import type { VulnDbHolder } from '../../src/worker/vulndb.js';

/** A DB handle that is never consulted: the tests inject their own scan function. */
export const fakeDb: VulnDbHolder = {
  status: () => ({ loaded: true, path: 'x', builtAt: null, error: null }),
  acquire: () => ({
    db: {
      path: 'x',
      status: () => ({ schemaVersion: 1, builtAt: '', feeds: [] }),
      match: () => [],
      close: () => undefined,
    },
    release: () => undefined,
  }),
  close: () => undefined,
};

/** An empty report for `ref` at `digest`, as a scan of an image without packages would give. */
export function emptyReport(ref: string, digest: string, createdAt = new Date().toISOString()): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt,
    artifact: { name: ref, kind: 'registry', digest, layers: [] },
    packages: [],
    vulnerabilities: [],
    warnings: [],
  };
}

/** Polls `fn` every 25 ms until it returns something truthy; bounded (about 20 s). */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 800; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}
