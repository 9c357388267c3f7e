/**
 * A small, defensive ELF reader for the binary catalogers (Go build info, cargo-auditable data).
 * It reads only the ELF header, the section header table and the program header table, so a
 * cataloger can look a section up by name in microseconds without scanning the file. Every
 * offset is bounds-checked: a truncated or corrupt file gives an `ElfError`, never a RangeError.
 */

export const SHT_NOBITS = 8;
export const PT_LOAD = 1;
export const PF_W = 0x2;

export interface ElfSection {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
}

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  fileSize: number;
  memSize: number;
}

export interface Elf {
  readonly buf: Buffer;
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /** Section headers (empty when the binary has none, e.g. after `sstrip`). */
  readonly sections: readonly ElfSection[];
  readonly segments: readonly ElfSegment[];
  /** Why the section headers could not be read (truncated file), when they could not. */
  readonly sectionError?: string;
  /** Set when sections or segments extend past the end of the buffer (a truncated file). */
  readonly truncated?: string;
}

/** A malformed ELF file: the message says what is wrong, for a report warning. */
export class ElfError extends Error {
  override readonly name = 'ElfError';
}

// Tables larger than this are not real binaries; refusing them bounds the work on hostile input.
const MAX_TABLE_ENTRIES = 65_536;

/** True when the buffer starts with the ELF magic: the one check done on every executable. */
export function isElf(buf: Buffer): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

/** A reader of fixed-width integers at absolute offsets, in the file's byte order. */
class Reader {
  constructor(
    readonly buf: Buffer,
    readonly le: boolean,
  ) {}

  private check(off: number, len: number, what: string): void {
    if (off < 0 || off + len > this.buf.length) {
      throw new ElfError(
        `${what} at offset ${off} is beyond the end of the file (${this.buf.length} bytes): truncated`,
      );
    }
  }

  u16(off: number, what: string): number {
    this.check(off, 2, what);
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }

  u32(off: number, what: string): number {
    this.check(off, 4, what);
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }

  u64(off: number, what: string): number {
    this.check(off, 8, what);
    const v = this.le ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
    // Offsets and sizes past 2^53 cannot be real in a buffer we hold; saturate so checks fail.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  word(off: number, is64: boolean, what: string): number {
    return is64 ? this.u64(off, what) : this.u32(off, what);
  }
}

interface Header {
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

function readHeader(r: Reader, is64: boolean): Header {
  const o = is64 ? { ph: 0x20, sh: 0x28, rest: 0x36 } : { ph: 0x1c, sh: 0x20, rest: 0x2a };
  return {
    phoff: r.word(o.ph, is64, 'e_phoff'),
    shoff: r.word(o.sh, is64, 'e_shoff'),
    phentsize: r.u16(o.rest, 'e_phentsize'),
    phnum: r.u16(o.rest + 2, 'e_phnum'),
    shentsize: r.u16(o.rest + 4, 'e_shentsize'),
    shnum: r.u16(o.rest + 6, 'e_shnum'),
    shstrndx: r.u16(o.rest + 8, 'e_shstrndx'),
  };
}

function readSegments(r: Reader, is64: boolean, h: Header): ElfSegment[] {
  const out: ElfSegment[] = [];
  if (h.phoff === 0 || h.phnum === 0) return out;
  if (h.phnum > MAX_TABLE_ENTRIES || h.phentsize < (is64 ? 56 : 32)) {
    throw new ElfError(`program header table is malformed (${h.phnum} entries of ${h.phentsize} bytes)`);
  }
  for (let i = 0; i < h.phnum; i++) {
    const p = h.phoff + i * h.phentsize;
    const what = `program header ${i}`;
    if (is64) {
      out.push({
        type: r.u32(p, what),
        flags: r.u32(p + 4, what),
        offset: r.u64(p + 8, what),
        vaddr: r.u64(p + 16, what),
        fileSize: r.u64(p + 32, what),
        memSize: r.u64(p + 40, what),
      });
    } else {
      out.push({
        type: r.u32(p, what),
        offset: r.u32(p + 4, what),
        vaddr: r.u32(p + 8, what),
        fileSize: r.u32(p + 16, what),
        memSize: r.u32(p + 20, what),
        flags: r.u32(p + 24, what),
      });
    }
  }
  return out;
}

interface RawSection extends ElfSection {
  nameOff: number;
  link: number;
}

function readSectionHeader(r: Reader, is64: boolean, p: number, i: number): RawSection {
  const what = `section header ${i}`;
  const nameOff = r.u32(p, what);
  const type = r.u32(p + 4, what);
  if (is64) {
    return {
      name: '',
      nameOff,
      type,
      addr: r.u64(p + 16, what),
      offset: r.u64(p + 24, what),
      size: r.u64(p + 32, what),
      link: r.u32(p + 40, what),
    };
  }
  return {
    name: '',
    nameOff,
    type,
    addr: r.u32(p + 12, what),
    offset: r.u32(p + 16, what),
    size: r.u32(p + 20, what),
    link: r.u32(p + 24, what),
  };
}

function readSections(r: Reader, is64: boolean, h: Header): ElfSection[] {
  if (h.shoff === 0) return [];
  if (h.shentsize < (is64 ? 64 : 40)) throw new ElfError(`section header entry size ${h.shentsize} is too small`);
  // With 0xff00 or more sections, e_shnum is 0 and the count lives in section 0 (likewise e_shstrndx).
  const first = readSectionHeader(r, is64, h.shoff, 0);
  const count = h.shnum === 0 ? first.size : h.shnum;
  const strndx = h.shstrndx === 0xffff ? first.link : h.shstrndx;
  if (count > MAX_TABLE_ENTRIES) throw new ElfError(`section header table claims ${count} entries`);
  const raw: RawSection[] = [];
  for (let i = 0; i < count; i++) raw.push(readSectionHeader(r, is64, h.shoff + i * h.shentsize, i));
  const names = raw[strndx];
  if (names === undefined || names.type === SHT_NOBITS)
    throw new ElfError(`section name table (index ${strndx}) is missing`);
  if (names.offset + names.size > r.buf.length) {
    throw new ElfError(
      `section name table (index ${strndx}) is beyond the end of the file (${r.buf.length} bytes): truncated`,
    );
  }
  const table = r.buf.subarray(names.offset, names.offset + names.size);
  return raw.map((s) => ({
    name: cString(table, s.nameOff),
    type: s.type,
    addr: s.addr,
    offset: s.offset,
    size: s.size,
  }));
}

function cString(table: Buffer, off: number): string {
  if (off >= table.length) return '';
  const end = table.indexOf(0, off);
  return table.toString('latin1', off, end < 0 ? table.length : end);
}

/**
 * Parse the headers of an ELF file. Returns undefined when the buffer is not ELF at all;
 * throws `ElfError` when its header or program headers are malformed or truncated (a bad
 * section header table is reported in `sectionError` instead).
 */
export function parseElf(buf: Buffer): Elf | undefined {
  if (!isElf(buf)) return undefined;
  if (buf.length < 52) throw new ElfError(`only ${buf.length} bytes: truncated ELF header`);
  const cls = buf[4];
  const data = buf[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    throw new ElfError(`unknown ELF class ${String(cls)} or byte order ${String(data)}`);
  }
  const is64 = cls === 2;
  const r = new Reader(buf, data === 1);
  const h = readHeader(r, is64);
  const segments = readSegments(r, is64, h);
  // Section headers sit at the end of the file, so truncation loses them first; keep the
  // segments usable and say why the sections are missing.
  let elf: Elf;
  try {
    elf = { buf, is64, littleEndian: data === 1, segments, sections: readSections(r, is64, h) };
  } catch (err) {
    if (!(err instanceof ElfError)) throw err;
    elf = { buf, is64, littleEndian: data === 1, segments, sections: [], sectionError: err.message };
  }
  const extent = fileExtent(elf);
  return extent > buf.length
    ? { ...elf, truncated: `file is ${buf.length} bytes but its contents extend to ${extent}: truncated` }
    : elf;
}

/** Where the last section or segment data ends, per the headers. */
function fileExtent(elf: Elf): number {
  let end = 0;
  for (const s of elf.sections) if (s.type !== SHT_NOBITS) end = Math.max(end, s.offset + s.size);
  for (const p of elf.segments) end = Math.max(end, p.offset + p.fileSize);
  return end;
}

/** The section with this name, if the binary has one. */
export function findSection(elf: Elf, name: string): ElfSection | undefined {
  return elf.sections.find((s) => s.name === name);
}

/** The file bytes of a section; throws `ElfError` when they lie beyond the end of the file. */
export function sectionData(elf: Elf, s: ElfSection): Buffer {
  if (s.type === SHT_NOBITS) return Buffer.alloc(0);
  if (s.offset + s.size > elf.buf.length) {
    throw new ElfError(
      `section ${s.name} (offset ${s.offset}, ${s.size} bytes) is beyond the end of the file: truncated`,
    );
  }
  return elf.buf.subarray(s.offset, s.offset + s.size);
}

/**
 * Read `len` bytes at a virtual address, mapping it through the loadable segments (then the
 * sections, for objects without program headers). Undefined when no mapped file data holds them.
 */
export function readVirtual(elf: Elf, vaddr: number, len: number): Buffer | undefined {
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || vaddr < seg.vaddr || vaddr + len > seg.vaddr + seg.fileSize) continue;
    const off = seg.offset + (vaddr - seg.vaddr);
    return off + len <= elf.buf.length ? elf.buf.subarray(off, off + len) : undefined;
  }
  for (const s of elf.sections) {
    if (s.type === SHT_NOBITS || s.addr === 0 || vaddr < s.addr || vaddr + len > s.addr + s.size) continue;
    const off = s.offset + (vaddr - s.addr);
    return off + len <= elf.buf.length ? elf.buf.subarray(off, off + len) : undefined;
  }
  return undefined;
}

/** Read an unsigned pointer-sized integer (4 or 8 bytes) from a buffer in the given byte order. */
export function readPointer(buf: Buffer, off: number, size: number, littleEndian: boolean): number | undefined {
  if (off < 0 || off + size > buf.length) return undefined;
  if (size === 4) return littleEndian ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  if (size === 8) {
    const v = littleEndian ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  }
  return undefined;
}
