/**
 * Turns decoded kernel records into the typed runtime events of @palisade/core, adding
 * what the kernel record does not carry: wall-clock time, container attribution from the
 * cgroup path, and process context (exe, argv, ancestry) remembered from exec events.
 */
import { posix } from 'node:path';
import type {
  ContainerContext,
  CredEvent,
  FileEvent,
  NetworkEvent,
  ProcessAncestor,
  ProcessContext,
  K8sAuditEvent,
  RuntimeEvent,
} from '@palisade/core';
import { RUNTIME_EVENT_TYPES } from '@palisade/core';
import { attributeCgroup, CgroupTable, type CgroupAttribution } from './cgroup.js';
import {
  CGROUP_KEY_V1,
  CRED_GID,
  CRED_UID,
  EXEC_OVERLAY,
  EXEC_UPPER,
  type ConnectRecord,
  type CredRecord,
  type ExecRecord,
  type FileRecord,
  type KernelRecord,
  type KernelRecordKind,
  type RecordHeader,
} from './records.js';
import {
  bpfCommandName,
  bpfProgTypeName,
  capabilityNames,
  mountFlagNames,
  namespaceFlagNames,
  openFlagNames,
  openIsWrite,
  ptraceRequestName,
} from './syscall-names.js';

/** Every runtime event the kernel side can produce: all but the audit-log ones. */
export type SensorEvent = Exclude<RuntimeEvent, K8sAuditEvent>;
/** The event types this sensor produces: every runtime event type but `k8s.audit`. */
export type SensorEventType = SensorEvent['type'];
export const SENSOR_EVENT_TYPES: readonly SensorEventType[] = RUNTIME_EVENT_TYPES.filter(
  (t): t is SensorEventType => t !== 'k8s.audit',
);

/** The event type each kernel record kind becomes. */
export const EVENT_TYPE_BY_KIND: Readonly<Record<KernelRecordKind, SensorEventType>> = {
  exec: 'process.exec',
  exit: 'process.exit',
  connect: 'network.connect',
  accept: 'network.accept',
  listen: 'network.listen',
  'file.open': 'file.open',
  'file.unlink': 'file.unlink',
  'file.truncate': 'file.truncate',
  ptrace: 'process.ptrace',
  mount: 'fs.mount',
  unshare: 'ns.unshare',
  setns: 'ns.setns',
  module: 'kernel.module_load',
  memfd_exec: 'process.memfd_exec',
  setuid: 'cred.setuid',
  capset: 'cred.capset',
  bpf: 'bpf.call',
};

/** Metadata a runtime can give for a container id (podman/docker inspect, CRI). */
export interface ContainerMetadata {
  name: string;
  image: string;
  imageDigest: string;
  privileged?: boolean;
}

/**
 * Synchronous lookup so events are never held back waiting for a runtime: a resolver
 * answers from its cache (and may start a lookup for next time); `undefined` yields an
 * event with `resolved: false` that still carries the container id.
 */
export type ContainerResolver = (attribution: CgroupAttribution) => ContainerMetadata | undefined;

interface ProcInfo {
  exe: string;
  argv: string[];
  ppid: number;
  cwd: string;
  tty: number;
  exeUpperLayer?: boolean;
}

/** Bounded so a busy host (or pid reuse without exit events) cannot grow it forever. */
const MAX_PROCS = 16384;
const MAX_ANCESTRY = 8;

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** The executable as a path: execve's argument, made absolute against the cwd. */
function exePath(r: ExecRecord): string {
  if (r.filename === '' || r.filename.startsWith('/') || r.cwd === '') return r.filename;
  return posix.resolve(r.cwd, r.filename);
}

function protocolName(p: number): 'tcp' | 'udp' {
  return p === 17 ? 'udp' : 'tcp';
}

/** "nf_tables.ko.zst" -> "nf_tables": the module name the kernel would show. */
function moduleName(name: string, path: string): string {
  if (name) return name;
  return basename(path).replace(/\.ko(\.(xz|gz|zst))?$/, '');
}

export interface ConverterOptions {
  node: string;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME in ns, from the loader's ready record. */
  bootToRealtimeNs: bigint;
  resolveContainer?: ContainerResolver;
  /**
   * Executable of a host pid the exec table does not know (started before the sensor),
   * for ptrace targets; the Sensor reads /proc/PID/exe. Absent: unknown stays ''.
   */
  readExe?: (pid: number) => string | undefined;
  /** Prefix of event ids, unique per sensor run. */
  idPrefix: string;
  /** Cgroup key → path, filled from the kernel's cgroup records (the pipeline's). */
  cgroups?: CgroupTable;
  /**
   * A record carried a cgroup key the table does not have (evicted, or a record lost
   * before it): told so the key can be forgotten in the kernel and sent again.
   */
  onCgroupMiss?: (key: bigint) => void;
  /**
   * The cgroup path of a live process (root first), for such a miss: the v2 path, or the
   * v1 memory cgroup's with `v1Memory`. The Sensor reads /proc/PID/cgroup.
   */
  readCgroup?: (pid: number, v1Memory: boolean) => string[] | undefined;
}

export class EventConverter {
  private readonly procs = new Map<number, ProcInfo>();
  private readonly cgroups: CgroupTable;
  private seq = 0;
  /** Records whose cgroup key was not in the table. */
  cgroupMisses = 0;

  constructor(private readonly opts: ConverterOptions) {
    this.cgroups = opts.cgroups ?? new CgroupTable();
    this.offsetMs = Number(opts.bootToRealtimeNs / 1_000_000n);
    this.offsetNs = Number(opts.bootToRealtimeNs % 1_000_000n);
  }

  private remember(pid: number, info: ProcInfo): void {
    this.procs.delete(pid); // re-insert so Map order approximates recency
    this.procs.set(pid, info);
    if (this.procs.size > MAX_PROCS) {
      const oldest = this.procs.keys().next();
      if (!oldest.done) this.procs.delete(oldest.value);
    }
  }

  private ancestry(ppid: number): ProcessAncestor[] {
    const out: ProcessAncestor[] = [];
    let pid = ppid;
    for (let i = 0; i < MAX_ANCESTRY && pid > 0; i++) {
      const p = this.procs.get(pid);
      if (!p) break; // started before the sensor: unknown from here up
      out.push({ pid, exe: p.exe, argv: p.argv });
      if (p.ppid === pid) break;
      pid = p.ppid;
    }
    return out;
  }

  private static info(r: ExecRecord): ProcInfo {
    const info: ProcInfo = { exe: exePath(r), argv: r.argv, ppid: r.ppid, cwd: r.cwd, tty: r.tty };
    if (r.execFlags & EXEC_OVERLAY) info.exeUpperLayer = (r.execFlags & EXEC_UPPER) !== 0;
    return info;
  }

  private proc(h: RecordHeader, known: ProcInfo | undefined = this.procs.get(h.tgid)): ProcessContext {
    const exe = known?.exe ?? '';
    const proc: ProcessContext = {
      pid: h.tgid,
      ppid: h.ppid,
      uid: h.uid,
      gid: h.gid,
      exe,
      // Without a remembered exec the kernel's comm (16 bytes) is the best name there is.
      name: exe ? basename(exe) : h.comm,
      argv: known?.argv ?? [],
      cwd: known?.cwd ?? '',
      tty: known?.tty ?? 0,
      ancestry: this.ancestry(h.ppid),
    };
    if (known?.exeUpperLayer !== undefined) proc.exeUpperLayer = known.exeUpperLayer;
    return proc;
  }

  /** Attribution of a key the table lacks: from /proc while the process lives. */
  private missingCgroup(h: RecordHeader): CgroupAttribution | undefined {
    this.cgroupMisses++;
    this.opts.onCgroupMiss?.(h.cgroupKey);
    const path = this.opts.readCgroup?.(h.tgid, (h.cgroupKey & CGROUP_KEY_V1) !== 0n);
    return path ? attributeCgroup(path) : undefined;
  }

  private container(h: RecordHeader): ContainerContext | undefined {
    const entry = this.cgroups.get(h.cgroupKey);
    const a = entry ? entry.attribution : this.missingCgroup(h);
    if (!a) return undefined;
    const meta = this.opts.resolveContainer?.(a);
    const c: ContainerContext = {
      id: a.id,
      name: meta?.name ?? '',
      image: meta?.image ?? '',
      imageDigest: meta?.imageDigest ?? '',
      runtime: a.runtime,
      resolved: meta !== undefined,
    };
    if (meta?.privileged !== undefined) c.privileged = meta.privileged;
    return c;
  }

  private lastMs = NaN;
  private lastTime = '';
  // Boot → wall clock offset as whole ms plus the ns remainder, so that each record needs only
  // number arithmetic (a BigInt division per event costs more than the rest of this).
  private readonly offsetMs: number;
  private readonly offsetNs: number;

  /** ISO time of a record; events come in bursts within one millisecond, so the last string is reused. */
  private time(h: RecordHeader): string {
    // Number(tsBootNs) is exact for 104 days of uptime and off by a few ns after that.
    const ms = this.offsetMs + Math.floor((Number(h.tsBootNs) + this.offsetNs) / 1e6);
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = new Date(ms).toISOString();
    }
    return this.lastTime;
  }

  convert(r: KernelRecord): SensorEvent {
    const base = {
      id: `${this.opts.idPrefix}-${++this.seq}`,
      time: this.time(r),
      node: this.opts.node,
    };
    const container = this.container(r);
    const ev = this.payload(r, base);
    if (container) ev.container = container;
    return ev;
  }

  private payload(r: KernelRecord, base: { id: string; time: string; node: string }): SensorEvent {
    switch (r.kind) {
      case 'exec': {
        const info = EventConverter.info(r);
        const proc = this.proc(r, info);
        this.remember(r.tgid, info);
        return { ...base, type: 'process.exec', proc };
      }
      case 'exit': {
        const proc = this.proc(r);
        this.procs.delete(r.tgid);
        return { ...base, type: 'process.exit', proc, exit: { code: (r.status >> 8) & 0xff, signal: r.status & 0x7f } };
      }
      case 'connect':
      case 'accept':
      case 'listen':
        return this.network(r, base);
      case 'file.open':
      case 'file.unlink':
      case 'file.truncate':
        return this.file(r, base);
      case 'ptrace': {
        const targetPid = r.targetTgid || r.targetVpid;
        const targetExe = this.procs.get(targetPid)?.exe ?? this.opts.readExe?.(targetPid) ?? '';
        return {
          ...base,
          type: 'process.ptrace',
          proc: this.proc(r),
          ptrace: { request: ptraceRequestName(r.request), targetPid, targetExe },
        };
      }
      case 'mount':
        return {
          ...base,
          type: 'fs.mount',
          proc: this.proc(r),
          mount: { source: r.source, target: r.target, fsType: r.fsType, flags: mountFlagNames(r.flags64) },
        };
      case 'unshare':
      case 'setns':
        return {
          ...base,
          type: r.kind === 'unshare' ? 'ns.unshare' : 'ns.setns',
          proc: this.proc(r),
          ns: { flags: namespaceFlagNames(r.nsFlags) },
        };
      case 'module':
        return {
          ...base,
          type: 'kernel.module_load',
          proc: this.proc(r),
          module: { name: moduleName(r.name, r.path), path: r.path },
        };
      case 'memfd_exec':
        return { ...base, type: 'process.memfd_exec', proc: this.proc(r), memfd: { name: r.name } };
      case 'setuid':
      case 'capset':
        return this.cred(r, base);
      case 'bpf':
        return {
          ...base,
          type: 'bpf.call',
          proc: this.proc(r),
          bpf: { cmd: bpfCommandName(r.cmd), progType: r.cmd === 5 ? bpfProgTypeName(r.progType) : '' },
        };
    }
  }

  private network(r: ConnectRecord, base: { id: string; time: string; node: string }): NetworkEvent {
    return {
      ...base,
      type: EVENT_TYPE_BY_KIND[r.kind] as NetworkEvent['type'],
      proc: this.proc(r),
      net: {
        family: r.family,
        protocol: protocolName(r.protocol),
        srcAddr: r.srcAddr,
        srcPort: r.srcPort,
        dstAddr: r.dstAddr,
        dstPort: r.dstPort,
      },
    };
  }

  private file(r: FileRecord, base: { id: string; time: string; node: string }): FileEvent {
    const open = r.kind === 'file.open';
    return {
      ...base,
      type: r.kind,
      proc: this.proc(r),
      // Deleting or truncating is a write; open flags say it for opens.
      file: {
        path: r.path,
        flags: open ? openFlagNames(r.openFlags) : [],
        write: open ? openIsWrite(r.openFlags) : true,
      },
    };
  }

  /** setuid: the new effective ids (proc.uid/gid are the ones before the call); capset: the new sets. */
  private cred(r: CredRecord, base: { id: string; time: string; node: string }): CredEvent {
    const cred: CredEvent['cred'] = {};
    if (r.kind === 'capset') {
      cred.effective = capabilityNames(r.capEffective);
      cred.permitted = capabilityNames(r.capPermitted);
    } else {
      if (r.which & CRED_UID) cred.uid = r.euid;
      if (r.which & CRED_GID) cred.gid = r.egid;
    }
    return { ...base, type: r.kind === 'capset' ? 'cred.capset' : 'cred.setuid', proc: this.proc(r), cred };
  }
}
