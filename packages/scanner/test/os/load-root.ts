/**
 * Test helper: load a fixture directory laid out like an image root into a one-layer FileTree,
 * keeping its symlinks as symlinks (the way the layer reader reports them).
 */
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileTreeFrom } from '../../src/catalogers/filetree.js';
import type { FileMeta, FileTree, LayerRef } from '../../src/catalogers/types.js';

export interface LoadedRoot {
  files: Record<string, Buffer>;
  symlinks: Record<string, string>;
}

/** Every regular file (filtered by `wants`, as a scan would) and symlink under `dir`. */
export function readRoot(dir: string, wants: (f: FileMeta) => boolean = () => true): LoadedRoot {
  const out: LoadedRoot = { files: {}, symlinks: {} };
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const rel = relative(dir, full).split('\\').join('/');
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.symlinks[rel] = readlinkSync(full);
      else if (st.isDirectory()) walk(full);
      else if (st.isFile() && wants({ path: rel, size: st.size, mode: st.mode })) out.files[rel] = readFileSync(full);
    }
  };
  walk(dir);
  return out;
}

export function loadRoot(dir: string, wants?: (f: FileMeta) => boolean, layer?: LayerRef): FileTree {
  const root = readRoot(dir, wants);
  return fileTreeFrom(root.files, layer, root.symlinks);
}
