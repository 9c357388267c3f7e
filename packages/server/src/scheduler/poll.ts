/**
 * Polling registries that cannot send webhooks: list the catalog and each repository's tags,
 * resolve every tag to its manifest digest, record the images with their tags, and queue one
 * scan per digest not seen before.
 *
 * Which registries: the registries table has no `poll` flag, so by default the ones without a
 * webhook token are polled. A registry with no token cannot authenticate a webhook, so nothing
 * else tells Palisade about its pushes; one with a token is assumed to deliver them. The
 * `registries` option picks `all`, or a list of names or ids, instead.
 *
 * Work per poll is bounded: at most `maxRepositories` repositories and `maxTagsPerRepository`
 * tags each, a deadline on the whole poll, and a few manifest requests at a time. When a
 * registry holds more, successive polls rotate through it (the start moves by one window per
 * poll round), so every repository is visited over ⌈n / max⌉ polls, and a repository's tag
 * window moves on at each visit, without any state kept between polls, whichever replica runs
 * them.
 *
 * A newly found digest is recorded with `pushedAt` set to when the poll found it: the push time
 * is unknown, and this keeps polled images inside the rescan window like webhook-pushed ones.
 */
import { PalisadeError, toPalisadeError } from '@palisade/core';
import { parseReference, RegistryClient, type RegistryClientOptions } from '@palisade/oci';
import type { Registry, Storage } from '../storage/index.js';
import { createScanQueue } from '../worker/queue.js';
import type { ScanEnqueuer } from './types.js';

export type PollSelection = 'without-webhook' | 'all' | readonly string[];

export interface PollLimits {
  /** Repositories looked at per poll. Default 100. */
  maxRepositories?: number;
  /** Tags resolved per repository per poll. Default 50. */
  maxTagsPerRepository?: number;
  /** `n` asked per catalog or tag-list page. Default 100. */
  pageSize?: number;
  /** Manifest requests in flight at once. Default 4. */
  concurrency?: number;
  /** Per request, ms. Default 30 s. */
  requestTimeoutMs?: number;
  /** The whole poll, ms: it is abandoned (and fails) past this. Default 10 min. */
  deadlineMs?: number;
}

/** A registry client for a registry; tests and alternative transports inject one. */
export type RegistryClientFactory = (host: string, options: RegistryClientOptions) => PollClient;

/** The part of RegistryClient a poll uses. */
export interface PollClient {
  catalog(options: { pageSize?: number; signal?: AbortSignal }): Promise<string[]>;
  listTags(repo: string, options: { pageSize?: number; signal?: AbortSignal }): Promise<string[]>;
  getManifest(
    repo: string,
    reference: string,
    accept: readonly string[],
    options: { signal?: AbortSignal },
  ): Promise<{ digest: string; mediaType: string }>;
  close(): void;
}

export interface PollOptions extends PollLimits {
  now: Date;
  /** Which window of a large registry this poll covers; the scheduler passes ⌊now / interval⌋. Default 0. */
  round?: number;
  scans?: ScanEnqueuer;
  clientFactory?: RegistryClientFactory;
  signal?: AbortSignal;
}

export interface PollResult {
  registryId: string;
  registry: string;
  /** Repositories in the catalog, and the ones polled this time. */
  repositories: { listed: number; polled: number };
  tags: { listed: number; resolved: number };
  /** Digests not known before (recorded, and queued for a scan). */
  newDigests: number;
  /** Known digests that got a tag they did not have (a tag moved back, or a second tag). */
  retagged: number;
  /** Scan jobs created (a digest already queued is not counted). */
  enqueued: number;
  /** Per-repository or per-tag failures (at most 20 listed); the rest of the poll went on. */
  errors: string[];
  /** True when the registry holds more repositories or tags than one poll covers. */
  truncated: boolean;
  durationMs: number;
}

const MAX_ERRORS = 20;

/** Manifest types a tag may point at: images and image indexes (Palisade picks the platform when scanning). */
export const POLL_MANIFEST_ACCEPT: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];
const SCANNABLE = new Set(POLL_MANIFEST_ACCEPT);

/** Cosign/referrers tags are attachments, not images. */
const ATTACHMENT_TAG_RE = /^sha(?:256|512)-[a-f0-9]{32,128}(?:\.[A-Za-z0-9_-]+)?$/;

/** The registries a poll covers under a selection. */
export function selectPolledRegistries(registries: readonly Registry[], selection: PollSelection): Registry[] {
  if (selection === 'all') return [...registries];
  if (selection === 'without-webhook') return registries.filter((r) => !r.hasWebhookToken);
  const wanted = new Set(selection);
  return registries.filter((r) => wanted.has(r.id) || wanted.has(r.name));
}

/** `count` items of `items` starting at window `round` (wrapping), in order. */
export function rotatingWindow<T>(items: readonly T[], count: number, round: number): T[] {
  if (items.length <= count) return [...items];
  const start = (Math.max(0, Math.floor(round)) * count) % items.length;
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const item = items[(start + i) % items.length];
    if (item !== undefined) out.push(item);
  }
  return out;
}

const defaultClientFactory: RegistryClientFactory = (host, options) => new RegistryClient(host, options);

export async function pollRegistry(storage: Storage, registryId: string, opts: PollOptions): Promise<PollResult> {
  const started = Date.now();
  const reg = await storage.registries.get(registryId);
  if (!reg) throw new PalisadeError('E_NOT_FOUND', 'registry not found', { subject: registryId });
  const host = hostOf(reg);
  const maxRepos = Math.max(1, opts.maxRepositories ?? 100);
  const maxTags = Math.max(1, opts.maxTagsPerRepository ?? 50);
  const pageSize = Math.max(1, opts.pageSize ?? 100);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const round = opts.round ?? 0;
  const scans = opts.scans ?? createScanQueue(storage, { allowLocalSources: false });

  const creds = await storage.registries.credentials(reg.id);
  const client = (opts.clientFactory ?? defaultClientFactory)(host, {
    insecure: reg.insecure,
    timeoutMs: opts.requestTimeoutMs ?? 30_000,
    // A server must not pick up whatever ~/.docker/config.json is on its host (as the worker does).
    dockerConfigPath: '/nonexistent/palisade-no-docker-config.json',
    ...(creds ? { credentials: { username: creds.username, password: creds.password } } : {}),
  });
  const deadline = AbortSignal.timeout(opts.deadlineMs ?? 600_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;

  const out: PollResult = {
    registryId: reg.id,
    registry: reg.name,
    repositories: { listed: 0, polled: 0 },
    tags: { listed: 0, resolved: 0 },
    newDigests: 0,
    retagged: 0,
    enqueued: 0,
    errors: [],
    truncated: false,
    durationMs: 0,
  };
  const note = (subject: string, err: unknown): void => {
    if (out.errors.length < MAX_ERRORS) out.errors.push(`${subject}: ${toPalisadeError(err).describe()}`);
  };
  // One scan per digest per poll, however many tags or repositories point at it.
  const queued = new Set<string>();

  try {
    // A catalog failure fails the poll (it is retried); a repository's failure does not.
    const catalog = [...new Set(await client.catalog({ pageSize, signal }))].sort();
    out.repositories.listed = catalog.length;
    const repos = rotatingWindow(catalog, maxRepos, round);
    if (repos.length < catalog.length) out.truncated = true;
    for (const repo of repos) {
      signal.throwIfAborted();
      out.repositories.polled++;
      let tags: string[];
      try {
        tags = [...new Set(await client.listTags(repo, { pageSize, signal }))]
          .filter((t) => !ATTACHMENT_TAG_RE.test(t))
          .sort();
      } catch (err) {
        if (signal.aborted) throw err;
        note(`${host}/${repo}`, err);
        continue;
      }
      out.tags.listed += tags.length;
      // A repository is visited once per cycle through the catalog: its tag window moves per visit.
      const visit = Math.floor(round / Math.max(1, Math.ceil(catalog.length / maxRepos)));
      const picked = rotatingWindow(tags, maxTags, visit);
      if (picked.length < tags.length) out.truncated = true;
      const resolved = await mapBounded(picked, concurrency, async (tag) => {
        try {
          const m = await client.getManifest(repo, tag, POLL_MANIFEST_ACCEPT, { signal });
          return SCANNABLE.has(m.mediaType) ? { tag, digest: m.digest } : null;
        } catch (err) {
          if (signal.aborted) throw err;
          note(`${host}/${repo}:${tag}`, err);
          return null;
        }
      });
      const byDigest = new Map<string, string[]>();
      for (const r of resolved) {
        if (!r) continue;
        out.tags.resolved++;
        byDigest.set(r.digest, [...(byDigest.get(r.digest) ?? []), r.tag]);
      }
      for (const [digest, digestTags] of byDigest) {
        await record(storage, scans, host, repo, digest, digestTags, opts.now, queued, out).catch((err: unknown) =>
          note(`${host}/${repo}@${digest}`, err),
        );
      }
    }
  } finally {
    client.close();
  }
  out.durationMs = Date.now() - started;
  return out;
}

async function record(
  storage: Storage,
  scans: ScanEnqueuer,
  host: string,
  repo: string,
  digest: string,
  tags: readonly string[],
  now: Date,
  queued: Set<string>,
  out: PollResult,
): Promise<void> {
  const ref = `${host}/${repo}@${digest}`;
  // File the image as the worker does (by the reference's domain), so both land on one row.
  const { domain, repository } = parseReference(ref);
  const known = await storage.images.find(domain, repository, digest);
  const at = now.toISOString();
  if (!known) {
    out.newDigests++;
    await storage.images.upsert({ registry: domain, repository, digest, tags: [...tags], seenAt: at, pushedAt: at });
  } else if (tags.some((t) => !known.tags.includes(t))) {
    out.retagged++;
    await storage.images.upsert({ registry: domain, repository, digest, tags: [...tags], seenAt: at });
  }
  // New digests, and known ones never scanned (a scan that failed to be queued earlier).
  if ((known && known.lastScannedAt !== null) || queued.has(digest)) return;
  queued.add(digest);
  const { created } = await scans.enqueue(ref);
  if (created) out.enqueued++;
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => run()));
  return results;
}

/** `host[:port]` of a registry's URL. */
export function hostOf(reg: Registry): string {
  try {
    return new URL(reg.url).host;
  } catch (err) {
    throw new PalisadeError('E_CONFIG', 'registry URL is malformed', { subject: reg.url, cause: err });
  }
}
