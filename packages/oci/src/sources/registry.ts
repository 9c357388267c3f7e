/**
 * An image in a registry: resolve() fetches the manifest (picking the platform from an index),
 * fetches and verifies the config, and returns layer handles that stream each blob once
 * through walkTarStream when walked. Nothing is written to disk.
 */
import { PalisadeError } from '@palisade/core';
import type {
  EntryVisitor,
  ImageConfig,
  ImageSource,
  LayerHandle,
  Platform,
  ResolvedImage,
  SourceOptions,
  WalkOptions,
} from '../types.js';
import { walkTarStream } from '../layer/walk.js';
import { manifestReference, parseReference, repositoryName, type ImageReference } from '../ref.js';
import { RegistryClient, type ManifestResult } from '../registry/client.js';
import { IMAGE_ACCEPT, MANIFEST_ACCEPT } from '../registry/mediatypes.js';
import {
  checkConfigMediaType,
  checkLayerMediaType,
  parseImageConfig,
  parseManifestDocument,
  type Descriptor,
  type ParsedManifest,
} from '../registry/manifest.js';
import { DEFAULT_PLATFORM, formatPlatform, normalizePlatform, selectPlatform } from '../registry/platform.js';

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

interface SelectedManifest {
  result: ManifestResult;
  manifest: ParsedManifest;
  /** Digest of what the reference points at (the index, for a multi-platform image). */
  topDigest: string;
  platform?: Platform;
}

export class RegistrySource implements ImageSource {
  readonly kind = 'registry' as const;
  private readonly reference: ImageReference;
  private client: RegistryClient | undefined;

  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {
    this.reference = parseReference(ref);
  }

  private getClient(): RegistryClient {
    const o = this.options;
    this.client ??= new RegistryClient(this.reference.registry, {
      displayHost: this.reference.domain,
      ...(o.insecure !== undefined ? { insecure: o.insecure } : {}),
      ...(o.caFiles ? { caFiles: o.caFiles } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      ...(o.dockerConfigPath ? { dockerConfigPath: o.dockerConfigPath } : {}),
      ...(o.userAgent ? { userAgent: o.userAgent } : {}),
    });
    return this.client;
  }

  async resolve(signal?: AbortSignal): Promise<ResolvedImage> {
    const client = this.getClient();
    const ref = this.reference;
    const name = this.ref;
    const call = { subject: name, ...(signal ? { signal } : {}) };
    const selected = await this.selectManifest(client, call);
    const { manifest } = selected;
    checkConfigMediaType(manifest.config.mediaType, name);
    const configBytes = await client.getBlobBytes(ref.repository, manifest.config.digest, MAX_CONFIG_BYTES, call);
    const config = parseImageConfig(configBytes, name);
    const layers = this.layerHandles(client, manifest.layers, config);
    const platform = selected.platform ?? platformOfConfig(config);
    const familiar = repositoryName(ref, true);
    return {
      name,
      kind: 'registry',
      digest: selected.result.digest,
      manifestMediaType: selected.result.mediaType,
      manifest: selected.result.bytes,
      configDigest: manifest.config.digest,
      config,
      ...(platform ? { platform } : {}),
      layers,
      repoTags: ref.tag !== undefined ? [`${familiar}:${ref.tag}`] : [],
      repoDigests: [`${familiar}@${selected.topDigest}`],
    };
  }

  /** Fetch what the reference names; for an index, pick the platform and fetch that manifest. */
  private async selectManifest(
    client: RegistryClient,
    call: { subject: string; signal?: AbortSignal },
  ): Promise<SelectedManifest> {
    const ref = this.reference;
    const top = await client.getManifest(ref.repository, manifestReference(ref), IMAGE_ACCEPT, call);
    const doc = parseManifestDocument(top.bytes, top.mediaType, call.subject);
    if (doc.kind === 'manifest') return { result: top, manifest: doc, topDigest: top.digest };
    const wanted = this.options.platform ?? DEFAULT_PLATFORM;
    const entry = pickEntry(doc.manifests, wanted, call.subject);
    const result = await client.getManifest(ref.repository, entry.digest, MANIFEST_ACCEPT, call);
    if (result.bytes.length !== entry.size) {
      throw new PalisadeError(
        'E_DIGEST',
        `manifest ${entry.digest} is ${result.bytes.length} bytes, the index says ${entry.size}`,
        { subject: call.subject },
      );
    }
    const child = parseManifestDocument(result.bytes, result.mediaType, call.subject);
    if (child.kind !== 'manifest') {
      throw new PalisadeError(
        'E_UNSUPPORTED',
        `index entry ${entry.digest} for ${formatPlatform(wanted)} is itself an index`,
        { subject: call.subject },
      );
    }
    return { result, manifest: child, topDigest: top.digest, ...(entry.platform ? { platform: entry.platform } : {}) };
  }

  private layerHandles(client: RegistryClient, descriptors: Descriptor[], config: ImageConfig): LayerHandle[] {
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (config.rootfs && diffIds.length !== descriptors.length) {
      throw new PalisadeError(
        'E_REGISTRY',
        `image config lists ${diffIds.length} layer diff_ids but the manifest has ${descriptors.length} layers`,
        { subject: this.ref },
      );
    }
    return descriptors.map((d, index) => {
      checkLayerMediaType(d.mediaType, d.digest, this.ref);
      return new RegistryLayer(client, this.reference.repository, d, index, diffIds[index], this.ref);
    });
  }

  close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    return Promise.resolve();
  }
}

function pickEntry(manifests: Descriptor[], wanted: Platform, subject: string): Descriptor {
  // Attestation manifests (buildx) carry platform unknown/unknown: never a candidate.
  const candidates = manifests.map((m) => (m.platform && m.platform.os !== 'unknown' ? m.platform : undefined));
  const i = selectPlatform(wanted, candidates);
  const entry = manifests[i];
  if (entry) return entry;
  const available = [
    ...new Set(
      candidates.filter((p): p is Platform => p !== undefined).map((p) => formatPlatform(normalizePlatform(p))),
    ),
  ];
  throw new PalisadeError(
    'E_PLATFORM',
    `no manifest for platform ${formatPlatform(wanted)} in image ${subject} (available: ${available.join(', ') || 'none'})`,
    { subject },
  );
}

function platformOfConfig(config: ImageConfig): Platform | undefined {
  if (!config.os || !config.architecture) return undefined;
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}

/** A layer blob in the registry, streamed on each walk. */
class RegistryLayer implements LayerHandle {
  readonly digest: string;
  readonly diffId?: string;
  readonly mediaType: string;
  readonly size: number;

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    descriptor: Descriptor,
    readonly index: number,
    diffId: string | undefined,
    private readonly imageName: string,
  ) {
    this.digest = descriptor.digest;
    this.mediaType = descriptor.mediaType;
    this.size = descriptor.size;
    if (diffId !== undefined) this.diffId = diffId;
  }

  async walk(visitor: EntryVisitor, options: WalkOptions = {}): Promise<void> {
    const subject = `layer ${this.digest} of ${this.imageName}`;
    const stream = await this.client.getBlob(this.repository, this.digest, {
      subject,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      await walkTarStream(stream, visitor, {
        subject,
        expectedDigest: this.digest,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.maxContentSize !== undefined ? { maxContentSize: options.maxContentSize } : {}),
      });
    } finally {
      // A walk that stops early (visitor error, abort) must not leave the download running.
      stream.destroy();
    }
  }
}
