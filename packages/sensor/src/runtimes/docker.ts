/**
 * Docker Engine API (/var/run/docker.sock): `GET /containers/{id}/json` for name, image
 * reference, image id and privileged, then `GET /images/{id}/json` for the repo digest
 * (RepoDigests), cached per image. Podman's Docker-compatible API answers the same calls.
 */
import { PalisadeError } from '@palisade/core';
import type { ContainerContextResolver, ResolvedContainer } from '../resolver.js';
import { asObj, asStr, digestOf, SocketAbsentError, unixGetJson } from './unix-http.js';

export const DOCKER_SOCKET = '/var/run/docker.sock';
const ID_RE = /^[0-9a-f]{12,64}$/;
// The oldest API version every supported engine answers (Docker 20.10+, podman's compat API).
const API = '/v1.41';

export interface DockerResolverOptions {
  socketPath?: string;
  timeoutMs?: number;
  /** Runtime name put on answers (default `docker`). */
  runtime?: string;
}

/** The repo digest of `imageRef` among an image's RepoDigests (`repo@sha256:…`). */
export function pickRepoDigest(imageRef: string, repoDigests: readonly string[]): string {
  const repo = imageRef.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
  const same = repoDigests.find((d) => d.startsWith(`${repo}@`));
  return digestOf(same ?? repoDigests[0] ?? '');
}

export class DockerResolver implements ContainerContextResolver {
  readonly id: string;
  private readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly runtime: string;
  private readonly imageDigests = new Map<string, string>();

  constructor(opts: DockerResolverOptions = {}) {
    this.socketPath = opts.socketPath ?? DOCKER_SOCKET;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.runtime = opts.runtime ?? 'docker';
    this.id = this.runtime === 'docker' ? 'docker' : `docker-api:${this.runtime}`;
  }

  private async get(path: string, what: string): Promise<{ status: number; body: unknown }> {
    const res = await unixGetJson(this.socketPath, API + path, { timeoutMs: this.timeoutMs });
    if (res.status !== 200 && res.status !== 404)
      throw new PalisadeError('E_NETWORK', `Docker API answered HTTP ${res.status}`, {
        subject: `${this.socketPath}: ${what}`,
      });
    return res;
  }

  async resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    if (!ID_RE.test(containerId)) return undefined;
    let res;
    try {
      res = await this.get(`/containers/${containerId}/json`, `container ${containerId}`);
    } catch (err) {
      if (err instanceof SocketAbsentError) return undefined;
      throw err;
    }
    if (res.status === 404) return undefined;
    const d = asObj(res.body);
    const id = asStr(d?.['Id']);
    if (!d || !ID_RE.test(id)) return undefined;
    const config = asObj(d['Config']);
    const host = asObj(d['HostConfig']);
    const image = asStr(config?.['Image']);
    const imageId = asStr(d['Image']);
    const r: ResolvedContainer = {
      id,
      name: asStr(d['Name']).replace(/^\//, ''),
      image,
      imageDigest: await this.imageDigest(image, imageId),
      runtime: this.runtime,
      source: this.id,
    };
    if (typeof host?.['Privileged'] === 'boolean') r.privileged = host['Privileged'];
    return r;
  }

  /** Repo digest of the image, else its id (`sha256:…` of the config): never empty when known. */
  private async imageDigest(image: string, imageId: string): Promise<string> {
    const key = `${image}\u0000${imageId}`;
    const known = this.imageDigests.get(key);
    if (known !== undefined) return known;
    let digest = digestOf(imageId);
    if (imageId !== '') {
      try {
        const res = await this.get(`/images/${encodeURIComponent(imageId)}/json`, `image ${imageId}`);
        const repoDigests = asObj(res.body)?.['RepoDigests'];
        if (Array.isArray(repoDigests)) {
          const d = pickRepoDigest(
            image,
            repoDigests.filter((x): x is string => typeof x === 'string'),
          );
          if (d !== '') digest = d;
        }
      } catch (err) {
        if (!(err instanceof PalisadeError)) throw err;
        // The container is known even if its image is not (removed since): keep the id.
      }
    }
    if (this.imageDigests.size > 1024) this.imageDigests.clear();
    this.imageDigests.set(key, digest);
    return digest;
  }
}
