/**
 * Reading tar header fields straight from a chunk buffer, without allocating: numbers in octal
 * (ustar) or base-256 (GNU/star, for values that do not fit), NUL-terminated strings.
 */

/** Returned by readNumber for a field that holds no valid number. */
export const BAD_NUMBER = -1;

/**
 * A numeric header field: octal digits surrounded by spaces/NULs, or base-256 when the top bit
 * of the first byte is set (0x80 positive, 0xff negative; negatives are not valid here).
 * Returns BAD_NUMBER for garbage or values beyond 2^53.
 */
export function readNumber(buf: Buffer, start: number, length: number): number {
  const end = start + length;
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) return BAD_NUMBER;
    let value = first & 0x7f;
    for (let i = start + 1; i < end; i++) {
      value = value * 256 + (buf[i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER) return BAD_NUMBER;
    }
    return value;
  }
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  if (i === end) return 0; // an empty field means 0 (old tars leave some fields blank)
  let value = 0;
  for (; i < end; i++) {
    const c = buf[i] ?? 0;
    if (c >= 0x30 && c <= 0x37) value = value * 8 + (c - 0x30);
    else if (c === 0x20 || c === 0) break;
    else return BAD_NUMBER;
  }
  // After the digits only terminators may follow.
  for (; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0) return BAD_NUMBER;
  }
  return value > Number.MAX_SAFE_INTEGER ? BAD_NUMBER : value;
}

/** A NUL-terminated (or full-width) string field, UTF-8. */
export function readString(buf: Buffer, start: number, length: number): string {
  let end = start;
  const limit = start + length;
  while (end < limit && buf[end] !== 0) end++;
  return end === start ? '' : buf.toString('utf8', start, end);
}

/** True when the field is the ASCII text `text` (no allocation). */
export function fieldEquals(buf: Buffer, start: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (buf[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Outcomes of verifyChecksum (numbers, so the hot path allocates nothing). */
export const BLOCK_OK = 0;
/** All 512 bytes are zero: an end-of-archive block. */
export const BLOCK_ZERO = 1;
export const BLOCK_BAD_CHECKSUM = 2;

/**
 * Verify a header block's checksum: the sum of its bytes with the checksum field counted as
 * spaces. Historic tars summed signed bytes, so that is accepted too.
 */
export function verifyChecksum(buf: Buffer, start: number): number {
  let total = 0;
  for (let i = start, end = start + 512; i < end; i++) total += buf[i] as number;
  if (total === 0) return BLOCK_ZERO;
  let field = 0;
  for (let i = start + 148; i < start + 156; i++) field += buf[i] as number;
  const unsigned = total - field + 8 * 0x20;
  const stored = readNumber(buf, start + 148, 8);
  if (stored === unsigned) return BLOCK_OK;
  if (stored === BAD_NUMBER) return BLOCK_BAD_CHECKSUM;
  let signed = 0;
  for (let i = start, end = start + 512; i < end; i++) {
    const b = i >= start + 148 && i < start + 156 ? 0x20 : (buf[i] as number);
    signed += b > 127 ? b - 256 : b;
  }
  return stored === signed ? BLOCK_OK : BLOCK_BAD_CHECKSUM;
}

/** The path of a header block: name, joined to the POSIX ustar prefix when there is one. */
export function readHeaderName(buf: Buffer, at: number): string {
  const name = readString(buf, at, 100);
  // POSIX ustar keeps a path prefix at 345; GNU's "ustar  " magic uses those bytes for times.
  if (fieldEquals(buf, at + 257, 'ustar\u0000') && buf[at + 345] !== 0) {
    return readString(buf, at + 345, 155) + '/' + name;
  }
  return name;
}
