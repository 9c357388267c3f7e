/**
 * GNU sparse files: a map of (offset, length) data segments inside a file of a larger real size;
 * everything between segments is a hole of zeros. Three encodings reach us: the old GNU 'S'
 * header (map in the header and extension blocks), PAX 0.0/0.1 (map in PAX keys) and PAX 1.0
 * (map as decimal lines at the start of the entry's data).
 */

export interface SparseMap {
  realSize: number;
  /** Flat pairs: offset0, length0, offset1, length1, … */
  segments: number[];
}

/** Check a map against the real size and the number of stored bytes; returns an error text. */
export function checkSparseMap(map: SparseMap, storedBytes: number): string | undefined {
  let total = 0;
  let lastEnd = 0;
  for (let i = 0; i + 1 < map.segments.length; i += 2) {
    const offset = map.segments[i] as number;
    const length = map.segments[i + 1] as number;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < lastEnd || length < 0) {
      return `bad sparse map segment ${i / 2}`;
    }
    lastEnd = offset + length;
    if (lastEnd > map.realSize) return `sparse segment ${i / 2} ends past the real size ${map.realSize}`;
    total += length;
  }
  if (total !== storedBytes) return `sparse map holds ${total} bytes but the entry stores ${storedBytes}`;
  return undefined;
}

/** Lay the stored bytes of a sparse file out at their offsets in a zero-filled buffer. */
export function expandSparse(map: SparseMap, stored: Buffer): Buffer {
  const out = Buffer.alloc(map.realSize);
  let from = 0;
  for (let i = 0; i + 1 < map.segments.length; i += 2) {
    const offset = map.segments[i] as number;
    const length = map.segments[i + 1] as number;
    stored.copy(out, offset, from, from + length);
    from += length;
  }
  return out;
}

/** Parse a PAX 0.1 "GNU.sparse.map" value "off,len,off,len". */
export function parseSparseMapList(text: string): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(',');
  if (parts.length % 2 !== 0) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) return undefined;
    out.push(Number(p));
  }
  return out;
}

/**
 * Incremental reader of the PAX 1.0 map: decimal numbers, one per line (count, then pairs),
 * padded with NULs to a block boundary. Fed one 512-byte block at a time.
 */
export class SparseMapReader {
  private count = -1;
  private current = -1;
  readonly numbers: number[] = [];
  /** Set when the map is malformed. */
  error: string | undefined;

  /** Consume one block; true when the map is complete (it always ends on a block boundary). */
  feed(block: Buffer, at: number): boolean {
    for (let i = at; i < at + 512; i++) {
      if (this.done()) return true;
      const c = block[i] as number;
      if (c >= 0x30 && c <= 0x39) {
        this.current = (this.current < 0 ? 0 : this.current * 10) + (c - 0x30);
        if (this.current > Number.MAX_SAFE_INTEGER) return this.bad('number too large');
      } else if (c === 0x0a) {
        if (this.current < 0) return this.bad('empty line');
        if (this.count < 0) {
          this.count = this.current;
          if (this.count > 1_000_000) return this.bad(`${this.count} segments`);
        } else {
          this.numbers.push(this.current);
        }
        this.current = -1;
      } else {
        return this.bad(`unexpected byte 0x${c.toString(16)}`);
      }
    }
    return this.done();
  }

  private done(): boolean {
    return this.error !== undefined || (this.count >= 0 && this.numbers.length === this.count * 2);
  }

  private bad(why: string): boolean {
    this.error = `bad sparse map: ${why}`;
    return true;
  }
}
