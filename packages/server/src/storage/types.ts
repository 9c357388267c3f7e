/**
 * The server's storage, as the rest of the server sees it: repositories with async methods that
 * behave the same on the embedded backend (SQLite) and on PostgreSQL. Timestamps are ISO-8601
 * UTC strings; ids are opaque strings.
 */
import type { PackageType, ScanReport, Severity } from '@palisade/core';
import type { JobQueue } from './jobs.js';
import type { ClusterRepository } from './cluster-types.js';
import type { AlertRepository } from './alert-types.js';

export type * from './alert-types.js';

export * from './cluster-types.js';

export type Backend = 'sqlite' | 'postgres';

// ---------- paging ----------

export type SortOrder = 'asc' | 'desc';

export interface PageQuery {
  /** 1..500, default 50. */
  limit?: number;
  /** Offset paging; ignored when `cursor` is given. */
  offset?: number;
  /** Keyset paging: the `nextCursor` of the previous page (same filters and sort). */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Rows matching the filters, across all pages. */
  total: number;
  /** Cursor for the page after this one; null on the last page. */
  nextCursor: string | null;
}

// ---------- API tokens ----------

export const ROLES = ['admin', 'operator', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  /** The first characters of the token (`pal_AbCdEf`), to recognize it in a list. */
  displayPrefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedToken {
  /** The plaintext token: shown once, never stored. */
  token: string;
  record: ApiToken;
}

export interface TokenRepository {
  create(input: { name: string; role: Role; expiresAt?: string }): Promise<CreatedToken>;
  /** The token's record when it is known, not revoked and not expired; null otherwise. Records last use. */
  verify(plaintext: string): Promise<ApiToken | null>;
  get(id: string): Promise<ApiToken | null>;
  list(): Promise<ApiToken[]>;
  /** False when no such token (or already revoked). */
  revoke(id: string): Promise<boolean>;
}

// ---------- registries ----------

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** A registry as it may be shown: credentials are never part of it. */
export interface Registry {
  id: string;
  name: string;
  url: string;
  insecure: boolean;
  readOnly: boolean;
  publishResults: boolean;
  hasCredentials: boolean;
  hasWebhookToken: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface RegistryInput {
  name: string;
  url: string;
  insecure?: boolean;
  readOnly?: boolean;
  publishResults?: boolean;
  credentials?: RegistryCredentials | null;
}

/** In an update, `credentials: undefined` keeps them and `null` removes them. */
export type RegistryPatch = Partial<RegistryInput>;

export interface RegistryRepository {
  /** E_INPUT when the name is taken. */
  create(input: RegistryInput): Promise<Registry>;
  update(id: string, patch: RegistryPatch): Promise<Registry | null>;
  get(id: string): Promise<Registry | null>;
  getByName(name: string): Promise<Registry | null>;
  list(): Promise<Registry[]>;
  delete(id: string): Promise<boolean>;
  /** Decrypted credentials, for the scanner only: never send them to a client. */
  credentials(id: string): Promise<RegistryCredentials | null>;
  /** A new webhook token (plaintext, shown once); the previous one stops working. */
  rotateWebhookToken(id: string): Promise<string>;
  verifyWebhookToken(id: string, token: string): Promise<boolean>;
  /**
   * The registry and the stored sha256 (hex) of its webhook token (null when it has none), for a
   * caller that caches them and compares presented tokens itself (in constant time, tokenMatches).
   */
  webhookAuth(id: string): Promise<{ registry: Registry; tokenHash: string | null } | null>;
}

// ---------- images ----------

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  negligible: number;
  unknown: number;
}

export interface ImageRecord {
  /** stableId(registry, repository, digest). */
  id: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  firstSeenAt: string;
  lastPushedAt: string | null;
  lastPulledAt: string | null;
  lastScannedAt: string | null;
}

export interface ImageSummary extends ImageRecord {
  scanId: string | null;
  /** Findings by severity in the latest scan of the digest (all zero when never scanned). */
  counts: SeverityCounts;
  /** The same, counting only findings with a fixed version. */
  fixableCounts: SeverityCounts;
  total: number;
  fixable: number;
  packages: number;
  /** Worst severity present; null when clean or never scanned. */
  worst: Severity | null;
}

export interface ImageUpsert {
  registry: string;
  repository: string;
  digest: string;
  /** Added to the image's tags (tags are never removed by an upsert). */
  tags?: string[];
  seenAt?: string;
  pushedAt?: string;
  pulledAt?: string;
}

export type ImageSort = 'repository' | 'lastScanned' | 'lastPushed' | 'severity' | 'total';

export interface ImageListQuery extends PageQuery {
  registry?: string;
  /** Exact repository. */
  repository?: string;
  /** Substring of repository, tag or digest (case-insensitive). */
  text?: string;
  /** Images with at least one finding of one of these severities. */
  severity?: Severity[];
  /** true: images with a fixable finding (of the given severities, if any); false: images with none. */
  fixable?: boolean;
  sort?: ImageSort;
  order?: SortOrder;
}

export interface ImageDetail {
  image: ImageSummary;
  packages: PackageRecord[];
  vulnerabilities: Finding[];
}

export interface ImageRepository {
  /** Insert or update the image seen at (registry, repository, digest); tags merge, timestamps move forward. */
  upsert(input: ImageUpsert): Promise<ImageRecord>;
  get(id: string): Promise<ImageSummary | null>;
  find(registry: string, repository: string, digest: string): Promise<ImageSummary | null>;
  list(query?: ImageListQuery): Promise<Page<ImageSummary>>;
  /**
   * The images (repositories, registries) holding one digest, scanned last first, then pushed
   * last first; at most `limit` (default 100, at most 500). An index lookup, not a search.
   */
  byDigest(digest: string, limit?: number): Promise<ImageSummary[]>;
  /** One image with its packages and vulnerabilities (worst first). */
  detail(id: string): Promise<ImageDetail | null>;
  delete(id: string): Promise<boolean>;
}

// ---------- findings ----------

export interface PackageRecord {
  id: string;
  name: string;
  version: string;
  type: PackageType;
  purl: string;
  licenses: string[];
  layerDigest: string | null;
}

export interface FindingInput {
  vulnerabilityId: string;
  aliases: string[];
  packageId: string;
  packageName: string;
  packageVersion: string;
  packageType: PackageType;
  purl: string;
  severity: Severity;
  fixedVersions: string[];
  kev: boolean;
  epss: number | null;
  epssPercentile: number | null;
  layerDigest: string | null;
  title: string | null;
}

export interface Finding extends FindingInput {
  digest: string;
  fixable: boolean;
}

export interface DigestScanResult {
  scanId: string | null;
  /** When the scan ran; an older result never replaces a newer one. */
  scannedAt: string;
  packages: PackageRecord[];
  findings: FindingInput[];
}

export interface FindingRepository {
  /**
   * Replace everything known about a digest's packages and findings with one scan's result,
   * atomically (readers see the old set or the new one). Returns false, changing nothing, when
   * a newer scan of the digest has already landed.
   */
  replaceForDigest(digest: string, result: DigestScanResult): Promise<boolean>;
  forDigest(digest: string): Promise<Finding[]>;
  packagesForDigest(digest: string): Promise<PackageRecord[]>;
}

// ---------- vulnerabilities across images ----------

export interface VulnerabilitySummary {
  id: string;
  severity: Severity;
  aliases: string[];
  title: string | null;
  kev: boolean;
  epss: number | null;
  /** Scanned digests with the vulnerability (an image is counted once per digest). */
  affectedImages: number;
  /** Of those, the ones where a fixed version exists. */
  fixableImages: number;
  affectedPackages: number;
}

export type VulnerabilitySort = 'severity' | 'affectedImages' | 'epss' | 'id';

export interface VulnerabilityListQuery extends PageQuery {
  /** Exact id, or an id prefix when it ends with `*`. */
  id?: string;
  severity?: Severity[];
  /** true: vulnerabilities with a fix in at least one image; false: with none. */
  fixable?: boolean;
  kev?: boolean;
  sort?: VulnerabilitySort;
  order?: SortOrder;
}

export interface AffectedImage {
  image: ImageRecord;
  packageName: string;
  packageVersion: string;
  fixedVersions: string[];
}

export interface VulnerabilityRepository {
  list(query?: VulnerabilityListQuery): Promise<Page<VulnerabilitySummary>>;
  get(id: string): Promise<VulnerabilitySummary | null>;
  /** The images carrying it, one row per image and package. */
  affectedImages(id: string, page?: { limit?: number; offset?: number }): Promise<Page<AffectedImage>>;
}

// ---------- trend ----------

/** Images counted by their worst severity on one day. */
export interface TrendPoint extends SeverityCounts {
  day: string;
  images: number;
  /** Scanned, no findings. */
  clean: number;
  unscanned: number;
}

export interface TrendRepository {
  /** Record today's (or `day`'s, YYYY-MM-DD) counts; taking it again the same day replaces it. */
  snapshot(day?: string): Promise<TrendPoint>;
  /** Points from `from` to `to` inclusive (YYYY-MM-DD), oldest first; days without a snapshot are absent. */
  range(from: string, to: string): Promise<TrendPoint[]>;
}

// ---------- scans ----------

export const SCAN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export interface ScanRecord {
  id: string;
  imageRef: string;
  digest: string | null;
  status: ScanStatus;
  error: string | null;
  attempts: number;
  jobId: string | null;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** Why the report of this (succeeded) scan could not be published into its registry; null when it was, or not tried. */
  publishError: string | null;
}

export interface ScanRepository {
  create(input: { imageRef: string; digest?: string; jobId?: string }): Promise<ScanRecord>;
  /** Mark running and count an attempt. */
  start(id: string): Promise<ScanRecord | null>;
  /** Mark succeeded and keep the report. Land the findings with FindingRepository in the same transaction. */
  succeed(id: string, report: ScanReport, digest?: string): Promise<ScanRecord | null>;
  fail(id: string, error: string): Promise<ScanRecord | null>;
  /** Record (or clear, with null) why publishing the scan's report failed; the scan's status is unchanged. */
  setPublishError(id: string, error: string | null): Promise<ScanRecord | null>;
  get(id: string): Promise<ScanRecord | null>;
  report(id: string): Promise<ScanReport | null>;
  list(query?: { digest?: string; status?: ScanStatus; limit?: number; offset?: number }): Promise<Page<ScanRecord>>;
}

// ---------- the whole ----------

export interface MigrationStatus {
  version: number;
  applied: number[];
}

export interface Storage {
  readonly backend: Backend;
  readonly tokens: TokenRepository;
  readonly registries: RegistryRepository;
  readonly images: ImageRepository;
  readonly findings: FindingRepository;
  readonly vulnerabilities: VulnerabilityRepository;
  readonly trends: TrendRepository;
  readonly scans: ScanRepository;
  readonly jobs: JobQueue;
  readonly clusters: ClusterRepository;
  readonly alerts: AlertRepository;
  /**
   * Run `fn` with a Storage bound to one transaction: all its writes commit together or not at
   * all. Use only the given `tx` inside `fn` (calling the outer storage there would wait on the
   * transaction itself on SQLite). Nested calls become savepoints.
   */
  withTransaction<T>(fn: (tx: Storage) => Promise<T>): Promise<T>;
  migrationStatus(): Promise<MigrationStatus>;
  /** Close connections; the storage is unusable afterwards. */
  close(): Promise<void>;
}
