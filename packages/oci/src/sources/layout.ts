/**
 * OCI image layouts (`oci:DIR[:tag]`): index.json → (nested indexes, platform choice) → manifest →
 * config and layers, every blob checked against its digest. The resolution works on a BlobStore so
 * the same code reads an OCI layout stored inside a tar archive (see archive.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve as resolvePath, join } from 'node:path';
import type { Readable } from 'node:stream';
import { PalisadeError } from '@palisade/core';
import { StreamLayerHandle } from '../layer/handle.js';
import type { ImageConfig, ImageSource, LayerHandle, Platform, ResolvedImage, SourceOptions } from '../types.js';

/** JSON documents (indexes, manifests, configs) larger than this are refused. */
export const MAX_JSON_BLOB = 8 * 1024 * 1024;

const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

/** Where the blobs of an OCI layout live: a directory, or byte ranges of a tar archive. */
export interface BlobStore {
  /** Names the store in messages, e.g. "OCI layout /tmp/img". */
  readonly name: string;
  /** The blob's size, or undefined when it is absent. */
  blobSize(digest: string): number | undefined;
  /** Read a whole (small) blob. */
  readBlob(digest: string): Promise<Buffer>;
  /** Stream a blob's raw bytes. */
  openBlob(digest: string): Readable;
  /** Read a file of the layout that is not a blob (index.json); undefined when absent. */
  readFile(path: string): Promise<Buffer | undefined>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size?: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseJson(data: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new PalisadeError('E_CORRUPT', `invalid JSON: ${(err as Error).message}`, { subject: what, cause: err });
  }
  if (!isRecord(value)) throw new PalisadeError('E_CORRUPT', 'expected a JSON object', { subject: what });
  return value;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/;

function toDescriptor(v: unknown, what: string): Descriptor {
  if (!isRecord(v) || typeof v.digest !== 'string' || !DIGEST_RE.test(v.digest)) {
    throw new PalisadeError('E_CORRUPT', 'a descriptor has no valid digest', { subject: what });
  }
  const d: Descriptor = { mediaType: typeof v.mediaType === 'string' ? v.mediaType : '', digest: v.digest };
  if (typeof v.size === 'number') d.size = v.size;
  const p = v.platform;
  if (isRecord(p) && typeof p.os === 'string' && typeof p.architecture === 'string') {
    d.platform = {
      os: p.os,
      architecture: p.architecture,
      ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
    };
  }
  if (isRecord(v.annotations)) {
    const a: Record<string, string> = {};
    for (const [k, val] of Object.entries(v.annotations)) if (typeof val === 'string') a[k] = val;
    d.annotations = a;
  }
  return d;
}

export function descriptorsOf(doc: Record<string, unknown>, key: string, what: string): Descriptor[] {
  const list = doc[key];
  if (!Array.isArray(list))
    throw new PalisadeError('E_CORRUPT', `"${key}" is missing or not a list`, { subject: what });
  return list.map((d) => toDescriptor(d, what));
}

export function digestOf(data: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Read a JSON blob and check its size and digest. */
export async function readVerifiedBlob(store: BlobStore, desc: Descriptor, what: string): Promise<Buffer> {
  const size = store.blobSize(desc.digest);
  if (size === undefined)
    throw new PalisadeError('E_NOT_FOUND', `blob ${desc.digest} (${what}) is missing`, { subject: store.name });
  if (size > MAX_JSON_BLOB)
    throw new PalisadeError('E_TOO_LARGE', `${what} ${desc.digest} is ${size} bytes`, { subject: store.name });
  const data = await store.readBlob(desc.digest);
  const got = digestOf(data, desc.digest.slice(0, desc.digest.indexOf(':')));
  if (got !== desc.digest) {
    throw new PalisadeError('E_DIGEST', `${what} digest mismatch: expected ${desc.digest}, got ${got}`, {
      subject: store.name,
    });
  }
  if (desc.size !== undefined && desc.size !== data.length) {
    throw new PalisadeError(
      'E_CORRUPT',
      `${what} ${desc.digest} is ${data.length} bytes, its descriptor says ${desc.size}`,
      { subject: store.name },
    );
  }
  return data;
}

// ---- platforms --------------------------------------------------------------------------------

const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** arm64 without a variant is v8; other architectures compare variants as written. */
function variantOf(p: Platform): string | undefined {
  if (p.variant !== undefined && p.variant !== '') return p.variant;
  return p.architecture === 'arm64' ? 'v8' : undefined;
}

export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  const wantVariant = variantOf(want);
  return wantVariant === undefined || wantVariant === variantOf(have);
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

function isIndex(mediaType: string, doc?: Record<string, unknown>): boolean {
  return (
    mediaType === MT_OCI_INDEX ||
    mediaType === MT_DOCKER_LIST ||
    (mediaType === '' && doc !== undefined && Array.isArray(doc.manifests))
  );
}

// ---- config -----------------------------------------------------------------------------------

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
}

/** The parts of an image config Palisade uses, read defensively (the raw JSON is kept). */
export function toImageConfig(raw: Record<string, unknown>): ImageConfig {
  const out: ImageConfig = { raw };
  if (typeof raw.architecture === 'string') out.architecture = raw.architecture;
  if (typeof raw.os === 'string') out.os = raw.os;
  if (typeof raw.variant === 'string') out.variant = raw.variant;
  if (typeof raw.created === 'string') out.created = raw.created;
  const c = raw.config;
  if (isRecord(c)) {
    const cfg: NonNullable<ImageConfig['config']> = {};
    const env = stringList(c.Env);
    if (env) cfg.Env = env;
    const ep = stringList(c.Entrypoint);
    if (ep) cfg.Entrypoint = ep;
    const cmd = stringList(c.Cmd);
    if (cmd) cfg.Cmd = cmd;
    if (typeof c.User === 'string') cfg.User = c.User;
    if (typeof c.WorkingDir === 'string') cfg.WorkingDir = c.WorkingDir;
    if (isRecord(c.Labels))
      cfg.Labels = Object.fromEntries(
        Object.entries(c.Labels).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
    if (isRecord(c.ExposedPorts)) cfg.ExposedPorts = c.ExposedPorts;
    out.config = cfg;
  }
  const rootfs = raw.rootfs;
  if (isRecord(rootfs)) {
    out.rootfs = {
      type: typeof rootfs.type === 'string' ? rootfs.type : 'layers',
      diff_ids: stringList(rootfs.diff_ids) ?? [],
    };
  }
  if (Array.isArray(raw.history)) {
    out.history = raw.history.filter(isRecord).map((h) => ({
      ...(typeof h.created === 'string' ? { created: h.created } : {}),
      ...(typeof h.created_by === 'string' ? { created_by: h.created_by } : {}),
      ...(typeof h.empty_layer === 'boolean' ? { empty_layer: h.empty_layer } : {}),
      ...(typeof h.comment === 'string' ? { comment: h.comment } : {}),
    }));
  }
  return out;
}

export function platformOfConfig(config: ImageConfig): Platform | undefined {
  if (config.os === undefined || config.architecture === undefined) return undefined;
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}

// ---- resolution -------------------------------------------------------------------------------

export interface OciSelection {
  /** A tag (ref.name annotation) to pick from index.json; undefined → the only image. */
  tag?: string;
  platform?: Platform;
  /** The reference as the user gave it (ResolvedImage.name). */
  name: string;
  kind: ResolvedImage['kind'];
}

function tagOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME];
}

/** Does the descriptor's tag match the one asked for ("1.0" matches "1.0" and "repo:1.0" forms). */
function tagMatches(d: Descriptor, tag: string): boolean {
  const names = [tagOf(d), d.annotations?.['io.containerd.image.name']].filter((n): n is string => n !== undefined);
  return names.some((n) => n === tag || n.endsWith(`:${tag}`) || n.endsWith(`/${tag}`));
}

function pickTop(index: Descriptor[], tag: string | undefined, store: BlobStore): Descriptor {
  const tags = index.map(tagOf).filter((t): t is string => t !== undefined);
  if (tag !== undefined) {
    const found = index.filter((d) => tagMatches(d, tag));
    if (found.length === 0) {
      throw new PalisadeError(
        'E_NOT_FOUND',
        `no image tagged "${tag}" (tags: ${tags.length ? tags.join(', ') : 'none'})`,
        { subject: store.name },
      );
    }
    return found[0] as Descriptor;
  }
  if (index.length === 1) return index[0] as Descriptor;
  if (index.length === 0) throw new PalisadeError('E_NOT_FOUND', 'index.json lists no images', { subject: store.name });
  throw new PalisadeError(
    'E_INPUT',
    `index.json lists ${index.length} images; name one by tag (tags: ${tags.length ? tags.join(', ') : 'none'})`,
    {
      subject: store.name,
    },
  );
}

/** Pick the manifest for a platform from an index's descriptors. */
export function pickPlatform(manifests: Descriptor[], want: Platform, what: string): Descriptor {
  const found = manifests.find((d) => d.platform !== undefined && platformMatches(want, d.platform));
  if (found) return found;
  const available = manifests
    .map((d) => d.platform)
    .filter((p): p is Platform => p !== undefined && p.os !== 'unknown')
    .map(formatPlatform);
  throw new PalisadeError(
    'E_PLATFORM',
    `no image for ${formatPlatform(want)} (available: ${available.length ? available.join(', ') : 'none'})`,
    {
      subject: what,
    },
  );
}

/** Resolve the image an OCI index.json points at, in any BlobStore. */
export async function resolveOciImage(store: BlobStore, sel: OciSelection): Promise<ResolvedImage> {
  const indexBytes = await store.readFile('index.json');
  if (indexBytes === undefined)
    throw new PalisadeError('E_NOT_FOUND', 'no index.json: not an OCI image layout', { subject: store.name });
  if (indexBytes.length > MAX_JSON_BLOB)
    throw new PalisadeError('E_TOO_LARGE', `index.json is ${indexBytes.length} bytes`, { subject: store.name });
  const top = pickTop(
    descriptorsOf(parseJson(indexBytes, `${store.name}: index.json`), 'manifests', `${store.name}: index.json`),
    sel.tag,
    store,
  );
  const want = sel.platform ?? DEFAULT_PLATFORM;
  let desc = top;
  for (let depth = 0; ; depth++) {
    if (depth > 4) throw new PalisadeError('E_CORRUPT', 'image indexes nested too deeply', { subject: store.name });
    const data = await readVerifiedBlob(store, desc, 'manifest');
    const doc = parseJson(data, `${store.name}: manifest ${desc.digest}`);
    const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : desc.mediaType;
    if (isIndex(mediaType, doc)) {
      desc = pickPlatform(
        descriptorsOf(doc, 'manifests', `${store.name}: index ${desc.digest}`),
        want,
        `${store.name}: index ${desc.digest}`,
      );
      continue;
    }
    const repoTags = [tagOf(top)].filter((t): t is string => t !== undefined);
    return manifestToImage(store, sel, desc, data, doc, mediaType, repoTags);
  }
}

async function manifestToImage(
  store: BlobStore,
  sel: OciSelection,
  desc: Descriptor,
  data: Buffer,
  doc: Record<string, unknown>,
  mediaType: string,
  repoTags: string[],
): Promise<ResolvedImage> {
  const what = `${store.name}: manifest ${desc.digest}`;
  if (doc.schemaVersion === 1)
    throw new PalisadeError('E_UNSUPPORTED', 'Docker schema 1 manifests are not supported', { subject: what });
  if (mediaType !== '' && mediaType !== MT_OCI_MANIFEST && mediaType !== MT_DOCKER_MANIFEST) {
    throw new PalisadeError('E_UNSUPPORTED', `unsupported manifest media type ${mediaType}`, { subject: what });
  }
  const configDesc = toDescriptor(doc.config, what);
  const config = toImageConfig(
    parseJson(await readVerifiedBlob(store, configDesc, 'config'), `${store.name}: config ${configDesc.digest}`),
  );
  const layerDescs = descriptorsOf(doc, 'layers', what);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers: LayerHandle[] = layerDescs.map((l, index) => {
    const size = store.blobSize(l.digest);
    if (size === undefined)
      throw new PalisadeError('E_NOT_FOUND', `layer blob ${l.digest} is missing`, { subject: store.name });
    const diffId = diffIds[index];
    return new StreamLayerHandle({
      digest: l.digest,
      ...(diffId !== undefined ? { diffId } : {}),
      mediaType: l.mediaType,
      size: l.size ?? size,
      index,
      subject: `layer ${l.digest} of ${sel.name}`,
      expectedDigest: l.digest,
      open: () => store.openBlob(l.digest),
    });
  });
  const platform = platformOfConfig(config);
  return {
    name: sel.name,
    kind: sel.kind,
    digest: desc.digest,
    manifestMediaType: mediaType === '' ? MT_OCI_MANIFEST : mediaType,
    manifest: data,
    configDigest: configDesc.digest,
    config,
    ...(platform ? { platform } : {}),
    layers,
    repoTags,
    repoDigests: [],
  };
}

/** An aborted resolve, as a PalisadeError (or the PalisadeError the caller aborted with). */
export function throwIfAborted(signal: AbortSignal | undefined, subject: string): void {
  if (signal?.aborted !== true) return;
  const reason: unknown = signal.reason;
  if (reason instanceof PalisadeError) throw reason;
  throw new PalisadeError('E_TIMEOUT', 'aborted', { subject, cause: reason });
}

// ---- the directory layout ---------------------------------------------------------------------

function blobPath(root: string, digest: string): string {
  const colon = digest.indexOf(':');
  const alg = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  // Digests were validated by toDescriptor, so these segments cannot climb out of blobs/.
  return join(root, 'blobs', alg, hex);
}

class DirectoryBlobStore implements BlobStore {
  constructor(
    readonly name: string,
    private readonly root: string,
  ) {}

  blobSize(digest: string): number | undefined {
    try {
      const st = statSync(blobPath(this.root, digest));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  async readBlob(digest: string): Promise<Buffer> {
    const fh = await open(blobPath(this.root, digest), 'r');
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  openBlob(digest: string): Readable {
    return createReadStream(blobPath(this.root, digest), { highWaterMark: 1024 * 1024 });
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    try {
      const fh = await open(join(this.root, path), 'r');
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw new PalisadeError('E_INPUT', `cannot read ${path}: ${(err as Error).message}`, {
        subject: this.name,
        cause: err,
      });
    }
  }
}

/** Split "DIR[:tag]": DIR itself may hold colons, so the longest existing directory wins. */
function splitLayoutRef(spec: string): { dir: string; tag?: string } {
  const isDir = (p: string): boolean => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (isDir(spec)) return { dir: spec };
  const colon = spec.lastIndexOf(':');
  if (colon > 0) {
    const dir = spec.slice(0, colon);
    const tag = spec.slice(colon + 1);
    if (isDir(dir)) return tag === '' ? { dir } : { dir, tag };
  }
  throw new PalisadeError('E_NOT_FOUND', 'OCI layout directory not found', { subject: spec });
}

export class OciLayoutSource implements ImageSource {
  readonly kind = 'oci-layout' as const;

  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}

  async resolve(signal?: AbortSignal): Promise<ResolvedImage> {
    throwIfAborted(signal, this.ref);
    const { dir, tag } = splitLayoutRef(this.ref.slice('oci:'.length));
    const store = new DirectoryBlobStore(`OCI layout ${dir}`, resolvePath(dir));
    return resolveOciImage(store, {
      name: this.ref,
      kind: 'oci-layout',
      ...(tag !== undefined ? { tag } : {}),
      ...(this.options.platform ? { platform: this.options.platform } : {}),
    });
  }

  async close(): Promise<void> {
    // Nothing is held open between walks: each layer walk opens and closes its own stream.
  }
}
