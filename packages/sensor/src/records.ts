/**
 * Decoder for the fixed-layout binary records of bpf/palisade.h. Offsets are spelled out
 * here rather than derived, and must match the _Static_asserts in palisade.h; bump
 * RECORD_VERSION on both sides together. No text parsing: every field is read at its
 * offset, strings are NUL-terminated byte arrays of fixed capacity.
 */

export const RECORD_VERSION = 3;

export const REC_EXEC = 1;
export const REC_CONNECT = 2;
export const REC_EXIT = 3;
export const REC_ACCEPT = 4;
export const REC_LISTEN = 5;
export const REC_FILE_OPEN = 6;
export const REC_FILE_UNLINK = 7;
export const REC_FILE_TRUNCATE = 8;
export const REC_PTRACE = 9;
export const REC_MOUNT = 10;
export const REC_UNSHARE = 11;
export const REC_SETNS = 12;
export const REC_MODULE = 13;
export const REC_MEMFD_EXEC = 14;
export const REC_SETUID = 15;
export const REC_CAPSET = 16;
export const REC_BPF = 17;
/** The path of a cgroup key, sent once before the first record carrying the key. */
export const REC_CGROUP = 18;
export const REC_READY = 0x100;
export const REC_COUNTERS = 0x101;

/** Counter slots per kernel record type, as in palisade.h. */
export const CNT_SEEN = 0;
export const CNT_FILTERED = 1;
export const CNT_DROPPED = 2;
export const CNT_NKINDS = 3;
export const NTYPES = 19;

export const FLAG_ARGS_TRUNCATED = 1 << 0;
/** Cgroup record: the path is deeper than the levels recorded (the root end is missing). */
export const FLAG_CGROUP_TRUNCATED = 1 << 1;
/** Header and cgroup record: the key and path are the task's v1 memory cgroup. */
export const FLAG_CGROUP_V1 = 1 << 2;
/** Set in cgroup keys of v1 memory cgroups (pal_hdr.cgroup_key). */
export const CGROUP_KEY_V1 = 1n << 63n;
export const FLAG_FILENAME_TRUNCATED = 1 << 3;
/** The record's main path (exec cwd, file path, mount target) was cut. */
export const FLAG_PATH_TRUNCATED = 1 << 4;
/** A second string (mount source, module path) was cut. */
export const FLAG_PATH2_TRUNCATED = 1 << 5;

export const EXEC_OVERLAY = 1 << 0;
export const EXEC_UPPER = 1 << 1;
export const EXEC_MEMFD = 1 << 2;

export const CRED_UID = 1 << 0;
export const CRED_GID = 1 << 1;
export const CRED_CAPS = 1 << 2;

/** File watch pattern operations (pal_pattern.on). */
export const ON_OPEN = 1 << 0;
export const ON_WRITE = 1 << 1;
export const ON_ERASE = 1 << 2;

const COMM_LEN = 16;
const CGROUP_DEPTH = 8;
const CGROUP_NAME_LEN = 128;
const FILENAME_LEN = 256;
const ARGS_LEN = 1024;
const CWD_LEN = 256;
const PATH_LEN = 512;
const STR_LEN = 256;
const FSTYPE_LEN = 64;
const MODNAME_LEN = 64;

export const HDR_SIZE = 80;
export const CGROUP_SIZE = 24 + CGROUP_DEPTH * CGROUP_NAME_LEN;
/** Exec records are variable: EXEC_FIXED bytes, then filename, cwd and argv packed. */
export const EXEC_FIXED = 104;
/** The largest exec record (every string at its capacity). */
export const EXEC_SIZE = EXEC_FIXED + FILENAME_LEN + CWD_LEN + ARGS_LEN;
export const CONNECT_SIZE = 128;
export const EXIT_SIZE = 88;
export const FILE_SIZE = 608;
export const PTRACE_SIZE = 112;
export const MOUNT_SIZE = 664;
export const NS_SIZE = 88;
export const MODULE_SIZE = 400;
export const MEMFD_SIZE = 336;
export const CRED_SIZE = 144;
export const BPF_SIZE = 88;
export const READY_SIZE = 40;
export const COUNTERS_SIZE = 32 + 8 * NTYPES * CNT_NKINDS;
/** No record is larger; the framing layer rejects longer frames as corrupt. */
export const MAX_RECORD_SIZE = 64 * 1024;

/** Fields every kernel record starts with (struct pal_hdr). */
export interface RecordHeader {
  tsBootNs: bigint;
  tgid: number;
  tid: number;
  ppid: number;
  /** Real uid; for `setuid` records the uid before the call. */
  uid: number;
  gid: number;
  /** 0 for the initial pid namespace (a host process). */
  pidnsLevel: number;
  cgroupId: bigint;
  flags: number;
  comm: string;
  /**
   * Which cgroup the task was in: the v2 id, or (tasks in the v2 root on v1/hybrid hosts)
   * the v1 memory cgroup's kernfs id with CGROUP_KEY_V1 set. Its path came earlier in the
   * stream as a CgroupRecord.
   */
  cgroupKey: bigint;
}

/** The path of a cgroup key (sent once per key, ahead of the records that carry it). */
export interface CgroupRecord {
  kind: 'cgroup';
  key: bigint;
  /** FLAG_CGROUP_TRUNCATED, FLAG_CGROUP_V1. */
  flags: number;
  /** Components root first (the kernel stores them leaf first), without the hierarchy root. */
  path: string[];
}

export interface ExecRecord extends RecordHeader {
  kind: 'exec';
  /** As passed to execve: may be relative (then resolve against `cwd`). */
  filename: string;
  argv: string[];
  oldTid: number;
  /** Working directory, as seen from the process's root (container view). */
  cwd: string;
  /** Controlling terminal, encoded like /proc/PID/stat's tty_nr; 0 = none. */
  tty: number;
  /** EXEC_* bits: on overlayfs, from its upper (writable) layer, a memfd. */
  execFlags: number;
}

export interface ConnectRecord extends RecordHeader {
  /** connect: this end -> peer; accept: local end (src) and peer (dst); listen: the bound address (src). */
  kind: 'connect' | 'accept' | 'listen';
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

export interface FileRecord extends RecordHeader {
  kind: 'file.open' | 'file.unlink' | 'file.truncate';
  path: string;
  /** open(2) flags as passed; 0 for unlink/truncate. */
  openFlags: number;
  /** ON_* bits of the watch pattern that matched, and its index. */
  matched: number;
  pattern: number;
}

export interface PtraceRecord extends RecordHeader {
  kind: 'ptrace';
  request: number;
  /** The pid argument, in the caller's pid namespace. */
  targetVpid: number;
  /** Host pid of the traced process; 0 when the kernel side did not find it. */
  targetTgid: number;
  targetComm: string;
}

export interface MountRecord extends RecordHeader {
  kind: 'mount';
  flags64: bigint;
  source: string;
  target: string;
  fsType: string;
}

export interface NamespaceRecord extends RecordHeader {
  kind: 'unshare' | 'setns';
  /** CLONE_NEW* bits: passed to unshare, or the type joined by setns. */
  nsFlags: number;
  /** setns: the namespace file descriptor; -1 for unshare. */
  fd: number;
}

export interface ModuleRecord extends RecordHeader {
  kind: 'module';
  name: string;
  path: string;
}

export interface MemfdExecRecord extends RecordHeader {
  kind: 'memfd_exec';
  name: string;
}

export interface CredRecord extends RecordHeader {
  kind: 'setuid' | 'capset';
  /** CRED_* bits: what the call changes. */
  which: number;
  ruid: number;
  euid: number;
  suid: number;
  fsuid: number;
  rgid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  capEffective: bigint;
  capPermitted: bigint;
  capInheritable: bigint;
}

export interface BpfRecord extends RecordHeader {
  kind: 'bpf';
  cmd: number;
  progType: number;
}

export interface ReadyRecord {
  kind: 'ready';
  loaderPid: number;
  /** Record types (1 << REC_*) whose programs are all attached. */
  typesMask: number;
  /** Record types asked for; those missing from typesMask have no hook on this kernel. */
  requestedMask: number;
  patterns: number;
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

export type KernelRecord =
  | ExecRecord
  | ConnectRecord
  | ExitRecord
  | FileRecord
  | PtraceRecord
  | MountRecord
  | NamespaceRecord
  | ModuleRecord
  | MemfdExecRecord
  | CredRecord
  | BpfRecord;
export type KernelRecordKind = KernelRecord['kind'];
export type DecodedRecord = KernelRecord | CgroupRecord | ReadyRecord | CountersRecord;

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
    cgroupKey: dv.getBigUint64(56, true),
    comm: cstr(buf, 64, COMM_LEN),
  };
}

function decodeCgroup(buf: Uint8Array, dv: DataView): CgroupRecord {
  const depth = Math.min(dv.getUint32(20, true), CGROUP_DEPTH);
  const path: string[] = [];
  for (let i = depth - 1; i >= 0; i--) path.push(cstr(buf, 24 + i * CGROUP_NAME_LEN, CGROUP_NAME_LEN));
  return { kind: 'cgroup', key: dv.getBigUint64(8, true), flags: dv.getUint32(16, true), path };
}

const EXPECTED_SIZE: ReadonlyMap<number, number> = new Map([
  [REC_EXEC, EXEC_SIZE],
  [REC_CONNECT, CONNECT_SIZE],
  [REC_EXIT, EXIT_SIZE],
  [REC_ACCEPT, CONNECT_SIZE],
  [REC_LISTEN, CONNECT_SIZE],
  [REC_FILE_OPEN, FILE_SIZE],
  [REC_FILE_UNLINK, FILE_SIZE],
  [REC_FILE_TRUNCATE, FILE_SIZE],
  [REC_PTRACE, PTRACE_SIZE],
  [REC_MOUNT, MOUNT_SIZE],
  [REC_UNSHARE, NS_SIZE],
  [REC_SETNS, NS_SIZE],
  [REC_MODULE, MODULE_SIZE],
  [REC_MEMFD_EXEC, MEMFD_SIZE],
  [REC_SETUID, CRED_SIZE],
  [REC_CAPSET, CRED_SIZE],
  [REC_BPF, BPF_SIZE],
  [REC_CGROUP, CGROUP_SIZE],
  [REC_READY, READY_SIZE],
  [REC_COUNTERS, COUNTERS_SIZE],
]);

/** The kernel record kind of each record type. */
export const KIND_BY_RECORD: ReadonlyMap<number, KernelRecordKind> = new Map<number, KernelRecordKind>([
  [REC_EXEC, 'exec'],
  [REC_CONNECT, 'connect'],
  [REC_EXIT, 'exit'],
  [REC_ACCEPT, 'accept'],
  [REC_LISTEN, 'listen'],
  [REC_FILE_OPEN, 'file.open'],
  [REC_FILE_UNLINK, 'file.unlink'],
  [REC_FILE_TRUNCATE, 'file.truncate'],
  [REC_PTRACE, 'ptrace'],
  [REC_MOUNT, 'mount'],
  [REC_UNSHARE, 'unshare'],
  [REC_SETNS, 'setns'],
  [REC_MODULE, 'module'],
  [REC_MEMFD_EXEC, 'memfd_exec'],
  [REC_SETUID, 'setuid'],
  [REC_CAPSET, 'capset'],
  [REC_BPF, 'bpf'],
]);

type Decoder = (buf: Uint8Array, dv: DataView, h: RecordHeader, type: number) => DecodeResult;

function ok(record: DecodedRecord): DecodeResult {
  return { ok: true, record };
}

function decodeArgs(buf: Uint8Array, off: number, len: number): string[] {
  const argBytes = buf.subarray(off, off + len);
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
  return argv;
}

// Offsets below are those of palisade.h's _Static_asserts (the header is 80 bytes).
const decodeExec: Decoder = (buf, dv, h, type) => {
  const fnLen = dv.getUint16(96, true);
  const cwdLen = dv.getUint16(98, true);
  const argsLen = dv.getUint32(80, true);
  if (
    fnLen >= FILENAME_LEN ||
    cwdLen >= CWD_LEN ||
    argsLen > ARGS_LEN ||
    EXEC_FIXED + fnLen + cwdLen + argsLen !== buf.length
  )
    return {
      ok: false,
      error: `exec record of ${buf.length} bytes with strings of ${fnLen} + ${cwdLen} + ${argsLen} bytes`,
      type,
    };
  const cwdAt = EXEC_FIXED + fnLen;
  return ok({
    kind: 'exec',
    ...h,
    oldTid: dv.getUint32(84, true),
    tty: dv.getUint32(88, true),
    execFlags: dv.getUint32(92, true),
    filename: cstr(buf, EXEC_FIXED, fnLen),
    cwd: cstr(buf, cwdAt, cwdLen),
    argv: decodeArgs(buf, cwdAt + cwdLen, argsLen),
  });
};

const decodeNet: Decoder = (buf, dv, h, type) => {
  const fam = dv.getUint16(80, true);
  if (fam !== 2 && fam !== 10) return { ok: false, error: `socket record with address family ${fam}`, type };
  const v4 = fam === 2;
  return ok({
    kind: type === REC_ACCEPT ? 'accept' : type === REC_LISTEN ? 'listen' : 'connect',
    ...h,
    family: v4 ? 'ipv4' : 'ipv6',
    dstPort: dv.getUint16(82, true),
    srcPort: dv.getUint16(84, true),
    protocol: dv.getUint32(88, true),
    srcAddr: v4 ? ipv4(buf, 96) : ipv6(buf, 96),
    dstAddr: v4 ? ipv4(buf, 112) : ipv6(buf, 112),
  });
};

const decodeFile: Decoder = (buf, dv, h, type) =>
  ok({
    kind: type === REC_FILE_UNLINK ? 'file.unlink' : type === REC_FILE_TRUNCATE ? 'file.truncate' : 'file.open',
    ...h,
    openFlags: dv.getUint32(80, true),
    matched: dv.getUint32(84, true),
    pattern: dv.getUint32(88, true),
    path: cstr(buf, 96, PATH_LEN),
  });

const decodeCred: Decoder = (_buf, dv, h, type) =>
  ok({
    kind: type === REC_CAPSET ? 'capset' : 'setuid',
    ...h,
    which: dv.getUint32(80, true),
    ruid: dv.getUint32(88, true),
    euid: dv.getUint32(92, true),
    suid: dv.getUint32(96, true),
    fsuid: dv.getUint32(100, true),
    rgid: dv.getUint32(104, true),
    egid: dv.getUint32(108, true),
    sgid: dv.getUint32(112, true),
    fsgid: dv.getUint32(116, true),
    capEffective: dv.getBigUint64(120, true),
    capPermitted: dv.getBigUint64(128, true),
    capInheritable: dv.getBigUint64(136, true),
  });

const DECODERS: ReadonlyMap<number, Decoder> = new Map<number, Decoder>([
  [REC_EXEC, decodeExec],
  [REC_CONNECT, decodeNet],
  [REC_ACCEPT, decodeNet],
  [REC_LISTEN, decodeNet],
  [REC_EXIT, (_b, dv, h) => ok({ kind: 'exit', ...h, status: dv.getUint32(80, true) })],
  [REC_FILE_OPEN, decodeFile],
  [REC_FILE_UNLINK, decodeFile],
  [REC_FILE_TRUNCATE, decodeFile],
  [
    REC_PTRACE,
    (buf, dv, h) =>
      ok({
        kind: 'ptrace',
        ...h,
        request: Number(dv.getBigInt64(80, true)),
        targetVpid: dv.getUint32(88, true),
        targetTgid: dv.getUint32(92, true),
        targetComm: cstr(buf, 96, COMM_LEN),
      }),
  ],
  [
    REC_MOUNT,
    (buf, dv, h) =>
      ok({
        kind: 'mount',
        ...h,
        flags64: dv.getBigUint64(80, true),
        source: cstr(buf, 88, STR_LEN),
        target: cstr(buf, 344, STR_LEN),
        fsType: cstr(buf, 600, FSTYPE_LEN),
      }),
  ],
  [
    REC_UNSHARE,
    (_b, dv, h) => ok({ kind: 'unshare', ...h, nsFlags: dv.getUint32(80, true), fd: dv.getInt32(84, true) }),
  ],
  [REC_SETNS, (_b, dv, h) => ok({ kind: 'setns', ...h, nsFlags: dv.getUint32(80, true), fd: dv.getInt32(84, true) })],
  [
    REC_MODULE,
    (buf, _dv, h) => ok({ kind: 'module', ...h, name: cstr(buf, 80, MODNAME_LEN), path: cstr(buf, 144, STR_LEN) }),
  ],
  [REC_MEMFD_EXEC, (buf, _dv, h) => ok({ kind: 'memfd_exec', ...h, name: cstr(buf, 80, STR_LEN) })],
  [REC_SETUID, decodeCred],
  [REC_CAPSET, decodeCred],
  [REC_BPF, (_b, dv, h) => ok({ kind: 'bpf', ...h, cmd: dv.getUint32(80, true), progType: dv.getUint32(84, true) })],
]);

function decodeCounters(dv: DataView): CountersRecord {
  const kernel: bigint[][] = [];
  for (let t = 0; t < NTYPES; t++) {
    const row: bigint[] = [];
    for (let k = 0; k < CNT_NKINDS; k++) row.push(dv.getBigUint64(32 + 8 * (t * CNT_NKINDS + k), true));
    kernel.push(row);
  }
  return {
    kind: 'counters',
    realtimeNs: dv.getBigUint64(8, true),
    boottimeNs: dv.getBigUint64(16, true),
    recordsOut: dv.getBigUint64(24, true),
    kernel,
  };
}

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
  // Exec records are packed: any size from the fixed part up to the largest (checked against
  // the string lengths by decodeExec).
  const sizeOk =
    type === REC_EXEC
      ? size === buf.length && size >= EXEC_FIXED && size <= EXEC_SIZE
      : size === expected && buf.length === expected;
  if (!sizeOk) {
    return {
      ok: false,
      error: `record type ${type}: size field ${size}, ${buf.length} bytes, expected ${type === REC_EXEC ? `${EXEC_FIXED}..${EXEC_SIZE}` : expected}`,
      type,
    };
  }
  if (type === REC_READY) {
    return ok({
      kind: 'ready',
      loaderPid: dv.getUint32(8, true),
      typesMask: dv.getUint32(12, true),
      realtimeNs: dv.getBigUint64(16, true),
      boottimeNs: dv.getBigUint64(24, true),
      requestedMask: dv.getUint32(32, true),
      patterns: dv.getUint32(36, true),
    });
  }
  if (type === REC_COUNTERS) return ok(decodeCounters(dv));
  if (type === REC_CGROUP) return ok(decodeCgroup(buf, dv));
  const decode = DECODERS.get(type);
  // Every type in EXPECTED_SIZE other than ready/counters has a decoder.
  if (!decode) return { ok: false, error: `unknown record type ${type}`, type };
  return decode(buf, dv, header(buf, dv), type);
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
    const frames: Buffer[] = [];
    let buf = chunk;
    if (this.pending.length > 0) {
      // Complete the pending frame with just the bytes it lacks, rather than copying the
      // whole chunk behind it (the socket hands over 64 KiB at a time).
      const head = Buffer.concat([this.pending, chunk.subarray(0, Math.max(0, 4 - this.pending.length))]);
      if (head.length < 4) {
        this.pending = head;
        return frames;
      }
      const len = head.readUInt32LE(0);
      if (len > MAX_RECORD_SIZE) return this.fail(len, frames);
      const need = 4 + len - this.pending.length;
      if (chunk.length < need) {
        this.pending = Buffer.concat([this.pending, chunk]);
        return frames;
      }
      frames.push(Buffer.concat([this.pending, chunk.subarray(0, need)]).subarray(4));
      this.pending = Buffer.alloc(0);
      buf = chunk.subarray(need);
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (len > MAX_RECORD_SIZE) return this.fail(len, frames);
      if (buf.length - off - 4 < len) break;
      frames.push(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    // Copy the tail so the big chunk it came from can be collected.
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
    return frames;
  }

  private fail(len: number, frames: Buffer[]): Buffer[] {
    this.corrupt = `frame length ${len} exceeds ${MAX_RECORD_SIZE}`;
    this.pending = Buffer.alloc(0);
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
