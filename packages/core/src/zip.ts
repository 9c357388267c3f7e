/**
 * A small, defensive ZIP reader over an in-memory buffer (JARs, OSV all.zip). Reads the central
 * directory (ZIP64 included), inflates entries on demand, checks CRCs, and bounds every size
 * so a zip bomb or a corrupt archive ends in a PalisadeError, never a crash or a huge allocation.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { PalisadeError } from './errors.js';

export interface ZipEntry {
  /** Entry name as stored (forward slashes). */
  name: string;
  size: number;
  compressedSize: number;
  isDirectory: boolean;
  /** Decompressed content; throws E_CORRUPT / E_TOO_LARGE / E_UNSUPPORTED naming the entry. */
  read(): Buffer;
}

export interface ZipOptions {
  /** Names the archive in errors. */
  subject?: string;
  /** Largest decompressed entry accepted (default 256 MiB). */
  maxEntrySize?: number;
  /** Most entries accepted (default 200,000). */
  maxEntries?: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function corrupt(subject: string, what: string): PalisadeError {
  return new PalisadeError('E_CORRUPT', `corrupt zip archive: ${what}`, { subject });
}

function findEocd(buf: Buffer, subject: string): number {
  const min = Math.max(0, buf.length - 65557);
  for (let i = buf.length - 22; i >= min; i--) {
    if (buf.readUInt32LE(i) === SIG_EOCD) return i;
  }
  throw corrupt(subject, 'no end of central directory record (not a zip, or truncated)');
}

interface Directory {
  count: number;
  offset: number;
}

function readDirectoryLocation(buf: Buffer, eocd: number, subject: string): Directory {
  let count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  const locator = eocd - 20;
  if ((count === 0xffff || offset === 0xffffffff) && locator >= 0 && buf.readUInt32LE(locator) === SIG_EOCD64_LOCATOR) {
    const eocd64 = Number(buf.readBigUInt64LE(locator + 8));
    if (eocd64 + 56 > buf.length || buf.readUInt32LE(eocd64) !== SIG_EOCD64)
      throw corrupt(subject, 'bad ZIP64 end record');
    count = Number(buf.readBigUInt64LE(eocd64 + 32));
    offset = Number(buf.readBigUInt64LE(eocd64 + 48));
  }
  if (offset > buf.length) throw corrupt(subject, 'central directory offset beyond end of file');
  return { count, offset };
}

interface Zip64Values {
  size: number;
  compressedSize: number;
  localOffset: number;
}

function applyZip64Extra(extra: Buffer, v: Zip64Values): void {
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      const end = q + len;
      if (v.size === 0xffffffff && q + 8 <= end) {
        v.size = Number(extra.readBigUInt64LE(q));
        q += 8;
      }
      if (v.compressedSize === 0xffffffff && q + 8 <= end) {
        v.compressedSize = Number(extra.readBigUInt64LE(q));
        q += 8;
      }
      if (v.localOffset === 0xffffffff && q + 8 <= end) v.localOffset = Number(extra.readBigUInt64LE(q));
      return;
    }
    p += 4 + len;
  }
}

export function readZip(buf: Buffer, options: ZipOptions = {}): ZipEntry[] {
  const subject = options.subject ?? 'zip archive';
  const maxEntrySize = options.maxEntrySize ?? 256 * 1024 * 1024;
  const maxEntries = options.maxEntries ?? 200_000;
  if (buf.length < 22) throw corrupt(subject, `only ${buf.length} bytes`);
  const dir = readDirectoryLocation(buf, findEocd(buf, subject), subject);
  if (dir.count > maxEntries) {
    throw new PalisadeError('E_TOO_LARGE', `zip archive has ${dir.count} entries (limit ${maxEntries})`, { subject });
  }
  const entries: ZipEntry[] = [];
  let p = dir.offset;
  for (let i = 0; i < dir.count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== SIG_CENTRAL)
      throw corrupt(subject, `bad central directory entry ${i}`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const v: Zip64Values = {
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localOffset: buf.readUInt32LE(p + 42),
    };
    const nameEnd = p + 46 + nameLen;
    if (nameEnd + extraLen > buf.length) throw corrupt(subject, `central directory entry ${i} runs past end of file`);
    const name = buf.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, nameEnd);
    applyZip64Extra(buf.subarray(nameEnd, nameEnd + extraLen), v);
    entries.push(makeEntry(buf, { name, flags, method, crc, ...v }, subject, maxEntrySize));
    p = nameEnd + extraLen + commentLen;
  }
  return entries;
}

interface RawEntry extends Zip64Values {
  name: string;
  flags: number;
  method: number;
  crc: number;
}

function makeEntry(buf: Buffer, e: RawEntry, subject: string, maxEntrySize: number): ZipEntry {
  const where = `${subject}!${e.name}`;
  return {
    name: e.name,
    size: e.size,
    compressedSize: e.compressedSize,
    isDirectory: e.name.endsWith('/'),
    read: () => readEntry(buf, e, where, maxEntrySize),
  };
}

function readEntry(buf: Buffer, e: RawEntry, where: string, maxEntrySize: number): Buffer {
  if (e.flags & 0x1) throw new PalisadeError('E_UNSUPPORTED', 'encrypted zip entry', { subject: where });
  if (e.size > maxEntrySize) {
    throw new PalisadeError('E_TOO_LARGE', `entry is ${e.size} bytes (limit ${maxEntrySize})`, { subject: where });
  }
  const lh = e.localOffset;
  if (lh + 30 > buf.length || buf.readUInt32LE(lh) !== SIG_LOCAL) throw corrupt(where, 'bad local header');
  const start = lh + 30 + buf.readUInt16LE(lh + 26) + buf.readUInt16LE(lh + 28);
  const end = start + e.compressedSize;
  if (end > buf.length) throw corrupt(where, 'entry data runs past end of file (truncated archive)');
  const raw = buf.subarray(start, end);
  let out: Buffer;
  if (e.method === 0) out = raw;
  else if (e.method === 8) {
    try {
      // maxOutputLength bounds a bomb even when the stored size lies.
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, Math.min(maxEntrySize, e.size + 1)) });
    } catch (err) {
      throw corrupt(where, `cannot inflate (${(err as Error).message})`);
    }
  } else {
    throw new PalisadeError('E_UNSUPPORTED', `compression method ${e.method}`, { subject: where });
  }
  if (out.length !== e.size) throw corrupt(where, `size ${out.length} differs from the recorded ${e.size}`);
  if (crc32(out) >>> 0 !== e.crc >>> 0) throw corrupt(where, 'CRC mismatch');
  return out;
}
