/**
 * Podman (libpod): the libpod REST API on podman's unix socket (`podman system service`,
 * /run/podman/podman.sock for root), and, when no service runs, `podman container inspect`
 * with a timeout. Both give the same document: Name, ImageName, ImageDigest (the manifest
 * digest the image was pulled or stored with), HostConfig.Privileged.
 */
import { execFile } from 'node:child_process';
import { PalisadeError } from '@palisade/core';
import type { ContainerContextResolver, ResolvedContainer } from '../resolver.js';
import { asObj, asStr, SocketAbsentError, unixGetJson } from './unix-http.js';

export const PODMAN_SOCKET = '/run/podman/podman.sock';
const ID_RE = /^[0-9a-f]{12,64}$/;

export interface PodmanResolverOptions {
  socketPath?: string;
  /** Fall back to `podman container inspect` when the socket is absent (default true). */
  useCli?: boolean;
  /** Path of the podman binary for the fallback (default `podman` on PATH). */
  podmanPath?: string;
  timeoutMs?: number;
}

/** Maps a libpod inspect document (API or CLI) to a resolved container. */
export function fromLibpodInspect(doc: unknown, source: string): ResolvedContainer | undefined {
  const d = asObj(doc);
  const id = asStr(d?.['Id']);
  if (!d || !ID_RE.test(id)) return undefined;
  const host = asObj(d['HostConfig']);
  const config = asObj(d['Config']);
  const r: ResolvedContainer = {
    id,
    name: asStr(d['Name']).replace(/^\//, ''),
    image: asStr(d['ImageName']) || asStr(config?.['Image']),
    imageDigest: asStr(d['ImageDigest']) || (asStr(d['Image']) ? `sha256:${asStr(d['Image'])}` : ''),
    runtime: 'podman',
    source,
  };
  if (typeof host?.['Privileged'] === 'boolean') r.privileged = host['Privileged'];
  return r;
}

export class PodmanResolver implements ContainerContextResolver {
  readonly id = 'podman';
  private readonly socketPath: string;
  private readonly useCli: boolean;
  private readonly podmanPath: string;
  private readonly timeoutMs: number;

  constructor(opts: PodmanResolverOptions = {}) {
    this.socketPath = opts.socketPath ?? PODMAN_SOCKET;
    this.useCli = opts.useCli ?? true;
    this.podmanPath = opts.podmanPath ?? 'podman';
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  async resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    if (!ID_RE.test(containerId)) return undefined;
    try {
      const res = await unixGetJson(this.socketPath, `/v4.0.0/libpod/containers/${containerId}/json`, {
        timeoutMs: this.timeoutMs,
      });
      if (res.status === 404) return undefined;
      if (res.status !== 200)
        throw new PalisadeError('E_NETWORK', `libpod API answered HTTP ${res.status}`, {
          subject: `${this.socketPath}: container ${containerId}`,
        });
      return fromLibpodInspect(res.body, 'podman');
    } catch (err) {
      if (!(err instanceof SocketAbsentError) || !this.useCli) {
        if (err instanceof SocketAbsentError) return undefined;
        throw err;
      }
    }
    return this.inspectCli(containerId);
  }

  private inspectCli(containerId: string): Promise<ResolvedContainer | undefined> {
    return new Promise((resolve, reject) => {
      execFile(
        this.podmanPath,
        ['container', 'inspect', '--format', 'json', containerId],
        { timeout: this.timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout) => {
          if (err) {
            const e = err as NodeJS.ErrnoException & { killed?: boolean };
            // Not installed, or "no such container": this source does not know it.
            if (e.code === 'ENOENT' || (typeof e.code === 'number' && !e.killed)) {
              resolve(undefined);
              return;
            }
            reject(
              new PalisadeError('E_TIMEOUT', `podman container inspect did not finish in ${this.timeoutMs} ms`, {
                subject: `container ${containerId}`,
              }),
            );
            return;
          }
          try {
            const arr = JSON.parse(stdout) as unknown;
            resolve(Array.isArray(arr) ? fromLibpodInspect(arr[0], 'podman-cli') : undefined);
          } catch {
            reject(
              new PalisadeError('E_CORRUPT', 'podman container inspect printed malformed JSON', {
                subject: `container ${containerId}`,
              }),
            );
          }
        },
      );
    });
  }
}
