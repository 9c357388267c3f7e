/**
 * Build real OCI images for tests: tar layers (ustar + PAX for long names), gzip/zstd
 * compression, config and manifest blobs, image indexes, written as an OCI image layout that
 * skopeo, umoci and registries accept. Deterministic: equal specs give equal digests.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TarFile {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  content?: string | Buffer;
  linkTarget?: string;
  mode?: number;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, typeflag: string, mode: number, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136);
  h.write('        ', 148);
  h.write(typeflag, 156);
  h.write(linkname.slice(0, 100), 157, 'utf8');
  h.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

function pad(data: Buffer): Buffer[] {
  const rem = data.length % BLOCK;
  return rem === 0 ? [data] : [data, Buffer.alloc(BLOCK - rem)];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/** A tar archive of the given entries, in order, ending with two zero blocks. */
export function buildTar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const type = f.type ?? 'file';
    const data = type === 'file' ? Buffer.from(f.content ?? '') : Buffer.alloc(0);
    const flag = { file: '0', dir: '5', symlink: '2', hardlink: '1' }[type];
    const mode = f.mode ?? (type === 'dir' ? 0o755 : 0o644);
    const link = f.linkTarget ?? '';
    if (Buffer.byteLength(f.path) > 100 || Buffer.byteLength(link) > 100) {
      let pax = paxRecord('path', f.path);
      if (link) pax += paxRecord('linkpath', link);
      const paxData = Buffer.from(pax);
      parts.push(header('PaxHeaders/' + f.path.slice(-80), paxData.length, 'x', 0o644), ...pad(paxData));
    }
    parts.push(header(f.path, data.length, flag, mode, link), ...pad(data));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export interface LayerSpec {
  files: TarFile[];
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface ImageSpec {
  layers: LayerSpec[];
  platform?: { os: string; architecture: string; variant?: string };
  env?: string[];
  history?: string[];
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
  mediaType: string;
}

function blob(data: Buffer, mediaType: string): Blob {
  return { digest: sha256(data), size: data.length, data, mediaType };
}

function layerBlob(spec: LayerSpec): { blob: Blob; diffId: string } {
  const tar = buildTar(spec.files);
  const c = spec.compression ?? 'gzip';
  if (c === 'none') return { blob: blob(tar, 'application/vnd.oci.image.layer.v1.tar'), diffId: sha256(tar) };
  if (c === 'zstd') {
    const z = execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
    return { blob: blob(z, 'application/vnd.oci.image.layer.v1.tar+zstd'), diffId: sha256(tar) };
  }
  // mtime 0 in the gzip header (Node's default) keeps digests deterministic.
  return { blob: blob(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip'), diffId: sha256(tar) };
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: Array<Blob & { diffId: string }>;
  platform: { os: string; architecture: string; variant?: string };
}

/** Build one image's blobs (layers, config, OCI manifest). */
export function buildImage(spec: ImageSpec): BuiltImage {
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = spec.layers.map((l) => {
    const { blob: b, diffId } = layerBlob(l);
    return { ...b, diffId };
  });
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    config: { Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: spec.history?.[i] ?? `layer ${i}` })),
  };
  const config = blob(Buffer.from(JSON.stringify(configJson)), 'application/vnd.oci.image.config.v1+json');
  const manifestJson = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifest = blob(Buffer.from(JSON.stringify(manifestJson)), 'application/vnd.oci.image.manifest.v1+json');
  return { manifest, config, layers, platform };
}

function writeBlob(dir: string, b: Blob): void {
  const hex = b.digest.slice('sha256:'.length);
  writeFileSync(join(dir, 'blobs', 'sha256', hex), b.data);
}

export interface LayoutResult {
  dir: string;
  /** Digest of what the tag points at: the manifest, or the index for several platforms. */
  digest: string;
  images: BuiltImage[];
}

/**
 * Write an OCI image layout at `dir` with one tag. Several images make a multi-platform image
 * index under that tag.
 */
export function writeOciLayout(dir: string, tag: string, images: readonly ImageSpec[]): LayoutResult {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const built = images.map((s) => buildImage(s));
  for (const img of built) {
    for (const b of [img.manifest, img.config, ...img.layers]) writeBlob(dir, b);
  }
  let top: Blob;
  if (built.length === 1 && built[0]) {
    top = built[0].manifest;
  } else {
    const indexJson = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: built.map((img) => ({
        mediaType: img.manifest.mediaType,
        digest: img.manifest.digest,
        size: img.manifest.size,
        platform: img.platform,
      })),
    };
    top = blob(Buffer.from(JSON.stringify(indexJson)), 'application/vnd.oci.image.index.v1+json');
    writeBlob(dir, top);
  }
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: top.mediaType,
        digest: top.digest,
        size: top.size,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, digest: top.digest, images: built };
}

/** sha256 of a file, streamed (optionally of its gunzipped content). */
export async function sha256File(path: string, gunzip = false): Promise<string> {
  const { createReadStream } = await import('node:fs');
  const { createGunzip } = await import('node:zlib');
  const h = createHash('sha256');
  let stream: NodeJS.ReadableStream = createReadStream(path, { highWaterMark: 1 << 20 });
  if (gunzip) stream = stream.pipe(createGunzip());
  for await (const chunk of stream) h.update(chunk as Buffer);
  return 'sha256:' + h.digest('hex');
}

/**
 * Write an OCI layout whose layers are existing gzipped tar files (e.g. a debootstrap root
 * filesystem packed with GNU tar), copied in as blobs.
 */
export async function writeOciLayoutFromLayerFiles(
  dir: string,
  tag: string,
  layerFiles: readonly string[],
): Promise<LayoutResult> {
  const { copyFileSync, statSync } = await import('node:fs');
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers: Array<Blob & { diffId: string }> = [];
  for (const f of layerFiles) {
    const digest = await sha256File(f);
    const diffId = await sha256File(f, true);
    copyFileSync(f, join(dir, 'blobs', 'sha256', digest.slice(7)));
    layers.push({
      digest,
      diffId,
      size: statSync(f).size,
      data: Buffer.alloc(0),
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    });
  }
  const platform = { os: 'linux', architecture: 'amd64' };
  const config = blob(
    Buffer.from(
      JSON.stringify({
        ...platform,
        created: '2024-01-01T00:00:00Z',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  writeBlob(dir, config);
  writeBlob(dir, manifest);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: manifest.size,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return { dir, digest: manifest.digest, images: [{ manifest, config, layers, platform }] };
}
