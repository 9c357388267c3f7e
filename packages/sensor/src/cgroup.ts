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
