/**
 * Finding the build information the Go linker embeds in every module-aware executable
 * (Go 1.13+): a 32-byte header starting with "\xff Go buildinf:" in the `.go.buildinfo` section,
 * followed either by the Go version and module info inline (Go 1.18+, flag bit 2) or by two
 * pointers to Go string headers (older linkers). See the debug/buildinfo package documentation.
 */
import {
  ElfError,
  PF_W,
  PT_LOAD,
  findSection,
  isElf,
  parseElf,
  readPointer,
  readVirtual,
  sectionData,
  type Elf,
} from '../elf/index.js';

export interface GoBuildInfo {
  /** As embedded, e.g. "go1.21.3" or "go1.22.0 X:boringcrypto". */
  goVersion: string;
  /** The module info text (lines "path", "mod", "dep", "=>", "build"), sentinels removed. */
  modinfo: string;
}

export type BuildInfoResult =
  { kind: 'none' } | { kind: 'ok'; info: GoBuildInfo; warning?: string } | { kind: 'error'; message: string };

export const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const FLAG_BIG_ENDIAN = 0x1;
const FLAG_INLINE = 0x2;
// Version and module info strings larger than this are not real build info.
const MAX_STRING = 4 * 1024 * 1024;

const NONE: BuildInfoResult = { kind: 'none' };

function fail(message: string): BuildInfoResult {
  return { kind: 'error', message };
}

/** Go build info of an executable: none for non-Go files, an error for a damaged Go binary. */
export function readGoBuildInfo(buf: Buffer): BuildInfoResult {
  if (!isElf(buf)) return NONE;
  let elf: Elf | undefined;
  try {
    elf = parseElf(buf);
  } catch (err) {
    if (!(err instanceof ElfError)) return fail(`unreadable ELF: ${String(err)}`);
    // A broken header says nothing about the language; only claim the file when it carries the magic.
    return buf.indexOf(BUILDINFO_MAGIC) >= 0 ? fail(`malformed ELF (${err.message})`) : NONE;
  }
  if (elf === undefined) return NONE;
  try {
    return fromElf(elf);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

function fromElf(elf: Elf): BuildInfoResult {
  const r = findBuildInfo(elf);
  // Readable build info in a damaged file: report the modules and the damage.
  if (r.kind === 'ok' && r.warning === undefined && elf.truncated !== undefined)
    r.warning = `damaged ELF (${elf.truncated}); build info was intact`;
  return r;
}

function findBuildInfo(elf: Elf): BuildInfoResult {
  const section = findSection(elf, '.go.buildinfo');
  if (section !== undefined) {
    const data = sectionData(elf, section);
    if (!data.subarray(0, BUILDINFO_MAGIC.length).equals(BUILDINFO_MAGIC)) {
      return fail('section .go.buildinfo does not start with the Go build info magic');
    }
    return decodeBlob(elf, data);
  }
  // Sections present but none named .go.buildinfo: not a Go module binary (the common, fast case).
  if (elf.sections.length > 0) return NONE;
  const found = searchSegments(elf);
  if (found !== undefined) {
    const r = decodeBlob(elf, found);
    // Readable build info in a file whose section table is gone: report both.
    if (r.kind === 'ok' && elf.sectionError !== undefined)
      r.warning = `damaged ELF (${elf.sectionError}); build info read from the program segments`;
    return r;
  }
  if (elf.sectionError !== undefined && hasGoNote(elf)) {
    return fail(`Go executable without readable build info: ${elf.sectionError}`);
  }
  return NONE;
}

/**
 * Without section headers (stripped with sstrip, or cut off by truncation) the linker's layout
 * still puts the build info at a 16-byte aligned address of a writable loadable segment.
 */
function searchSegments(elf: Elf): Buffer | undefined {
  for (const seg of elf.segments) {
    if (seg.type !== PT_LOAD || (seg.flags & PF_W) === 0) continue;
    const start = Math.min(seg.offset, elf.buf.length);
    const data = elf.buf.subarray(start, Math.min(start + seg.fileSize, elf.buf.length));
    for (let at = data.indexOf(BUILDINFO_MAGIC); at >= 0; at = data.indexOf(BUILDINFO_MAGIC, at + 1)) {
      if ((seg.vaddr + at) % 16 === 0) return data.subarray(at);
    }
  }
  return undefined;
}

/** Go's linker writes a "Go" owned ELF note (the build ID) into the first text page. */
function hasGoNote(elf: Elf): boolean {
  const PT_NOTE = 4;
  for (const seg of elf.segments) {
    if (seg.type !== PT_NOTE) continue;
    const data = elf.buf.subarray(
      Math.min(seg.offset, elf.buf.length),
      Math.min(seg.offset + seg.fileSize, elf.buf.length),
    );
    if (data.indexOf(Buffer.from('Go\0\0', 'latin1')) >= 0) return true;
  }
  return false;
}

function decodeBlob(elf: Elf, blob: Buffer): BuildInfoResult {
  if (blob.length < HEADER_SIZE)
    return fail(`Go build info header is ${blob.length} bytes, expected ${HEADER_SIZE}: truncated`);
  const ptrSize = blob[14] ?? 0;
  const flags = blob[15] ?? 0;
  const strings =
    (flags & FLAG_INLINE) !== 0
      ? inlineStrings(blob)
      : pointerStrings(elf, blob, ptrSize, (flags & FLAG_BIG_ENDIAN) === 0);
  if (typeof strings === 'string') return fail(strings);
  const [version, mod] = strings;
  if (version.length === 0) return fail('Go build info has an empty Go version');
  return { kind: 'ok', info: { goVersion: version.toString('utf8'), modinfo: stripSentinels(mod) } };
}

/** Go 1.18+: two uvarint length-prefixed strings right after the header. */
function inlineStrings(blob: Buffer): [Buffer, Buffer] | string {
  let off = HEADER_SIZE;
  const out: Buffer[] = [];
  for (const what of ['Go version', 'module info']) {
    const len = readUvarint(blob, off);
    if (len === undefined) return `Go build info: bad length of the ${what}`;
    off = len.next;
    if (len.value > MAX_STRING || off + len.value > blob.length) {
      return `Go build info: ${what} of ${len.value} bytes runs past the end of the data: truncated`;
    }
    out.push(blob.subarray(off, off + len.value));
    off += len.value;
  }
  return [out[0] ?? Buffer.alloc(0), out[1] ?? Buffer.alloc(0)];
}

function readUvarint(buf: Buffer, off: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8 && off + i < buf.length; i++) {
    const b = buf[off + i] ?? 0;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, next: off + i + 1 };
    scale *= 128;
  }
  return undefined;
}

/** Before Go 1.18: two pointers (version, modinfo) to Go string headers {data pointer, length}. */
function pointerStrings(elf: Elf, blob: Buffer, ptrSize: number, le: boolean): [Buffer, Buffer] | string {
  if (ptrSize !== 4 && ptrSize !== 8) return `Go build info: bad pointer size ${ptrSize}`;
  const out: Buffer[] = [];
  for (const [i, what] of ['Go version', 'module info'].entries()) {
    const headerAddr = readPointer(blob, 16 + i * ptrSize, ptrSize, le);
    const s = headerAddr === undefined ? undefined : readGoString(elf, headerAddr, ptrSize, le);
    if (s === undefined) return `Go build info: the ${what} pointer does not lead to file data (truncated or corrupt)`;
    out.push(s);
  }
  return [out[0] ?? Buffer.alloc(0), out[1] ?? Buffer.alloc(0)];
}

function readGoString(elf: Elf, addr: number, ptrSize: number, le: boolean): Buffer | undefined {
  const header = readVirtual(elf, addr, 2 * ptrSize);
  if (header === undefined) return undefined;
  const data = readPointer(header, 0, ptrSize, le);
  const len = readPointer(header, ptrSize, ptrSize, le);
  if (data === undefined || len === undefined || len > MAX_STRING) return undefined;
  if (len === 0) return Buffer.alloc(0);
  return readVirtual(elf, data, len);
}

/** The module info is framed by two 16-byte binary sentinels; without them it is not usable. */
function stripSentinels(mod: Buffer): string {
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) return mod.toString('utf8', 16, mod.length - 16);
  return '';
}
