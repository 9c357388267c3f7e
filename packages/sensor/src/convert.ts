/**
 * Turns decoded kernel records into the typed runtime events of @palisade/core, adding
 * what the kernel record does not carry: wall-clock time, container attribution from the
 * cgroup path, and process context (exe, argv, ancestry) remembered from exec events.
 */
import type {
  ContainerContext,
  NetworkEvent,
  ProcessAncestor,
  ProcessContext,
  ProcessExecEvent,
  ProcessExitEvent,
} from '@palisade/core';
import { attributeCgroup, type CgroupAttribution } from './cgroup.js';
import type { ExecRecord, KernelRecord, RecordHeader } from './records.js';

export type SensorEvent = ProcessExecEvent | NetworkEvent | ProcessExitEvent;
/** The event types this sensor produces (a subset of what the event interfaces allow). */
export type SensorEventType = 'process.exec' | 'network.connect' | 'process.exit';
export const SENSOR_EVENT_TYPES: readonly SensorEventType[] = ['process.exec', 'network.connect', 'process.exit'];

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
}

/** Bounded so a busy host (or pid reuse without exit events) cannot grow it forever. */
const MAX_PROCS = 16384;
const MAX_ANCESTRY = 8;

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

export interface ConverterOptions {
  node: string;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME in ns, from the loader's ready record. */
  bootToRealtimeNs: bigint;
  resolveContainer?: ContainerResolver;
  /** Prefix of event ids, unique per sensor run. */
  idPrefix: string;
}

export class EventConverter {
  private readonly procs = new Map<number, ProcInfo>();
  private seq = 0;

  constructor(private readonly opts: ConverterOptions) {}

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

  private proc(h: RecordHeader, exec?: ExecRecord): ProcessContext {
    const known = exec ? { exe: exec.filename, argv: exec.argv, ppid: h.ppid } : this.procs.get(h.tgid);
    const exe = known?.exe ?? '';
    return {
      pid: h.tgid,
      ppid: h.ppid,
      uid: h.uid,
      gid: h.gid,
      exe,
      // Without a remembered exec the kernel's comm (16 bytes) is the best name there is.
      name: exe ? basename(exe) : h.comm,
      argv: known?.argv ?? [],
      cwd: '', // not collected by the kernel side yet
      tty: 0, // not collected by the kernel side yet
      ancestry: this.ancestry(h.ppid),
    };
  }

  private container(h: RecordHeader): ContainerContext | undefined {
    const a = attributeCgroup(h.cgroupPath);
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

  private time(h: RecordHeader): string {
    const ns = h.tsBootNs + this.opts.bootToRealtimeNs;
    return new Date(Number(ns / 1_000_000n)).toISOString();
  }

  convert(r: KernelRecord): SensorEvent {
    const base = {
      id: `${this.opts.idPrefix}-${++this.seq}`,
      time: this.time(r),
      node: this.opts.node,
    };
    const container = this.container(r);
    const withCtx = <E extends SensorEvent>(e: E): E => {
      if (container) e.container = container;
      return e;
    };
    switch (r.kind) {
      case 'exec': {
        const proc = this.proc(r, r);
        this.remember(r.tgid, { exe: r.filename, argv: r.argv, ppid: r.ppid });
        return withCtx<ProcessExecEvent>({ ...base, type: 'process.exec', proc });
      }
      case 'connect':
        return withCtx<NetworkEvent>({
          ...base,
          type: 'network.connect',
          proc: this.proc(r),
          net: {
            family: r.family,
            protocol: 'tcp',
            srcAddr: r.srcAddr,
            srcPort: r.srcPort,
            dstAddr: r.dstAddr,
            dstPort: r.dstPort,
          },
        });
      case 'exit': {
        const proc = this.proc(r);
        this.procs.delete(r.tgid);
        return withCtx<ProcessExitEvent>({
          ...base,
          type: 'process.exit',
          proc,
          exit: { code: (r.status >> 8) & 0xff, signal: r.status & 0x7f },
        });
      }
    }
  }
}
