/** Small readers over untyped parsed JSON/YAML, so importers never trust the shape of a feed. */

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function asArr(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/** Strings as they are; numbers as text (YAML may read "1.0" unquoted as a number). */
export function asStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export function strList(v: unknown): string[] {
  const a = asArr(v);
  if (!a) return [];
  return a.map(asStr).filter((s): s is string => s !== undefined && s.trim() !== '');
}

/** A date as ISO-8601, or undefined when it is absent, unparsable or a placeholder (year < 1990). */
export function isoDate(v: unknown): string | undefined {
  const s = asStr(v);
  if (s === undefined || s.trim() === '') return undefined;
  const d = new Date(s.trim());
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1990) return undefined;
  return d.toISOString();
}

export function firstEntries(o: Obj, n: number): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const k in o) {
    if (out.length >= n) break;
    out.push([k, o[k]]);
  }
  return out;
}
