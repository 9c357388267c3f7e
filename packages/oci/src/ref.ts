/**
 * Image references, parsed as Docker and the distribution project do:
 *   [domain[:port]/]path[:tag][@digest]
 * A first component is a domain only when it holds a `.` or `:`, is `localhost`, or has an
 * uppercase letter; otherwise the image lives on Docker Hub, and a single-component name gets
 * the `library/` prefix there.
 */
import { PalisadeError } from '@palisade/core';

/** Docker Hub as people write it, and the host that actually serves its API. */
export const DOCKER_HUB_DOMAIN = 'docker.io';
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** Host (and port) to talk to, e.g. `registry-1.docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Domain as people write it, e.g. `docker.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  readonly repository: string;
  /** Tag; `latest` when neither tag nor digest was given. */
  readonly tag?: string;
  /** Digest (`algo:hex`); when present it wins over the tag for fetching. */
  readonly digest?: string;
  /** The reference as given. */
  readonly original: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const MAX_NAME_LENGTH = 255;

function invalid(ref: string, why: string): PalisadeError {
  return new PalisadeError('E_INPUT', `invalid image reference: ${why}`, { subject: ref });
}

function checkDigest(ref: string, digest: string): void {
  if (!DIGEST_RE.test(digest)) throw invalid(ref, `malformed digest "${digest}"`);
  const [algo = '', hex = ''] = digest.split(':', 2);
  const want = DIGEST_HEX_LENGTH[algo];
  if (want === undefined) throw invalid(ref, `unsupported digest algorithm "${algo}"`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex))
    throw invalid(ref, `digest must be ${want} lowercase hex characters`);
}

/** Split `name[:tag][@digest]` into its parts; the tag colon is the last one after the last `/`. */
function splitTagDigest(ref: string): { name: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const isDomain =
    slash >= 0 &&
    (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first || first.startsWith('['));
  if (!isDomain) return { domain: DOCKER_HUB_DOMAIN, path: name };
  return { domain: first, path: name.slice(slash + 1) };
}

/** Parse a reference; throws E_INPUT naming it when it does not follow the grammar. */
export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw invalid(input, 'empty reference');
  if (/\s/.test(ref)) throw invalid(ref, 'contains whitespace');
  const parts = splitTagDigest(ref);
  if (parts.digest !== undefined) checkDigest(ref, parts.digest);
  if (parts.tag !== undefined && !TAG_RE.test(parts.tag)) throw invalid(ref, `malformed tag "${parts.tag}"`);
  if (parts.name.length > MAX_NAME_LENGTH) throw invalid(ref, `name longer than ${MAX_NAME_LENGTH} characters`);
  let { domain, path } = splitDomain(parts.name);
  if (!DOMAIN_RE.test(domain)) throw invalid(ref, `malformed registry host "${domain}"`);
  if (domain === 'index.docker.io') domain = DOCKER_HUB_DOMAIN;
  if (path === '') throw invalid(ref, 'missing repository name');
  for (const component of path.split('/')) {
    if (component.toLowerCase() !== component) throw invalid(ref, 'repository name must be lowercase');
    if (!PATH_COMPONENT_RE.test(component)) throw invalid(ref, `malformed repository path component "${component}"`);
  }
  if (domain === DOCKER_HUB_DOMAIN && !path.includes('/')) path = `library/${path}`;
  const tag = parts.tag ?? (parts.digest === undefined ? 'latest' : undefined);
  return {
    registry: domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_API_HOST : domain,
    domain,
    repository: path,
    ...(tag !== undefined ? { tag } : {}),
    ...(parts.digest !== undefined ? { digest: parts.digest } : {}),
    original: input,
  };
}

/** `domain/repository`, or the short Docker Hub form (`nginx`, `user/app`) when `familiar`. */
export function repositoryName(ref: Pick<ImageReference, 'domain' | 'repository'>, familiar = false): string {
  if (familiar && ref.domain === DOCKER_HUB_DOMAIN) {
    return ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
  }
  return `${ref.domain}/${ref.repository}`;
}

/** The canonical string: `domain/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference, familiar = false): string {
  let s = repositoryName(ref, familiar);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** What to ask the registry for: the digest when there is one, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** True for a well-formed `algo:hex` digest of a supported algorithm. */
export function isDigest(s: string): boolean {
  const [algo = '', hex = ''] = s.split(':', 2);
  const want = DIGEST_HEX_LENGTH[algo];
  return want !== undefined && hex.length === want && /^[a-f0-9]+$/.test(hex);
}
