/**
 * PAX extended header records ("<len> <key>=<value>\n") and the GNU sparse keys carried in them.
 */

export interface PaxHeader {
  /** Last value of each key; an empty value means "unset" (it deletes a global value). */
  values: Map<string, string>;
  /** GNU sparse format 0.0 repeats GNU.sparse.offset / GNU.sparse.numbytes once per segment. */
  sparseOffsets: number[];
  sparseNumbytes: number[];
}

/** Parse PAX records; returns an error text for malformed data. */
export function parsePax(data: Buffer): PaxHeader | string {
  const header: PaxHeader = { values: new Map(), sparseOffsets: [], sparseNumbytes: [] };
  let pos = 0;
  while (pos < data.length) {
    // GNU tar pads some headers with NULs after the last record.
    if (data[pos] === 0) break;
    let len = 0;
    let i = pos;
    for (; i < data.length && data[i] !== 0x20; i++) {
      const c = data[i] as number;
      if (c < 0x30 || c > 0x39) return `bad PAX record length at byte ${pos}`;
      len = len * 10 + (c - 0x30);
    }
    const end = pos + len;
    if (len === 0 || i >= data.length || end > data.length || data[end - 1] !== 0x0a) {
      return `bad PAX record at byte ${pos}`;
    }
    const eq = data.indexOf(0x3d, i + 1);
    if (eq < 0 || eq >= end) return `PAX record without '=' at byte ${pos}`;
    const key = data.toString('utf8', i + 1, eq);
    const value = data.toString('utf8', eq + 1, end - 1);
    if (key === 'GNU.sparse.offset') header.sparseOffsets.push(Number(value));
    else if (key === 'GNU.sparse.numbytes') header.sparseNumbytes.push(Number(value));
    else header.values.set(key, value);
    pos = end;
  }
  return header;
}

/** A non-negative integer PAX value, or undefined if absent/invalid. */
export function paxInteger(value: string | undefined): number | undefined {
  if (value === undefined || value === '' || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A PAX time ("1700000000.123456789", may be negative) as seconds. */
export function paxTime(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  return Number(value);
}
