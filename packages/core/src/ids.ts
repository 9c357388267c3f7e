import { createHash } from 'node:crypto';

/** A short, stable id from the parts that identify a thing. Equal inputs always give equal ids. */
export function stableId(...parts: ReadonlyArray<string | number | undefined>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p === undefined ? '\u0000' : String(p));
    h.update('\u0001');
  }
  return h.digest('hex').slice(0, 16);
}

/** Clock injected where output must be deterministic (tests, golden files). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(iso: string): Clock {
  const d = new Date(iso);
  return { now: () => new Date(d.getTime()) };
}
