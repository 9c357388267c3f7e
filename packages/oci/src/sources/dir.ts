/**
 * A root filesystem directory (`dir:PATH`) seen as an image of one synthetic layer. The walk is
 * iterative (an explicit stack, so depth is no issue), uses lstat and never follows symlinks (a
 * symlink loop is just two symlink entries), skips sockets and devices, and reads a file only when
 * the visitor asks. Files or directories that cannot be read are skipped: a rootfs often holds a
 * few, and they must not sink the scan.
 */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { PalisadeError } from '@palisade/core';
import { DEFAULT_MAX_CONTENT_SIZE } from '../layer/walk.js';
import type {
  EntryHeader,
  EntryVisitor,
  ImageSource,
  LayerHandle,
  ResolvedImage,
  SourceOptions,
  WalkOptions,
} from '../types.js';
import { throwIfAborted } from './layout.js';

const MEDIA_TYPE = 'application/vnd.palisade.rootfs.directory';

function entryOf(path: string, kind: EntryHeader['kind'], st: Stats): EntryHeader {
  return {
    path,
    kind,
    size: kind === 'file' ? st.size : 0,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

class DirectoryLayer implements LayerHandle {
  readonly digest: string;
  readonly mediaType = MEDIA_TYPE;
  readonly index = 0;

  constructor(
    private readonly root: string,
    private readonly ref: string,
  ) {
    this.digest = `dir:${root}`;
  }

  async walk(visitor: EntryVisitor, options: WalkOptions = {}): Promise<void> {
    const max = options.maxContentSize ?? DEFAULT_MAX_CONTENT_SIZE;
    // Directories still to list, relative to the root; popped in name order.
    const stack: string[] = [''];
    while (stack.length > 0) {
      throwIfAborted(options.signal, this.ref);
      const rel = stack.pop() as string;
      const names = await this.list(rel);
      const subdirs: string[] = [];
      for (const name of names) {
        const path = rel === '' ? name : `${rel}/${name}`;
        if (await this.visit(path, visitor, max)) subdirs.push(path);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as string);
    }
  }

  private async list(rel: string): Promise<string[]> {
    try {
      return (await readdir(join(this.root, rel))).sort();
    } catch (err) {
      // The root vanishing is fatal; an unreadable subdirectory is skipped.
      if (rel === '')
        throw new PalisadeError('E_NOT_FOUND', `cannot list the directory: ${(err as Error).message}`, {
          subject: this.ref,
          cause: err,
        });
      return [];
    }
  }

  /** Report one path; true when it is a directory to descend into. */
  private async visit(path: string, visitor: EntryVisitor, max: number): Promise<boolean> {
    const abs = join(this.root, path);
    let st: Stats;
    try {
      st = await lstat(abs);
    } catch {
      return false;
    }
    if (st.isDirectory()) {
      visitor.onEntry(entryOf(path, 'dir', st));
      return true;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await readlink(abs);
      } catch {
        return false;
      }
      visitor.onEntry({ ...entryOf(path, 'symlink', st), linkTarget: target });
      return false;
    }
    if (!st.isFile()) return false; // sockets, devices, fifos: nothing a scanner reads
    const entry = entryOf(path, 'file', st);
    if (visitor.onEntry(entry) && st.size <= max) {
      let data: Buffer | undefined;
      try {
        data = await readFile(abs);
      } catch {
        data = undefined; // unreadable (permissions, removed meanwhile): skipped, not fatal
      }
      if (data !== undefined && data.length <= max) visitor.onContent(entry, data);
    }
    return false;
  }
}

export class DirSource implements ImageSource {
  readonly kind = 'dir' as const;

  constructor(
    readonly ref: string,
    private readonly options: SourceOptions,
  ) {}

  async resolve(signal?: AbortSignal): Promise<ResolvedImage> {
    throwIfAborted(signal, this.ref);
    const root = resolvePath(this.ref.slice('dir:'.length));
    let st: Stats;
    try {
      // The root itself may be a symlink to the tree the user means; entries below are never followed.
      st = await stat(root);
    } catch (err) {
      throw new PalisadeError('E_NOT_FOUND', 'directory not found', { subject: this.ref, cause: err });
    }
    if (!st.isDirectory()) throw new PalisadeError('E_INPUT', 'not a directory', { subject: this.ref });
    void this.options; // a directory needs no platform, credentials or temp space
    return {
      name: this.ref,
      kind: 'dir',
      config: { raw: {} },
      layers: [new DirectoryLayer(root, this.ref)],
      repoTags: [],
      repoDigests: [],
    };
  }

  async close(): Promise<void> {
    // Nothing held: each walk opens and closes its own files.
  }
}
