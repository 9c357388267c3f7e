import type { OsInfo, Package } from './inventory.js';
import type { VulnerabilityMatch } from './vulnerability.js';

export interface ArtifactLayer {
  digest: string;
  diffId?: string;
  mediaType?: string;
  size?: number;
  /** The history entry (Dockerfile step) that created it, when the config records one. */
  createdBy?: string;
}

export interface ArtifactInfo {
  /** The reference the user gave (image ref, oci:DIR, archive:FILE, dir:PATH). */
  name: string;
  kind: 'registry' | 'oci-layout' | 'archive' | 'dir';
  /** Manifest digest, when the artifact is an image. */
  digest?: string;
  /** Digest of the image config (the image id). */
  configDigest?: string;
  repoTags?: string[];
  repoDigests?: string[];
  platform?: { os: string; architecture: string; variant?: string };
  os?: OsInfo;
  layers: ArtifactLayer[];
  createdAt?: string;
}

export interface DbStatus {
  schemaVersion: number;
  builtAt: string;
  feeds: Array<{ id: string; updatedAt: string; records: number }>;
}

/** The result of one scan; what every output format is written from. */
export interface ScanReport {
  /** Version of this JSON shape; bumped only on a breaking change. */
  schemaVersion: 1;
  generator: { name: 'palisade'; version: string };
  createdAt: string;
  artifact: ArtifactInfo;
  packages: Package[];
  vulnerabilities: VulnerabilityMatch[];
  db?: DbStatus;
  /** Things the user should know (stale DB, unknown OS). */
  warnings: string[];
  /**
   * Files a cataloger found but could not read (malformed, truncated, too large), each naming
   * the file and what is wrong. The inventory is incomplete when this is not empty, so the CLI
   * fails closed (exit 2) unless told `--allow-unreadable`.
   */
  unreadable?: string[];
}
