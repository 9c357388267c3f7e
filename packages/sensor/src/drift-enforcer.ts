/**
 * `--enforce-drift`: runs the enforcer helper (build/palisade-drift-enforcer, built by
 * scripts/build-sensor.sh from native/enforcer.c and bpf/enforce.bpf.c), keeps its kernel
 * allow rules in line with the drift policy, and turns its stop records into exec events
 * and `blocked: true` alerts.
 *
 * Rules reach the kernel as the policy's path rules (src/drift.ts `kernelRules`): rules of
 * entries without image/namespace selectors apply to every container (global mask); rules
 * of scoped entries apply to the cgroups of the containers they select, which user space
 * registers once it has resolved a container (`allowContainer`). Until then only the
 * global rules apply to a container: an image-scoped allowance starts with the first
 * resolution, which the collector triggers on the container's first exec.
 */
import { createRequire } from 'node:module';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import {
  PalisadeError,
  type ContainerContext,
  type KubernetesContext,
  type ProcessExecEvent,
  type RuntimeEvent,
} from '@palisade/core';
import { attributeCgroup, type CgroupAttribution } from './cgroup.js';
import {
  containerMask,
  driftAlert,
  emptyDriftPolicy,
  globalMask,
  judgeDrift,
  judgeablePath,
  kernelPathTruncated,
  kernelRules,
  type DriftAlert,
  type DriftPolicy,
  type KernelRule,
} from './drift.js';
import { enrichEvent, type CachedResolver } from './resolver.js';
import { BoundedQueue } from './queue.js';
import { FrameReader } from './records.js';

export const DEFAULT_ENFORCER_PATH = join(
  dirname(createRequire(import.meta.url).resolve('@palisade/sensor/package.json')),
  'build',
  'palisade-drift-enforcer',
);

// Mirrors bpf/enforce.h.
const ENF_VERSION = 1;
const ENF_REC_STOP = 1;
const ENF_REC_READY = 0x100;
const ENF_REC_COUNTERS = 0x101;
const ENF_REC_ACK = 0x102;
const STOP_SIZE = 840;
const READY_SIZE = 40;
const ACK_SIZE = 128;
const NCOUNTERS = 5;
const CGROUP_NAME_LEN = 128;
const F_PATH_TRUNCATED = 1;
const F_CGROUP_TRUNCATED = 2;
const F_CGROUP_V1 = 4;

export type EnforcementMechanism = 'lsm' | 'signal';
export type StopAction = 'denied' | 'killed' | 'audit';

/** One exec the kernel stopped (or, in audit mode, would have stopped). */
export interface DriftStop {
  time: string;
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  /** Path of the executable inside the container's root filesystem. */
  path: string;
  action: StopAction;
  /** kernfs id of the task's cgroup. */
  cgroupId: bigint;
  /** cgroup path components as far as recorded, root first (the leaf is last). */
  cgroupPath: string[];
  cgroupV1: boolean;
  pathTruncated: boolean;
  cgroupTruncated: boolean;
}

export interface EnforcerCounters {
  /** Execs by tasks in a container. */
  execs: number;
  /** ... of an overlay upper-layer file (drift). */
  drift: number;
  allowed: number;
  stopped: number;
  /** Stop reports lost because the ring buffer was full (the stops themselves happened). */
  lostReports: number;
}

export interface DriftEnforcerOptions {
  helperPath?: string;
  /** `auto` (default): LSM when the kernel accepts it, else SIGKILL at exec. */
  mechanism?: 'auto' | EnforcementMechanism;
  /** Report what would be stopped, stop nothing. */
  audit?: boolean;
  policy?: DriftPolicy;
  /** Stop records held for the consumer (default 4096; more are dropped and counted). */
  queueCapacity?: number;
  /** Budget for the helper to load and for each command's answer (default 10 000 ms). */
  timeoutMs?: number;
}

function cstr(buf: Buffer, off: number, cap: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + cap ? off + cap : end);
}

/** Decodes a stop record; undefined for a record that is not one (wrong size/version). */
export function decodeStop(buf: Buffer, bootToRealtimeNs: bigint): DriftStop | undefined {
  if (buf.length !== STOP_SIZE || buf.readUInt16LE(0) !== ENF_VERSION || buf.readUInt16LE(2) !== ENF_REC_STOP)
    return undefined;
  const actionCode = buf.readUInt32LE(40);
  const action: StopAction | undefined =
    actionCode === 1 ? 'denied' : actionCode === 2 ? 'killed' : actionCode === 3 ? 'audit' : undefined;
  if (!action) return undefined;
  const flags = buf.readUInt32LE(44);
  const depth = Math.min(buf.readUInt32LE(48), 4);
  const leafFirst: string[] = [];
  for (let i = 0; i < depth; i++) leafFirst.push(cstr(buf, 72 + i * CGROUP_NAME_LEN, CGROUP_NAME_LEN));
  const pathLen = Math.min(buf.readUInt32LE(52), 256);
  const ns = buf.readBigUInt64LE(8) + bootToRealtimeNs;
  return {
    time: new Date(Number(ns / 1_000_000n)).toISOString(),
    pid: buf.readUInt32LE(16),
    ppid: buf.readUInt32LE(20),
    uid: buf.readUInt32LE(24),
    comm: cstr(buf, 56, 16),
    path: cstr(buf, 584, pathLen),
    action,
    cgroupId: buf.readBigUInt64LE(32),
    cgroupPath: leafFirst.reverse(),
    cgroupV1: (flags & F_CGROUP_V1) !== 0,
    pathTruncated: (flags & F_PATH_TRUNCATED) !== 0,
    cgroupTruncated: (flags & F_CGROUP_TRUNCATED) !== 0,
  };
}

/**
 * The exec event of a stop, for the alert pipeline: container from the cgroup path
 * (unresolved until a resolver fills it), `exeUpperLayer: true`.
 */
export function stopEvent(stop: DriftStop, node: string, id: string): ProcessExecEvent {
  const name = stop.path.slice(stop.path.lastIndexOf('/') + 1);
  // A truncated path is only the leaf end: marked, so no reader (nor a path entry) takes it
  // for the whole path.
  const exe = stop.pathTruncated ? `…${stop.path}` : stop.path;
  const ev: ProcessExecEvent = {
    id,
    type: 'process.exec',
    time: stop.time,
    node,
    proc: Object.assign(
      {
        pid: stop.pid,
        ppid: stop.ppid,
        uid: stop.uid,
        gid: 0,
        exe,
        name,
        argv: [exe],
        cwd: '',
        tty: 0,
        ancestry: [],
      },
      { exeUpperLayer: true },
    ),
  };
  const a: CgroupAttribution | undefined = attributeCgroup(stop.cgroupPath);
  if (a) ev.container = { id: a.id, name: '', image: '', imageDigest: '', runtime: a.runtime, resolved: false };
  return ev;
}

/**
 * The cgroup directory of a container, from one of its processes: the innermost component
 * of /proc/<pid>/cgroup that names the container id (v2 unified path, or the v1 memory
 * hierarchy on v1 hosts, the one the kernel side walks). Returns its kernfs id (inode).
 */
export async function containerCgroupId(
  pid: number,
  containerId: string,
  cgroupRoot = '/sys/fs/cgroup',
): Promise<bigint> {
  const subject = `pid ${pid}`;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch (err) {
    throw new PalisadeError(
      'E_NOT_FOUND',
      `cannot read /proc/${pid}/cgroup: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        subject,
      },
    );
  }
  const lines = text.split('\n').map((l) => l.split(':'));
  const v2 = lines.find((f) => f[0] === '0' && f[1] === '')?.[2];
  const mem = lines.find((f) => f[1]?.split(',').includes('memory'))?.[2];
  const candidates: string[] = [];
  if (v2 && v2 !== '/') {
    candidates.push(join(cgroupRoot, v2), join(cgroupRoot, 'unified', v2));
  } else if (mem) candidates.push(join(cgroupRoot, 'memory', mem));
  for (const full of candidates) {
    const parts = full.split('/');
    let cut = -1;
    for (let i = parts.length - 1; i >= 0; i--) {
      if ((parts[i] ?? '').includes(containerId)) {
        cut = i;
        break;
      }
    }
    if (cut < 0) continue;
    try {
      return (await stat(parts.slice(0, cut + 1).join('/'), { bigint: true })).ino;
    } catch {
      // Not mounted there (hybrid layouts): try the next candidate.
    }
  }
  throw new PalisadeError('E_NOT_FOUND', `no cgroup of container ${containerId.slice(0, 12)} found for this process`, {
    subject,
  });
}

export class DriftEnforcerStartError extends Error {}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class DriftEnforcer {
  private readonly reader = new FrameReader();
  readonly queue: BoundedQueue<DriftStop>;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private counterWaiters: ((c: EnforcerCounters) => void)[] = [];
  private lastCounters: EnforcerCounters = { execs: 0, drift: 0, allowed: 0, stopped: 0, lostReports: 0 };
  private bootToRealtimeNs = 0n;
  private stderrTail = '';
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private onReady: ((r: { mechanism: EnforcementMechanism; lsmErrno: number; audit: boolean }) => void) | undefined;
  private policy: DriftPolicy = emptyDriftPolicy();
  private rules: KernelRule[] = [];
  /** Containers registered with their context, so a policy change recomputes their masks. */
  private readonly containers = new Map<
    bigint,
    { container: ContainerContext | undefined; k8s: KubernetesContext | undefined }
  >();
  mechanism: EnforcementMechanism = 'signal';
  /** errno text of the LSM refusal when the signal mechanism is used. */
  lsmError: string | undefined;
  audit = false;
  badRecords = 0;
  readonly node: string;
  private idSeq = 0;

  private constructor(
    private readonly child: ChildProcess,
    private readonly timeoutMs: number,
    queueCapacity: number,
  ) {
    this.queue = new BoundedQueue<DriftStop>(queueCapacity);
    this.node = hostname();
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => {
        this.exitCode = code;
        this.queue.close();
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new PalisadeError('E_INTERNAL', `drift enforcer exited (${code}): ${this.stderrTail.trim()}`));
        }
        this.pending.clear();
        for (const w of this.counterWaiters.splice(0)) w(this.lastCounters);
        resolve(code);
      });
    });
  }

  static async start(opts: DriftEnforcerOptions = {}): Promise<DriftEnforcer> {
    const helper = opts.helperPath ?? DEFAULT_ENFORCER_PATH;
    if (!existsSync(helper))
      throw new DriftEnforcerStartError(`drift enforcer not found at ${helper}; run scripts/build-sensor.sh`);
    const args = ['--mechanism', opts.mechanism ?? 'auto'];
    if (opts.audit) args.push('--audit');
    const child = spawn(helper, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const enf = new DriftEnforcer(child, opts.timeoutMs ?? 10_000, opts.queueCapacity ?? 4096);
    const ready = new Promise<void>((resolve, reject) => {
      enf.onReady = (r) => {
        enf.mechanism = r.mechanism;
        enf.audit = r.audit;
        if (r.lsmErrno !== 0) enf.lsmError = `errno ${r.lsmErrno}`;
        resolve();
      };
      child.once('error', (e) => reject(new DriftEnforcerStartError(`cannot run ${helper}: ${e.message}`)));
      void enf.exited.then((code) =>
        reject(
          new DriftEnforcerStartError(`drift enforcer exited (${code}) before it was ready: ${enf.stderrTail.trim()}`),
        ),
      );
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      enf.stderrTail = (enf.stderrTail + s).slice(-8192);
      const m = /BPF LSM program refused \(([^)]*)\)/.exec(enf.stderrTail);
      if (m?.[1]) enf.lsmError = m[1];
    });
    child.stdout?.on('data', (chunk: Buffer) => enf.onData(chunk));
    child.stdin?.on('error', () => undefined);
    const t = setTimeout(() => child.kill('SIGKILL'), enf.timeoutMs);
    try {
      await ready;
    } finally {
      clearTimeout(t);
    }
    if (opts.policy) await enf.applyPolicy(opts.policy);
    return enf;
  }

  /** Helper diagnostics (stderr tail): libbpf messages, the LSM refusal. */
  get diagnostics(): string {
    return this.stderrTail;
  }

  private onData(chunk: Buffer): void {
    for (const f of this.reader.push(chunk)) this.onFrame(f);
    if (this.reader.error !== undefined) this.child.kill('SIGTERM');
  }

  private onFrame(f: Buffer): void {
    if (f.length < 8 || f.readUInt16LE(0) !== ENF_VERSION || f.readUInt32LE(4) !== f.length) {
      this.badRecords++;
      return;
    }
    switch (f.readUInt16LE(2)) {
      case ENF_REC_READY: {
        if (f.length !== READY_SIZE) break;
        this.bootToRealtimeNs = f.readBigUInt64LE(24) - f.readBigUInt64LE(32);
        this.onReady?.({
          mechanism: f.readUInt32LE(12) === 1 ? 'lsm' : 'signal',
          audit: f.readUInt32LE(16) === 1,
          lsmErrno: f.readInt32LE(20),
        });
        this.onReady = undefined;
        return;
      }
      case ENF_REC_STOP: {
        const s = decodeStop(f, this.bootToRealtimeNs);
        if (!s) break;
        this.queue.push(s, 'stop');
        return;
      }
      case ENF_REC_COUNTERS: {
        if (f.length !== 8 + 8 * NCOUNTERS) break;
        const k = (i: number): number => Number(f.readBigUInt64LE(8 + 8 * i));
        this.lastCounters = { execs: k(0), drift: k(1), allowed: k(2), stopped: k(3), lostReports: k(4) };
        for (const w of this.counterWaiters.splice(0)) w(this.lastCounters);
        return;
      }
      case ENF_REC_ACK: {
        if (f.length !== ACK_SIZE) break;
        const seq = f.readUInt32LE(8);
        const status = f.readInt32LE(12);
        const p = this.pending.get(seq);
        if (!p) return;
        this.pending.delete(seq);
        clearTimeout(p.timer);
        if (status === 0) p.resolve();
        else p.reject(new PalisadeError('E_INPUT', cstr(f, 16, 112), { subject: 'drift enforcer' }));
        return;
      }
    }
    this.badRecords++;
  }

  /** Sends one command line and waits for its answer. */
  private command(line: string): Promise<void> {
    if (line.includes('\n') || Buffer.byteLength(line) > 1000)
      return Promise.reject(
        new PalisadeError('E_INPUT', 'command must be one line under 1000 bytes', { subject: 'drift enforcer' }),
      );
    if (this.exitCode !== undefined)
      return Promise.reject(
        new PalisadeError('E_INTERNAL', 'drift enforcer is not running', { subject: 'drift enforcer' }),
      );
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new PalisadeError('E_TIMEOUT', `no answer in ${this.timeoutMs} ms`, { subject: 'drift enforcer' }));
      }, this.timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.child.stdin?.write(`${line}\n`);
    });
  }

  /** Replaces the kernel rules with the policy's; registered containers get new masks. */
  async applyPolicy(policy: DriftPolicy): Promise<KernelRule[]> {
    const rules = kernelRules(policy); // throws on a policy the kernel cannot hold
    // Global mask off first so no half-written rule is ever consulted.
    await this.command('global 0');
    for (let i = 0; i < 64; i++) {
      const r = rules[i];
      await this.command(r ? `rule ${i} ${r.kind}${r.kind === 'any' ? '' : ` ${r.path}`}` : `rule ${i} unused`);
    }
    this.policy = policy;
    this.rules = rules;
    for (const [id, c] of this.containers) await this.writeMask(id, c.container, c.k8s);
    await this.command(`global ${globalMask(rules).toString(16)}`);
    return rules;
  }

  private async writeMask(
    cgroupId: bigint,
    container: ContainerContext | undefined,
    k8s: KubernetesContext | undefined,
  ): Promise<bigint> {
    const mask = containerMask(this.policy, this.rules, container, k8s);
    await this.command(`cgroup ${cgroupId.toString(10)} ${mask.toString(16)}`);
    return mask;
  }

  /**
   * Registers a resolved container by its cgroup's kernfs id, giving it the scoped rules of
   * the entries that select its image/namespace. Returns the mask written (0n = only global rules).
   */
  async allowContainer(
    cgroupId: bigint,
    container: ContainerContext | undefined,
    k8s?: KubernetesContext,
  ): Promise<bigint> {
    this.containers.set(cgroupId, { container, k8s });
    if (this.containers.size > 8192) {
      const oldest = this.containers.keys().next();
      if (!oldest.done) this.containers.delete(oldest.value);
    }
    return this.writeMask(cgroupId, container, k8s);
  }

  /** Same, from a process of the container (the cgroup is found through /proc/<pid>/cgroup). */
  async allowContainerOfPid(pid: number, container: ContainerContext, k8s?: KubernetesContext): Promise<bigint> {
    return this.allowContainer(await containerCgroupId(pid, container.id), container, k8s);
  }

  /** Forgets a container (it exited). */
  async forgetContainer(cgroupId: bigint): Promise<void> {
    this.containers.delete(cgroupId);
    await this.command(`cgroup ${cgroupId.toString(10)} 0`);
  }

  /** Kernel counters, fresh; stops caused before the call are queued when it resolves. */
  async counters(): Promise<EnforcerCounters> {
    if (this.exitCode !== undefined) return this.lastCounters;
    const p = new Promise<EnforcerCounters>((resolve) => this.counterWaiters.push(resolve));
    await this.command('counters');
    return p;
  }

  /** Stop records as they come; one consumer. Ends after stop() once drained. */
  stops(): AsyncIterable<DriftStop> {
    return this.queue;
  }

  /** The exec event of a stop record (ids unique per enforcer run). */
  eventOf(stop: DriftStop): ProcessExecEvent {
    return stopEvent(stop, this.node, `drift-${this.child.pid ?? 0}-${++this.idSeq}`);
  }

  /** Stops the helper; the kernel programs are detached with it (enforcement ends). */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      t.unref();
      await this.exited;
      clearTimeout(t);
    }
    return this.exitCode ?? null;
  }

  get helperPid(): number | undefined {
    return this.child.pid;
  }
}

/**
 * Would the kernel rules (of this mask) let `path` run? The kernel's own check, mirrored:
 * a path the kernel holds only in part (`pathTruncated`) is allowed by any-path rules only.
 */
export function kernelAllows(
  rules: readonly KernelRule[],
  mask: bigint,
  path: string,
  pathTruncated = kernelPathTruncated(path),
): boolean {
  return rules.some(
    (r) =>
      (mask & (1n << BigInt(r.index))) !== 0n &&
      (r.kind === 'any' || (!pathTruncated && (r.kind === 'exact' ? path === r.path : path.startsWith(r.path)))),
  );
}

export interface DriftMonitorOptions {
  policy: DriftPolicy;
  /** With enforcement: containers are registered, and drift the kernel stops is alerted from its stop record. */
  enforcer?: DriftEnforcer;
}

/**
 * The drift stage of a collector: feed it every (enriched) sensor event and every stop
 * record; it returns the alerts. Without an enforcer every drift the policy does not allow
 * alerts from its exec event. With one, such drift alerts from the kernel's stop record
 * (`blocked: true`, or false in audit mode) and not a second time from the exec event; only
 * drift the kernel let through (its prefix rules are broader than globs) alerts from the
 * exec event. Resolved containers are registered with the enforcer on their first event,
 * so image/namespace-scoped entries start to apply to them.
 */
export class DriftMonitor {
  private readonly registered = new Map<string, bigint>();
  private readonly rules: KernelRule[];
  readonly stats = { alerts: 0, registered: 0, registerErrors: 0, lastRegisterError: undefined as string | undefined };

  constructor(private readonly opts: DriftMonitorOptions) {
    // Only enforcement is bound by the kernel's rule table; alerting takes any policy.
    this.rules = opts.enforcer ? kernelRules(opts.policy) : [];
  }

  async onEvent(ev: RuntimeEvent): Promise<DriftAlert | undefined> {
    const enf = this.opts.enforcer;
    if (enf && ev.type === 'process.exec' && ev.container?.resolved) await this.register(enf, ev);
    const verdict = judgeDrift(ev, this.opts.policy);
    if (!verdict.drift || verdict.allowed) return undefined;
    if (enf && ev.type === 'process.exec' && ev.container) {
      const mask = globalMask(this.rules) | (this.registered.get(ev.container.id) ?? 0n);
      // The kernel walks the dentries, so `..` and `//` are resolved there. A path the sensor
      // may have cut short cannot be mirrored: alert from the event (a duplicate beats a miss).
      const path = judgeablePath(ev.proc.exe);
      if (path !== undefined && !kernelAllows(this.rules, mask, path)) return undefined; // its stop record alerts
    }
    this.stats.alerts++;
    return driftAlert(ev, verdict, false);
  }

  /** The alert of a stop record, its container resolved through `resolver` when given. */
  async onStop(stop: DriftStop, resolver?: CachedResolver): Promise<DriftAlert> {
    const enf = this.opts.enforcer;
    const raw = enf ? enf.eventOf(stop) : stopEvent(stop, hostname(), `drift-stop-${stop.pid}-${stop.time}`);
    const ev = resolver ? await enrichEvent(raw, resolver) : raw;
    this.stats.alerts++;
    return driftAlert(ev, judgeDrift(ev, this.opts.policy), stop.action !== 'audit');
  }

  private async register(enf: DriftEnforcer, ev: ProcessExecEvent): Promise<void> {
    const c = ev.container;
    if (!c || this.registered.has(c.id) || this.rules.every((r) => r.global)) return;
    try {
      const mask = await enf.allowContainerOfPid(ev.proc.pid, c, ev.k8s);
      this.registered.set(c.id, mask);
      this.stats.registered++;
      if (this.registered.size > 8192) {
        const oldest = this.registered.keys().next();
        if (!oldest.done) this.registered.delete(oldest.value);
      }
    } catch (err) {
      // The process may have exited already; the container's next exec tries again.
      this.stats.registerErrors++;
      this.stats.lastRegisterError = err instanceof Error ? err.message : String(err);
    }
  }
}
