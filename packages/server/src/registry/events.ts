/**
 * Push notifications from registries, for push-triggered scanning. Two wire formats:
 *
 * - the CNCF Distribution notification envelope (`application/vnd.docker.distribution.events.v1+json`),
 *   sent by the distribution registry itself (Debian docker-registry), GitLab's container
 *   registry and Harbor's embedded registry: `{events: [{id, action, target, request, …}]}`;
 * - Harbor's own webhook JSON (`{type: PUSH_ARTIFACT, event_data: {resources, repository}}`),
 *   and its CloudEvents variant (`{specversion, type: harbor.artifact.pushed, data: …}`).
 *
 * The parser is pure and framework-free: it turns a body into the manifest pushes worth
 * scanning. A push makes many events (one per blob, one per manifest, a retry repeats them);
 * only manifest pushes count, deduplicated by repository and digest within the envelope, so
 * the caller enqueues one scan per digest. Whatever is not a push of an image manifest (blobs,
 * pulls, deletes, mounts, signatures and referrers indexes, Palisade's own report pushes) is
 * counted as ignored, never an error: registries send all of it and retry on a non-2xx answer.
 * A body that does not have the documented shape is an E_INPUT error naming the field, so the
 * sender's operator sees what is wrong.
 */
import { PalisadeError } from '@palisade/core';
import { tokenMatches } from '../secrets/tokens.js';
import { PALISADE_REPORT_ARTIFACT_TYPE, isDigest, isRepositoryName } from './media-types.js';

export const DISTRIBUTION_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/**
 * More events than this in one envelope is refused. Distribution sends one event per envelope by
 * default and at most a few hundred when batching; 10,000 leaves room for any real sender while
 * keeping one request's work bounded (the caller separately bounds the body size).
 */
export const MAX_EVENTS_PER_ENVELOPE = 10_000;

/** Manifest media types that are images (or image indexes) and therefore scannable. */
const IMAGE_MANIFEST_TYPES: ReadonlyMap<string, 'manifest' | 'index'> = new Map([
  ['application/vnd.oci.image.manifest.v1+json', 'manifest'],
  ['application/vnd.docker.distribution.manifest.v2+json', 'manifest'],
  ['application/vnd.oci.image.index.v1+json', 'index'],
  ['application/vnd.docker.distribution.manifest.list.v2+json', 'index'],
]);

/** Schema 1 manifests are still pushed by very old clients; they are manifests, not blobs, but Palisade cannot scan them. */
const LEGACY_MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** Manifests that are never images: an OCI 1.1-rc artifact manifest, Palisade's own report. */
const OTHER_MANIFEST_TYPES = new Set(['application/vnd.oci.artifact.manifest.v1+json', PALISADE_REPORT_ARTIFACT_TYPE]);

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/**
 * Tags that are not images but attachments to one: the OCI 1.1 referrers tag schema
 * (`sha256-<hex>`, which Palisade itself writes) and cosign's `sha256-<hex>.sig/.att/.sbom`.
 */
const ATTACHMENT_TAG_RE = /^sha(?:256|512)-[a-f0-9]{32,128}(?:\.[A-Za-z0-9_-]+)?$/;
/** Palisade's User-Agent is `palisade/<version>` (RegistryClient's default is plain `palisade`). */
const PALISADE_USER_AGENT_RE = /^palisade(?:\/|\s|$)/i;

export type EventFormat = 'distribution' | 'harbor' | 'harbor-cloudevents';

/** One image manifest push worth a scan. */
export interface ManifestPush {
  repository: string;
  digest: string;
  /** The tag the push named, when it named one (a push by digest has none). */
  tag?: string;
  /** The manifest's media type; Harbor's webhooks do not say, so it is absent for them. */
  mediaType?: string;
  /** `index` for a multi-platform image index; `unknown` when the sender does not say (Harbor). */
  kind: 'manifest' | 'index' | 'unknown';
  /** Ids of the events that reported this push (several when the sender repeated itself). */
  eventIds: string[];
}

/** A manifest pull by someone other than Palisade: it moves the image's last-pulled time. */
export interface ManifestPull {
  repository: string;
  digest: string;
  tag?: string;
}

export type IgnoreReason = 'blob' | 'pull' | 'delete' | 'mount' | 'own' | 'attachment' | 'not-an-image' | 'other';

export interface ParsedEvents {
  format: EventFormat;
  /** Events (Distribution) or resources (Harbor) in the body. */
  total: number;
  /** Manifest pushes to scan, one per repository@digest, in the order first seen. */
  pushes: ManifestPush[];
  /**
   * Manifest pulls, one per repository@digest (still counted in `ignored.pull`: they are never
   * scanned). Blob pulls and Palisade's own pulls (its scans) are left out, so an image only
   * Palisade reads does not look in use to the rescan window.
   */
  pulls: ManifestPull[];
  /** How many events were ignored, by why (for metrics and for tests). */
  ignored: Record<IgnoreReason, number>;
}

export interface ParseEventsOptions {
  /**
   * Harbor operators (user or robot account names) whose pushes are Palisade's own, e.g. the
   * robot account Palisade publishes reports with. Harbor's webhooks carry no User-Agent.
   */
  ownOperators?: readonly string[];
  /** Override MAX_EVENTS_PER_ENVELOPE (tests, tighter deployments). */
  maxEvents?: number;
}

function inputError(field: string, message: string): PalisadeError {
  return new PalisadeError('E_INPUT', `${field}: ${message}`, { subject: 'registry event' });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function requireRecord(v: unknown, field: string): Record<string, unknown> {
  if (!isRecord(v)) throw inputError(field, `not an object (got ${typeName(v)})`);
  return v;
}

function optionalString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw inputError(`${field}.${key}`, `not a string (got ${typeName(v)})`);
  return v;
}

function requireDigest(v: unknown, field: string): string {
  if (typeof v !== 'string') throw inputError(field, `not a digest (got ${typeName(v)})`);
  if (!isDigest(v)) throw inputError(field, 'not a digest');
  return v;
}

function requireRepository(v: unknown, field: string): string {
  if (typeof v !== 'string') throw inputError(field, `not a repository name (got ${typeName(v)})`);
  // The repository goes into registry URLs later: reject anything outside the reference grammar here.
  if (!isRepositoryName(v)) throw inputError(field, 'not a repository name');
  return v;
}

/** '' and absent both mean "no tag"; anything else must be a valid tag. */
function optionalTag(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !TAG_RE.test(v)) throw inputError(field, 'not a tag');
  return v;
}

function emptyIgnored(): Record<IgnoreReason, number> {
  return { blob: 0, pull: 0, delete: 0, mount: 0, own: 0, attachment: 0, 'not-an-image': 0, other: 0 };
}

/** Collects pushes keyed by repository@digest, merging repeats (retries, duplicate events). */
class PushSet {
  private readonly byKey = new Map<string, ManifestPush>();

  add(push: ManifestPush): void {
    const key = `${push.repository}@${push.digest}`;
    const seen = this.byKey.get(key);
    if (!seen) {
      this.byKey.set(key, push);
      return;
    }
    for (const id of push.eventIds) if (!seen.eventIds.includes(id)) seen.eventIds.push(id);
    if (seen.tag === undefined && push.tag !== undefined) seen.tag = push.tag;
    if (seen.mediaType === undefined && push.mediaType !== undefined) {
      seen.mediaType = push.mediaType;
      seen.kind = push.kind;
    }
  }

  list(): ManifestPush[] {
    return [...this.byKey.values()];
  }
}

/** Parse a body that may still be bytes or text (the HTTP layer may not parse vendor JSON types). */
function asJson(body: unknown): unknown {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return body;
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw inputError('body', 'not valid JSON');
  }
}

function baseContentType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Parse a notification body. `contentType` is the request's Content-Type: the Distribution media
 * type selects the envelope; `application/json` (Harbor, and proxies that rewrite the type) and
 * `application/cloudevents+json` are recognized by shape.
 */
export function parseRegistryEvents(
  body: unknown,
  contentType: string,
  options: ParseEventsOptions = {},
): ParsedEvents {
  const ct = baseContentType(contentType);
  const json = asJson(body);
  const maxEvents = options.maxEvents ?? MAX_EVENTS_PER_ENVELOPE;
  if (ct === DISTRIBUTION_EVENTS_MEDIA_TYPE) return parseDistribution(json, maxEvents);
  if (ct !== '' && ct !== 'application/json' && ct !== 'application/cloudevents+json' && ct !== 'text/plain') {
    throw new PalisadeError('E_UNSUPPORTED', `content type "${ct}" is not a registry event format`, {
      subject: 'registry event',
    });
  }
  const root = requireRecord(json, 'body');
  if ('events' in root) return parseDistribution(root, maxEvents);
  if ('specversion' in root) return parseHarborCloudEvent(root, options, maxEvents);
  if ('event_data' in root || 'type' in root) return parseHarbor(root, 'harbor', options, maxEvents);
  throw inputError('body', 'neither a distribution envelope (events) nor a Harbor webhook (type, event_data)');
}

function parseDistribution(json: unknown, maxEvents: number): ParsedEvents {
  const root = requireRecord(json, 'body');
  const events = root['events'];
  if (!Array.isArray(events)) throw inputError('events', `not an array (got ${typeName(events)})`);
  if (events.length > maxEvents) {
    throw new PalisadeError('E_TOO_LARGE', `events: ${events.length} events, over the limit of ${maxEvents}`, {
      subject: 'registry event',
    });
  }
  const ignored = emptyIgnored();
  const pushes = new PushSet();
  const pulls = new PullSet();
  events.forEach((raw, i) => {
    const field = `events[${i}]`;
    const event = requireRecord(raw, field);
    const id = optionalString(event, 'id', field) ?? '';
    const action = event['action'];
    if (typeof action !== 'string') throw inputError(`${field}.action`, `not a string (got ${typeName(action)})`);
    const target = requireRecord(event['target'], `${field}.target`);
    const request = event['request'] === undefined ? {} : requireRecord(event['request'], `${field}.request`);
    if (action === 'pull') {
      const pull = distributionPull(target, request);
      if (pull) pulls.add(pull);
    }
    const push = classifyDistributionEvent(action, target, request, `${field}.target`, ignored);
    if (push) pushes.add({ ...push, eventIds: id ? [id] : [] });
  });
  return { format: 'distribution', total: events.length, pushes: pushes.list(), pulls: pulls.list(), ignored };
}

/** Collects pulls keyed by repository@digest. */
class PullSet {
  private readonly byKey = new Map<string, ManifestPull>();

  add(pull: ManifestPull): void {
    const key = `${pull.repository}@${pull.digest}`;
    const seen = this.byKey.get(key);
    if (!seen) this.byKey.set(key, pull);
    else if (seen.tag === undefined && pull.tag !== undefined) seen.tag = pull.tag;
  }

  list(): ManifestPull[] {
    return [...this.byKey.values()];
  }
}

/**
 * The manifest pull a pull event reports, if it is one worth recording. A pull is never an error:
 * a malformed one is skipped rather than refusing the envelope its pushes came in.
 */
function distributionPull(target: Record<string, unknown>, request: Record<string, unknown>): ManifestPull | undefined {
  const { digest, repository, url, mediaType, tag } = target;
  const userAgent = request['useragent'];
  if (typeof digest !== 'string' || !isDigest(digest)) return undefined;
  if (typeof repository !== 'string' || !isRepositoryName(repository)) return undefined;
  if (typeof userAgent === 'string' && PALISADE_USER_AGENT_RE.test(userAgent)) return undefined;
  const manifestUrl = typeof url === 'string' && /\/manifests\/[^/]+$/.test(url);
  if (!manifestUrl && !(typeof mediaType === 'string' && IMAGE_MANIFEST_TYPES.has(mediaType))) return undefined;
  if (typeof tag === 'string' && ATTACHMENT_TAG_RE.test(tag)) return undefined;
  return { repository, digest, ...(typeof tag === 'string' && TAG_RE.test(tag) ? { tag } : {}) };
}

/** The push an event reports, or undefined after counting why it is ignored. */
function classifyDistributionEvent(
  action: string,
  target: Record<string, unknown>,
  request: Record<string, unknown>,
  field: string,
  ignored: Record<IgnoreReason, number>,
): Omit<ManifestPush, 'eventIds'> | undefined {
  if (action !== 'push') {
    const reason: IgnoreReason = action === 'pull' || action === 'delete' || action === 'mount' ? action : 'other';
    ignored[reason]++;
    return undefined;
  }
  // Everything a push event must carry is checked before deciding to ignore it, so a broken
  // sender is noticed on its first blob rather than only when a manifest comes by.
  const mediaType = optionalString(target, 'mediaType', field) ?? '';
  const digest = requireDigest(target['digest'], `${field}.digest`);
  const repository = requireRepository(target['repository'], `${field}.repository`);
  const tag = optionalTag(target['tag'], `${field}.tag`);
  const url = optionalString(target, 'url', field) ?? '';
  const artifactType = optionalString(target, 'artifactType', field);
  const userAgent = optionalString(request, 'useragent', field.replace(/\.target$/, '.request')) ?? '';

  // Distribution reports blob uploads as pushes too (mediaType application/octet-stream, or a
  // layer/config type, and a /blobs/ URL).
  const manifestUrl = /\/manifests\/[^/]+$/.test(url);
  const manifestType =
    IMAGE_MANIFEST_TYPES.has(mediaType) || LEGACY_MANIFEST_TYPES.has(mediaType) || OTHER_MANIFEST_TYPES.has(mediaType);
  if (/\/blobs\/[^/]+$/.test(url) || (!manifestUrl && !manifestType)) {
    ignored.blob++;
    return undefined;
  }
  if (
    PALISADE_USER_AGENT_RE.test(userAgent) ||
    mediaType === PALISADE_REPORT_ARTIFACT_TYPE ||
    artifactType === PALISADE_REPORT_ARTIFACT_TYPE
  ) {
    ignored.own++;
    return undefined;
  }
  if (tag !== undefined && ATTACHMENT_TAG_RE.test(tag)) {
    ignored.attachment++;
    return undefined;
  }
  const kind = IMAGE_MANIFEST_TYPES.get(mediaType);
  // A manifest with an artifactType is an OCI artifact (signature, SBOM, Helm chart…), not an image.
  if (kind === undefined || (artifactType !== undefined && artifactType !== '')) {
    ignored['not-an-image']++;
    return undefined;
  }
  return { repository, digest, ...(tag !== undefined ? { tag } : {}), mediaType, kind };
}

const HARBOR_PUSH_TYPES = new Set(['PUSH_ARTIFACT', 'harbor.artifact.pushed']);
const HARBOR_IGNORED: Record<string, IgnoreReason> = {
  PULL_ARTIFACT: 'pull',
  DELETE_ARTIFACT: 'delete',
  'harbor.artifact.pulled': 'pull',
  'harbor.artifact.deleted': 'delete',
};

/** Harbor's CloudEvents format wraps the same event data in `data`. */
function parseHarborCloudEvent(
  root: Record<string, unknown>,
  options: ParseEventsOptions,
  maxEvents: number,
): ParsedEvents {
  const type = root['type'];
  if (typeof type !== 'string') throw inputError('type', `not a string (got ${typeName(type)})`);
  const operator = root['operator'] ?? (isRecord(root['data']) ? root['data']['operator'] : undefined);
  return parseHarbor({ type, operator, data: root['data'] }, 'harbor-cloudevents', options, maxEvents, 'data');
}

function parseHarbor(
  root: Record<string, unknown>,
  format: EventFormat,
  options: ParseEventsOptions,
  maxEvents: number,
  dataField = 'event_data',
): ParsedEvents {
  const type = root['type'];
  if (typeof type !== 'string') throw inputError('type', `not a string (got ${typeName(type)})`);
  const operator = root['operator'];
  if (operator !== undefined && operator !== null && typeof operator !== 'string')
    throw inputError('operator', `not a string (got ${typeName(operator)})`);
  const ignored = emptyIgnored();
  if (!HARBOR_PUSH_TYPES.has(type)) {
    // Scans, quota and replication events carry other shapes: count them as one ignored event.
    const reason = HARBOR_IGNORED[type] ?? 'other';
    ignored[reason]++;
    const own = typeof operator === 'string' && (options.ownOperators ?? []).includes(operator);
    const pulls = reason === 'pull' && !own ? harborPulls(root[dataField], dataField) : [];
    return { format, total: 1, pushes: [], pulls, ignored };
  }
  const data = requireRecord(root[dataField], dataField);
  const repo = requireRecord(data['repository'], `${dataField}.repository`);
  const fullName = repo['repo_full_name'];
  const repository =
    typeof fullName === 'string'
      ? requireRepository(fullName, `${dataField}.repository.repo_full_name`)
      : requireRepository(
          [repo['namespace'], repo['name']].filter((s) => typeof s === 'string' && s !== '').join('/'),
          `${dataField}.repository.name`,
        );
  const resources = data['resources'];
  if (!Array.isArray(resources))
    throw inputError(`${dataField}.resources`, `not an array (got ${typeName(resources)})`);
  if (resources.length > maxEvents) {
    throw new PalisadeError(
      'E_TOO_LARGE',
      `${dataField}.resources: ${resources.length} resources, over the limit of ${maxEvents}`,
      { subject: 'registry event' },
    );
  }
  const own = typeof operator === 'string' && (options.ownOperators ?? []).includes(operator);
  const pushes = new PushSet();
  resources.forEach((raw, i) => {
    const field = `${dataField}.resources[${i}]`;
    const res = requireRecord(raw, field);
    const digest = requireDigest(res['digest'], `${field}.digest`);
    // Harbor fills `tag` with the digest for a push by digest: that is "no tag".
    const tag = res['tag'] === digest ? undefined : optionalTag(res['tag'], `${field}.tag`);
    if (own) {
      ignored.own++;
      return;
    }
    if (tag !== undefined && ATTACHMENT_TAG_RE.test(tag)) {
      ignored.attachment++;
      return;
    }
    pushes.add({ repository, digest, ...(tag !== undefined ? { tag } : {}), kind: 'unknown', eventIds: [] });
  });
  return { format, total: resources.length, pushes: pushes.list(), pulls: [], ignored };
}

/** The artifacts a Harbor pull event names; anything malformed is skipped (a pull is never an error). */
function harborPulls(raw: unknown, dataField: string): ManifestPull[] {
  if (!isRecord(raw) || !isRecord(raw['repository']) || !Array.isArray(raw['resources'])) return [];
  let repository: string;
  try {
    const repo = raw['repository'];
    const fullName = repo['repo_full_name'];
    repository = requireRepository(
      typeof fullName === 'string'
        ? fullName
        : [repo['namespace'], repo['name']].filter((s) => typeof s === 'string' && s !== '').join('/'),
      `${dataField}.repository`,
    );
  } catch {
    return [];
  }
  const pulls = new PullSet();
  for (const res of raw['resources'].slice(0, MAX_EVENTS_PER_ENVELOPE)) {
    if (!isRecord(res) || typeof res['digest'] !== 'string' || !isDigest(res['digest'])) continue;
    const tag = res['tag'];
    pulls.add({
      repository,
      digest: res['digest'],
      ...(typeof tag === 'string' && tag !== res['digest'] && TAG_RE.test(tag) ? { tag } : {}),
    });
  }
  return pulls.list();
}

/**
 * Check a webhook's Authorization header against the stored sha256 of the registry's token, in
 * time independent of the token. Distribution is configured to send `Bearer <token>`; Harbor
 * sends its "Auth Header" verbatim, so a bare token (or `Token <token>`) is accepted too.
 */
export function webhookTokenMatches(header: string | readonly string[] | undefined, storedHash: string): boolean {
  const token = webhookTokenOf(header);
  if (!token) return false;
  return tokenMatches(token, storedHash);
}

/**
 * The token in a webhook's Authorization header (`Bearer <t>`, `Token <t>` or the bare token),
 * for storage's verifyWebhookToken; undefined when absent or ambiguous.
 */
export function webhookTokenOf(header: string | readonly string[] | undefined): string | undefined {
  // Two Authorization headers are ambiguous: refuse rather than pick one.
  if (header === undefined || typeof header !== 'string') return undefined;
  const m = /^\s*(?:(?:Bearer|Token)\s+)?(\S+)\s*$/i.exec(header);
  return m?.[1] || undefined;
}
