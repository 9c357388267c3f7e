/**
 * Decoder for the fixed-layout binary records of bpf/palisade.h. Offsets are spelled out
 * here rather than derived, and must match the _Static_asserts in palisade.h; bump
 * RECORD_VERSION on both sides together. No text parsing: every field is read at its
 * offset, strings are NUL-terminated byte arrays of fixed capacity.
 */

export const RECORD_VERSION = 1;

export const REC_EXEC = 1;
export const REC_CONNECT = 2;
export const REC_EXIT = 3;
export const REC_READY = 0x100;
export const REC_COUNTERS = 0x101;

/** Counter slots per kernel record type, as in palisade.h. */
export const CNT_SEEN = 0;
export const CNT_FILTERED = 1;
export const CNT_DROPPED = 2;
export const CNT_NKINDS = 3;
export const NTYPES = 4;

export const FLAG_ARGS_TRUNCATED = 1 << 0;
export const FLAG_CGROUP_TRUNCATED = 1 << 1;
export const FLAG_CGROUP_V1 = 1 << 2;
export const FLAG_FILENAME_TRUNCATED = 1 << 3;

const COMM_LEN = 16;
const CGROUP_DEPTH = 6;
const CGROUP_NAME_LEN = 128;
const FILENAME_LEN = 256;
const ARGS_LEN = 512;

export const HDR_SIZE = 840;
export const EXEC_SIZE = 1616;
export const CONNECT_SIZE = 888;
export const EXIT_SIZE = 848;
export const READY_SIZE = 32;
export const COUNTERS_SIZE = 32 + 8 * NTYPES * CNT_NKINDS;
/** No record is larger; the framing layer rejects longer frames as corrupt. */
export const MAX_RECORD_SIZE = 64 * 1024;

/** Fields every kernel record starts with (struct pal_hdr). */
export interface RecordHeader {
  tsBootNs: bigint;
  tgid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  /** 0 for the initial pid namespace (a host process). */
  pidnsLevel: number;
  cgroupId: bigint;
  flags: number;
  comm: string;
  /** Cgroup path components, root first (the kernel stores them leaf first). */
  cgroupPath: string[];
}

export interface ExecRecord extends RecordHeader {
  kind: 'exec';
  filename: string;
  argv: string[];
  oldTid: number;
}

export interface ConnectRecord extends RecordHeader {
  kind: 'connect';
  family: 'ipv4' | 'ipv6';
  protocol: number;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
}

export interface ExitRecord extends RecordHeader {
  kind: 'exit';
  /** Raw wait status: exit code in bits 8..15, terminating signal in bits 0..6. */
  status: number;
}

export interface ReadyRecord {
  kind: 'ready';
  loaderPid: number;
  typesMask: number;
  realtimeNs: bigint;
  boottimeNs: bigint;
}

/** Kernel counters summed over CPUs, by record type (index REC_*) and counter kind. */
export interface CountersRecord {
  kind: 'counters';
  realtimeNs: bigint;
  boottimeNs: bigint;
  recordsOut: bigint;
  /** kernel[type][CNT_*] */
  kernel: bigint[][];
}

export type KernelRecord = ExecRecord | ConnectRecord | ExitRecord;
export type DecodedRecord = KernelRecord | ReadyRecord | CountersRecord;

export type DecodeResult = { ok: true; record: DecodedRecord } | { ok: false; error: string; type?: number };

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The bytes of `buf[off, off+cap)` up to the first NUL, as UTF-8 (lossy: paths are bytes). */
function cstr(buf: Uint8Array, off: number, cap: number): string {
  let end = off;
  const lim = off + cap;
  while (end < lim && buf[end] !== 0) end++;
  return utf8.decode(buf.subarray(off, end));
}

function ipv4(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952 text form (longest zero run compressed). */
function ipv6(buf: Uint8Array, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((buf[off + 2 * i] ?? 0) << 8) | (buf[off + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  // ::ffff:a.b.c.d is how a v6 socket talking to a v4 peer looks; keep the dotted form.
  if (bestStart === 0 && bestLen === 5 && words[5] === 0xffff) return `::ffff:${ipv4(buf, off + 12)}`;
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

function header(buf: Uint8Array, dv: DataView): RecordHeader {
  const depth = Math.min(dv.getUint32(52, true), CGROUP_DEPTH);
  const leafFirst: string[] = [];
  for (let i = 0; i < depth; i++) leafFirst.push(cstr(buf, 72 + i * CGROUP_NAME_LEN, CGROUP_NAME_LEN));
  return {
    tsBootNs: dv.getBigUint64(8, true),
    tgid: dv.getUint32(16, true),
    tid: dv.getUint32(20, true),
    ppid: dv.getUint32(24, true),
    uid: dv.getUint32(28, true),
    gid: dv.getUint32(32, true),
    pidnsLevel: dv.getUint32(36, true),
    cgroupId: dv.getBigUint64(40, true),
    flags: dv.getUint32(48, true),
    comm: cstr(buf, 56, COMM_LEN),
    cgroupPath: leafFirst.reverse(),
  };
}

const EXPECTED_SIZE: ReadonlyMap<number, number> = new Map([
  [REC_EXEC, EXEC_SIZE],
  [REC_CONNECT, CONNECT_SIZE],
  [REC_EXIT, EXIT_SIZE],
  [REC_READY, READY_SIZE],
  [REC_COUNTERS, COUNTERS_SIZE],
]);

/**
 * Decodes one record (the payload of one frame). Never throws: a short, oversized,
 * wrong-version or unknown record comes back as `{ ok: false }` for the caller to count.
 */
export function decodeRecord(buf: Uint8Array): DecodeResult {
  if (buf.length < 8) return { ok: false, error: `record of ${buf.length} bytes is shorter than its 8-byte prefix` };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = dv.getUint16(0, true);
  const type = dv.getUint16(2, true);
  const size = dv.getUint32(4, true);
  if (version !== RECORD_VERSION)
    return { ok: false, error: `record version ${version}, expected ${RECORD_VERSION}`, type };
  const expected = EXPECTED_SIZE.get(type);
  if (expected === undefined) return { ok: false, error: `unknown record type ${type}`, type };
  if (size !== expected || buf.length !== expected) {
    return {
      ok: false,
      error: `record type ${type}: size field ${size}, ${buf.length} bytes, expected ${expected}`,
      type,
    };
  }
  switch (type) {
    case REC_EXEC: {
      const argsLen = Math.min(dv.getUint32(840, true), ARGS_LEN);
      const argBytes = buf.subarray(1104, 1104 + argsLen);
      const argv: string[] = [];
      let start = 0;
      for (let i = 0; i < argBytes.length; i++) {
        if (argBytes[i] === 0) {
          argv.push(utf8.decode(argBytes.subarray(start, i)));
          start = i + 1;
        }
      }
      // A truncated argv ends mid-argument: keep the partial last one (flagged in `flags`).
      if (start < argBytes.length) argv.push(utf8.decode(argBytes.subarray(start)));
      return {
        ok: true,
        record: {
          kind: 'exec',
          ...header(buf, dv),
          oldTid: dv.getUint32(844, true),
          filename: cstr(buf, 848, FILENAME_LEN),
          argv,
        },
      };
    }
    case REC_CONNECT: {
      const fam = dv.getUint16(840, true);
      if (fam !== 2 && fam !== 10) return { ok: false, error: `connect record with address family ${fam}`, type };
      const v4 = fam === 2;
      return {
        ok: true,
        record: {
          kind: 'connect',
          ...header(buf, dv),
          family: v4 ? 'ipv4' : 'ipv6',
          dstPort: dv.getUint16(842, true),
          srcPort: dv.getUint16(844, true),
          protocol: dv.getUint32(848, true),
          srcAddr: v4 ? ipv4(buf, 856) : ipv6(buf, 856),
          dstAddr: v4 ? ipv4(buf, 872) : ipv6(buf, 872),
        },
      };
    }
    case REC_EXIT:
      return { ok: true, record: { kind: 'exit', ...header(buf, dv), status: dv.getUint32(840, true) } };
    case REC_READY:
      return {
        ok: true,
        record: {
          kind: 'ready',
          loaderPid: dv.getUint32(8, true),
          typesMask: dv.getUint32(12, true),
          realtimeNs: dv.getBigUint64(16, true),
          boottimeNs: dv.getBigUint64(24, true),
        },
      };
    default: {
      // REC_COUNTERS (the only type left after the size table check).
      const kernel: bigint[][] = [];
      for (let t = 0; t < NTYPES; t++) {
        const row: bigint[] = [];
        for (let k = 0; k < CNT_NKINDS; k++) row.push(dv.getBigUint64(32 + 8 * (t * CNT_NKINDS + k), true));
        kernel.push(row);
      }
      return {
        ok: true,
        record: {
          kind: 'counters',
          realtimeNs: dv.getBigUint64(8, true),
          boottimeNs: dv.getBigUint64(16, true),
          recordsOut: dv.getBigUint64(24, true),
          kernel,
        },
      };
    }
  }
}

/**
 * Splits the loader's stdout ([u32 LE length][record]…) into records. Holds at most one
 * partial frame; a length above MAX_RECORD_SIZE means the stream is corrupt (the loader
 * never writes one), and since there is no way to resynchronise a length-prefixed stream
 * the reader stops and reports it.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private corrupt: string | undefined;

  /** Feeds a chunk; returns complete frames. After corruption, returns nothing. */
  push(chunk: Buffer): Buffer[] {
    if (this.corrupt !== undefined) return [];
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (len > MAX_RECORD_SIZE) {
        this.corrupt = `frame length ${len} exceeds ${MAX_RECORD_SIZE}`;
        this.pending = Buffer.alloc(0);
        return frames;
      }
      if (buf.length - off - 4 < len) break;
      frames.push(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    // Copy the tail so the big chunk it came from can be collected.
    this.pending = Buffer.from(buf.subarray(off));
    return frames;
  }

  /** Why the stream was given up, if it was. */
  get error(): string | undefined {
    return this.corrupt;
  }

  /** Bytes of an incomplete frame left at end of stream. */
  get pendingBytes(): number {
    return this.pending.length;
  }
}
