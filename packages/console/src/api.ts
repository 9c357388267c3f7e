/**
 * The console's only door to the server: a typed client for /api/v1. The token lives in
 * sessionStorage (gone when the tab closes) and is sent as `Authorization: Bearer`. A 401 from
 * any call drops the token and tells the app to show the sign-in page with a message.
 */

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type SeverityCounts = Record<Severity, number>;
export type SortOrder = 'asc' | 'desc';

export interface Page<T> {
  items: T[];
  total: number;
  nextCursor: string | null;
}

export interface ImageSummary {
  id: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  firstSeenAt: string;
  lastPushedAt: string | null;
  lastPulledAt: string | null;
  lastScannedAt: string | null;
  scanId: string | null;
  counts: SeverityCounts;
  fixableCounts: SeverityCounts;
  total: number;
  fixable: number;
  packages: number;
  worst: Severity | null;
}

export interface PackageRecord {
  id: string;
  name: string;
  version: string;
  type: string;
  purl: string;
  licenses: string[];
  layerDigest: string | null;
}

export interface Finding {
  vulnerabilityId: string;
  aliases: string[];
  packageId: string;
  packageName: string;
  packageVersion: string;
  packageType: string;
  purl: string;
  severity: Severity;
  fixedVersions: string[];
  fixable: boolean;
  kev: boolean;
  epss: number | null;
  epssPercentile: number | null;
  layerDigest: string | null;
  title: string | null;
  digest: string;
}

export interface ImageDetail {
  image: ImageSummary;
  alsoAt: Array<{ id: string; registry: string; repository: string; tags: string[] }>;
  packages: PackageRecord[];
  vulnerabilities: Finding[];
}

export interface VulnerabilitySummary {
  id: string;
  severity: Severity;
  aliases: string[];
  title: string | null;
  kev: boolean;
  epss: number | null;
  affectedImages: number;
  fixableImages: number;
  affectedPackages: number;
}

export interface AffectedImage {
  image: Pick<ImageSummary, 'id' | 'registry' | 'repository' | 'digest' | 'tags'> & Partial<ImageSummary>;
  packageName: string;
  packageVersion: string;
  fixedVersions: string[];
}

export interface VulnerabilityDetail {
  vulnerability: VulnerabilitySummary;
  images: Page<AffectedImage>;
}

export type ScanStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ScanRecord {
  id: string;
  imageRef: string;
  digest: string | null;
  status: ScanStatus;
  error: string | null;
  attempts: number;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface ReportLayer {
  digest: string;
  size?: number;
  createdBy?: string;
}

export interface Registry {
  id: string;
  name: string;
  url: string;
  insecure: boolean;
  hasCredentials: boolean;
  hasWebhookToken: boolean;
  webhookUrl: string;
  createdAt: string;
  updatedAt: string;
}

export interface RegistryCreated {
  registry: Registry;
  webhook: { url: string; token: string };
}

export type Role = 'admin' | 'operator' | 'reader';

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  displayPrefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface TokenCreated {
  token: string;
  record: ApiToken;
}

export interface TrendPoint extends SeverityCounts {
  day: string;
  images: number;
  clean: number;
  unscanned: number;
}

export interface ImageQuery {
  q?: string;
  severity?: Severity[];
  fixable?: boolean;
  sort?: 'repository' | 'lastScanned' | 'lastPushed' | 'severity' | 'total';
  order?: SortOrder;
  limit?: number;
  offset?: number;
}

export interface VulnerabilityQuery {
  id?: string;
  severity?: Severity[];
  fixable?: boolean;
  kev?: boolean;
  sort?: 'severity' | 'affectedImages' | 'epss' | 'id';
  order?: SortOrder;
  limit?: number;
  offset?: number;
}

export interface ScanQuery {
  status?: ScanStatus;
  digest?: string;
  limit?: number;
  offset?: number;
}

/** An error the API answered with (`{ error: { code, message } }`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'palisade.token';
const BASE = '/api/v1';

type Listener = (message: string) => void;
let onUnauthorized: Listener = () => undefined;

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Called with a message whenever the server rejects the token (401). */
export function setUnauthorizedHandler(fn: Listener): void {
  onUnauthorized = fn;
}

type QueryValue = string | number | boolean | string[] | undefined | null;

function queryString(params: Record<string, QueryValue>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length > 0) q.set(k, v.join(','));
    } else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Use this token instead of the stored one (sign-in check); a 401 then does not sign out. */
  token?: string;
}

async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const token = opts.token ?? getToken();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
      credentials: 'omit',
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'E_NETWORK', 'The server cannot be reached. Check that it is running.');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string }; message?: string } | null) ?? null;
    const code = err?.error?.code ?? `HTTP_${res.status}`;
    const message = err?.error?.message ?? err?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401 && opts.token === undefined) {
      setToken(null);
      onUnauthorized('Your session ended: the token was rejected. Sign in again.');
    }
    throw new ApiError(res.status, code, message);
  }
  return data as T;
}

function page<T>(data: unknown): Page<T> {
  if (Array.isArray(data)) return { items: data as T[], total: data.length, nextCursor: null };
  const d = (data ?? {}) as Partial<Page<T>>;
  const items = Array.isArray(d.items) ? d.items : [];
  return { items, total: typeof d.total === 'number' ? d.total : items.length, nextCursor: d.nextCursor ?? null };
}

function list<T>(data: unknown, key: string): T[] {
  if (Array.isArray(data)) return data as T[];
  const d = (data ?? {}) as Record<string, unknown>;
  const v = d[key] ?? d['items'];
  return Array.isArray(v) ? (v as T[]) : [];
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

export const api = {
  /** Check a token before keeping it; throws ApiError (401 for a wrong token). */
  async verify(token: string): Promise<void> {
    await request<unknown>(`/images${queryString({ limit: 1 })}`, { token });
  },

  async images(query: ImageQuery = {}, signal?: AbortSignal): Promise<Page<ImageSummary>> {
    const q = queryString({ ...query, severity: query.severity });
    return page<ImageSummary>(await request<unknown>(`/images${q}`, { signal }));
  },

  async image(digest: string, signal?: AbortSignal): Promise<ImageDetail> {
    const d = await request<Partial<ImageDetail>>(`/images/${enc(digest)}`, { signal });
    if (!d || !d.image) throw new ApiError(404, 'E_NOT_FOUND', `No image ${digest}`);
    return {
      image: d.image,
      alsoAt: d.alsoAt ?? [],
      packages: d.packages ?? [],
      vulnerabilities: d.vulnerabilities ?? [],
    };
  },

  async vulnerabilities(query: VulnerabilityQuery = {}, signal?: AbortSignal): Promise<Page<VulnerabilitySummary>> {
    return page<VulnerabilitySummary>(
      await request<unknown>(`/vulnerabilities${queryString({ ...query })}`, { signal }),
    );
  },

  async vulnerability(
    id: string,
    paging: { limit?: number; offset?: number } = {},
    signal?: AbortSignal,
  ): Promise<VulnerabilityDetail> {
    try {
      const d = await request<Record<string, unknown>>(`/vulnerabilities/${enc(id)}${queryString(paging)}`, { signal });
      const vuln = (d['vulnerability'] ?? d['summary'] ?? d) as VulnerabilitySummary;
      const imagesRaw = d['images'] ?? d['affectedImages'] ?? d['affected'];
      return { vulnerability: vuln, images: page<AffectedImage>(imagesRaw) };
    } catch (e) {
      // Only a server without this route falls back; an unknown id stays an error.
      if (!(e instanceof ApiError && e.status === 404 && /no route/i.test(e.message))) throw e;
    }
    return vulnerabilityFromLists(id, signal);
  },

  async scans(query: ScanQuery = {}, signal?: AbortSignal): Promise<Page<ScanRecord>> {
    return page<ScanRecord>(await request<unknown>(`/scans${queryString({ ...query })}`, { signal }));
  },

  async scan(id: string, signal?: AbortSignal): Promise<ScanRecord> {
    const d = await request<Record<string, unknown>>(`/scans/${enc(id)}`, { signal });
    return (d['scan'] ?? d) as ScanRecord;
  },

  /** The layers of a scan's image (from its report), oldest first; null when the server does not offer reports. */
  async scanLayers(id: string, signal?: AbortSignal): Promise<ReportLayer[] | null> {
    try {
      const d = await request<Record<string, unknown>>(`/scans/${enc(id)}/report`, { signal });
      const report = (d['report'] ?? d) as { artifact?: { layers?: ReportLayer[] } };
      return report.artifact?.layers ?? null;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 403)) return null;
      throw e;
    }
  },

  async createScan(reference: string): Promise<{ scan: ScanRecord; deduplicated: boolean }> {
    const d = await request<Record<string, unknown>>('/scans', { method: 'POST', body: { reference } });
    const scan = (d['scan'] ?? d) as ScanRecord;
    return { scan, deduplicated: d['deduplicated'] === true };
  },

  /** Daily counts of images by worst severity; [] when the server keeps no trend. */
  async trend(days: number, signal?: AbortSignal): Promise<TrendPoint[]> {
    const to = new Date();
    const from = new Date(to.getTime() - (days - 1) * 86_400_000);
    const q = queryString({ from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) });
    for (const path of ['/trends', '/trend', '/stats/trend']) {
      try {
        const d = await request<unknown>(path + q, { signal });
        return list<TrendPoint>(d, 'points');
      } catch (e) {
        // Absent (404) or not speaking these parameters (400): no trend to draw.
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) continue;
        throw e;
      }
    }
    return [];
  },

  async registries(signal?: AbortSignal): Promise<Registry[]> {
    return list<Registry>(await request<unknown>('/registries', { signal }), 'registries');
  },

  async createRegistry(input: {
    name: string;
    url: string;
    insecure?: boolean;
    credentials?: { username: string; password: string };
  }): Promise<RegistryCreated> {
    return request<RegistryCreated>('/registries', { method: 'POST', body: input });
  },

  async deleteRegistry(id: string): Promise<void> {
    await request<unknown>(`/registries/${enc(id)}`, { method: 'DELETE' });
  },

  async rotateWebhookToken(id: string): Promise<{ url: string; token: string }> {
    const d = await request<Record<string, unknown>>(`/registries/${enc(id)}/webhook-token`, {
      method: 'POST',
      body: {},
    });
    return (d['webhook'] ?? d) as { url: string; token: string };
  },

  async tokens(signal?: AbortSignal): Promise<ApiToken[]> {
    return list<ApiToken>(await request<unknown>('/tokens', { signal }), 'tokens');
  },

  async createToken(input: { name: string; role: Role; expiresAt?: string }): Promise<TokenCreated> {
    return request<TokenCreated>('/tokens', { method: 'POST', body: input });
  },

  async revokeToken(id: string): Promise<void> {
    await request<unknown>(`/tokens/${enc(id)}`, { method: 'DELETE' });
  },
};

/**
 * For servers without GET /vulnerabilities/{id}: the summary from the filtered list, the images
 * from the details of the images carrying severity findings (at most 200, 6 requests at a time).
 */
async function vulnerabilityFromLists(id: string, signal?: AbortSignal): Promise<VulnerabilityDetail> {
  const list = await api.vulnerabilities({ id, limit: 1 }, signal);
  const vuln = list.items.find((v) => v.id === id);
  if (!vuln) throw new ApiError(404, 'E_NOT_FOUND', `${id} is not in any scanned image`);
  const images = await api.images({ severity: [vuln.severity], sort: 'severity', order: 'desc', limit: 200 }, signal);
  const affected: AffectedImage[] = [];
  const queue = [...images.items];
  const work = async (): Promise<void> => {
    for (let img = queue.shift(); img; img = queue.shift()) {
      const detail = await api.image(img.digest, signal);
      const seen = new Set<string>();
      for (const f of detail.vulnerabilities) {
        if (f.vulnerabilityId !== id) continue;
        const k = `${f.packageName}@${f.packageVersion}`;
        if (seen.has(k)) continue;
        seen.add(k);
        affected.push({
          image: detail.image,
          packageName: f.packageName,
          packageVersion: f.packageVersion,
          fixedVersions: f.fixedVersions,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, work));
  affected.sort((a, b) => a.image.repository.localeCompare(b.image.repository));
  return { vulnerability: vuln, images: { items: affected, total: affected.length, nextCursor: null } };
}
