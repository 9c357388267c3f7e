/**
 * containerd and CRI-O without their gRPC API: both keep each running container's OCI
 * runtime spec (config.json) on disk, and their CRI plugins write the Kubernetes context
 * into its annotations. Reading that file needs no client library and no socket:
 *
 *   containerd  /run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/config.json
 *               io.kubernetes.cri.{container-name,image-name,sandbox-name,sandbox-namespace}
 *   CRI-O       /run/containers/storage/overlay-containers/<id>/userdata/config.json
 *               io.kubernetes.cri-o.{ImageName,ImageRef}, io.kubernetes.{container,pod}.*
 *
 * The image digest is only known to CRI-O here (ImageRef); containerd's annotations carry
 * the image name, the digest comes from the Kubernetes resolver when it is configured.
 * Pods have no workload here: that needs the API server.
 */
import { constants } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PalisadeError, type KubernetesContext } from '@palisade/core';
import type { ContainerContextResolver, ResolvedContainer } from '../resolver.js';
import { asObj, digestOf } from './unix-http.js';

const ID_RE = /^[0-9a-f]{64}$/;
const NS_RE = /^[A-Za-z0-9._-]{1,76}$/;
const MAX_SPEC_BYTES = 4 * 1024 * 1024;

/**
 * Reads at most `max` bytes of an open file; a file that holds more (even one that grew
 * after fstat, or one whose size says nothing, like /dev/zero) is refused.
 */
async function readBounded(fh: FileHandle, max: number, path: string): Promise<Buffer> {
  const buf = Buffer.alloc(max + 1);
  let got = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
    if (bytesRead === 0) break;
    got += bytesRead;
    if (got > max) throw new PalisadeError('E_TOO_LARGE', `OCI spec larger than ${max} bytes`, { subject: path });
  }
  return buf.subarray(0, got);
}

/**
 * The spec as JSON, or undefined when there is none. Runtimes write config.json as a plain
 * file: a symbolic link (O_NOFOLLOW), a FIFO (O_NONBLOCK: opening it cannot hang), a device
 * or anything but a regular file is refused, and so is a file above MAX_SPEC_BYTES, before
 * it is read whole.
 */
async function readSpec(path: string): Promise<Record<string, unknown> | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP')
      throw new PalisadeError('E_CORRUPT', 'OCI spec is a symbolic link (refused)', { subject: path });
    throw new PalisadeError('E_NOT_FOUND', `cannot read OCI spec: ${code ?? 'error'}`, { subject: path });
  }
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new PalisadeError('E_CORRUPT', 'OCI spec is not a regular file', { subject: path });
    if (st.size > MAX_SPEC_BYTES)
      throw new PalisadeError('E_TOO_LARGE', `OCI spec larger than ${MAX_SPEC_BYTES} bytes`, { subject: path });
    text = (await readBounded(fh, MAX_SPEC_BYTES, path)).toString('utf8');
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalisadeError('E_NOT_FOUND', `cannot read OCI spec: ${code ?? 'error'}`, { subject: path });
  } finally {
    await fh.close();
  }
  try {
    return asObj(JSON.parse(text));
  } catch {
    throw new PalisadeError('E_CORRUPT', 'OCI spec is not JSON', { subject: path });
  }
}

function annotations(spec: Record<string, unknown>): Record<string, string> {
  const a = asObj(spec['annotations']) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) if (typeof v === 'string') out[k] = v;
  return out;
}

function k8sContext(pod: string, namespace: string): KubernetesContext | undefined {
  return pod !== '' && namespace !== '' ? { pod, namespace } : undefined;
}

/** Maps a containerd bundle's OCI spec to a resolved container (undefined for a pod sandbox). */
export function fromContainerdSpec(id: string, spec: Record<string, unknown>): ResolvedContainer | undefined {
  const a = annotations(spec);
  if (a['io.kubernetes.cri.container-type'] === 'sandbox') return undefined;
  const r: ResolvedContainer = {
    id,
    name: a['io.kubernetes.cri.container-name'] ?? '',
    image: a['io.kubernetes.cri.image-name'] ?? '',
    imageDigest: digestOf(a['io.kubernetes.cri.image-name'] ?? ''),
    runtime: 'containerd',
    source: 'containerd-state',
  };
  const k8s = k8sContext(a['io.kubernetes.cri.sandbox-name'] ?? '', a['io.kubernetes.cri.sandbox-namespace'] ?? '');
  if (k8s) r.k8s = k8s;
  return r;
}

/** Maps a CRI-O container's OCI spec to a resolved container (undefined for a pod sandbox). */
export function fromCrioSpec(id: string, spec: Record<string, unknown>): ResolvedContainer | undefined {
  const a = annotations(spec);
  if (a['io.kubernetes.cri-o.ContainerType'] === 'sandbox') return undefined;
  const r: ResolvedContainer = {
    id,
    name: a['io.kubernetes.container.name'] ?? '',
    image: a['io.kubernetes.cri-o.ImageName'] ?? a['io.kubernetes.cri-o.Image'] ?? '',
    imageDigest: digestOf(a['io.kubernetes.cri-o.ImageRef'] ?? ''),
    runtime: 'cri-o',
    source: 'crio-state',
  };
  const privileged = a['io.kubernetes.cri-o.PrivilegedRuntime'];
  if (privileged === 'true' || privileged === 'false') r.privileged = privileged === 'true';
  const k8s = k8sContext(a['io.kubernetes.pod.name'] ?? '', a['io.kubernetes.pod.namespace'] ?? '');
  if (k8s) r.k8s = k8s;
  return r;
}

export interface ContainerdStateOptions {
  /** Default /run/containerd/io.containerd.runtime.v2.task. */
  taskRoot?: string;
}

/** containerd's runtime v2 task bundles, in every containerd namespace (k8s.io, moby, default…). */
export class ContainerdStateResolver implements ContainerContextResolver {
  readonly id = 'containerd-state';
  private readonly root: string;

  constructor(opts: ContainerdStateOptions = {}) {
    this.root = opts.taskRoot ?? '/run/containerd/io.containerd.runtime.v2.task';
  }

  async resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    if (!ID_RE.test(containerId)) return undefined;
    let namespaces: string[];
    try {
      namespaces = (await readdir(this.root)).filter((n) => NS_RE.test(n)).sort();
    } catch {
      return undefined; // containerd is not on this node
    }
    for (const ns of namespaces.slice(0, 64)) {
      const spec = await readSpec(join(this.root, ns, containerId, 'config.json'));
      if (spec) return fromContainerdSpec(containerId, spec);
    }
    return undefined;
  }
}

export interface CrioStateOptions {
  /** CRI-O's run root (default /run/containers/storage) holding overlay-containers/<id>/userdata. */
  runRoot?: string;
}

export class CrioStateResolver implements ContainerContextResolver {
  readonly id = 'crio-state';
  private readonly runRoot: string;

  constructor(opts: CrioStateOptions = {}) {
    this.runRoot = opts.runRoot ?? '/run/containers/storage';
  }

  async resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    if (!ID_RE.test(containerId)) return undefined;
    const spec = await readSpec(join(this.runRoot, 'overlay-containers', containerId, 'userdata', 'config.json'));
    // podman keeps its specs in the same layout without CRI-O's annotations: not CRI-O's.
    if (!spec || annotations(spec)['io.kubernetes.cri-o.ContainerType'] === undefined) return undefined;
    return fromCrioSpec(containerId, spec);
  }
}
