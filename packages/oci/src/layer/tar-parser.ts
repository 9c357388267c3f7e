/**
 * A push parser for tar streams (ustar, v7, old GNU, GNU long names, PAX, GNU sparse). It is fed
 * decompressed chunks synchronously and never keeps a reference to a chunk: headers are read in
 * place when a whole block lies in the chunk (copied into one reused 512-byte buffer only when a
 * block straddles two chunks), content that nobody asked for is skipped by counting bytes, and
 * content that was asked for is copied into a buffer of its exact size.
 */
import { PalisadeError, type ErrorCode } from '@palisade/core';
import type { EntryHeader, EntryVisitor } from '../types.js';
import {
  BAD_NUMBER,
  BLOCK_BAD_CHECKSUM,
  BLOCK_ZERO,
  readHeaderName,
  readNumber,
  readString,
  verifyChecksum,
} from './fields.js';
import { basenameOf, dirnameOf, normalizeEntryPath, symlinkEscapes } from './paths.js';
import { paxInteger, paxTime, parsePax, type PaxHeader } from './pax.js';
import { checkSparseMap, expandSparse, parseSparseMapList, SparseMapReader, type SparseMap } from './sparse.js';

const BLOCK = 512;
/** Long names, long links and PAX headers larger than this are not believed. */
const MAX_META_SIZE = 16 * 1024 * 1024;

// Parser states (numbers, not strings: compared on every chunk).
const S_HEADER = 0;
const S_SPARSE_EXT = 1;
const S_SPARSE_MAP = 2;
const S_DATA = 3;
const S_PAD = 4;
const S_END = 5;

// What the bytes being collected in S_DATA are for.
const P_SKIP = 0;
const P_CONTENT = 1;
const P_LONGNAME = 2;
const P_LONGLINK = 3;
const P_PAX = 4;
const P_GLOBAL_PAX = 5;

export interface TarParserOptions {
  subject: string;
  maxContentSize: number;
}

function padOf(size: number): number {
  const rem = size % BLOCK;
  return rem === 0 ? 0 : BLOCK - rem;
}

function typeflagKind(flag: number): EntryHeader['kind'] | undefined {
  switch (flag) {
    case 0x30: // '0'
    case 0x00: // v7 regular
    case 0x37: // '7' contiguous
      return 'file';
    case 0x31:
      return 'hardlink';
    case 0x32:
      return 'symlink';
    case 0x35: // '5'
    case 0x44: // 'D' GNU dumpdir: a directory whose data lists its contents
      return 'dir';
    case 0x33: // char device
    case 0x34: // block device
    case 0x36: // fifo
      return 'other';
    default:
      return undefined;
  }
}

/** Types whose size field does not announce data (as Go's archive/tar, which writes most layers). */
function isHeaderOnly(kind: EntryHeader['kind'], flag: number): boolean {
  return (
    kind === 'hardlink' || kind === 'symlink' || (kind === 'dir' && flag !== 0x44) || (kind === 'other' && flag !== 0)
  );
}

export class TarParser {
  private state = S_HEADER;
  /** Bytes of the tar consumed so far. */
  private offset = 0;
  /** Where the header of the entry being read starts (for error messages). */
  private headerOffset = 0;
  private readonly block = Buffer.allocUnsafe(BLOCK);
  private blockFill = 0;
  private sawZeroBlock = false;

  private purpose = P_SKIP;
  private dataLeft = 0;
  private padLeft = 0;
  private collectBuf: Buffer | null = null;
  private collectPos = 0;

  private longName: string | undefined;
  private longLink: string | undefined;
  private localPax: PaxHeader | undefined;
  private readonly globalPax = new Map<string, string>();

  /** The entry whose data is being read (for content delivery and messages). */
  private entry: EntryHeader | null = null;
  private entryPathForMessages = '';
  private sparse: SparseMap | null = null;
  private sparseStored = 0;
  private sparseMapReader: SparseMapReader | null = null;
  private wantContent = false;

  constructor(
    private readonly visitor: EntryVisitor,
    private readonly options: TarParserOptions,
  ) {}

  /** True once the end-of-archive marker was read. */
  get ended(): boolean {
    return this.state === S_END;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      const state = this.state;
      if (state === S_DATA) {
        const n = Math.min(this.dataLeft, len - pos);
        if (this.collectBuf !== null) chunk.copy(this.collectBuf, this.collectPos, pos, pos + n);
        this.collectPos += n;
        pos += n;
        this.offset += n;
        this.dataLeft -= n;
        if (this.dataLeft === 0) this.endData();
      } else if (state === S_PAD) {
        const n = Math.min(this.padLeft, len - pos);
        pos += n;
        this.offset += n;
        this.padLeft -= n;
        if (this.padLeft === 0) this.state = S_HEADER;
      } else if (state === S_END) {
        // Trailing record padding after the end marker: consumed (and hashed upstream), ignored.
        this.offset += len - pos;
        pos = len;
      } else if (this.blockFill === 0 && len - pos >= BLOCK) {
        const at = pos;
        pos += BLOCK;
        this.offset += BLOCK;
        this.onBlock(chunk, at);
      } else {
        const n = Math.min(BLOCK - this.blockFill, len - pos);
        chunk.copy(this.block, this.blockFill, pos, pos + n);
        this.blockFill += n;
        pos += n;
        this.offset += n;
        if (this.blockFill === BLOCK) {
          this.blockFill = 0;
          this.onBlock(this.block, 0);
        }
      }
    }
  }

  /** The decompressed stream ended: anything but a completed archive is a truncation. */
  end(): void {
    if (this.state === S_END) return;
    // GNU tar and Go accept an archive that stops after a single zero block.
    if (this.state === S_HEADER && this.blockFill === 0 && this.sawZeroBlock) return;
    if (this.offset === 0) this.fail('E_CORRUPT', 'truncated: the layer is empty (no tar data)');
    if (this.state === S_HEADER && this.blockFill > 0) {
      this.fail('E_CORRUPT', `truncated: the stream ends inside the header at offset ${this.offset - this.blockFill}`);
    }
    if (this.state === S_HEADER) {
      this.fail('E_CORRUPT', `truncated: no end-of-archive marker (the stream ends at offset ${this.offset})`);
    }
    this.fail(
      'E_CORRUPT',
      `truncated: the stream ends inside entry "${this.entryPathForMessages}" (header at offset ${this.headerOffset})`,
    );
  }

  private fail(code: ErrorCode, message: string): never {
    throw new PalisadeError(code, message, { subject: this.options.subject });
  }

  private onBlock(buf: Buffer, at: number): void {
    if (this.state === S_HEADER) this.onHeader(buf, at);
    else if (this.state === S_SPARSE_EXT) this.onSparseExtension(buf, at);
    else this.onSparseMapBlock(buf, at);
  }

  private onHeader(buf: Buffer, at: number): void {
    const headerOffset = this.offset - BLOCK;
    const check = verifyChecksum(buf, at);
    if (check === BLOCK_ZERO) {
      if (this.longName !== undefined || this.longLink !== undefined || this.localPax !== undefined) {
        this.fail('E_CORRUPT', `extended header at offset ${this.headerOffset} is not followed by an entry`);
      }
      if (this.sawZeroBlock) this.state = S_END;
      this.sawZeroBlock = true;
      return;
    }
    if (this.sawZeroBlock) {
      // Go's archive/tar refuses this too: entries hidden after an end marker are not listed by tar -t.
      this.fail('E_CORRUPT', `entry header at offset ${headerOffset} follows a lone zero block`);
    }
    if (check === BLOCK_BAD_CHECKSUM) {
      this.fail(
        'E_CORRUPT',
        headerOffset === 0
          ? 'not a tar archive (bad header checksum in the first block)'
          : `bad header checksum for the entry at offset ${headerOffset}`,
      );
    }
    this.headerOffset = headerOffset;
    const size = readNumber(buf, at + 124, 12);
    if (size === BAD_NUMBER) this.fail('E_CORRUPT', `invalid size field in the header at offset ${headerOffset}`);
    const flag = buf[at + 156] as number;
    switch (flag) {
      case 0x4c: // 'L' GNU long name
        return this.startMeta(P_LONGNAME, size, 'GNU long name');
      case 0x4b: // 'K' GNU long link
        return this.startMeta(P_LONGLINK, size, 'GNU long link');
      case 0x78: // 'x' PAX
      case 0x58: // 'X' Solaris' early PAX
        return this.startMeta(P_PAX, size, 'PAX header');
      case 0x67: // 'g' PAX global
        return this.startMeta(P_GLOBAL_PAX, size, 'PAX global header');
      case 0x56: // 'V' volume label: not a file
        this.entryPathForMessages = '(volume label)';
        return this.startData(P_SKIP, size, null);
      case 0x4d: // 'M'
        return this.fail('E_UNSUPPORTED', `multi-volume continuation entry at offset ${headerOffset}`);
      default:
        return this.onEntryHeader(buf, at, flag, size);
    }
  }

  private startMeta(purpose: number, size: number, what: string): void {
    if (size > MAX_META_SIZE) this.fail('E_CORRUPT', `${what} at offset ${this.headerOffset} is ${size} bytes`);
    this.entryPathForMessages = `(${what})`;
    this.startData(purpose, size, Buffer.allocUnsafe(size));
  }

  /** Read `size` bytes of data (collected into `into` when given), then the padding. */
  private startData(purpose: number, size: number, into: Buffer | null): void {
    this.purpose = purpose;
    this.collectBuf = into;
    this.collectPos = 0;
    this.dataLeft = size;
    this.padLeft = padOf(size);
    if (size === 0) this.endData();
    else this.state = S_DATA;
  }

  private endData(): void {
    const data = this.collectBuf;
    this.collectBuf = null;
    switch (this.purpose) {
      case P_CONTENT:
        this.deliver(data as Buffer);
        break;
      case P_LONGNAME:
        this.longName = readString(data as Buffer, 0, (data as Buffer).length);
        break;
      case P_LONGLINK:
        this.longLink = readString(data as Buffer, 0, (data as Buffer).length);
        break;
      case P_PAX:
        this.localPax = this.parsePaxOrFail(data as Buffer);
        break;
      case P_GLOBAL_PAX:
        for (const [k, v] of this.parsePaxOrFail(data as Buffer).values) {
          if (v === '') this.globalPax.delete(k);
          else this.globalPax.set(k, v);
        }
        break;
      default:
        break;
    }
    this.entry = null;
    this.state = this.padLeft > 0 ? S_PAD : S_HEADER;
  }

  private parsePaxOrFail(data: Buffer): PaxHeader {
    const pax = parsePax(data);
    if (typeof pax === 'string') this.fail('E_CORRUPT', `${pax} in the PAX header at offset ${this.headerOffset}`);
    return pax;
  }

  private deliver(data: Buffer): void {
    const entry = this.entry as EntryHeader;
    const out = this.sparse !== null ? expandSparse(this.sparse, data) : data;
    this.visitor.onContent(entry, out);
  }

  /** A PAX value for the current entry: the local header wins over the global one. */
  private pax(key: string): string | undefined {
    const local = this.localPax?.values.get(key);
    if (local !== undefined) return local === '' ? undefined : local;
    return this.globalPax.get(key);
  }

  private numberField(buf: Buffer, at: number, length: number, what: string): number {
    const n = readNumber(buf, at, length);
    if (n === BAD_NUMBER) this.fail('E_CORRUPT', `invalid ${what} field in the header at offset ${this.headerOffset}`);
    return n;
  }

  private onEntryHeader(buf: Buffer, at: number, flag: number, headerSize: number): void {
    let rawPath = this.longName ?? this.pax('path') ?? readHeaderName(buf, at);
    let kind = typeflagKind(flag) ?? 'other';
    // v7 and old tars mark directories only by a trailing slash.
    if (kind === 'file' && flag !== 0x37 && rawPath.endsWith('/')) kind = 'dir';
    const rawLink = this.longLink ?? this.pax('linkpath') ?? readString(buf, at + 157, 100);
    const size = paxInteger(this.pax('size')) ?? headerSize;
    const mode = this.numberField(buf, at + 100, 8, 'mode') & 0o7777;
    const uid = paxInteger(this.pax('uid')) ?? this.numberField(buf, at + 108, 8, 'uid');
    const gid = paxInteger(this.pax('gid')) ?? this.numberField(buf, at + 116, 8, 'gid');
    const mtime = paxTime(this.pax('mtime')) ?? this.numberField(buf, at + 136, 12, 'mtime');

    let sparse: SparseMap | null = null;
    let sparseMapInData = false;
    if (flag === 0x53) {
      kind = 'file';
      sparse = this.oldGnuSparse(buf, at);
    } else if (this.localPax !== undefined) {
      const pax = this.paxSparse(this.localPax);
      if (pax !== null) {
        sparse = pax.map;
        sparseMapInData = pax.mapInData;
        if (pax.name !== undefined) rawPath = pax.name;
      }
    }
    this.longName = undefined;
    this.longLink = undefined;
    this.localPax = undefined;
    this.entryPathForMessages = rawPath;

    const path = normalizeEntryPath(rawPath);
    if (path === null)
      this.fail('E_UNSAFE_PATH', `entry "${rawPath}" (offset ${this.headerOffset}) escapes the layer root`);
    const dataSize = isHeaderOnly(kind, flag) ? 0 : size;
    const entry = this.makeEntry(path, rawPath, kind, sparse?.realSize ?? dataSize, mode, rawLink);
    if (entry !== null) {
      entry.uid = uid;
      entry.gid = gid;
      entry.mtime = mtime;
    }
    this.beginEntryData(entry, dataSize, sparse, sparseMapInData);
  }

  /** The EntryHeader for a normalized path, or null for entries that are not reported. */
  private makeEntry(
    path: string,
    rawPath: string,
    kind: EntryHeader['kind'],
    size: number,
    mode: number,
    rawLink: string,
  ): EntryHeader | null {
    // The root directory itself ("./") says nothing about the image's files.
    if (path === '') return null;
    const base = basenameOf(path);
    if (base.charCodeAt(0) === 0x2e && base.startsWith('.wh.')) return this.whiteout(path, rawPath, base, mode);
    if (kind === 'symlink') {
      if (symlinkEscapes(path, rawLink)) {
        this.fail(
          'E_UNSAFE_PATH',
          `symlink "${rawPath}" -> "${rawLink}" (offset ${this.headerOffset}) escapes the layer root`,
        );
      }
      return { path, kind, size: 0, mode, linkTarget: rawLink };
    }
    if (kind === 'hardlink') {
      const target = normalizeEntryPath(rawLink);
      if (target === null || target === '') {
        this.fail(
          'E_UNSAFE_PATH',
          `hardlink "${rawPath}" -> "${rawLink}" (offset ${this.headerOffset}) points outside the layer root`,
        );
      }
      return { path, kind, size: 0, mode, linkTarget: target };
    }
    return { path, kind, size, mode };
  }

  private whiteout(path: string, rawPath: string, base: string, mode: number): EntryHeader | null {
    const dir = dirnameOf(path);
    if (base === '.wh..wh..opq') return { path: dir, kind: 'opaque', size: 0, mode };
    // Other ".wh..wh." names are aufs bookkeeping (hardlink stash, metadata), not whiteouts.
    if (base.startsWith('.wh..wh.')) return null;
    const name = base.slice(4);
    if (name === '' || name === '.' || name === '..') {
      this.fail(
        'E_UNSAFE_PATH',
        `whiteout "${rawPath}" (offset ${this.headerOffset}) names no file inside its directory`,
      );
    }
    return { path: dir === '' ? name : `${dir}/${name}`, kind: 'whiteout', size: 0, mode };
  }

  private beginEntryData(
    entry: EntryHeader | null,
    dataSize: number,
    sparse: SparseMap | null,
    mapInData: boolean,
  ): void {
    const ask = entry !== null && this.visitor.onEntry(entry);
    const realSize = entry?.size ?? 0;
    this.entry = entry;
    this.sparse = sparse;
    this.wantContent = ask && entry !== null && entry.kind === 'file' && realSize <= this.options.maxContentSize;
    if (mapInData) {
      if (dataSize < BLOCK)
        this.fail('E_CORRUPT', `PAX sparse 1.0 entry "${this.entryPathForMessages}" has no room for its map`);
      this.sparseMapReader = new SparseMapReader();
      this.sparseStored = dataSize;
      this.state = S_SPARSE_MAP;
      return;
    }
    if (sparse !== null) {
      const why = checkSparseMap(sparse, dataSize);
      if (why !== undefined && this.state !== S_SPARSE_EXT)
        this.fail('E_CORRUPT', `${why} (entry "${this.entryPathForMessages}")`);
      this.sparseStored = dataSize;
      if (this.state === S_SPARSE_EXT) return; // the map continues in extension blocks
    }
    this.startEntryData(dataSize);
  }

  private startEntryData(dataSize: number): void {
    if (this.wantContent) {
      this.startData(P_CONTENT, dataSize, Buffer.allocUnsafe(dataSize));
    } else {
      // Nothing to keep: skip the data and its padding as one run.
      this.purpose = P_SKIP;
      this.collectBuf = null;
      this.dataLeft = dataSize + padOf(dataSize);
      this.padLeft = 0;
      if (this.dataLeft === 0) this.endData();
      else this.state = S_DATA;
    }
  }

  /** Map of an old GNU 'S' header; extension blocks follow when the flag at 482 is set. */
  private oldGnuSparse(buf: Buffer, at: number): SparseMap {
    const realSize = this.numberField(buf, at + 483, 12, 'sparse real size');
    const map: SparseMap = { realSize, segments: [] };
    this.readSparseEntries(buf, at + 386, 4, map);
    if (buf[at + 482] !== 0) this.state = S_SPARSE_EXT;
    return map;
  }

  private readSparseEntries(buf: Buffer, from: number, count: number, map: SparseMap): void {
    for (let i = 0; i < count; i++) {
      const p = from + i * 24;
      if (buf[p] === 0) break;
      map.segments.push(
        this.numberField(buf, p, 12, 'sparse offset'),
        this.numberField(buf, p + 12, 12, 'sparse length'),
      );
    }
  }

  private onSparseExtension(buf: Buffer, at: number): void {
    const map = this.sparse as SparseMap;
    this.readSparseEntries(buf, at, 21, map);
    if (buf[at + 504] !== 0) return;
    const why = checkSparseMap(map, this.sparseStored);
    if (why !== undefined) this.fail('E_CORRUPT', `${why} (entry "${this.entryPathForMessages}")`);
    this.startEntryData(this.sparseStored);
  }

  private onSparseMapBlock(buf: Buffer, at: number): void {
    const reader = this.sparseMapReader as SparseMapReader;
    this.sparseStored -= BLOCK;
    if (this.sparseStored < 0)
      this.fail('E_CORRUPT', `sparse map of "${this.entryPathForMessages}" is larger than its entry`);
    if (!reader.feed(buf, at)) return;
    if (reader.error !== undefined) this.fail('E_CORRUPT', `${reader.error} (entry "${this.entryPathForMessages}")`);
    const map = this.sparse as SparseMap;
    map.segments = reader.numbers;
    this.sparseMapReader = null;
    const why = checkSparseMap(map, this.sparseStored);
    if (why !== undefined) this.fail('E_CORRUPT', `${why} (entry "${this.entryPathForMessages}")`);
    // The map fills whole blocks, so the padding of what is left equals that of the whole entry.
    this.startEntryData(this.sparseStored);
  }

  /** GNU sparse in PAX keys: 0.0 (repeated offset/numbytes), 0.1 (GNU.sparse.map), 1.0 (map in the data). */
  private paxSparse(pax: PaxHeader): { map: SparseMap; mapInData: boolean; name: string | undefined } | null {
    const v = pax.values;
    const name = v.get('GNU.sparse.name');
    if (v.get('GNU.sparse.major') === '1' && v.get('GNU.sparse.minor') === '0') {
      const realSize = paxInteger(v.get('GNU.sparse.realsize'));
      if (realSize === undefined)
        this.fail('E_CORRUPT', `PAX sparse 1.0 entry at offset ${this.headerOffset} has no real size`);
      return { map: { realSize, segments: [] }, mapInData: true, name };
    }
    const sizeText = v.get('GNU.sparse.size') ?? v.get('GNU.sparse.realsize');
    if (sizeText === undefined) return null;
    const realSize = paxInteger(sizeText);
    if (realSize === undefined)
      this.fail('E_CORRUPT', `bad GNU.sparse.size in the PAX header at offset ${this.headerOffset}`);
    const mapText = v.get('GNU.sparse.map');
    let segments: number[] | undefined;
    if (mapText !== undefined) {
      segments = parseSparseMapList(mapText);
    } else if (pax.sparseOffsets.length === pax.sparseNumbytes.length) {
      segments = [];
      for (let i = 0; i < pax.sparseOffsets.length; i++)
        segments.push(pax.sparseOffsets[i] as number, pax.sparseNumbytes[i] as number);
    }
    if (segments === undefined)
      this.fail('E_CORRUPT', `bad GNU sparse map in the PAX header at offset ${this.headerOffset}`);
    return { map: { realSize, segments }, mapInData: false, name };
  }
}
