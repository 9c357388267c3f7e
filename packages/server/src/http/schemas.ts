/**
 * JSON Schemas of the API: the same objects validate requests (Fastify's Ajv), serialize
 * responses (fields not in a response schema are never sent, a second guard for secrets) and
 * make the OpenAPI document. Request schemas forbid unknown fields.
 */
import { SEVERITIES, PACKAGE_TYPES } from '@palisade/core';
import { ROLES, SCAN_STATUSES } from '../storage/index.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

const nullable = (type: string, extra: Record<string, unknown> = {}): JsonSchema => ({
  type: [type, 'null'],
  ...extra,
});
const str: JsonSchema = { type: 'string' };
const int: JsonSchema = { type: 'integer' };
const bool: JsonSchema = { type: 'boolean' };
const strArray: JsonSchema = { type: 'array', items: str };

export function object(
  properties: Record<string, JsonSchema>,
  required: string[] = Object.keys(properties),
  extra: Record<string, unknown> = {},
): JsonSchema {
  return { type: 'object', additionalProperties: false, properties, required, ...extra };
}

export const ErrorBody = object({
  error: object({ code: str, message: str }),
});

const severity = { type: 'string', enum: [...SEVERITIES] };
const packageType = { type: 'string', enum: [...PACKAGE_TYPES] };

export const SeverityCounts = object(Object.fromEntries(SEVERITIES.map((s) => [s, int])));

export const Page = (item: JsonSchema): JsonSchema =>
  object({ items: { type: 'array', items: item }, total: int, nextCursor: nullable('string') });

export const ImageSummary = object({
  id: str,
  registry: str,
  repository: str,
  digest: str,
  tags: strArray,
  firstSeenAt: str,
  lastPushedAt: nullable('string'),
  lastPulledAt: nullable('string'),
  lastScannedAt: nullable('string'),
  scanId: nullable('string'),
  counts: SeverityCounts,
  fixableCounts: SeverityCounts,
  total: int,
  fixable: int,
  packages: int,
  worst: { type: ['string', 'null'], enum: [...SEVERITIES, null] },
});

export const PackageRecord = object({
  id: str,
  name: str,
  version: str,
  type: packageType,
  purl: str,
  licenses: strArray,
  layerDigest: nullable('string'),
});

export const Finding = object({
  vulnerabilityId: str,
  aliases: strArray,
  packageId: str,
  packageName: str,
  packageVersion: str,
  packageType: packageType,
  purl: str,
  severity,
  fixedVersions: strArray,
  fixable: bool,
  kev: bool,
  epss: nullable('number'),
  epssPercentile: nullable('number'),
  layerDigest: nullable('string'),
  title: nullable('string'),
  digest: str,
});

export const ImageDetail = object({
  image: ImageSummary,
  /** Other repositories or registries holding the same digest. */
  alsoAt: { type: 'array', items: object({ id: str, registry: str, repository: str, tags: strArray }) },
  packages: { type: 'array', items: PackageRecord },
  vulnerabilities: { type: 'array', items: Finding },
});

export const VulnerabilitySummary = object({
  id: str,
  severity,
  aliases: strArray,
  title: nullable('string'),
  kev: bool,
  epss: nullable('number'),
  affectedImages: int,
  fixableImages: int,
  affectedPackages: int,
});

/** An image as an affected-images row shows it (no counts: those are per digest, not per row). */
export const ImageRecord = object({
  id: str,
  registry: str,
  repository: str,
  digest: str,
  tags: strArray,
  firstSeenAt: str,
  lastPushedAt: nullable('string'),
  lastPulledAt: nullable('string'),
  lastScannedAt: nullable('string'),
});

export const AffectedImage = object({
  image: ImageRecord,
  packageName: str,
  packageVersion: str,
  fixedVersions: strArray,
});

export const VulnerabilityDetail = object({
  vulnerability: VulnerabilitySummary,
  images: object({ items: { type: 'array', items: AffectedImage }, total: int, nextCursor: nullable('string') }),
});

export const TrendPoint = object({
  day: { type: 'string', description: 'YYYY-MM-DD (UTC)' },
  images: int,
  clean: { type: 'integer', description: 'scanned, no findings' },
  unscanned: int,
  ...Object.fromEntries(
    SEVERITIES.map((s) => [s, { type: 'integer', description: `images whose worst finding is ${s}` }]),
  ),
});

/**
 * A scan's JSON report as stored (the scanner's ScanReport). Its shape belongs to the scanner
 * (`schemaVersion` says which), so it is passed through whole rather than filtered by a schema
 * that would have to follow every change there.
 */
export const ScanReport: JsonSchema = {
  type: 'object',
  additionalProperties: true,
  description: 'the ScanReport JSON of a succeeded scan (as `palisade scan --format json` writes it)',
  properties: { schemaVersion: int },
  required: ['schemaVersion'],
};

export const ScanRecord = object({
  id: str,
  imageRef: str,
  digest: nullable('string'),
  status: { type: 'string', enum: [...SCAN_STATUSES] },
  error: nullable('string'),
  attempts: int,
  queuedAt: str,
  startedAt: nullable('string'),
  finishedAt: nullable('string'),
  durationMs: nullable('integer'),
  publishError: nullable('string', {
    description: 'why the report could not be published into the registry (the scan itself succeeded)',
  }),
});

/** One scan as GET /api/v1/scans/{id} shows it (the record carries publishError itself since migration 3). */
export const ScanDetail = ScanRecord;

export const Registry = object({
  id: str,
  name: str,
  url: str,
  insecure: bool,
  readOnly: bool,
  publishResults: bool,
  hasCredentials: bool,
  hasWebhookToken: bool,
  webhookUrl: str,
  createdAt: str,
  updatedAt: str,
});

export const ApiToken = object({
  id: str,
  name: str,
  role: { type: 'string', enum: [...ROLES] },
  displayPrefix: str,
  createdAt: str,
  expiresAt: nullable('string'),
  lastUsedAt: nullable('string'),
  revokedAt: nullable('string'),
});

// ---------- requests ----------

const severityList = {
  type: 'string',
  pattern: `^(${SEVERITIES.join('|')})(,(${SEVERITIES.join('|')}))*$`,
  description: 'comma-separated severities',
};
const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page (same filters)' },
};
const order = { type: 'string', enum: ['asc', 'desc'] };

export const ImageListQuery = object(
  {
    registry: { type: 'string', maxLength: 255 },
    repository: { type: 'string', maxLength: 512 },
    q: { type: 'string', maxLength: 256, description: 'substring of repository, tag or digest' },
    severity: severityList,
    fixable: bool,
    sort: { type: 'string', enum: ['repository', 'lastScanned', 'lastPushed', 'severity', 'total'] },
    order,
    ...paging,
  },
  [],
);

export const VulnerabilityListQuery = object(
  {
    id: { type: 'string', maxLength: 128, description: 'exact id, or a prefix ending with *' },
    severity: severityList,
    fixable: bool,
    kev: bool,
    sort: { type: 'string', enum: ['severity', 'affectedImages', 'epss', 'id'] },
    order,
    ...paging,
  },
  [],
);

export const ScanListQuery = object(
  {
    status: { type: 'string', enum: [...SCAN_STATUSES] },
    digest: { type: 'string', maxLength: 200 },
    limit: paging.limit,
    offset: paging.offset,
  },
  [],
);

export const DigestParams = object({
  digest: { type: 'string', pattern: '^[a-z0-9]+:[a-f0-9]{32,128}$', description: 'manifest digest, e.g. sha256:…' },
});

const day = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (UTC)' };
export const TrendQuery = object({ from: day, to: day });

export const VulnerabilityDetailQuery = object({ limit: paging.limit, offset: paging.offset }, []);

export const VulnerabilityIdParams = object({
  id: {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
    description: 'CVE-…, GHSA-…, DSA-… and other advisory ids',
  },
});

export const WebhookTokenRotated = object({
  registry: Registry,
  webhook: object({
    url: str,
    token: { type: 'string', description: 'shown once; the previous token stops working now' },
  }),
});

export const IdParams = object({ id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' } });

export const ScanCreateBody = object({
  reference: {
    type: 'string',
    minLength: 1,
    maxLength: 1024,
    description:
      'image reference: host/repo:tag, host/repo@sha256:…, or (when enabled) oci:DIR[:tag], archive:FILE, dir:PATH',
  },
});

export const ScanCreated = object({ scan: ScanRecord, deduplicated: bool });

export const RegistryCreateBody = object(
  {
    name: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9._-]+$' },
    url: { type: 'string', minLength: 1, maxLength: 512, pattern: '^https?://' },
    insecure: { type: 'boolean', default: false },
    readOnly: { type: 'boolean', default: false, description: 'never write to this registry (no published reports)' },
    publishResults: {
      type: 'boolean',
      description: 'attach each scan report to its image as an OCI referrer (default: true unless readOnly)',
    },
    credentials: object({
      username: { type: 'string', minLength: 1, maxLength: 256 },
      password: { type: 'string', minLength: 1, maxLength: 8192, writeOnly: true },
    }),
  },
  ['name', 'url'],
);

export const RegistryCreated = object({
  registry: Registry,
  webhook: object({
    url: str,
    token: { type: 'string', description: 'shown once: send it as `Authorization: Bearer <token>` from the registry' },
  }),
});

/** The distribution notification envelope as far as the receiver reads it (documentation only). */
export const RegistryEventsBody: JsonSchema = {
  type: 'object',
  description:
    'CNCF distribution notification envelope ({events: [...]}) or a Harbor webhook / CloudEvent; see docs/registry-integration.md',
  properties: {
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: str,
          action: { type: 'string', enum: ['push', 'pull', 'delete', 'mount'] },
          target: {
            type: 'object',
            properties: { mediaType: str, digest: str, repository: str, url: str, tag: str },
          },
          request: { type: 'object', properties: { useragent: str } },
        },
      },
    },
  },
};

export const RegistryEventsAccepted = object({
  received: { type: 'integer', description: 'events (or Harbor resources) in the body' },
  pushes: { type: 'integer', description: 'distinct image manifests reported pushed' },
  queued: { type: 'integer', description: 'new scans queued' },
  deduplicated: { type: 'integer', description: 'pushes whose digest already has a pending or finished scan' },
  pulls: { type: 'integer', description: 'known images whose last-pulled time moved' },
  ignored: { type: 'integer', description: 'blobs, deletes, signatures, Palisade’s own pushes…' },
});

export const TokenCreateBody = object(
  {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    role: { type: 'string', enum: [...ROLES] },
    expiresAt: { type: 'string', format: 'date-time' },
  },
  ['name', 'role'],
);

export const TokenCreated = object({ token: { type: 'string', description: 'shown once' }, record: ApiToken });

export const Health = object({ status: str }, ['status']);

export const Ready = object({
  status: { type: 'string', enum: ['ready', 'not ready'] },
  checks: object({
    storage: object({ ok: bool, error: nullable('string') }),
    vulnDb: object({ ok: bool, builtAt: nullable('string'), error: nullable('string') }),
  }),
});
