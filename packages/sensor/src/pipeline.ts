/**
 * Record handling without the process around it: decode a frame, count it, convert it,
 * queue it. The Sensor feeds it the loader's frames; tests feed it recorded ones.
 */
import {
  EVENT_TYPE_BY_KIND,
  EventConverter,
  SENSOR_EVENT_TYPES,
  type ConverterOptions,
  type SensorEvent,
  type SensorEventType,
} from './convert.js';
import { CgroupTable } from './cgroup.js';
import { BoundedQueue } from './queue.js';
import {
  CNT_DROPPED,
  CNT_FILTERED,
  CNT_SEEN,
  decodeRecord,
  KIND_BY_RECORD,
  REC_CGROUP,
  type CountersRecord,
  type ReadyRecord,
} from './records.js';

/** Record type (REC_*) -> event type, for the kernel's per-record-type counters. */
const TYPE_BY_RECORD: ReadonlyMap<number, SensorEventType> = new Map(
  [...KIND_BY_RECORD].map(([rec, kind]) => [rec, EVENT_TYPE_BY_KIND[kind]]),
);

/** Event types of a record-type bit mask (1 << REC_*), as in the ready record. */
export function eventTypesOfMask(mask: number): SensorEventType[] {
  const out: SensorEventType[] = [];
  for (const [rec, type] of TYPE_BY_RECORD) if (mask & (1 << rec)) out.push(type);
  return out;
}

export interface TypeCounters {
  /** The kernel hook ran for this type (after the self filter). */
  seen: number;
  filteredInKernel: number;
  /** Ring buffer full in the kernel. */
  droppedInKernel: number;
  /** Records decoded in user space. */
  decoded: number;
  /** Bounded queue full in user space. */
  droppedInUserspace: number;
}

export interface SensorCounters {
  byType: Record<SensorEventType, TypeCounters>;
  /** Frames read from the loader (all record kinds). */
  frames: number;
  /** Frames that did not decode (short, garbage, wrong version or size). */
  decodeErrors: number;
  /** Records the loader says it wrote, as of its last counters record. */
  loaderRecordsOut: number;
  /** Events waiting in the queue now. */
  queued: number;
  /** Cgroup paths: records received, keys known now, records whose key was unknown. */
  cgroups: CgroupCounters;
}

export interface CgroupCounters {
  /** Cgroup path records decoded (one per new key). */
  paths: number;
  /** Keys in the table now. */
  known: number;
  /** Event records whose key was not in the table (attributed from /proc if still alive). */
  misses: number;
  /** Path records the kernel emitted, and could not emit (ring buffer full), per its counters. */
  emittedInKernel: number;
  droppedInKernel: number;
}

function emptyCounters(): Record<SensorEventType, TypeCounters> {
  const out = {} as Record<SensorEventType, TypeCounters>;
  for (const t of SENSOR_EVENT_TYPES)
    out[t] = { seen: 0, filteredInKernel: 0, droppedInKernel: 0, decoded: 0, droppedInUserspace: 0 };
  return out;
}

export interface PipelineOptions extends Omit<
  ConverterOptions,
  'bootToRealtimeNs' | 'idPrefix' | 'cgroups' | 'onCgroupMiss'
> {
  queueCapacity?: number;
  /** Cgroup keys remembered (default 32768). */
  cgroupCapacity?: number;
  /**
   * A cgroup key user space no longer has (evicted, or unknown on arrival): the Sensor
   * tells the loader, which deletes it from the kernel's map so its path is sent again.
   */
  forgetCgroup?: (key: bigint) => void;
  onReady?: (r: ReadyRecord) => void;
  onCounters?: (c: SensorCounters) => void;
}

export class RecordPipeline {
  readonly queue: BoundedQueue<SensorEvent>;
  private converter: EventConverter | undefined;
  private readonly byType = emptyCounters();
  private frames = 0;
  private decodeErrors = 0;
  private loaderRecordsOut = 0;
  private readonly cgroups: CgroupTable;
  private cgroupPaths = 0;
  private cgroupKernel = { emitted: 0, dropped: 0 };
  lastDecodeError: string | undefined;

  constructor(private readonly opts: PipelineOptions) {
    this.queue = new BoundedQueue<SensorEvent>(opts.queueCapacity ?? 8192);
    this.cgroups = new CgroupTable(opts.cgroupCapacity ?? 32768, opts.forgetCgroup);
  }

  /** Handles one frame's payload. Never throws: bad records are counted and skipped. */
  onFrame(frame: Uint8Array): void {
    this.frames++;
    const res = decodeRecord(frame);
    if (!res.ok) {
      this.decodeErrors++;
      this.lastDecodeError = res.error;
      return;
    }
    const r = res.record;
    switch (r.kind) {
      case 'ready':
        // The ready record carries the clock pair that anchors kernel timestamps.
        // A new loader starts with an empty kernel-side key map: it sends every path again.
        this.cgroups.clear();
        this.converter = new EventConverter({
          node: this.opts.node,
          bootToRealtimeNs: r.realtimeNs - r.boottimeNs,
          idPrefix: `${r.realtimeNs.toString(36)}-${r.loaderPid}`,
          cgroups: this.cgroups,
          ...(this.opts.forgetCgroup ? { onCgroupMiss: this.opts.forgetCgroup } : {}),
          ...(this.opts.readCgroup ? { readCgroup: this.opts.readCgroup } : {}),
          ...(this.opts.resolveContainer ? { resolveContainer: this.opts.resolveContainer } : {}),
          ...(this.opts.readExe ? { readExe: this.opts.readExe } : {}),
        });
        this.opts.onReady?.(r);
        return;
      case 'counters':
        this.applyKernelCounters(r);
        return;
      case 'cgroup':
        this.cgroupPaths++;
        this.cgroups.set(r.key, r.path, r.flags);
        return;
      default: {
        if (!this.converter) {
          // A well-behaved loader sends ready first; count rather than guess the clock.
          this.decodeErrors++;
          this.lastDecodeError = 'event record before the ready record';
          return;
        }
        const type = EVENT_TYPE_BY_KIND[r.kind];
        const ev = this.converter.convert(r);
        this.byType[type].decoded++;
        if (!this.queue.push(ev, type)) this.byType[type].droppedInUserspace++;
      }
    }
  }

  private applyKernelCounters(r: CountersRecord): void {
    for (const [rec, type] of TYPE_BY_RECORD) {
      const row = r.kernel[rec];
      if (!row) continue;
      const c = this.byType[type];
      c.seen = Number(row[CNT_SEEN] ?? 0n);
      c.filteredInKernel = Number(row[CNT_FILTERED] ?? 0n);
      c.droppedInKernel = Number(row[CNT_DROPPED] ?? 0n);
    }
    const cg = r.kernel[REC_CGROUP];
    this.cgroupKernel = { emitted: Number(cg?.[CNT_SEEN] ?? 0n), dropped: Number(cg?.[CNT_DROPPED] ?? 0n) };
    this.loaderRecordsOut = Number(r.recordsOut);
    this.opts.onCounters?.(this.counters());
  }

  /** Kernel counters as of the last counters record, user-space ones live. */
  counters(): SensorCounters {
    const byType = emptyCounters();
    for (const t of SENSOR_EVENT_TYPES) byType[t] = { ...this.byType[t] };
    return {
      byType,
      frames: this.frames,
      decodeErrors: this.decodeErrors,
      loaderRecordsOut: this.loaderRecordsOut,
      queued: this.queue.size,
      cgroups: {
        paths: this.cgroupPaths,
        known: this.cgroups.size,
        misses: this.converter?.cgroupMisses ?? 0,
        emittedInKernel: this.cgroupKernel.emitted,
        droppedInKernel: this.cgroupKernel.dropped,
      },
    };
  }
}
