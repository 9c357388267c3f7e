/** Media types and annotation keys of the reports Palisade publishes into registries. */
import { PALISADE_VERSION } from '@palisade/core';

/** The artifactType of a Palisade report manifest, and the media type of its JSON layer. */
export const PALISADE_REPORT_ARTIFACT_TYPE = 'application/vnd.palisade.vulnerability-report.v1+json';
export const CYCLONEDX_JSON_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
/** The OCI 1.1 empty descriptor: config of artifacts that have none. */
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

/**
 * Accept for reading the referrers tag: everything a tag can hold. Accepting only the index type
 * is not enough: distribution answers 404 for a manifest whose type the client does not accept,
 * and a publisher that took that for "no index yet" would overwrite a user's image at that tag.
 */
export const ANY_MANIFEST_ACCEPT: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
];

export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_VERSION = 'dev.palisade.version';
export const ANNOTATION_SCANNED_DIGEST = 'dev.palisade.scanned-digest';
export const ANNOTATION_VULNERABILITIES = 'dev.palisade.vulnerabilities';

/**
 * The User-Agent Palisade must use for registry writes (pass it as RegistryClientOptions.userAgent):
 * the event receiver recognizes it in notifications and ignores Palisade's own pushes.
 */
export const PALISADE_USER_AGENT = `palisade/${PALISADE_VERSION}`;

const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** The distribution reference grammar for a repository path (lowercase components joined by '/'). */
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** A sha256 or sha512 digest, the only algorithms registries use. */
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** A repository path a registry URL can carry (it is interpolated into /v2/<repo>/…). */
export function isRepositoryName(s: string): boolean {
  return s.length <= 255 && REPOSITORY_RE.test(s);
}
