/**
 * `docker save` / `podman save` / skopeo archives (`archive:FILE[:selector]`, also `docker-archive:`
 * and `oci-archive:`). The outer tar is read in place: one pass over its headers (seeking past
 * contents) records where each member lies, then layers stream from their byte ranges. Two formats
 * live inside: docker's (manifest.json → Config, RepoTags, Layers) and an OCI layout (index.json),
 * which docker ≥ 25 writes alongside manifest.json. A gzip- or zstd-compressed archive is first
 * decompressed to a temp file (removed by close()).
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PalisadeError } from '@palisade/core';
import { detectCompression, gunzipStream, gzipError, zstdChunks } from '../layer/decompress.js';
import {
  BAD_NUMBER,
  BLOCK_BAD_CHECKSUM,
  BLOCK_ZERO,
  readHeaderName,
  readNumber,
  readString,
  verifyChecksum,
} from '../layer/fields.js';
import { StreamLayerHandle } from '../layer/handle.js';
import { dirnameOf, normalizeEntryPath } from '../layer/paths.js';
import { parsePax } from '../layer/pax.js';
import type { ImageSource, LayerHandle, ResolvedImage, SourceOptions } from '../types.js';
import {
  digestOf,
  MAX_JSON_BLOB,
  parseJson,
  platformOfConfig,
  resolveOciImage,
  throwIfAborted,
  toImageConfig,
  type BlobStore,
} from './layout.js';

interface Member {
  offset: number;
  size: number;
}

/** Where each regular file of a tar lies in it; symlinks and hardlinks resolved to their targets. */
class TarIndex {
  readonly files = new Map<string, Member>();
  readonly links = new Map<string, string>();

  lookup(path: string): Member | undefined {
    let p: string | null = normalizeEntryPath(path);
    for (let hops = 0; p !== null && hops < 16; hops++) {
      const member = this.files.get(p);
      if (member) return member;
      const next = this.links.get(p);
      if (next === undefined) return undefined;
      p = next;
    }
    return undefined;
  }
}

const BLOCK = 512;

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** One pass over the headers of a tar file, seeking past contents. */
async function indexTar(fh: FileHandle, fileSize: number, subject: string): Promise<TarIndex> {
  const index = new TarIndex();
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  const corrupt = (why: string): never => {
    throw new PalisadeError('E_CORRUPT', why, { subject });
  };
  for (;;) {
    const header = await readExactly(fh, BLOCK, pos);
    if (header.length === 0) break; // no end marker: docker's Go writer always adds one, be lenient
    if (header.length < BLOCK) corrupt(`truncated: the archive ends inside the header at offset ${pos}`);
    const check = verifyChecksum(header, 0);
    if (check === BLOCK_ZERO) break;
    if (check === BLOCK_BAD_CHECKSUM) corrupt(pos === 0 ? 'not a tar archive' : `bad header checksum at offset ${pos}`);
    const size = readNumber(header, 124, 12);
    if (size === BAD_NUMBER) corrupt(`invalid size field in the header at offset ${pos}`);
    const dataAt = pos + BLOCK;
    if (dataAt + size > fileSize) corrupt(`truncated: the entry at offset ${pos} runs past the end of the archive`);
    const flag = header[156] as number;
    if (flag === 0x4c || flag === 0x4b || flag === 0x78) {
      if (size > MAX_JSON_BLOB) corrupt(`extended header at offset ${pos} is ${size} bytes`);
      const data = await readExactly(fh, size, dataAt);
      if (flag === 0x4c) longName = readString(data, 0, data.length);
      else if (flag === 0x4b) longLink = readString(data, 0, data.length);
      else {
        const pax = parsePax(data);
        if (typeof pax === 'string') corrupt(`${pax} in the PAX header at offset ${pos}`);
        else {
          longName = pax.values.get('path') ?? longName;
          longLink = pax.values.get('linkpath') ?? longLink;
        }
      }
    } else {
      const name = normalizeEntryPath(longName ?? readHeaderName(header, 0));
      const link = longLink ?? readString(header, 157, 100);
      longName = undefined;
      longLink = undefined;
      // Names that climb out of the archive can never be looked up, so they are just not indexed.
      if (name !== null && name !== '') recordMember(index, name, flag, link, dataAt, size);
    }
    pos = dataAt + size + ((BLOCK - (size % BLOCK)) % BLOCK);
  }
  return index;
}

function recordMember(index: TarIndex, name: string, flag: number, link: string, offset: number, size: number): void {
  if (flag === 0x30 || flag === 0 || flag === 0x37) index.files.set(name, { offset, size });
  else if (flag === 0x31) {
    const target = normalizeEntryPath(link);
    if (target !== null) index.links.set(name, target);
  } else if (flag === 0x32) {
    // Old docker save links duplicate layers: "<id>/layer.tar -> ../<other>/layer.tar".
    const dir = dirnameOf(name);
    const target = normalizeEntryPath(link.startsWith('/') ? link.slice(1) : dir === '' ? link : `${dir}/${link}`);
    if (target !== null) index.links.set(name, target);
  }
}

/** Blobs of an OCI layout stored inside the tar. */
class ArchiveBlobStore implements BlobStore {
  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly fh: FileHandle,
    private readonly index: TarIndex,
  ) {}

  private member(path: string): Member | undefined {
    return this.index.lookup(path);
  }

  private static blobName(digest: string): string {
    return `blobs/${digest.replace(':', '/')}`;
  }

  blobSize(digest: string): number | undefined {
    return this.member(ArchiveBlobStore.blobName(digest))?.size;
  }

  async readBlob(digest: string): Promise<Buffer> {
    const m = this.member(ArchiveBlobStore.blobName(digest));
    if (!m) throw new PalisadeError('E_NOT_FOUND', `blob ${digest} is missing`, { subject: this.name });
    return readExactly(this.fh, m.size, m.offset);
  }

  openBlob(digest: string): Readable {
    const m = this.member(ArchiveBlobStore.blobName(digest));
    if (!m) throw new PalisadeError('E_NOT_FOUND', `blob ${digest} is missing`, { subject: this.name });
    return openRange(this.file, m);
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    const m = this.member(path);
    return m ? readExactly(this.fh, m.size, m.offset) : undefined;
  }
}

function openRange(file: string, m: Member): Readable {
  if (m.size === 0) return Readable.from([]);
  return createReadStream(file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
}

/** Split "FILE[:selector]": FILE may hold colons, so the longest existing file wins. */
function splitArchiveRef(ref: string): { file: string; selector?: string } {
  const spec = ref.slice(ref.indexOf(':') + 1);
  const isFile = (p: string): boolean => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (isFile(spec)) return { file: spec };
  for (let i = spec.indexOf(':'); i > 0; i = spec.indexOf(':', i + 1)) {
    const file = spec.slice(0, i);
    if (isFile(file)) {
      const selector = spec.slice(i + 1);
      return selector === '' ? { file } : { file, selector };
    }
  }
  throw new PalisadeError('E_NOT_FOUND', 'archive file not found', { subject: spec });
}

/** "alpine:3" and "docker.io/library/alpine:3" name the same image. */
function canonicalTag(tag: string): string {
  let t = tag;
  if (!/:[^/]+$/.test(t)) t += ':latest';
  t = t.replace(/^(docker\.io|index\.docker\.io)\//, '');
  if (!t.includes('/')) t = `library/${t}`;
  return t;
}

interface DockerImageEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseDockerManifest(data: Buffer, subject: string): DockerImageEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new PalisadeError('E_CORRUPT', `manifest.json is not valid JSON: ${(err as Error).message}`, {
      subject,
      cause: err,
    });
  }
  if (!Array.isArray(value)) throw new PalisadeError('E_CORRUPT', 'manifest.json is not a list of images', { subject });
  return value.map((v: unknown, i) => {
    const e = v as Partial<Record<keyof DockerImageEntry, unknown>> | null;
    const layers = e?.Layers;
    if (!e || typeof e.Config !== 'string' || !Array.isArray(layers) || !layers.every((l) => typeof l === 'string')) {
      throw new PalisadeError('E_CORRUPT', `manifest.json entry ${i} lacks Config or Layers`, { subject });
    }
    const tags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: e.Config, RepoTags: tags, Layers: layers };
  });
}

function pickDockerImage(images: DockerImageEntry[], selector: string | undefined, subject: string): DockerImageEntry {
  const all = images.flatMap((i) => i.RepoTags);
  if (selector !== undefined) {
    // skopeo's "@N" picks by position.
    const at = /^@(\d+)$/.exec(selector);
    const found = at
      ? images[Number(at[1])]
      : images.find((i) => i.RepoTags.some((t) => canonicalTag(t) === canonicalTag(selector)));
    if (!found)
      throw new PalisadeError(
        'E_NOT_FOUND',
        `no image "${selector}" in the archive (tags: ${all.length ? all.join(', ') : 'none'})`,
        { subject },
      );
    return found;
  }
  if (images.length === 1) return images[0] as DockerImageEntry;
  if (images.length === 0) throw new PalisadeError('E_NOT_FOUND', 'manifest.json lists no images', { subject });
  throw new PalisadeError('E_INPUT', `the archive holds ${images.length} images; name one (tags: ${all.join(', ')})`, {
    subject,
  });
}

/** The digest a member's name states: blobs/sha256/<hex>, <hex>.tar, <hex>.json, <hex>/layer.tar is NOT one (v1 ids). */
function digestInName(path: string): string | undefined {
  const blob = /(?:^|\/)blobs\/(sha256|sha512)\/([0-9a-f]{64,128})$/.exec(path);
  if (blob) return `${blob[1]}:${blob[2]}`;
  const flat = /^(?:sha256:)?([0-9a-f]{64})(?:\.tar|\.json|\.tar\.gz)?$/.exec(path);
  return flat ? `sha256:${flat[1]}` : undefined;
}

const MT_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

export class ArchiveSource implements ImageSource {
  readonly kind = 'archive' as const;
  private fh: FileHandle | undefined;
  private tempDir: string | undefined;

  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}

  async resolve(signal?: AbortSignal): Promise<ResolvedImage> {
    throwIfAborted(signal, this.ref);
    const { file: given, selector } = splitArchiveRef(this.ref);
    const subject = `archive ${given}`;
    const file = await this.plainTar(given, subject, signal);
    await this.fh?.close();
    this.fh = await open(file, 'r');
    const index = await indexTar(this.fh, (await this.fh.stat()).size, subject);
    throwIfAborted(signal, this.ref);
    const manifest = index.lookup('manifest.json');
    if (manifest) return this.resolveDocker(file, index, manifest, selector, subject);
    if (index.lookup('index.json')) {
      return resolveOciImage(new ArchiveBlobStore(subject, file, this.fh, index), {
        name: this.ref,
        kind: 'archive',
        ...(selector !== undefined ? { tag: selector } : {}),
        ...(this.options.platform ? { platform: this.options.platform } : {}),
      });
    }
    throw new PalisadeError(
      'E_UNSUPPORTED',
      'neither manifest.json nor index.json: not a docker or OCI image archive',
      { subject },
    );
  }

  /** The archive as a plain tar file: itself, or decompressed into a temp dir of ours. */
  private async plainTar(file: string, subject: string, signal: AbortSignal | undefined): Promise<string> {
    const fh = await open(file, 'r').catch((err: unknown) => {
      throw new PalisadeError('E_INPUT', `cannot open: ${(err as Error).message}`, { subject, cause: err });
    });
    let head: Buffer;
    try {
      head = await readExactly(fh, 6, 0);
    } finally {
      await fh.close();
    }
    const compression = detectCompression(head, subject);
    if (compression === 'none') return file;
    if (this.tempDir === undefined) {
      this.tempDir = await mkdtemp(join(this.options.tempDir ?? tmpdir(), 'palisade-archive-'));
    }
    const out = join(this.tempDir, 'archive.tar');
    const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
    try {
      if (compression === 'gzip')
        await pipeline(input, gunzipStream(), createWriteStream(out), signal ? { signal } : {});
      else await pipeline(zstdChunks(input, subject), createWriteStream(out), signal ? { signal } : {});
    } catch (err) {
      throwIfAborted(signal, this.ref);
      throw (
        gzipError(err, subject) ??
        (err instanceof PalisadeError
          ? err
          : new PalisadeError('E_INPUT', `cannot decompress: ${(err as Error).message}`, { subject, cause: err }))
      );
    }
    return out;
  }

  private async resolveDocker(
    file: string,
    index: TarIndex,
    manifestMember: Member,
    selector: string | undefined,
    subject: string,
  ): Promise<ResolvedImage> {
    const fh = this.fh as FileHandle;
    if (manifestMember.size > MAX_JSON_BLOB)
      throw new PalisadeError('E_TOO_LARGE', `manifest.json is ${manifestMember.size} bytes`, { subject });
    const image = pickDockerImage(
      parseDockerManifest(await readExactly(fh, manifestMember.size, manifestMember.offset), subject),
      selector,
      subject,
    );
    const configMember = index.lookup(image.Config);
    if (!configMember)
      throw new PalisadeError('E_NOT_FOUND', `config ${image.Config} named by manifest.json is missing`, { subject });
    if (configMember.size > MAX_JSON_BLOB)
      throw new PalisadeError('E_TOO_LARGE', `config ${image.Config} is ${configMember.size} bytes`, { subject });
    const configBytes = await readExactly(fh, configMember.size, configMember.offset);
    const configDigest = digestOf(configBytes);
    const named = digestInName(image.Config);
    if (named !== undefined && named !== configDigest) {
      throw new PalisadeError(
        'E_DIGEST',
        `config ${image.Config} digest mismatch: expected ${named}, got ${configDigest}`,
        { subject },
      );
    }
    const config = toImageConfig(parseJson(configBytes, `${subject}: ${image.Config}`));
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== image.Layers.length) {
      throw new PalisadeError(
        'E_CORRUPT',
        `manifest.json lists ${image.Layers.length} layers but the config has ${diffIds.length} diff_ids`,
        { subject },
      );
    }
    const layers: LayerHandle[] = [];
    for (const [i, path] of image.Layers.entries()) {
      layers.push(await this.dockerLayer(file, index, path, i, diffIds[i] as string, subject));
    }
    const platform = platformOfConfig(config);
    return {
      name: this.ref,
      kind: 'archive',
      configDigest,
      config,
      ...(platform ? { platform } : {}),
      layers,
      repoTags: image.RepoTags,
      repoDigests: [],
    };
  }

  private async dockerLayer(
    file: string,
    index: TarIndex,
    path: string,
    i: number,
    diffId: string,
    subject: string,
  ): Promise<LayerHandle> {
    const member = index.lookup(path);
    if (!member) throw new PalisadeError('E_NOT_FOUND', `layer ${path} named by manifest.json is missing`, { subject });
    const compression = detectCompression(await readExactly(this.fh as FileHandle, 6, member.offset), subject);
    // A name that is a digest states the stored bytes; an uncompressed layer's bytes are its diff id.
    // A compressed layer under a v1 id ("<id>/layer.tar") has no digest of its raw bytes to check.
    const expected = digestInName(path) ?? (compression === 'none' ? diffId : undefined);
    const mediaType =
      compression === 'none' ? MT_DOCKER_LAYER : `${MT_DOCKER_LAYER}.${compression === 'gzip' ? 'gzip' : 'zstd'}`;
    return new StreamLayerHandle({
      digest: expected ?? diffId,
      diffId,
      mediaType,
      size: member.size,
      index: i,
      subject: `layer ${path} of ${this.ref}`,
      ...(expected !== undefined ? { expectedDigest: expected } : {}),
      open: () => openRange(file, member),
    });
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
    const dir = this.tempDir;
    this.tempDir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
