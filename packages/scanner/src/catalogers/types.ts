import type { OsInfo, Package, Plugin } from '@palisade/core';

/** What a cataloger sees of a file before deciding to keep it (hot path: one call per tar entry). */
export interface FileMeta {
  /** Relative path inside the image filesystem, no leading slash. */
  path: string;
  size: number;
  mode: number;
}

export interface LayerRef {
  digest: string;
  diffId?: string;
  index: number;
}

/** A kept file: its content (or what `extract` reduced it to) and the layer it came from. */
export interface CatalogFile {
  path: string;
  layer: LayerRef;
  data: Buffer;
  mode: number;
  /** Size of the original file (data may be a reduced form of it). */
  size: number;
}

/**
 * The files one cataloger asked for, across all layers of an image, with whiteouts applied.
 * `get`/`list` give the final filesystem (top-most version of each path); `history` gives every
 * layer's version of a path, oldest first (to find the layer that introduced a package).
 */
export interface FileTree {
  get(path: string): CatalogFile | undefined;
  list(): CatalogFile[];
  history(path: string): CatalogFile[];
  /** Symlinks of the final filesystem (path → target as written), for resolving e.g. /etc/os-release. */
  readlink(path: string): string | undefined;
}

export interface CatalogContext {
  files: FileTree;
  /** Detected OS, when there is one (used for distro qualifiers in purls). */
  os?: OsInfo;
  /** Reports a non-fatal problem (a malformed file): it becomes a report warning naming the file. */
  warn(message: string): void;
}

/** Chooses files while layers stream. */
export interface FileSelector {
  /** Called for every regular file of every layer; true keeps its content. Must be cheap. */
  wants(file: FileMeta): boolean;
  /**
   * Optional: reduce a wanted file's content at read time (e.g. a 40 MB Go binary to its build
   * info), so only the small form is kept and cached. Return null to drop the file.
   * Must not throw: report problems by returning a form `catalog` understands, or null.
   */
  extract?(file: FileMeta, data: Buffer): Buffer | null;
}

export interface Cataloger extends Plugin, FileSelector {
  /** Package types this cataloger produces. */
  readonly produces: readonly Package['type'][];
  catalog(ctx: CatalogContext): Package[];
}

/** Detects the OS from release files. */
export interface OsDetector extends Plugin, FileSelector {
  detect(files: FileTree): OsInfo | undefined;
}
