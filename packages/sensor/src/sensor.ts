/**
 * The user-space half of the sensor: spawns the native loader (build/palisade-sensor-loader,
 * built by scripts/build-sensor.sh), reads its framed binary records, decodes them and hands
 * typed events to the consumer through a bounded queue, keeping counters for every stage.
 */
import { createRequire } from 'node:module';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupPathFromProc } from './cgroup.js';
import { SENSOR_EVENT_TYPES, type ContainerResolver, type SensorEvent, type SensorEventType } from './convert.js';
import { DEFAULT_FILE_WATCHES, watchArgs, type FileWatch } from './watch.js';
import { eventTypesOfMask, RecordPipeline, type SensorCounters } from './pipeline.js';
import { FrameReader, type ReadyRecord } from './records.js';

/** Where the build script puts the loader, relative to dist/src/sensor.js. */
// Found through the package itself so it also works from the CLI's single-file bundle.
export const DEFAULT_LOADER_PATH = join(
  dirname(createRequire(import.meta.url).resolve('@palisade/sensor/package.json')),
  'build',
  'palisade-sensor-loader',
);

const LOADER_TYPE_NAME: Record<SensorEventType, string> = {
  'process.exec': 'exec',
  'process.exit': 'exit',
  'network.connect': 'connect',
  'network.accept': 'accept',
  'network.listen': 'listen',
  'file.open': 'open',
  'file.unlink': 'unlink',
  'file.truncate': 'truncate',
  'process.ptrace': 'ptrace',
  'fs.mount': 'mount',
  'ns.unshare': 'unshare',
  'ns.setns': 'setns',
  'kernel.module_load': 'module',
  'process.memfd_exec': 'memfd_exec',
  'cred.setuid': 'setuid',
  'cred.capset': 'capset',
  'bpf.call': 'bpf',
};

/** /proc/PID/exe of a host process; undefined when it is gone or not readable. */
function readProcExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The cgroup path of a live process, for a record whose cgroup key is unknown. */
function readProcCgroup(pid: number, v1Memory: boolean): string[] | undefined {
  try {
    return cgroupPathFromProc(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), v1Memory);
  } catch {
    return undefined;
  }
}

export interface SensorOptions {
  loaderPath?: string;
  /** Event types to load programs for (default: all the sensor supports). */
  types?: SensorEventType[];
  /** In-kernel filter: every task, only tasks in a non-initial pid namespace, or only host tasks. */
  mode?: 'all' | 'container' | 'host';
  /** In-kernel filter on the exec'd file name (up to 4 prefixes of < 64 bytes). */
  execPathPrefixes?: string[];
  /**
   * Paths whose opens, deletions and truncations are reported (file.* events), matched
   * in the kernel; default DEFAULT_FILE_WATCHES. Up to 64.
   */
  fileWatches?: readonly FileWatch[];
  /**
   * Ring buffer size in KiB, a power of two (default 16384: ≈ 60,000 exec + exit pairs or
   * 120,000 connect records, seconds of a busy node, so a consumer that pauses does not
   * lose events). Kernel memory, mapped twice by the loader (its RSS grows by up to twice
   * this as it reads).
   */
  ringBufferKb?: number;
  /**
   * How long the loader lets records gather after a wakeup before reading them (default 5
   * ms; 0 reads at once). Fewer, larger reads and pipe writes under load, for at most
   * this much added latency.
   */
  batchMs?: number;
  /** Period of the loader's counters records; 0 turns them off (default 1000). */
  countersIntervalMs?: number;
  /** Events held for the consumer before new ones are dropped (default 8192). */
  queueCapacity?: number;
  node?: string;
  resolveContainer?: ContainerResolver;
}

export class SensorStartError extends Error {}

export class Sensor {
  private readonly reader = new FrameReader();
  private readonly pipeline: RecordPipeline;
  private stderrTail = '';
  private counterWaiters: ((c: SensorCounters) => void)[] = [];
  private readonly exited: Promise<number | null>;
  private readonly ended: Promise<void>;
  private streamDone = false;
  private exitCode: number | null | undefined;
  private onReady: ((r: ReadyRecord) => void) | undefined;
  private ready: ReadyRecord | undefined;
  /** Set when the loader's stream could not be read any further. */
  streamError: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    opts: SensorOptions,
  ) {
    this.pipeline = new RecordPipeline({
      node: opts.node ?? hostname(),
      ...(opts.queueCapacity !== undefined ? { queueCapacity: opts.queueCapacity } : {}),
      ...(opts.resolveContainer ? { resolveContainer: opts.resolveContainer } : {}),
      readExe: readProcExe,
      readCgroup: readProcCgroup,
      // Only ever a few per run (see CgroupTable); a write on a closed pipe is ignored.
      forgetCgroup: (key) => {
        if (!this.streamDone) this.child.stdin?.write(`f${key.toString(16).padStart(16, '0')}\n`);
      },
      onReady: (r) => {
        this.ready = r;
        this.onReady?.(r);
        this.onReady = undefined;
      },
      onCounters: (c) => {
        for (const w of this.counterWaiters.splice(0)) w(c);
      },
    });
    // The loader closes stdout after its final counters record and only then detaches its
    // programs (seconds of RCU grace periods), so the stream ends well before the process.
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        if (this.streamDone) return;
        this.streamDone = true;
        this.pipeline.queue.close();
        const c = this.counters();
        for (const w of this.counterWaiters.splice(0)) w(c);
        resolve();
      };
      child.stdout?.once('end', done);
      child.once('close', done);
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  /** Spawns the loader and resolves once every program is attached (the ready record). */
  static async start(opts: SensorOptions = {}): Promise<Sensor> {
    const loader = opts.loaderPath ?? DEFAULT_LOADER_PATH;
    if (!existsSync(loader))
      throw new SensorStartError(`sensor loader not found at ${loader}; run scripts/build-sensor.sh`);
    const types = opts.types ?? SENSOR_EVENT_TYPES;
    if (types.length === 0) throw new SensorStartError('no event types selected');
    const args = ['--types', types.map((t) => LOADER_TYPE_NAME[t]).join(',')];
    if (opts.mode) args.push('--mode', opts.mode);
    for (const p of opts.execPathPrefixes ?? []) args.push('--prefix', p);
    if (types.some((t) => t.startsWith('file.'))) args.push(...watchArgs(opts.fileWatches ?? DEFAULT_FILE_WATCHES));
    if (opts.ringBufferKb !== undefined) args.push('--ringbuf-kb', String(opts.ringBufferKb));
    if (opts.batchMs !== undefined) args.push('--batch-ms', String(opts.batchMs));
    args.push('--counters-ms', String(opts.countersIntervalMs ?? 1000));

    const child = spawn(loader, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const sensor = new Sensor(child, opts);
    const ready = new Promise<ReadyRecord>((resolve, reject) => {
      sensor.onReady = resolve;
      child.once('error', (e) => reject(new SensorStartError(`cannot run ${loader}: ${e.message}`)));
      // After ready this rejection is ignored (a settled promise stays settled).
      void sensor.exited.then((code) => {
        reject(new SensorStartError(`sensor loader exited (${code}) before it was ready: ${sensor.stderrTail.trim()}`));
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      // Keep only the tail: enough for an error message, bounded however chatty libbpf is.
      sensor.stderrTail = (sensor.stderrTail + s).slice(-8192);
    });
    child.stdout?.on('data', (chunk: Buffer) => sensor.onData(chunk));
    // A closed pipe shows up as EPIPE on stdin; the close handler deals with the rest.
    child.stdin?.on('error', () => undefined);
    await ready;
    return sensor;
  }

  private onData(chunk: Buffer): void {
    const frames = this.reader.push(chunk);
    for (const f of frames) this.pipeline.onFrame(f);
    if (this.reader.error !== undefined && this.streamError === undefined) {
      this.streamError = this.reader.error;
      this.child.kill('SIGTERM'); // a length-prefixed stream cannot be resynchronised
    }
  }

  /** The events; one consumer. Iteration ends after stop() once the queue is drained. */
  events(): AsyncIterable<SensorEvent> {
    return this.pipeline.queue;
  }

  counters(): SensorCounters {
    return this.pipeline.counters();
  }

  get lastDecodeError(): string | undefined {
    return this.pipeline.lastDecodeError;
  }

  /** Text the loader wrote to stderr (last 8 KiB): libbpf warnings, errors. */
  get diagnostics(): string {
    return this.stderrTail;
  }

  /** Asks the loader for fresh kernel counters; they come after the events before them. */
  requestCounters(): Promise<SensorCounters> {
    if (this.streamDone) return Promise.resolve(this.counters());
    const p = new Promise<SensorCounters>((resolve) => this.counterWaiters.push(resolve));
    this.child.stdin?.write('c');
    return p;
  }

  /**
   * Stops the loader (SIGTERM: it drains the ring buffer and sends final counters) and
   * resolves with the final counters once its stream has ended; the loader process may
   * still be detaching its programs (see waitForExit). Queued events stay readable.
   */
  async stop(): Promise<SensorCounters> {
    if (!this.streamDone) {
      if (this.exitCode === undefined) {
        this.child.kill('SIGTERM');
        // Backstop for a wedged loader so it always ends; unref'd: never keeps node alive.
        const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
        t.unref();
        void this.exited.then(() => clearTimeout(t));
      }
      await this.ended;
    }
    return this.counters();
  }

  /** Resolves with the loader's exit code once its process has ended (after stop()). */
  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  /**
   * Event types asked for that this kernel has no hook for (e.g. kernel.module_load
   * without CONFIG_MODULES); the loader's stderr (`diagnostics`) says why.
   */
  get unavailableTypes(): SensorEventType[] {
    const r = this.ready;
    return r ? eventTypesOfMask(r.requestedMask & ~r.typesMask) : [];
  }

  /** Pid of the loader process. */
  get loaderPid(): number | undefined {
    return this.child.pid;
  }

  /** Exit code of the loader once it has exited (null when killed by a signal). */
  get loaderExitCode(): number | null | undefined {
    return this.exitCode;
  }
}
