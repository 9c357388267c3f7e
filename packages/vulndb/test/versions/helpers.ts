import { readFileSync } from 'node:fs';
import { sharedPath } from '@palisade/testkit';

export interface Vector {
  readonly a: string;
  readonly op: '<' | '=' | '>';
  readonly b: string;
  readonly line: number;
}

/** Reads "A < B" / "A = B" / "A > B" lines; blank, "#" and "//" lines are comments. */
export function readVectors(file: string): Vector[] {
  const text = readFileSync(sharedPath('conformance', 'versions', file), 'utf8');
  const out: Vector[] = [];
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) return;
    const m = /^(\S+) ([<=>]) (\S+)$/.exec(line);
    if (!m) throw new Error(`${file}:${idx + 1}: unreadable vector "${line}"`);
    out.push({ a: m[1] as string, op: m[2] as Vector['op'], b: m[3] as string, line: idx + 1 });
  });
  return out;
}

export function opOf(n: number): '<' | '=' | '>' {
  return n < 0 ? '<' : n > 0 ? '>' : '=';
}

/** Deterministic PRNG (mulberry32) so generated pairs are the same on every run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}
