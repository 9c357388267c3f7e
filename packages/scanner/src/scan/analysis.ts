/**
 * Reading one layer: stream it once, hand each file to the selectors (OS detector and
 * catalogers) that want it, and keep only those files (or their extracted forms), whiteouts
 * and symlinks. The result depends only on the layer's bytes and the selectors' versions,
 * so it is what the layer cache stores.
 */
import type { EntryHeader, LayerHandle } from '@palisade/oci';
import type { FileMeta, FileSelector } from '../catalogers/types.js';

export interface KeptFile {
  path: string;
  data: Buffer;
  mode: number;
  size: number;
}

export interface LayerAnalysis {
  /** Kept files per selector id. */
  files: Record<string, KeptFile[]>;
  whiteouts: string[];
  opaques: string[];
  symlinks: Array<[string, string]>;
}

export interface NamedSelector extends FileSelector {
  readonly id: string;
}

/** Stream a layer once and keep what the selectors ask for. */
export async function analyzeLayer(
  layer: LayerHandle,
  selectors: readonly NamedSelector[],
  signal?: AbortSignal,
): Promise<LayerAnalysis> {
  const out: LayerAnalysis = { files: {}, whiteouts: [], opaques: [], symlinks: [] };
  for (const s of selectors) out.files[s.id] = [];
  // Entries arrive one at a time: onContent always follows the onEntry that asked for it.
  let pending: NamedSelector[] = [];

  const keep = (s: NamedSelector, meta: FileMeta, data: Buffer): void => {
    let kept: Buffer | null;
    try {
      kept = s.extract ? s.extract(meta, data) : Buffer.from(data);
    } catch {
      // extract must not throw; a buggy one loses that file, never the scan.
      kept = null;
    }
    if (kept) out.files[s.id]?.push({ path: meta.path, data: kept, mode: meta.mode, size: meta.size });
  };

  const onHardlink = (entry: EntryHeader): void => {
    // A hardlink's content is the target's, which came earlier in this layer: copy what was kept.
    for (const s of selectors) {
      const list = out.files[s.id];
      const target = list?.find((f) => f.path === entry.linkTarget);
      if (list && target && s.wants({ path: entry.path, size: target.size, mode: target.mode })) {
        list.push({ ...target, path: entry.path });
      }
    }
  };

  await layer.walk(
    {
      onEntry(entry: EntryHeader): boolean {
        switch (entry.kind) {
          case 'file': {
            pending = [];
            for (const s of selectors) if (s.wants(entry)) pending.push(s);
            return pending.length > 0;
          }
          case 'whiteout':
            out.whiteouts.push(entry.path);
            return false;
          case 'opaque':
            out.opaques.push(entry.path);
            return false;
          case 'symlink':
            if (entry.linkTarget !== undefined) out.symlinks.push([entry.path, entry.linkTarget]);
            return false;
          case 'hardlink':
            onHardlink(entry);
            return false;
          default:
            return false;
        }
      },
      onContent(entry: EntryHeader, data: Buffer): void {
        const meta: FileMeta = { path: entry.path, size: entry.size, mode: entry.mode };
        for (const s of pending) keep(s, meta, data);
        pending = [];
      },
    },
    signal ? { signal } : {},
  );
  return out;
}
