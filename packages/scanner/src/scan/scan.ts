/**
 * One scan: resolve the image, read its layers once (in parallel, from the cache when it can),
 * merge them into the final filesystem per cataloger, detect the OS, catalog, match, report.
 */
import {
  PALISADE_VERSION,
  isPalisadeError,
  systemClock,
  withSubject,
  type ArtifactInfo,
  type Clock,
  type OsInfo,
  type Package,
  type PluginRegistry,
  type ScanReport,
} from '@palisade/core';
import { openImageSource, type LayerHandle, type ResolvedImage, type SourceOptions } from '@palisade/oci';
import { dbAgeWarning, type VulnDb } from '@palisade/vulndb';
import { mergeLayers, type LayerFiles } from '../catalogers/filetree.js';
import { createCatalogerRegistry } from '../catalogers/registry.js';
import type { CatalogFile, Cataloger, LayerRef, OsDetector } from '../catalogers/types.js';
import { osDetector as defaultOsDetector } from '../os/index.js';
import { analyzeLayer, type LayerAnalysis, type NamedSelector } from './analysis.js';
import { isCacheableDigest, type LayerCache } from './cache.js';

export type ScanProgress =
  | { phase: 'resolve'; ref: string }
  | { phase: 'layer'; index: number; total: number; digest: string; cached: boolean; done: boolean }
  | { phase: 'catalog' }
  | { phase: 'match'; packages: number };

export interface ScanOptions {
  source?: SourceOptions;
  /** Layer cache; without one every layer is read. */
  cache?: LayerCache;
  /** Vulnerability DB; without one the report is the inventory alone (`palisade sbom`). */
  db?: VulnDb;
  catalogers?: PluginRegistry<Cataloger>;
  osDetector?: OsDetector;
  clock?: Clock;
  /** Layers read at once (default 3: decompression runs on libuv's pool, parsing on the main thread). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: ScanProgress) => void;
}

interface Analyzed {
  layer: LayerHandle;
  analysis: LayerAnalysis;
}

/** Scan an image reference (registry ref, oci:DIR, archive:FILE, dir:PATH). */
export async function scanImage(ref: string, options: ScanOptions = {}): Promise<ScanReport> {
  const source = openImageSource(ref, options.source ?? {});
  try {
    options.onProgress?.({ phase: 'resolve', ref });
    const image = await source.resolve(options.signal);
    return await scanResolved(image, options);
  } finally {
    await source.close();
  }
}

/** The layer cache key part that names every selector's id and version. */
export function scanFingerprint(
  catalogers: PluginRegistry<Cataloger> = createCatalogerRegistry(),
  detector: OsDetector = defaultOsDetector,
): string {
  return `${detector.id}@${detector.version},${catalogers.fingerprint()}`;
}

/** Scan an image whose manifest and config are already resolved. */
export async function scanResolved(image: ResolvedImage, options: ScanOptions = {}): Promise<ScanReport> {
  const catalogers = options.catalogers ?? createCatalogerRegistry();
  const detector = options.osDetector ?? defaultOsDetector;
  const selectors: NamedSelector[] = [detector, ...catalogers.all()];
  const fingerprint = scanFingerprint(catalogers, detector);

  const analyzed = await readLayers(image, selectors, fingerprint, options);
  options.onProgress?.({ phase: 'catalog' });
  const warnings: string[] = [];
  const unreadable: string[] = [];
  const os = detector.detect(treeFor(detector.id, analyzed));
  const packages = catalogAll(catalogers, analyzed, os, unreadable);

  const report: ScanReport = {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt: (options.clock ?? systemClock).now().toISOString(),
    artifact: artifactOf(image, os),
    packages,
    vulnerabilities: [],
    warnings,
  };
  if (unreadable.length > 0) report.unreadable = unreadable;
  if (!os && image.kind !== 'dir')
    warnings.push('operating system not detected: OS packages, if any, were not matched');
  if (options.db) {
    options.onProgress?.({ phase: 'match', packages: packages.length });
    const status = options.db.status();
    report.db = status;
    const stale = dbAgeWarning(status, (options.clock ?? systemClock).now());
    if (stale) warnings.push(stale);
    report.vulnerabilities = options.db.match(packages, os);
  }
  return report;
}

async function readLayers(
  image: ResolvedImage,
  selectors: NamedSelector[],
  fingerprint: string,
  options: ScanOptions,
): Promise<Analyzed[]> {
  const layers = image.layers;
  const results: Array<Analyzed | undefined> = new Array<Analyzed | undefined>(layers.length);
  const limit = Math.max(1, options.concurrency ?? 3);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < layers.length) {
      const i = next++;
      const layer = layers[i];
      if (!layer) continue;
      results[i] = { layer, analysis: await readLayer(image, layer, selectors, fingerprint, options) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, layers.length) }, () => worker()));
  return results.filter((r): r is Analyzed => r !== undefined);
}

async function readLayer(
  image: ResolvedImage,
  layer: LayerHandle,
  selectors: NamedSelector[],
  fingerprint: string,
  options: ScanOptions,
): Promise<LayerAnalysis> {
  const total = image.layers.length;
  const cacheable = options.cache !== undefined && isCacheableDigest(layer.digest);
  const hit = cacheable ? options.cache?.get(layer.digest, fingerprint) : undefined;
  if (hit) {
    options.onProgress?.({ phase: 'layer', index: layer.index, total, digest: layer.digest, cached: true, done: true });
    return hit;
  }
  options.onProgress?.({ phase: 'layer', index: layer.index, total, digest: layer.digest, cached: false, done: false });
  let analysis: LayerAnalysis;
  try {
    analysis = await analyzeLayer(layer, selectors, options.signal);
  } catch (err) {
    // Sources already name "layer X of <image>"; anything else gets that subject here.
    throw isPalisadeError(err) ? err : withSubject(err, `layer ${layer.digest} of ${image.name}`, 'E_CORRUPT');
  }
  // Only a layer read to its end and verified is cached.
  if (cacheable) options.cache?.put(layer.digest, fingerprint, analysis);
  options.onProgress?.({ phase: 'layer', index: layer.index, total, digest: layer.digest, cached: false, done: true });
  return analysis;
}

function layerRef(layer: LayerHandle): LayerRef {
  const ref: LayerRef = { digest: layer.digest, index: layer.index };
  if (layer.diffId) ref.diffId = layer.diffId;
  return ref;
}

function treeFor(selectorId: string, analyzed: readonly Analyzed[]): ReturnType<typeof mergeLayers> {
  const layers: LayerFiles[] = analyzed.map(({ layer, analysis }) => {
    const ref = layerRef(layer);
    const files: CatalogFile[] = (analysis.files[selectorId] ?? []).map((f) => ({ ...f, layer: ref }));
    return {
      layer: ref,
      files,
      whiteouts: analysis.whiteouts,
      opaques: analysis.opaques,
      symlinks: new Map(analysis.symlinks),
    };
  });
  return mergeLayers(layers);
}

function catalogAll(
  catalogers: PluginRegistry<Cataloger>,
  analyzed: readonly Analyzed[],
  os: OsInfo | undefined,
  unreadable: string[],
): Package[] {
  const packages: Package[] = [];
  for (const c of catalogers.all()) {
    const ctx = {
      files: treeFor(c.id, analyzed),
      warn: (m: string): void => {
        unreadable.push(`${c.id}: ${m}`);
      },
      ...(os ? { os } : {}),
    };
    try {
      packages.push(...c.catalog(ctx));
    } catch (err) {
      // A cataloger bug must not hide the other catalogers' results; it is reported.
      unreadable.push(`${c.id}: cataloger failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return packages.sort(comparePackages);
}

function comparePackages(a: Package, b: Package): number {
  return (
    cmp(a.type, b.type) ||
    cmp(a.name, b.name) ||
    cmp(a.version, b.version) ||
    cmp(a.locations[0]?.path ?? '', b.locations[0]?.path ?? '')
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function artifactOf(image: ResolvedImage, os: OsInfo | undefined): ArtifactInfo {
  const history = (image.config.history ?? []).filter((h) => !h.empty_layer);
  const art: ArtifactInfo = {
    name: image.name,
    kind: image.kind,
    layers: image.layers.map((l, i) => {
      const layer: ArtifactInfo['layers'][number] = { digest: l.digest, mediaType: l.mediaType };
      if (l.diffId) layer.diffId = l.diffId;
      if (l.size !== undefined) layer.size = l.size;
      const createdBy = history[i]?.created_by;
      if (createdBy) layer.createdBy = createdBy;
      return layer;
    }),
  };
  if (image.digest) art.digest = image.digest;
  if (image.configDigest) art.configDigest = image.configDigest;
  if (image.repoTags.length > 0) art.repoTags = [...image.repoTags];
  if (image.repoDigests.length > 0) art.repoDigests = [...image.repoDigests];
  if (image.platform) art.platform = { ...image.platform };
  if (os) art.os = os;
  if (image.config.created) art.createdAt = image.config.created;
  return art;
}
