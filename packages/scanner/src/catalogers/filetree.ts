/**
 * The union filesystem of an image as the catalogers see it: the files each one kept, layer by
 * layer, with whiteouts and opaque directories applied as the OCI image spec says.
 */
import { posix } from 'node:path';
import type { CatalogFile, FileTree, LayerRef } from './types.js';

/** What one layer contributed: kept files, removals, and symlinks. */
export interface LayerFiles {
  layer: LayerRef;
  files: CatalogFile[];
  /** Paths removed by `.wh.<name>` entries (the name, not the marker). */
  whiteouts: string[];
  /** Directories whose lower-layer contents are hidden (`.wh..wh..opq`). */
  opaques: string[];
  /** Symlinks of this layer: path → target as written. */
  symlinks: ReadonlyMap<string, string>;
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path.startsWith(dir + '/');
}

class MergedFileTree implements FileTree {
  private readonly current = new Map<string, CatalogFile[]>();
  private readonly links = new Map<string, string>();

  add(layer: LayerFiles): void {
    for (const dir of layer.opaques) this.removeUnder(dir, false);
    for (const path of layer.whiteouts) this.removeUnder(path, true);
    for (const [path, target] of layer.symlinks) {
      this.links.set(path, target);
      this.current.delete(path);
    }
    for (const file of layer.files) {
      this.links.delete(file.path);
      const versions = this.current.get(file.path);
      if (versions) versions.push(file);
      else this.current.set(file.path, [file]);
    }
  }

  private removeUnder(path: string, includeSelf: boolean): void {
    for (const map of [this.current, this.links] as Array<Map<string, unknown>>) {
      for (const key of [...map.keys()]) {
        if ((includeSelf && key === path) || isUnder(key, path)) map.delete(key);
      }
    }
  }

  get(path: string): CatalogFile | undefined {
    const versions = this.current.get(path);
    return versions?.[versions.length - 1];
  }

  list(): CatalogFile[] {
    const out: CatalogFile[] = [];
    for (const versions of this.current.values()) {
      const top = versions[versions.length - 1];
      if (top) out.push(top);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  history(path: string): CatalogFile[] {
    return [...(this.current.get(path) ?? [])];
  }

  readlink(path: string): string | undefined {
    return this.links.get(path);
  }
}

/** Merge the layers (lowest first) into the final filesystem view. */
export function mergeLayers(layers: readonly LayerFiles[]): FileTree {
  const tree = new MergedFileTree();
  for (const l of layers) tree.add(l);
  return tree;
}

/**
 * Follow symlinks of the tree (component by component, at most 40 hops) to the path that holds
 * the file, e.g. `etc/os-release` → `usr/lib/os-release`. Links never escape the image root.
 */
export function resolvePath(tree: FileTree, path: string): string {
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let hops = 0;
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    const target = tree.readlink(prefix);
    if (target === undefined) continue;
    if (++hops > 40) return path;
    const base = target.startsWith('/') ? target : posix.join(posix.dirname(prefix), target);
    const normalized = posix.normalize('/' + base).slice(1);
    parts = [...normalized.split('/').filter((p) => p !== '' && p !== '.'), ...parts.slice(i + 1)];
    i = -1;
  }
  return parts.join('/');
}

/** A one-layer tree from literal files: for cataloger unit tests and `dir:` scans. */
export function fileTreeFrom(
  files: Record<string, string | Buffer>,
  layer: LayerRef = { digest: 'sha256:' + '0'.repeat(64), index: 0 },
  symlinks: Record<string, string> = {},
): FileTree {
  const kept: CatalogFile[] = Object.entries(files).map(([path, content]) => {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    return { path, layer, data, mode: 0o644, size: data.length };
  });
  return mergeLayers([{ layer, files: kept, whiteouts: [], opaques: [], symlinks: new Map(Object.entries(symlinks)) }]);
}
