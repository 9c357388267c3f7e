/**
 * Hand-made ELF files with Go build info in the pre-1.18 pointer format, which the Go 1.19
 * toolchain on this machine can no longer produce. The layout follows the ELF spec: header,
 * one writable PT_LOAD segment mapping the whole file, optional section headers.
 */

export interface SyntheticOptions {
  is64: boolean;
  littleEndian: boolean;
  goVersion: string;
  /** Module info text without sentinels. */
  modinfo: string;
  /** Omit the section header table (as sstrip does). */
  noSections?: boolean;
}

const BASE = 0x400000;
// The sentinels Go's linker frames module info with (cmd/go/internal/modload).
const SENTINEL_START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
const SENTINEL_END = Buffer.from('f932433186182072008242104116d8f2', 'hex');

class Writer {
  readonly buf: Buffer;
  constructor(
    size: number,
    readonly le: boolean,
    readonly is64: boolean,
  ) {
    this.buf = Buffer.alloc(size);
  }
  u8(off: number, v: number): void {
    this.buf[off] = v;
  }
  u16(off: number, v: number): void {
    if (this.le) this.buf.writeUInt16LE(v, off);
    else this.buf.writeUInt16BE(v, off);
  }
  u32(off: number, v: number): void {
    if (this.le) this.buf.writeUInt32LE(v, off);
    else this.buf.writeUInt32BE(v, off);
  }
  u64(off: number, v: number): void {
    if (this.le) this.buf.writeBigUInt64LE(BigInt(v), off);
    else this.buf.writeBigUInt64BE(BigInt(v), off);
  }
  word(off: number, v: number): void {
    if (this.is64) this.u64(off, v);
    else this.u32(off, v);
  }
}

export function syntheticGoElf(o: SyntheticOptions): Buffer {
  const ptr = o.is64 ? 8 : 4;
  const version = Buffer.from(o.goVersion);
  const mod = Buffer.concat([SENTINEL_START, Buffer.from(o.modinfo), SENTINEL_END]);
  const info = 0x100;
  const hdrs = info + 32;
  const strs = hdrs + 4 * ptr;
  const shstr = Buffer.from('\0.go.buildinfo\0.shstrtab\0');
  const shstrOff = strs + version.length + mod.length;
  const shoff = Math.ceil((shstrOff + shstr.length) / 8) * 8;
  const shent = o.is64 ? 64 : 40;
  // At least 1 KiB, the smallest executable the cataloger looks at.
  const size = Math.max(shoff + 3 * shent, 1024);
  const w = new Writer(size, o.littleEndian, o.is64);
  writeHeader(w, o, shoff, shent);
  writeSegment(w, o.is64, size);
  // Build info header: magic, pointer size, flags (bit 0 = big endian; bit 1 clear = pointer format).
  w.buf.write('\xff Go buildinf:', info, 'latin1');
  w.u8(info + 14, ptr);
  w.u8(info + 15, o.littleEndian ? 0 : 1);
  w.word(info + 16, BASE + hdrs);
  w.word(info + 16 + ptr, BASE + hdrs + 2 * ptr);
  // Go string headers {data, len}.
  w.word(hdrs, BASE + strs);
  w.word(hdrs + ptr, version.length);
  w.word(hdrs + 2 * ptr, BASE + strs + version.length);
  w.word(hdrs + 3 * ptr, mod.length);
  version.copy(w.buf, strs);
  mod.copy(w.buf, strs + version.length);
  shstr.copy(w.buf, shstrOff);
  writeSection(w, shoff + shent, { name: 1, type: 1, addr: BASE + info, offset: info, size: shstrOff - info });
  writeSection(w, shoff + 2 * shent, { name: 15, type: 3, addr: 0, offset: shstrOff, size: shstr.length });
  return w.buf;
}

function writeHeader(w: Writer, o: SyntheticOptions, shoff: number, shent: number): void {
  w.buf.write('\x7fELF', 0, 'latin1');
  w.u8(4, o.is64 ? 2 : 1);
  w.u8(5, o.littleEndian ? 1 : 2);
  w.u8(6, 1);
  w.u16(16, 2); // ET_EXEC
  w.u16(18, o.is64 ? 62 : 3);
  w.u32(20, 1);
  if (o.is64) {
    w.u64(0x20, 64);
    w.u64(0x28, o.noSections ? 0 : shoff);
    w.u16(0x34, 64);
    w.u16(0x36, 56);
    w.u16(0x38, 1);
    w.u16(0x3a, shent);
    w.u16(0x3c, o.noSections ? 0 : 3);
    w.u16(0x3e, o.noSections ? 0 : 2);
  } else {
    w.u32(0x1c, 52);
    w.u32(0x20, o.noSections ? 0 : shoff);
    w.u16(0x28, 52);
    w.u16(0x2a, 32);
    w.u16(0x2c, 1);
    w.u16(0x2e, shent);
    w.u16(0x30, o.noSections ? 0 : 3);
    w.u16(0x32, o.noSections ? 0 : 2);
  }
}

function writeSegment(w: Writer, is64: boolean, size: number): void {
  const p = is64 ? 64 : 52;
  w.u32(p, 1); // PT_LOAD
  if (is64) {
    w.u32(p + 4, 6); // PF_R | PF_W
    w.u64(p + 8, 0);
    w.u64(p + 16, BASE);
    w.u64(p + 24, BASE);
    w.u64(p + 32, size);
    w.u64(p + 40, size);
  } else {
    w.u32(p + 4, 0);
    w.u32(p + 8, BASE);
    w.u32(p + 12, BASE);
    w.u32(p + 16, size);
    w.u32(p + 20, size);
    w.u32(p + 24, 6);
  }
}

function writeSection(
  w: Writer,
  at: number,
  s: { name: number; type: number; addr: number; offset: number; size: number },
): void {
  w.u32(at, s.name);
  w.u32(at + 4, s.type);
  if (w.is64) {
    w.u64(at + 16, s.addr);
    w.u64(at + 24, s.offset);
    w.u64(at + 32, s.size);
  } else {
    w.u32(at + 12, s.addr);
    w.u32(at + 16, s.offset);
    w.u32(at + 20, s.size);
  }
}
