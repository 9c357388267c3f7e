/**
 * Container attribution from the cgroup path the kernel recorded for a task. Runtimes
 * name the container's cgroup after its id, so the id can be read off the path without
 * asking the runtime; metadata (name, image) needs the runtime and may come later.
 */

export type ContainerRuntimeName = 'podman' | 'docker' | 'containerd' | 'cri-o' | 'kubernetes' | 'unknown';

export interface CgroupAttribution {
  /** Full 64-hex container id. */
  id: string;
  runtime: ContainerRuntimeName;
  /** Kubernetes pod UID when the path is under kubepods. */
  podUid?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
// systemd cgroup driver: <prefix>-<id>.scope (libpod-conmon-<id>.scope is conmon, not the
// container, and does not match because "conmon-…" is not hex).
const SCOPE = /^(docker|libpod|cri-containerd|crio)-([0-9a-f]{64})\.scope$/;
// podman with the cgroupfs driver: /libpod_parent/libpod-<id>
const LIBPOD_CGROUPFS = /^libpod-([0-9a-f]{64})$/;
// kubelet: cgroupfs "pod<uid>", systemd "kubepods-<qos>-pod<uid_with_underscores>.slice"
const POD_CGROUPFS = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const POD_SLICE = /^kubepods(?:-[a-z]+)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice$/;

const SCOPE_RUNTIME: Record<string, ContainerRuntimeName> = {
  docker: 'docker',
  libpod: 'podman',
  'cri-containerd': 'containerd',
  crio: 'cri-o',
};

function podUid(components: readonly string[]): string | undefined {
  for (const c of components) {
    const a = POD_CGROUPFS.exec(c);
    if (a?.[1]) return a[1];
    const b = POD_SLICE.exec(c);
    if (b?.[1]) return b[1].replaceAll('_', '-');
  }
  return undefined;
}

/**
 * Finds the container a cgroup path belongs to. `components` is root first (as
 * `/a/b/c`.split('/') without the empty first one). The component nearest the leaf wins,
 * so nested runtimes (podman in a Kubernetes pod) attribute to the innermost container,
 * and sub-cgroups a runtime makes inside the container (podman's `…scope/container`) do
 * not hide it. Returns undefined for host cgroups.
 */
export function attributeCgroup(components: readonly string[]): CgroupAttribution | undefined {
  for (let i = components.length - 1; i >= 0; i--) {
    const c = components[i] ?? '';
    const scope = SCOPE.exec(c);
    if (scope?.[1] && scope[2]) {
      const pod = podUid(components.slice(0, i));
      const runtime = SCOPE_RUNTIME[scope[1]] ?? 'unknown';
      return pod ? { id: scope[2], runtime, podUid: pod } : { id: scope[2], runtime };
    }
    const lp = LIBPOD_CGROUPFS.exec(c);
    if (lp?.[1]) return { id: lp[1], runtime: 'podman' };
    if (HEX64.test(c)) {
      // Bare id (cgroupfs driver): the parent tells which runtime made it.
      const parent = components[i - 1] ?? '';
      const pod = podUid(components.slice(0, i));
      if (pod) return { id: c, runtime: 'kubernetes', podUid: pod };
      if (parent === 'docker') return { id: c, runtime: 'docker' };
      return { id: c, runtime: 'unknown' };
    }
  }
  return undefined;
}

/** Convenience for a path string such as the third field of /proc/<pid>/cgroup. */
export function attributeCgroupPath(path: string): CgroupAttribution | undefined {
  return attributeCgroup(path.split('/').filter((s) => s.length > 0));
}

/** A cgroup path the kernel side sent, with its attribution worked out once. */
export interface CgroupEntry {
  /** Components root first. */
  path: readonly string[];
  flags: number;
  /** undefined: a host cgroup. */
  attribution: CgroupAttribution | undefined;
}

interface Slot {
  entry: CgroupEntry;
  /** Value of the table's use counter when the slot was last moved to the young end. */
  stamp: number;
}

/**
 * Cgroup key → path, filled by the kernel's cgroup records (one per key, before the first
 * record that carries it). Bounded: beyond `capacity` keys the least recently used one is
 * dropped and `onEvict` is told, so the sensor can ask the kernel side to send its path
 * again should the key come back. The kernel keeps fewer keys (8192) than the default
 * here, so an eviction is rare: only keys idle for longer than thousands of others.
 */
export class CgroupTable {
  private readonly slots = new Map<bigint, Slot>();
  private uses = 0;

  constructor(
    readonly capacity = 32768,
    private readonly onEvict?: (key: bigint) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`cgroup table capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Records the path of `key` (components root first); a repeated key is replaced. */
  set(key: bigint, path: readonly string[], flags: number): CgroupEntry {
    const entry: CgroupEntry = { path, flags, attribution: attributeCgroup(path) };
    this.slots.delete(key);
    this.slots.set(key, { entry, stamp: ++this.uses });
    if (this.slots.size > this.capacity) {
      const oldest = this.slots.keys().next();
      if (!oldest.done) {
        this.slots.delete(oldest.value);
        this.onEvict?.(oldest.value);
      }
    }
    return entry;
  }

  /** The path of `key`, or undefined when the table does not have it. */
  get(key: bigint): CgroupEntry | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    this.uses++;
    // Map order is the eviction order. Moving a slot to the young end on every use would
    // cost a delete and an insert per event; doing it once it has aged past half the
    // capacity keeps hot keys far from eviction at a fraction of the cost.
    if (this.uses - slot.stamp > this.capacity / 2) {
      this.slots.delete(key);
      slot.stamp = this.uses;
      this.slots.set(key, slot);
    }
    return slot.entry;
  }

  clear(): void {
    this.slots.clear();
  }
}

/**
 * The cgroup path of a live process from /proc/PID/cgroup text: the unified (v2) line, or
 * with `v1Memory` the memory controller's line. Components root first; undefined when the
 * line is absent. Used only when a record's cgroup key is unknown (should not happen).
 */
export function cgroupPathFromProc(text: string, v1Memory: boolean): string[] | undefined {
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const match = v1Memory
      ? controllers.split(',').includes('memory')
      : line.slice(0, first) === '0' && controllers === '';
    if (match)
      return line
        .slice(second + 1)
        .split('/')
        .filter((s) => s.length > 0);
  }
  return undefined;
}
