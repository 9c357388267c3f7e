/**
 * Parsing and checking the JSON documents of a pull: index / manifest list, image manifest and
 * image config. Malformed documents are E_REGISTRY (the registry served garbage), formats
 * Palisade does not pull are E_UNSUPPORTED.
 */
import { PalisadeError } from '@palisade/core';
import type { ImageConfig, Platform } from '../types.js';
import { isImageConfigMediaType, isIndexMediaType, isManifestMediaType, isSchema1MediaType } from './mediatypes.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ParsedIndex {
  kind: 'index';
  manifests: Descriptor[];
}

export interface ParsedManifest {
  kind: 'manifest';
  config: Descriptor;
  layers: Descriptor[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function malformed(subject: string, what: string): PalisadeError {
  return new PalisadeError('E_REGISTRY', `registry sent a malformed ${what}`, { subject });
}

function parseJson(bytes: Buffer, subject: string, what: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(subject, `${what} (not JSON)`);
  }
  if (!isObject(v)) throw malformed(subject, `${what} (not a JSON object)`);
  return v;
}

function parsePlatformField(v: unknown): Platform | undefined {
  if (!isObject(v) || typeof v['os'] !== 'string' || typeof v['architecture'] !== 'string') return undefined;
  const variant = typeof v['variant'] === 'string' && v['variant'] !== '' ? v['variant'] : undefined;
  return { os: v['os'], architecture: v['architecture'], ...(variant ? { variant } : {}) };
}

function parseDescriptor(v: unknown, subject: string, what: string): Descriptor {
  if (!isObject(v)) throw malformed(subject, what);
  const { mediaType, digest, size } = v;
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,}$/.test(digest))
    throw malformed(subject, `${what} (bad digest)`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw malformed(subject, `${what} (bad size)`);
  const platform = parsePlatformField(v['platform']);
  const annotations = isObject(v['annotations']) ? (v['annotations'] as Record<string, string>) : undefined;
  return {
    mediaType: typeof mediaType === 'string' ? mediaType : '',
    digest,
    size,
    ...(platform ? { platform } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/** Parse a manifest or index served with `mediaType`. */
export function parseManifestDocument(bytes: Buffer, mediaType: string, subject: string): ParsedIndex | ParsedManifest {
  if (isSchema1MediaType(mediaType)) throw schema1Error(subject);
  const json = parseJson(bytes, subject, 'manifest');
  if (json['schemaVersion'] === 1) throw schema1Error(subject);
  if (isIndexMediaType(mediaType)) {
    const list = json['manifests'];
    if (!Array.isArray(list)) throw malformed(subject, 'image index (no manifests)');
    return { kind: 'index', manifests: list.map((d, i) => parseDescriptor(d, subject, `image index entry ${i}`)) };
  }
  if (isManifestMediaType(mediaType)) {
    const layers = json['layers'];
    if (!Array.isArray(layers)) throw malformed(subject, 'image manifest (no layers)');
    return {
      kind: 'manifest',
      config: parseDescriptor(json['config'], subject, 'image manifest config descriptor'),
      layers: layers.map((d, i) => parseDescriptor(d, subject, `image manifest layer ${i}`)),
    };
  }
  throw new PalisadeError('E_UNSUPPORTED', `manifest media type "${mediaType || 'unknown'}" is not a container image`, {
    subject,
  });
}

function schema1Error(subject: string): PalisadeError {
  return new PalisadeError(
    'E_UNSUPPORTED',
    'Docker schema 1 manifests are deprecated and not supported; re-push the image with a current docker or skopeo (schema 2 or OCI)',
    { subject },
  );
}

/** Layers Palisade can walk: tar, optionally gzip/zstd compressed, OCI or Docker, incl. foreign ones. */
export function checkLayerMediaType(mediaType: string, digest: string, subject: string): void {
  if (mediaType === '' || /tar|rootfs\.diff/.test(mediaType)) return;
  throw new PalisadeError(
    'E_UNSUPPORTED',
    `layer ${digest} has media type "${mediaType}", which is not a filesystem layer`,
    { subject },
  );
}

export function checkConfigMediaType(mediaType: string, subject: string): void {
  if (mediaType === '' || isImageConfigMediaType(mediaType)) return;
  throw new PalisadeError(
    'E_UNSUPPORTED',
    `not a container image: its config has media type "${mediaType}" (an OCI artifact?)`,
    { subject },
  );
}

function stringArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

/** Parse an image config blob into the fields Palisade uses, keeping the whole as `raw`. */
export function parseImageConfig(bytes: Buffer, subject: string): ImageConfig {
  const raw = parseJson(bytes, subject, 'image config');
  const out: ImageConfig = { raw };
  if (typeof raw['architecture'] === 'string') out.architecture = raw['architecture'];
  if (typeof raw['os'] === 'string') out.os = raw['os'];
  if (typeof raw['variant'] === 'string') out.variant = raw['variant'];
  if (typeof raw['created'] === 'string') out.created = raw['created'];
  if (isObject(raw['config'])) out.config = raw['config'];
  const rootfs = raw['rootfs'];
  if (isObject(rootfs)) {
    const diffIds = stringArray(rootfs['diff_ids']);
    if (!diffIds) throw malformed(subject, 'image config (rootfs.diff_ids is not a list of strings)');
    out.rootfs = { type: typeof rootfs['type'] === 'string' ? rootfs['type'] : 'layers', diff_ids: diffIds };
  }
  if (Array.isArray(raw['history'])) out.history = raw['history'].filter(isObject);
  return out;
}
