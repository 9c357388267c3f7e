/**
 * Publishing a scan's results back into the registry, next to the image: an OCI 1.1 artifact
 * manifest whose `subject` is the scanned manifest, artifactType
 * application/vnd.palisade.vulnerability-report.v1+json, carrying the JSON report and a
 * CycloneDX SBOM. Tools that speak OCI referrers (oras discover, cosign tree, Harbor, regctl)
 * then find the report from the image.
 *
 * The image is never touched: the artifact is pushed by its own digest, and the only tag ever
 * written is the OCI 1.1 referrers tag schema tag `sha256-<hex of subject>` on registries without
 * the referrers API (an index that other tools share, so their entries are kept as they are).
 * Re-publishing for the same digest replaces Palisade's previous report: with the referrers API,
 * the old manifest is deleted; with the tag schema, it is dropped from the index (and deleted
 * where the registry allows, so it does not linger as an orphan).
 *
 * Concurrency: the tag schema update is read-modify-write of one tag, so two publishes for the
 * same subject must not run at once. The worker scans one digest at a time, which guarantees it.
 */
import { PALISADE_VERSION, PalisadeError, type Clock, type ScanReport } from '@palisade/core';
import { digestOf } from '@palisade/oci';
import { writeReport } from '@palisade/scanner';
import type { OciDescriptor, ReportRegistryClient } from './api.js';
import {
  ANY_MANIFEST_ACCEPT,
  ANNOTATION_CREATED,
  ANNOTATION_SCANNED_DIGEST,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  ANNOTATION_VULNERABILITIES,
  CYCLONEDX_JSON_MEDIA_TYPE,
  OCI_EMPTY_DIGEST,
  OCI_EMPTY_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  PALISADE_REPORT_ARTIFACT_TYPE,
  isDigest,
  isRepositoryName,
} from './media-types.js';

export interface SubjectDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PublishReportOptions {
  client: ReportRegistryClient;
  repository: string;
  /** The scanned manifest (or index) as the registry serves it. */
  subject: SubjectDescriptor;
  report: ScanReport;
  /** The CycloneDX JSON document of the same scan (writeReport(report, 'cyclonedx')). */
  cyclonedx: string;
  clock: Clock;
  signal?: AbortSignal;
}

export interface PublishResult {
  /** Digest of the pushed report manifest. */
  digest: string;
  method: 'referrers-api' | 'tag-schema';
  /** Previous Palisade reports of this subject that were removed (deleted or dropped from the index). */
  replaced: string[];
  /** Previous report manifests the registry would not delete (deletion disabled): they stay, unreferenced (tag schema) or still listed (referrers API). */
  notDeleted: Array<{ digest: string; reason: string }>;
}

/** `sha256-<hex>`: the OCI 1.1 referrers tag schema tag for a subject digest. */
export function referrersTagFor(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

const SUBJECT_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const EMPTY_JSON = Buffer.from('{}');

interface BuiltArtifact {
  manifest: Buffer;
  digest: string;
  descriptor: OciDescriptor;
  blobs: Buffer[];
}

/** The report artifact: blobs and the manifest bytes (deterministic for equal inputs and time). */
export function buildReportArtifact(
  subject: SubjectDescriptor,
  report: ScanReport,
  cyclonedx: string,
  created: Date,
): BuiltArtifact {
  const json = Buffer.from(writeReport(report, 'json'), 'utf8');
  const cdx = Buffer.from(cyclonedx, 'utf8');
  const annotations: Record<string, string> = {
    [ANNOTATION_CREATED]: created.toISOString(),
    [ANNOTATION_VERSION]: PALISADE_VERSION,
    [ANNOTATION_SCANNED_DIGEST]: subject.digest,
    [ANNOTATION_VULNERABILITIES]: String(report.vulnerabilities.length),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: PALISADE_REPORT_ARTIFACT_TYPE,
    // `data` inlines the two bytes; the blob is pushed as well, since registries predating
    // OCI 1.1 (distribution 2.8) check that the config blob exists.
    config: { mediaType: OCI_EMPTY_MEDIA_TYPE, digest: OCI_EMPTY_DIGEST, size: EMPTY_JSON.length, data: 'e30=' },
    layers: [
      {
        mediaType: PALISADE_REPORT_ARTIFACT_TYPE,
        digest: digestOf(json),
        size: json.length,
        annotations: { [ANNOTATION_TITLE]: 'palisade-report.json' },
      },
      {
        mediaType: CYCLONEDX_JSON_MEDIA_TYPE,
        digest: digestOf(cdx),
        size: cdx.length,
        annotations: { [ANNOTATION_TITLE]: 'sbom.cdx.json' },
      },
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const digest = digestOf(bytes);
  return {
    manifest: bytes,
    digest,
    descriptor: {
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest,
      size: bytes.length,
      artifactType: PALISADE_REPORT_ARTIFACT_TYPE,
      annotations,
    },
    blobs: [EMPTY_JSON, json, cdx],
  };
}

function validateSubject(subject: SubjectDescriptor): void {
  if (!isDigest(subject.digest))
    throw new PalisadeError('E_INPUT', 'subject.digest: not a digest', { subject: subject.digest });
  if (!SUBJECT_MEDIA_TYPES.has(subject.mediaType))
    throw new PalisadeError('E_INPUT', `subject.mediaType: "${subject.mediaType}" is not an image manifest or index`, {
      subject: subject.digest,
    });
  if (!Number.isSafeInteger(subject.size) || subject.size <= 0)
    throw new PalisadeError('E_INPUT', 'subject.size: not a positive integer', { subject: subject.digest });
}

/** Push the report for `subject`, replacing Palisade's previous report of that digest. */
export async function publishReport(options: PublishReportOptions): Promise<PublishResult> {
  const { client, repository, subject, signal } = options;
  validateSubject(subject);
  if (!isRepositoryName(repository))
    throw new PalisadeError('E_INPUT', 'repository: not a repository name', { subject: repository });
  const call = signal ? { signal } : {};
  // The subject must exist as described: a report pointing at nothing (or at a different size)
  // would be an orphan no tool could find. This GET is also the only read of the image.
  const current = await client.getManifest(repository, subject.digest, [subject.mediaType], call);
  if (current.bytes.length !== subject.size)
    throw new PalisadeError(
      'E_INPUT',
      `subject.size: ${subject.size} but the registry's manifest is ${current.bytes.length} bytes`,
      { subject: client.imageName(repository, subject.digest) },
    );

  const artifact = buildReportArtifact(subject, options.report, options.cyclonedx, options.clock.now());
  // Ask before pushing, so the new report is never mistaken for a previous one.
  const previous = await client.getReferrers(repository, subject.digest, PALISADE_REPORT_ARTIFACT_TYPE);

  for (const blob of artifact.blobs) await client.putBlob(repository, blob, call);
  // By digest: never by a tag, so no tag the user owns can move.
  await client.putManifest(repository, artifact.digest, artifact.manifest, OCI_MANIFEST_MEDIA_TYPE, call);

  if (previous !== undefined) {
    const stale = previous.filter((d) => d.digest !== artifact.digest).map((d) => d.digest);
    const { deleted, notDeleted } = await deleteReports(client, repository, subject.digest, stale, artifact.digest);
    return { digest: artifact.digest, method: 'referrers-api', replaced: deleted, notDeleted };
  }

  const dropped = await updateReferrersTag(client, repository, subject.digest, artifact, call);
  // Out of the index they are invisible to every client; deleting them just frees the space.
  const { notDeleted } = await deleteReports(client, repository, subject.digest, dropped, artifact.digest);
  return { digest: artifact.digest, method: 'tag-schema', replaced: dropped, notDeleted };
}

/**
 * Rewrite the referrers tag schema index: drop Palisade's previous report descriptors, add the
 * new one, keep everything else byte-for-byte (other tools' entries). Returns the dropped digests.
 */
async function updateReferrersTag(
  client: ReportRegistryClient,
  repository: string,
  subjectDigest: string,
  artifact: BuiltArtifact,
  call: { signal?: AbortSignal },
): Promise<string[]> {
  const tag = referrersTagFor(subjectDigest);
  const name = client.imageName(repository, tag);
  let entries: unknown[] = [];
  let extra: Record<string, unknown> = {};
  let existing: Awaited<ReturnType<ReportRegistryClient['getManifest']>> | undefined;
  try {
    existing = await client.getManifest(repository, tag, ANY_MANIFEST_ACCEPT, call);
  } catch (err) {
    if (!(err instanceof PalisadeError && err.code === 'E_NOT_FOUND')) throw err;
  }
  if (existing) {
    let json: unknown;
    try {
      json = JSON.parse(existing.bytes.toString('utf8')) as unknown;
    } catch {
      json = undefined;
    }
    // Anything but an index under this tag is not ours to overwrite (a user may have pushed an
    // image there): refuse rather than destroy it.
    if (
      typeof json !== 'object' ||
      json === null ||
      !Array.isArray((json as { manifests?: unknown }).manifests) ||
      existing.mediaType !== OCI_INDEX_MEDIA_TYPE
    ) {
      throw new PalisadeError(
        'E_REGISTRY',
        `tag ${tag} holds a ${existing.mediaType}, not an OCI referrers index; not overwriting it`,
        { subject: name },
      );
    }
    const { manifests, ...rest } = json as { manifests: unknown[] } & Record<string, unknown>;
    entries = manifests;
    extra = rest;
  }
  const dropped: string[] = [];
  const kept = entries.filter((e) => {
    const d = e as { artifactType?: unknown; digest?: unknown };
    if (d.artifactType !== PALISADE_REPORT_ARTIFACT_TYPE) return true;
    if (typeof d.digest === 'string' && d.digest !== artifact.digest) dropped.push(d.digest);
    return false;
  });
  const push = (entries: unknown[]): Promise<string> => {
    const index = {
      ...extra,
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: [...entries, artifact.descriptor],
    };
    return client.putManifest(repository, tag, Buffer.from(JSON.stringify(index), 'utf8'), OCI_INDEX_MEDIA_TYPE, call);
  };
  try {
    await push(kept);
  } catch (err) {
    // Distribution refuses an index listing a manifest it no longer has (MANIFEST_BLOB_UNKNOWN):
    // another tool deleted its referrer without updating the index. Drop the dead entries once
    // and retry, or the subject could never get a report again.
    if (!(err instanceof PalisadeError && err.code === 'E_REGISTRY' && err.message.includes('MANIFEST_BLOB_UNKNOWN')))
      throw err;
    const live: unknown[] = [];
    for (const e of kept) {
      const digest = (e as { digest?: unknown }).digest;
      if (typeof digest === 'string' && isDigest(digest) && (await manifestExists(client, repository, digest, call)))
        live.push(e);
    }
    await push(live);
  }
  return dropped;
}

async function manifestExists(
  client: ReportRegistryClient,
  repository: string,
  digest: string,
  call: { signal?: AbortSignal },
): Promise<boolean> {
  try {
    await client.getManifest(repository, digest, ANY_MANIFEST_ACCEPT, call);
    return true;
  } catch (err) {
    if (err instanceof PalisadeError && err.code === 'E_NOT_FOUND') return false;
    throw err;
  }
}

/**
 * Delete previous report manifests, each only after checking it really is a Palisade report of
 * this subject: a DELETE by digest also removes every tag on that manifest, so a descriptor
 * someone else put in the index must never lead to deleting an image.
 */
async function deleteReports(
  client: ReportRegistryClient,
  repository: string,
  subjectDigest: string,
  digests: readonly string[],
  newDigest: string,
): Promise<{ deleted: string[]; notDeleted: Array<{ digest: string; reason: string }> }> {
  const deleted: string[] = [];
  const notDeleted: Array<{ digest: string; reason: string }> = [];
  for (const digest of new Set(digests)) {
    if (digest === newDigest || digest === subjectDigest || !isDigest(digest)) continue;
    let manifest: Awaited<ReturnType<ReportRegistryClient['getManifest']>>;
    try {
      manifest = await client.getManifest(repository, digest, [OCI_MANIFEST_MEDIA_TYPE]);
    } catch (err) {
      if (err instanceof PalisadeError && err.code === 'E_NOT_FOUND') {
        deleted.push(digest);
        continue;
      }
      throw err;
    }
    if (!isReportOf(manifest.bytes, subjectDigest)) {
      notDeleted.push({ digest, reason: 'not a Palisade report of this image; left alone' });
      continue;
    }
    const outcome = await client.deleteManifest(repository, digest);
    if (outcome.deleted) deleted.push(digest);
    else notDeleted.push({ digest, reason: outcome.reason });
  }
  return { deleted, notDeleted };
}

/** True when `bytes` is a Palisade report manifest (of `subjectDigest`, when given). */
export function isReportOf(bytes: Buffer, subjectDigest?: string): boolean {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { artifactType?: unknown; subject?: { digest?: unknown } };
    if (json.artifactType !== PALISADE_REPORT_ARTIFACT_TYPE) return false;
    return subjectDigest === undefined || json.subject?.digest === subjectDigest;
  } catch {
    return false;
  }
}

/**
 * Whether reports are published into a registry: off for read-only registries whatever the
 * setting says, otherwise the per-registry setting (on by default).
 */
export function publishEnabled(registry: { readOnly: boolean; publishReports?: boolean }): boolean {
  return !registry.readOnly && registry.publishReports !== false;
}
