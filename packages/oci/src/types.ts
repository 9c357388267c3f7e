/**
 * What every image source (registry, OCI layout, docker/podman archive, rootfs dir) gives the
 * scanner: a resolved image whose layers can be walked entry by entry, streamed once.
 */

/** One entry of a layer, normalized: `path` is relative (no leading `/`, no `.` or `..` segments). */
export interface EntryHeader {
  path: string;
  /**
   * - file/dir/symlink/hardlink/other: as in the tar (other = char/block devices, fifos);
   * - whiteout: `.wh.<name>`, `path` is the removed path (the `.wh.` prefix stripped);
   * - opaque: `.wh..wh..opq`, `path` is the directory whose lower-layer contents are hidden.
   */
  kind: 'file' | 'dir' | 'symlink' | 'hardlink' | 'whiteout' | 'opaque' | 'other';
  size: number;
  mode: number;
  /** Target of a symlink (as written) or hardlink (normalized like `path`). */
  linkTarget?: string;
  uid?: number;
  gid?: number;
  mtime?: number;
}

/**
 * Receives a layer's entries in order. `onEntry` runs for every entry and must be cheap
 * (it is the hot path); it returns true to receive the content of a regular file (or hardlink
 * to one) in `onContent`. Content of entries not asked for is never held in memory.
 */
export interface EntryVisitor {
  onEntry(entry: EntryHeader): boolean;
  onContent(entry: EntryHeader, data: Buffer): void;
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Content larger than this is never delivered even if asked for (default 512 MiB). */
  maxContentSize?: number;
}

export interface LayerHandle {
  /** Digest of the layer blob as stored (compressed), e.g. sha256:…; for a dir source a synthetic id. */
  readonly digest: string;
  /** Digest of the uncompressed tar (from the image config's rootfs.diff_ids), when known. */
  readonly diffId?: string;
  readonly mediaType: string;
  readonly size?: number;
  /** Zero-based position in the image. */
  readonly index: number;
  /**
   * Stream the layer once and call the visitor for each entry. Rejects with a PalisadeError
   * naming the layer on a digest mismatch, corrupt compression, truncated or hostile tar.
   * A digest mismatch is detected when the stream ends: callers must not keep results of a
   * walk that rejected.
   */
  walk(visitor: EntryVisitor, options?: WalkOptions): Promise<void>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The parts of an OCI image config Palisade uses (the rest is kept in `raw`). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    User?: string;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, unknown>;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
  raw: Record<string, unknown>;
}

export interface ResolvedImage {
  /** The reference as the user gave it. */
  name: string;
  kind: 'registry' | 'oci-layout' | 'archive' | 'dir';
  /** Manifest digest (sha256:…), when there is a manifest. */
  digest?: string;
  manifestMediaType?: string;
  /** Raw manifest bytes, when there is a manifest (for publishing referrers later). */
  manifest?: Buffer;
  configDigest?: string;
  config: ImageConfig;
  platform?: Platform;
  layers: LayerHandle[];
  repoTags: string[];
  repoDigests: string[];
}

export interface ImageSource {
  readonly kind: ResolvedImage['kind'];
  /** The reference as given. */
  readonly ref: string;
  /** Fetch manifests and config; layers are streamed later by LayerHandle.walk. */
  resolve(signal?: AbortSignal): Promise<ResolvedImage>;
  /** Release files or connections held. */
  close(): Promise<void>;
}

/** Credentials for one registry. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** A bearer/identity token used directly (e.g. `--registry-token`). */
  token?: string;
}

export interface SourceOptions {
  /** os/arch[/variant] to pick from an image index; default linux/amd64. */
  platform?: Platform;
  /** Allow plain HTTP and skip TLS verification. */
  insecure?: boolean;
  /** PEM file(s) of extra CAs to trust for HTTPS registries. */
  caFiles?: string[];
  /** Explicit credentials (flags/env); otherwise ~/.docker/config.json is consulted. */
  credentials?: RegistryCredentials;
  /** Path of a docker config.json (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  dockerConfigPath?: string;
  /** Per-request timeout for registry calls, ms (default 30000). A stalled body times out too. */
  timeoutMs?: number;
  /** Directory for temporary files (archives are read in place; nothing is written outside it). */
  tempDir?: string;
  userAgent?: string;
}
