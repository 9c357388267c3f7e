/**
 * Reading Palisade's reports back from a registry, whichever way they were published: the
 * referrers API where the registry has it, else the OCI 1.1 referrers tag schema index.
 */
import { PalisadeError, type ScanReport } from '@palisade/core';
import { parseOciIndex, type OciDescriptor, type ReportRegistryClient } from './api.js';
import {
  ANNOTATION_CREATED,
  ANNOTATION_VERSION,
  CYCLONEDX_JSON_MEDIA_TYPE,
  ANY_MANIFEST_ACCEPT,
  OCI_MANIFEST_MEDIA_TYPE,
  PALISADE_REPORT_ARTIFACT_TYPE,
  isDigest,
  isRepositoryName,
} from './media-types.js';
import { isReportOf, referrersTagFor } from './publish.js';

export interface ReportListing {
  method: 'referrers-api' | 'tag-schema';
  /** Palisade reports of the subject, newest first (by their created annotation). */
  reports: ReportDescriptor[];
}

export interface ReportDescriptor {
  digest: string;
  size: number;
  /** org.opencontainers.image.created, when the descriptor carries it. */
  created?: string;
  palisadeVersion?: string;
  annotations: Record<string, string>;
}

export interface ReadReport {
  report: ScanReport;
  cyclonedx: string;
  /** The subject digest the artifact points at. */
  subject: string;
  annotations: Record<string, string>;
}

/** Reports larger than this are refused when read back (a report of a huge image is a few MiB). */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

function toReport(d: OciDescriptor): ReportDescriptor {
  const annotations = d.annotations ?? {};
  const created = annotations[ANNOTATION_CREATED];
  const version = annotations[ANNOTATION_VERSION];
  return {
    digest: d.digest,
    size: d.size,
    ...(created !== undefined ? { created } : {}),
    ...(version !== undefined ? { palisadeVersion: version } : {}),
    annotations,
  };
}

/** Palisade's reports of `subjectDigest` in `repository`. */
export async function listReports(
  client: ReportRegistryClient,
  repository: string,
  subjectDigest: string,
): Promise<ReportListing> {
  if (!isRepositoryName(repository))
    throw new PalisadeError('E_INPUT', 'repository: not a repository name', { subject: repository });
  if (!isDigest(subjectDigest)) throw new PalisadeError('E_INPUT', 'not a digest', { subject: subjectDigest });
  const viaApi = await client.getReferrers(repository, subjectDigest, PALISADE_REPORT_ARTIFACT_TYPE);
  let method: ReportListing['method'] = 'referrers-api';
  let descriptors: OciDescriptor[] | undefined = viaApi;
  if (descriptors === undefined) {
    method = 'tag-schema';
    const tag = referrersTagFor(subjectDigest);
    try {
      const index = await client.getManifest(repository, tag, ANY_MANIFEST_ACCEPT);
      descriptors = parseOciIndex(index.bytes, `referrers index ${tag}`, client.imageName(repository, tag)).manifests;
    } catch (err) {
      if (!(err instanceof PalisadeError && err.code === 'E_NOT_FOUND')) throw err;
      descriptors = [];
    }
  }
  const reports = descriptors.filter((d) => d.artifactType === PALISADE_REPORT_ARTIFACT_TYPE).map(toReport);
  // ISO-8601 UTC timestamps sort as strings; undated ones go last.
  reports.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  return { method, reports };
}

/** Fetch one report artifact and its layers, checking it is a Palisade report. */
export async function readReport(
  client: ReportRegistryClient,
  repository: string,
  reportDigest: string,
): Promise<ReadReport> {
  if (!isDigest(reportDigest)) throw new PalisadeError('E_INPUT', 'not a digest', { subject: reportDigest });
  const name = client.imageName(repository, reportDigest);
  const manifest = await client.getManifest(repository, reportDigest, [OCI_MANIFEST_MEDIA_TYPE]);
  if (!isReportOf(manifest.bytes))
    throw new PalisadeError('E_UNSUPPORTED', 'not a Palisade report artifact', { subject: name });
  const json = JSON.parse(manifest.bytes.toString('utf8')) as {
    layers?: Array<{ mediaType?: unknown; digest?: unknown }>;
    subject?: { digest?: unknown };
    annotations?: Record<string, unknown>;
  };
  const layer = (mediaType: string): string => {
    const found = json.layers?.find((l) => l.mediaType === mediaType);
    if (!found || typeof found.digest !== 'string' || !isDigest(found.digest))
      throw new PalisadeError('E_CORRUPT', `report artifact has no ${mediaType} layer`, { subject: name });
    return found.digest;
  };
  const reportBytes = await client.getBlobBytes(repository, layer(PALISADE_REPORT_ARTIFACT_TYPE), MAX_REPORT_BYTES);
  const cdxBytes = await client.getBlobBytes(repository, layer(CYCLONEDX_JSON_MEDIA_TYPE), MAX_REPORT_BYTES);
  let report: unknown;
  try {
    report = JSON.parse(reportBytes.toString('utf8')) as unknown;
  } catch {
    throw new PalisadeError('E_CORRUPT', 'report layer is not JSON', { subject: name });
  }
  if (typeof report !== 'object' || report === null || (report as { schemaVersion?: unknown }).schemaVersion !== 1)
    throw new PalisadeError('E_UNSUPPORTED', 'report layer is not a Palisade report (schemaVersion 1)', {
      subject: name,
    });
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(json.annotations ?? {})) if (typeof v === 'string') annotations[k] = v;
  return {
    report: report as ScanReport,
    cyclonedx: cdxBytes.toString('utf8'),
    subject: typeof json.subject?.digest === 'string' ? json.subject.digest : '',
    annotations,
  };
}
