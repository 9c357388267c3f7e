/**
 * CEL runtime values mapped onto JavaScript values, chosen so the common case (strings,
 * ints, bools, lists read straight from an event) needs no wrapping or copying:
 *   int → number (integral; exact within ±2^53, see README), uint → CelUint,
 *   double → CelDouble, string → string, bytes → Uint8Array, bool → boolean,
 *   null → null, list → readonly array, map → Map or a plain object (event records).
 * Errors are values (CelError), not exceptions, because `&&`, `||` and the list macros
 * must be able to absorb an error from one operand when the other decides the result.
 */

export class CelUint {
  constructor(readonly value: number) {}
}

export class CelDouble {
  constructor(readonly value: number) {}
}

export class CelError {
  constructor(readonly message: string) {}
}

export type CelMap = ReadonlyMap<CelKey, CelValue> | { readonly [k: string]: unknown };
export type CelKey = string | number | boolean | CelUint;
export type CelValue =
  null | boolean | number | string | CelUint | CelDouble | Uint8Array | readonly unknown[] | CelMap | CelError;

export function isError(v: unknown): v is CelError {
  return v instanceof CelError;
}

export function celError(message: string): CelError {
  return new CelError(message);
}

/** The CEL type name of a value, for error messages and `type()`-like diagnostics. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null_type';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return 'int';
    case 'string':
      return 'string';
    default:
      break;
  }
  if (v instanceof CelUint) return 'uint';
  if (v instanceof CelDouble) return 'double';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof CelError) return 'error';
  return 'map';
}

/**
 * Converts a raw value read from an event into a CEL value. Event numbers are ints when
 * integral and doubles otherwise; `undefined` never reaches here (absent fields are errors).
 */
export function fromHost(v: unknown): CelValue {
  if (typeof v === 'number' && !Number.isInteger(v)) return new CelDouble(v);
  return v as CelValue;
}

export function isMapValue(v: unknown): v is CelMap {
  return (
    v instanceof Map ||
    (typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      !(v instanceof CelUint) &&
      !(v instanceof CelDouble) &&
      !(v instanceof Uint8Array) &&
      !(v instanceof CelError))
  );
}

/** Numeric view used by cross-type comparisons, which CEL defines on the real number line. */
function numeric(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v instanceof CelDouble || v instanceof CelUint) return v.value;
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mapEntries(m: CelMap): Array<[unknown, unknown]> {
  return m instanceof Map ? [...m.entries()] : Object.entries(m);
}

export function mapGet(m: CelMap, key: unknown): unknown {
  if (m instanceof Map) {
    if (m.has(key)) return m.get(key);
    // Numeric keys compare by value across int/uint/double, as for `==`.
    const n = numeric(key);
    if (n === undefined) return undefined;
    for (const [k, v] of m) if (numeric(k) === n) return v;
    return undefined;
  }
  if (typeof key !== 'string') return undefined;
  return Object.prototype.hasOwnProperty.call(m, key) ? (m as Record<string, unknown>)[key] : undefined;
}

export function mapSize(m: CelMap): number {
  return m instanceof Map ? m.size : Object.keys(m).length;
}

/** Heterogeneous equality: different types are unequal, numbers compare by value. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === 'string' || ta === 'boolean' || typeof b === 'string' || typeof b === 'boolean') return false;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  const na = numeric(a);
  if (na !== undefined) {
    const nb = numeric(b);
    return nb !== undefined && na === nb;
  }
  if (a instanceof Uint8Array) return b instanceof Uint8Array && bytesEqual(a, b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!celEquals(fromHost(a[i]), fromHost(b[i]))) return false;
    return true;
  }
  if (isMapValue(a) && isMapValue(b)) {
    if (mapSize(a) !== mapSize(b)) return false;
    for (const [k, v] of mapEntries(a)) {
      const other = mapGet(b, k);
      if (other === undefined || !celEquals(fromHost(v), fromHost(other))) return false;
    }
    return true;
  }
  return false;
}

/**
 * Ordering: -1, 0, 1, or an error when CEL has no `<` overload for the pair. Numbers of
 * different types compare by value (the spec allows cross-type numeric ordering).
 */
export function celCompare(a: unknown, b: unknown): number | CelError {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== undefined && nb !== undefined) return na < nb ? -1 : na > nb ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const d = (a[i] as number) - (b[i] as number);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  }
  return noOverload('_<_', a, b);
}

export function noOverload(fn: string, ...args: unknown[]): CelError {
  return new CelError(`no such overload: ${fn}(${args.map(typeName).join(', ')})`);
}

/** A value as text for alert output: strings as they are, lists comma-joined. */
export function displayValue(v: unknown): string {
  if (v === undefined) return '<NA>';
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof CelUint || v instanceof CelDouble) return String(v.value);
  if (Array.isArray(v)) return v.map(displayValue).join(' ');
  return JSON.stringify(v) ?? '<NA>';
}
