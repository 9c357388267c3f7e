/**
 * The layer cache: what a layer yielded to the selectors, keyed by layer digest and the
 * selectors' ids and versions, so an image whose layers were seen before is scanned without
 * pulling them again, and a cataloger change invalidates exactly its results.
 * Entries are written atomically (temp file + rename) and only after a layer was fully read
 * and verified; an unreadable entry is treated as a miss and removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { LayerAnalysis } from './analysis.js';

const FORMAT = 1;

export interface LayerCache {
  get(layerDigest: string, fingerprint: string): LayerAnalysis | undefined;
  put(layerDigest: string, fingerprint: string, analysis: LayerAnalysis): void;
}

function isAnalysis(v: unknown): v is { format: number; analysis: LayerAnalysis } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { format?: unknown; analysis?: unknown };
  return o.format === FORMAT && typeof o.analysis === 'object' && o.analysis !== null;
}

export class FsLayerCache implements LayerCache {
  private readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'layers');
  }

  private file(layerDigest: string, fingerprint: string): string {
    const key = createHash('sha256').update(`${FORMAT}\n${layerDigest}\n${fingerprint}`).digest('hex');
    return join(this.dir, key.slice(0, 2), key);
  }

  get(layerDigest: string, fingerprint: string): LayerAnalysis | undefined {
    const path = this.file(layerDigest, fingerprint);
    let raw: Buffer;
    try {
      raw = readFileSync(path);
    } catch {
      return undefined;
    }
    try {
      const v: unknown = deserialize(raw);
      if (isAnalysis(v)) return v.analysis;
    } catch {
      // fall through: a torn or foreign file is a miss
    }
    rmSync(path, { force: true });
    return undefined;
  }

  put(layerDigest: string, fingerprint: string, analysis: LayerAnalysis): void {
    const path = this.file(layerDigest, fingerprint);
    const dir = join(path, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, serialize({ format: FORMAT, analysis }), { mode: 0o600 });
    renameSync(tmp, path);
  }
}

/** Digests that name content (sha256/sha512) can be cached; synthetic ones (dir:) cannot. */
export function isCacheableDigest(digest: string): boolean {
  return /^sha(256|512):[0-9a-f]{64,128}$/.test(digest);
}
