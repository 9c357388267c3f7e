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

// ---------- clusters (docs/clusters.md) ----------

export const CLUSTER_STATUSES = [
  'agent_only',
  'pending',
  'ok',
  'auth_expired',
  'auth_failed',
  'forbidden',
  'unreachable',
  'incomplete',
  'config',
  'exec_disabled',
  'error',
] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export interface Cluster {
  id: string;
  name: string;
  context: string | null;
  hasKubeconfig: boolean;
  intervalSeconds: number;
  ingestTokenPrefix: string | null;
  status: ClusterStatus;
  lastAttemptAt: string | null;
  lastSnapshotId: string | null;
  lastSnapshotAt: string | null;
  lastCompleteSnapshotId: string | null;
  lastCompleteSnapshotAt: string | null;
  lastError: string | null;
  lastErrorCode: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ClusterCreated {
  cluster: Cluster;
  /** Shown once: the cluster's sensors and audit forwarder send it. */
  ingestToken: string;
}

export interface ClusterSnapshot {
  id: string;
  clusterId: string;
  takenAt: string;
  finishedAt: string;
  durationMs: number;
  complete: boolean;
  errors: Array<{ kind: string; message: string }>;
  notServed: string[];
  counts: Record<string, number>;
  objects: number;
  changes: { added: number; removed: number; modified: number } | null;
  findings: number | null;
}

export interface InventoryContainer {
  name: string;
  type?: 'container' | 'init' | 'ephemeral';
  image: string | null;
  imageDigest: string | null;
  imageID?: string | null;
  ready?: boolean;
  restartCount?: number;
}

export interface InventoryObject {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string | null;
  resourceVersion: string | null;
  createdAt: string | null;
  labels: Record<string, string>;
  /** Kind-specific facts; pods and workloads have `containers`. */
  summary: Record<string, unknown>;
}

export interface Inventory {
  cluster: { id: string; name: string; status: ClusterStatus; lastError: string | null };
  snapshot: ClusterSnapshot | null;
  counts: Record<string, number>;
  objects: Page<InventoryObject>;
}

export type ChangeType = 'added' | 'removed' | 'modified';

export interface ClusterChange {
  clusterId: string;
  snapshotId: string;
  takenAt: string;
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  change: ChangeType;
  summary: string;
}

export interface PostureFinding {
  clusterId: string;
  snapshotId: string;
  id: string;
  checkId: string;
  checkVersion: number;
  title: string;
  severity: Severity;
  apiVersion: string | null;
  kind: string;
  namespace: string | null;
  name: string;
  path: string;
  message: string;
  remediation: string;
  frameworks: Record<string, string[]>;
  pss: { level: string; control: string; version: string } | null;
}

export const ATTACK_TARGET_KINDS = ['cluster', 'node', 'secrets', 'namespace', 'workload'] as const;
export type AttackTargetKind = (typeof ATTACK_TARGET_KINDS)[number];

export interface AttackStep {
  kind: 'entry' | 'workload' | 'image' | 'privilege' | 'target';
  id: string;
  label: string;
  name: string;
  namespace: string | null;
  /** Service, Ingress, Deployment, Node…; null otherwise. */
  objectKind: string | null;
  mitre: string[];
  /** How the attacker moves from the previous step; absent on the entry. */
  edge?: { relation: string; mitre: string[] };
  vulnerabilities?: {
    critical: number;
    high: number;
    medium: number;
    low: number;
    kev: number;
    fixable: number;
    epss?: number;
  };
  /** Image steps: the scanned digest the counts are of. */
  digest?: string;
  /** `reference`: the running digest was not scanned; the newest scan of the same tag stood in. */
  vulnerabilitySource?: 'digest' | 'reference';
  vulnerabilityIds?: string[];
}

export interface AttackPath {
  clusterId: string;
  snapshotId: string;
  id: string;
  rank: number;
  score: number;
  severity: Severity;
  explanation: string;
  factors: { exposure: number; exploitability: number; impact: number };
  workload: { namespace: string | null; apiVersion: string; kind: string; name: string };
  target: { kind: AttackTargetKind; name: string };
  steps: AttackStep[];
  mitre: string[];
}

export interface AttackPathQuery {
  severity?: Severity[];
  namespace?: string;
  target?: AttackTargetKind;
  limit?: number;
  offset?: number;
}

/** What the clusters list shows per cluster beyond the cluster record. */
export interface ClusterFigures {
  objects: number | null;
  findings: SeverityCounts | null;
}

export interface InventoryQuery {
  kind?: string;
  namespace?: string;
  name?: string;
  limit?: number;
  offset?: number;
}

export interface ChangesQuery {
  snapshot?: string;
  kind?: string;
  namespace?: string;
  change?: ChangeType;
  limit?: number;
  offset?: number;
}

export interface ClusterFindingsQuery {
  severity?: Severity[];
  check?: string;
  namespace?: string;
  kind?: string;
  limit?: number;
  offset?: number;
}

// ---------- runtime alerts (docs/runtime-alerts.md) ----------

export interface MitreRef {
  tactic: string;
  tacticId: string;
  technique: string;
}

export interface AlertRecord {
  id: string;
  alertId: string;
  clusterId: string;
  ruleId: string;
  severity: Severity;
  title: string;
  output: string;
  time: string;
  receivedAt: string;
  origin: 'sensor' | 'server';
  node: string;
  namespace: string | null;
  pod: string | null;
  workloadKind: string | null;
  workloadName: string | null;
  containerId: string | null;
  containerName: string | null;
  image: string | null;
  imageDigest: string | null;
  process: { pid: number; exe: string; argv: string[] } | null;
  peer: { address: string; port: number; protocol: string; direction: 'outbound' | 'inbound' | 'listen' } | null;
  groupId: string;
  fields: Record<string, string>;
  mitre: MitreRef[];
  tags: string[];
}

export interface ProcessNode {
  pid: number;
  exe: string;
  argv: string[];
  /** This process did what the alert is about. */
  alerting: boolean;
  children: ProcessNode[];
}

export interface AlertDetail {
  alert: AlertRecord;
  /** The raw events that matched. */
  events: Array<Record<string, unknown>>;
  /** Roots first (oldest ancestor), down to the alerting process. */
  processTree: ProcessNode[];
}

export interface AlertGroup {
  id: string;
  clusterId: string;
  ruleId: string;
  title: string;
  workloadKey: string;
  namespace: string | null;
  workloadKind: string | null;
  workloadName: string | null;
  image: string | null;
  node: string;
  windowStart: string;
  windowEnd: string;
  firstTime: string;
  lastTime: string;
  count: number;
  severity: Severity;
  latestAlertId: string;
}

export interface SensorCounters {
  clusterId: string;
  node: string;
  seen: Record<string, number>;
  kernelDrops: number;
  userDrops: number;
  spoolDrops: number;
  batches: number;
  sensorVersion: string;
  lastReportAt: string;
}

export interface AlertQuery {
  severity?: Severity[];
  ruleId?: string;
  clusterId?: string;
  namespace?: string;
  groupId?: string;
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}

function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || e.status === 405);
}

export const clustersApi = {
  async list(signal?: AbortSignal): Promise<Cluster[]> {
    return list<Cluster>(await request<unknown>('/clusters', { signal }), 'items');
  },

  async get(id: string, signal?: AbortSignal): Promise<Cluster> {
    return request<Cluster>(`/clusters/${enc(id)}`, { signal });
  },

  async create(input: {
    name: string;
    kubeconfig?: string;
    context?: string;
    intervalSeconds?: number;
  }): Promise<ClusterCreated> {
    return request<ClusterCreated>('/clusters', { method: 'POST', body: input });
  },

  async remove(id: string): Promise<void> {
    await request<unknown>(`/clusters/${enc(id)}`, { method: 'DELETE' });
  },

  async rotateIngestToken(id: string): Promise<ClusterCreated> {
    return request<ClusterCreated>(`/clusters/${enc(id)}/ingest-token`, { method: 'POST', body: {} });
  },

  /** Queue a snapshot now; `deduplicated` when one was already queued or running. */
  async snapshotNow(id: string): Promise<{ deduplicated: boolean }> {
    const d = await request<{ deduplicated?: boolean }>(`/clusters/${enc(id)}/snapshots`, {
      method: 'POST',
      body: {},
    });
    return { deduplicated: d.deduplicated === true };
  },

  async snapshots(
    id: string,
    paging: { limit?: number; offset?: number } = {},
    signal?: AbortSignal,
  ): Promise<Page<ClusterSnapshot>> {
    return page<ClusterSnapshot>(
      await request<unknown>(`/clusters/${enc(id)}/snapshots${queryString(paging)}`, { signal }),
    );
  },

  async inventory(id: string, query: InventoryQuery = {}, signal?: AbortSignal): Promise<Inventory> {
    const d = await request<Partial<Inventory>>(`/clusters/${enc(id)}/inventory${queryString({ ...query })}`, {
      signal,
    });
    return {
      cluster: d.cluster ?? { id, name: id, status: 'pending', lastError: null },
      snapshot: d.snapshot ?? null,
      counts: d.counts ?? {},
      objects: page<InventoryObject>(d.objects),
    };
  },

  async changes(id: string, query: ChangesQuery = {}, signal?: AbortSignal): Promise<Page<ClusterChange>> {
    return page<ClusterChange>(
      await request<unknown>(`/clusters/${enc(id)}/changes${queryString({ ...query })}`, { signal }),
    );
  },

  async findings(id: string, query: ClusterFindingsQuery = {}, signal?: AbortSignal): Promise<Page<PostureFinding>> {
    return page<PostureFinding>(
      await request<unknown>(`/clusters/${enc(id)}/findings${queryString({ ...query })}`, { signal }),
    );
  },

  /** Attack paths by rank; null when this server has no attack-paths route. */
  async attackPaths(id: string, query: AttackPathQuery = {}, signal?: AbortSignal): Promise<Page<AttackPath> | null> {
    try {
      return page<AttackPath>(
        await request<unknown>(`/clusters/${enc(id)}/attack-paths${queryString({ ...query })}`, { signal }),
      );
    } catch (e) {
      // An unknown route answers 404 "no route"; a known cluster without paths answers 200 [].
      if (isNotFound(e)) return null;
      throw e;
    }
  },

  /**
   * Objects in the inventory and findings by severity, for the clusters list: the API has no
   * per-severity totals, so one `limit=1` query per severity reads each total.
   */
  async figures(c: Cluster, signal?: AbortSignal): Promise<ClusterFigures> {
    if (!c.lastCompleteSnapshotId) return { objects: null, findings: null };
    const inv = clustersApi.inventory(c.id, { limit: 1 }, signal);
    const totals = await Promise.all(
      SEVERITIES.map(async (s) => (await clustersApi.findings(c.id, { severity: [s], limit: 1 }, signal)).total),
    );
    const findings = Object.fromEntries(SEVERITIES.map((s, i) => [s, totals[i] ?? 0])) as SeverityCounts;
    return { objects: (await inv).objects.total, findings };
  },
};

export const alertsApi = {
  async list(query: AlertQuery = {}, signal?: AbortSignal): Promise<Page<AlertRecord>> {
    return page<AlertRecord>(await request<unknown>(`/alerts${queryString({ ...query })}`, { signal }));
  },

  async get(id: string, signal?: AbortSignal): Promise<AlertDetail> {
    const d = await request<Partial<AlertDetail>>(`/alerts/${enc(id)}`, { signal });
    if (!d.alert) throw new ApiError(404, 'E_NOT_FOUND', `No alert ${id}`);
    return { alert: d.alert, events: d.events ?? [], processTree: d.processTree ?? [] };
  },

  async groups(query: Omit<AlertQuery, 'groupId'> = {}, signal?: AbortSignal): Promise<Page<AlertGroup>> {
    return page<AlertGroup>(await request<unknown>(`/alert-groups${queryString({ ...query })}`, { signal }));
  },

  async sensors(clusterId?: string, signal?: AbortSignal): Promise<SensorCounters[]> {
    return list<SensorCounters>(
      await request<unknown>(`/runtime/sensors${queryString({ clusterId })}`, { signal }),
      'items',
    );
  },
};

/**
 * Which of these image digests the server has scanned (so a link to the image page leads
 * somewhere): one digest search each, at most 4 at a time and 40 in all.
 */
export async function knownImageDigests(digests: Iterable<string>, signal?: AbortSignal): Promise<Set<string>> {
  const queue = [...new Set(digests)].filter((d) => /^[a-z0-9]+:[a-f0-9]{32,128}$/.test(d)).slice(0, 40);
  const known = new Set<string>();
  const work = async (): Promise<void> => {
    for (let d = queue.shift(); d; d = queue.shift()) {
      const found = await api.images({ q: d, limit: 5 }, signal);
      if (found.items.some((i) => i.digest === d)) known.add(d);
    }
  };
  await Promise.all(Array.from({ length: 4 }, work));
  return known;
}
