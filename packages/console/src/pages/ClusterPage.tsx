import { useEffect, useState, type ReactNode } from 'react';
import {
  clustersApi,
  knownImageDigests,
  ATTACK_TARGET_KINDS,
  type AttackPath,
  type AttackStep,
  type ChangeType,
  type ClusterChange,
  type ClusterCreated,
  type ClusterSnapshot,
  type InventoryContainer,
  type InventoryObject,
  type PostureFinding,
} from '../api.js';
import { ClusterProblem, ClusterStatusBadge } from '../cluster-parts.js';
import {
  ConfirmButton,
  Empty,
  ErrorState,
  Fact,
  PageHeader,
  PagedTable,
  Pager,
  SeverityBadge,
  SeverityFilter,
  Spinner,
  Table,
  Tabs,
  parseOffset,
  parseSeverities,
  type Column,
} from '../components.js';
import { Link, navigate, setSearch, useLocation } from '../router.js';
import { ago, dateTime, duration, errorText, num, shortDigest, useApi } from '../util.js';
import { IngestTokenOnce } from './Clusters.js';

const LIMIT = 50;
const TABS = ['inventory', 'changes', 'findings', 'attack-paths'] as const;
type Tab = (typeof TABS)[number];

/** Text filters update the URL shortly after typing stops. */
function useDebouncedParam(param: string, value: string): [string, (v: string) => void] {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(() => setSearch({ [param]: text.trim() || undefined, offset: undefined }), 300);
    return () => clearTimeout(t);
  }, [text, value, param]);
  return [text, setText];
}

export function ClusterPage({ id }: { id: string }): ReactNode {
  const { search } = useLocation();
  const res = useApi((signal) => clustersApi.get(id, signal), [id]);
  // The attack-paths tab is offered only when the server answers the route.
  const paths = useApi(
    (signal) => clustersApi.attackPaths(id, { limit: 1 }, signal),
    [id, res.data?.lastCompleteSnapshotId],
  );
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [rotated, setRotated] = useState<ClusterCreated | null>(null);
  const [watchSince, setWatchSince] = useState<number | null>(null);

  const asked = (search.get('tab') ?? 'inventory') as Tab;
  const hasPaths = paths.data !== null && paths.data !== undefined;
  const tab: Tab = TABS.includes(asked) && (asked !== 'attack-paths' || hasPaths) ? asked : 'inventory';

  // After "Snapshot now", refresh until the attempt shows (at most 3 minutes).
  const { reload } = res;
  const lastAttempt = res.data?.lastAttemptAt ?? null;
  useEffect(() => {
    if (watchSince === null) return;
    if ((lastAttempt && Date.parse(lastAttempt) >= watchSince - 1000) || Date.now() - watchSince > 180_000) {
      setWatchSince(null);
      return;
    }
    const t = setTimeout(reload, 2000);
    return () => clearTimeout(t);
  }, [watchSince, lastAttempt, reload]);

  if (res.error) {
    return (
      <div className="page">
        <PageHeader title="Cluster" sub={<span className="mono">{id}</span>} />
        <ErrorState error={res.error} onRetry={reload} />
        <p>
          <Link href="/clusters">← All clusters</Link>
        </p>
      </div>
    );
  }
  if (!res.data) return <Spinner />;
  const c = res.data;

  const snapshotNow = async (): Promise<void> => {
    try {
      const r = await clustersApi.snapshotNow(c.id);
      setMessage({
        kind: 'info',
        text: r.deduplicated
          ? 'A snapshot is already queued or running.'
          : 'Snapshot queued: the scheduler runs it at its next tick.',
      });
      setWatchSince(Date.now());
    } catch (e) {
      setMessage({ kind: 'error', text: `Could not queue a snapshot: ${errorText(e)}` });
    }
  };

  const tabs: Array<readonly [Tab, ReactNode]> = [
    ['inventory', 'Inventory'],
    ['changes', 'Changes'],
    ['findings', 'Findings'],
  ];
  if (hasPaths) tabs.push(['attack-paths', `Attack paths (${num.format(paths.data?.total ?? 0)})`]);

  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/clusters">Clusters</Link> <span aria-hidden="true">/</span> <span>{c.name}</span>
      </nav>
      <PageHeader
        title={
          <>
            {c.name} <ClusterStatusBadge status={c.status} />
          </>
        }
        sub={
          <div className="meta">
            {c.context ? (
              <span>
                context <span className="mono">{c.context}</span>
              </span>
            ) : (
              <span>no kubeconfig: runtime data only</span>
            )}
            {c.ingestTokenPrefix && (
              <span title="The first characters of the current ingest token">
                ingest token <span className="mono">{c.ingestTokenPrefix}…</span>
              </span>
            )}
            <Link href={`/alerts?cluster=${encodeURIComponent(c.id)}`}>Runtime alerts →</Link>
          </div>
        }
        actions={
          <span className="rowactions">
            {c.hasKubeconfig && (
              <button type="button" className="btn" onClick={() => void snapshotNow()}>
                Snapshot now
              </button>
            )}
            <ConfirmButton
              label="Rotate ingest token"
              confirm="Rotate? The current token stops working"
              onConfirm={async () => {
                try {
                  setRotated(await clustersApi.rotateIngestToken(c.id));
                  reload();
                } catch (e) {
                  setMessage({ kind: 'error', text: `Could not rotate the ingest token: ${errorText(e)}` });
                }
              }}
            />
            <ConfirmButton
              label="Delete"
              confirm="Delete the cluster and all its data?"
              onConfirm={async () => {
                try {
                  await clustersApi.remove(c.id);
                  navigate('/clusters');
                } catch (e) {
                  setMessage({ kind: 'error', text: `Could not delete: ${errorText(e)}` });
                }
              }}
            />
          </span>
        }
      />
      {rotated && <IngestTokenOnce created={rotated} onDone={() => setRotated(null)} />}
      {message && (
        <div className={`banner ${message.kind}`} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
          {watchSince !== null && ' Waiting for it…'}
        </div>
      )}
      {(c.lastError || c.status !== 'ok') && (
        <div className={`banner ${c.lastError ? 'error' : 'info'}`}>
          <ClusterProblem cluster={c} />
        </div>
      )}
      <section className="facts" aria-label="Cluster facts">
        <Fact label="Last complete snapshot">
          {c.lastCompleteSnapshotAt ? (
            <span title={dateTime(c.lastCompleteSnapshotAt)}>{ago(c.lastCompleteSnapshotAt)}</span>
          ) : (
            <span className="muted">never</span>
          )}
        </Fact>
        <Fact label="Last attempt">
          {c.lastAttemptAt ? <span title={dateTime(c.lastAttemptAt)}>{ago(c.lastAttemptAt)}</span> : '—'}
        </Fact>
        <Fact label="Snapshots">{c.hasKubeconfig ? every(c.intervalSeconds) : '—'}</Fact>
        <Fact label="Registered">
          <span title={dateTime(c.createdAt)}>{ago(c.createdAt)}</span>
        </Fact>
      </section>

      <Tabs
        label="Cluster details"
        value={tab}
        onChange={(t) => navigate(`/clusters/${encodeURIComponent(id)}${t === 'inventory' ? '' : `?tab=${t}`}`)}
        tabs={tabs}
      />
      <div role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'inventory' ? (
          <InventoryTab id={id} version={c.lastCompleteSnapshotId} />
        ) : tab === 'changes' ? (
          <ChangesTab id={id} version={c.lastSnapshotId} />
        ) : tab === 'findings' ? (
          <FindingsTab id={id} version={c.lastCompleteSnapshotId} />
        ) : (
          <AttackPathsTab id={id} version={c.lastCompleteSnapshotId} />
        )}
      </div>
    </div>
  );
}

/** `every 15 minutes`, `every 6 hours`. */
function every(seconds: number): string {
  const [n, unit] =
    seconds % 86_400 === 0
      ? [seconds / 86_400, 'day']
      : seconds % 3600 === 0
        ? [seconds / 3600, 'hour']
        : seconds % 60 === 0
          ? [seconds / 60, 'minute']
          : [seconds, 'second'];
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}

// ---------- inventory ----------

function InventoryTab({ id, version }: { id: string; version: string | null }): ReactNode {
  const { search } = useLocation();
  const kind = search.get('kind') ?? '';
  const namespace = search.get('namespace') ?? '';
  const offset = parseOffset(search.get('offset'));
  const [nsText, setNsText] = useDebouncedParam('namespace', namespace);
  const query = { kind: kind || undefined, namespace: namespace || undefined, limit: LIMIT, offset };
  const res = useApi((signal) => clustersApi.inventory(id, query, signal), [id, version, JSON.stringify(query)]);
  const namespaces = useApi(
    async (signal) => (await clustersApi.inventory(id, { kind: 'Namespace', limit: 500 }, signal)).objects.items,
    [id, version],
  );
  const items = res.data?.objects.items ?? [];
  const digests = items.flatMap((o) => containersOf(o).map((c) => c.imageDigest ?? ''));
  const known = useApi((signal) => knownImageDigests(digests, signal), [digests.join(',')]);

  if (res.error) return <ErrorState error={res.error} onRetry={res.reload} />;
  if (!res.data) return <Spinner />;
  const inv = res.data;
  if (!inv.snapshot)
    return (
      <Empty title="No inventory yet">
        The first complete snapshot fills it. Use “Snapshot now”, or wait for the schedule.
      </Empty>
    );
  const kinds = Object.entries(inv.counts).sort(([a], [b]) => a.localeCompare(b));
  const total = kinds.reduce((a, [, n]) => a + n, 0);

  const columns: Column<InventoryObject>[] = [
    { key: 'kind', header: 'Kind', render: (r) => <span className="tag">{r.kind}</span> },
    {
      key: 'namespace',
      header: 'Namespace',
      render: (r) => (r.namespace ? <span>{r.namespace}</span> : <span className="muted">cluster</span>),
    },
    {
      key: 'name',
      header: 'Name',
      render: (r) => (
        <div>
          <span className="strong">{r.name}</span>
          {Object.keys(r.labels).length > 0 && (
            <div className="tags">
              {Object.entries(r.labels)
                .slice(0, 3)
                .map(([k, v]) => (
                  <span key={k} className="tag muted small" title={`${k}=${v}`}>
                    {k.replace(/^.*\//, '')}={v}
                  </span>
                ))}
              {Object.keys(r.labels).length > 3 && (
                <span className="muted small">+{Object.keys(r.labels).length - 3}</span>
              )}
            </div>
          )}
        </div>
      ),
    },
    { key: 'details', header: 'Details', render: (r) => <ObjectDetails o={r} known={known.data} /> },
    {
      key: 'created',
      header: 'Created',
      render: (r) => <span title={dateTime(r.createdAt)}>{ago(r.createdAt)}</span>,
    },
  ];

  return (
    <>
      <p className="muted small">
        From the snapshot taken {ago(inv.snapshot.takenAt)} ({dateTime(inv.snapshot.takenAt)}): {num.format(total)}{' '}
        objects.
      </p>
      <div className="chips kinds" role="group" aria-label="Filter by kind" data-testid="kind-counts">
        <button
          type="button"
          aria-pressed={!kind}
          className={`chip${!kind ? ' on' : ''}`}
          onClick={() => setSearch({ kind: undefined, offset: undefined })}
        >
          All kinds <b>{num.format(total)}</b>
        </button>
        {kinds.map(([k, n]) => (
          <button
            key={k}
            type="button"
            aria-pressed={kind === k}
            className={`chip${kind === k ? ' on' : ''}`}
            onClick={() => setSearch({ kind: k, offset: undefined })}
          >
            {k} <b>{num.format(n)}</b>
          </button>
        ))}
      </div>
      <div className="toolbar">
        <input
          type="search"
          className="search"
          list="cluster-namespaces"
          placeholder="Namespace"
          aria-label="Filter by namespace"
          value={nsText}
          onChange={(e) => setNsText(e.target.value)}
        />
        <datalist id="cluster-namespaces">
          {(namespaces.data ?? []).map((n) => (
            <option key={n.name} value={n.name} />
          ))}
        </datalist>
        {(kind || namespace) && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() => setSearch({ kind: undefined, namespace: undefined, offset: undefined })}
          >
            Clear filters
          </button>
        )}
      </div>
      <PagedTable
        testId="inventory-table"
        caption="Inventory"
        rows={items}
        columns={columns}
        rowKey={(r) => r.uid ?? `${r.kind}/${r.namespace ?? ''}/${r.name}`}
        busy={res.loading}
        offset={offset}
        limit={LIMIT}
        total={inv.objects.total}
        onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
        empty={<Empty title="No object matches these filters" />}
      />
    </>
  );
}

function containersOf(o: InventoryObject): InventoryContainer[] {
  const c = o.summary['containers'];
  return Array.isArray(c) ? (c as InventoryContainer[]) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
}

/** The kind-specific facts of an inventory object (docs/clusters.md, Inventory). */
function ObjectDetails({ o, known }: { o: InventoryObject; known: Set<string> | undefined }): ReactNode {
  const s = o.summary;
  const containers = containersOf(o);
  const facts: Array<[string, string]> = [];
  const add = (label: string, v: unknown): void => {
    const t = str(v);
    if (t !== null) facts.push([label, t]);
  };
  if (o.kind === 'Pod') {
    add('phase', s['phase']);
    add('node', s['node']);
    add('service account', s['serviceAccount']);
    if (s['hostNetwork'] === true) facts.push(['host network', 'yes']);
  } else if (containers.length > 0) {
    if (s['replicas'] !== undefined) facts.push(['ready', `${str(s['readyReplicas']) ?? '0'}/${str(s['replicas'])}`]);
    add('schedule', s['schedule']);
    add('service account', s['serviceAccount']);
  } else if (o.kind === 'Service') {
    add('type', s['type']);
    const ports = Array.isArray(s['ports']) ? (s['ports'] as Array<Record<string, unknown>>) : [];
    if (ports.length) facts.push(['ports', ports.map((p) => `${str(p['port'])}/${str(p['protocol'])}`).join(', ')]);
  } else if (o.kind === 'Node') {
    add('ready', s['ready']);
    add('kubelet', s['kubeletVersion']);
    add('os', s['osImage']);
    add('runtime', s['containerRuntime']);
  } else if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
    const ref = (s['roleRef'] ?? {}) as Record<string, unknown>;
    facts.push(['role', `${str(ref['kind']) ?? ''}/${str(ref['name']) ?? ''}`]);
    const subjects = Array.isArray(s['subjects']) ? (s['subjects'] as Array<Record<string, unknown>>) : [];
    if (subjects.length)
      facts.push(['subjects', subjects.map((x) => `${str(x['kind']) ?? ''} ${str(x['name']) ?? ''}`).join(', ')]);
  } else if (o.kind.endsWith('WebhookConfiguration')) {
    const hooks = Array.isArray(s['webhooks']) ? (s['webhooks'] as Array<Record<string, unknown>>) : [];
    facts.push(['webhooks', hooks.map((h) => str(h['name']) ?? '?').join(', ')]);
  } else if (o.kind === 'Ingress') {
    const hosts = Array.isArray(s['hosts']) ? (s['hosts'] as string[]) : [];
    if (hosts.length) facts.push(['hosts', hosts.join(', ')]);
  } else {
    for (const [k, v] of Object.entries(s)) if (str(v) !== null) add(k, v);
  }
  return (
    <div className="objdetails">
      {facts.length > 0 && (
        <div className="small">
          {facts.map(([k, v]) => (
            <span key={k} className="kv">
              <span className="muted">{k}</span> {v}
            </span>
          ))}
        </div>
      )}
      {containers.length > 0 && (
        <ul className="containers" aria-label={`Containers of ${o.name}`}>
          {containers.map((c) => (
            <li key={`${c.type ?? ''}/${c.name}`}>
              <span className="strong small">{c.name}</span>
              {c.type && c.type !== 'container' && <span className="tag muted small">{c.type}</span>}{' '}
              <span className="mono small">{c.image ?? '—'}</span>{' '}
              {c.imageDigest &&
                (known?.has(c.imageDigest) ? (
                  <Link
                    href={`/images/${encodeURIComponent(c.imageDigest)}`}
                    className="mono small"
                    title={c.imageDigest}
                  >
                    {shortDigest(c.imageDigest)}
                  </Link>
                ) : (
                  <span className="mono small muted" title={`${c.imageDigest} (not scanned by this server)`}>
                    {shortDigest(c.imageDigest)}
                  </span>
                ))}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// ---------- changes ----------

const CHANGE_ICON: Record<ChangeType, string> = { added: '+', removed: '−', modified: '~' };

function ChangesTab({ id, version }: { id: string; version: string | null }): ReactNode {
  const { search } = useLocation();
  const snapshot = search.get('snapshot') ?? '';
  const changeParam = search.get('change');
  const change = (['added', 'removed', 'modified'] as const).find((c) => c === changeParam);
  const offset = parseOffset(search.get('offset'));
  const snaps = useApi((signal) => clustersApi.snapshots(id, { limit: 20 }, signal), [id, version]);
  const query = { snapshot: snapshot || undefined, change, limit: LIMIT, offset };
  const res = useApi((signal) => clustersApi.changes(id, query, signal), [id, version, JSON.stringify(query)]);

  const snapColumns: Column<ClusterSnapshot>[] = [
    {
      key: 'taken',
      header: 'Taken',
      render: (r) => (
        <button
          type="button"
          className="linkbtn"
          aria-pressed={snapshot === r.id}
          onClick={() => setSearch({ snapshot: snapshot === r.id ? undefined : r.id, offset: undefined })}
          title={dateTime(r.takenAt)}
        >
          {dateTime(r.takenAt)}
        </button>
      ),
    },
    {
      key: 'complete',
      header: 'Complete',
      render: (r) =>
        r.complete ? (
          <span className="ok">✓ complete</span>
        ) : (
          <div>
            <span className="warn">! incomplete</span>
            {r.errors.slice(0, 3).map((e) => (
              <div key={e.kind} className="small muted">
                {e.kind}: {e.message}
              </div>
            ))}
          </div>
        ),
    },
    {
      key: 'objects',
      header: 'Objects',
      align: 'right',
      render: (r) => <span className="num">{num.format(r.objects)}</span>,
    },
    {
      key: 'changes',
      header: 'Changes',
      render: (r) =>
        r.changes ? (
          <span className="changecounts">
            <span className="chg-added" title="added">
              +{r.changes.added}
            </span>{' '}
            <span className="chg-removed" title="removed">
              −{r.changes.removed}
            </span>{' '}
            <span className="chg-modified" title="modified">
              ~{r.changes.modified}
            </span>
          </span>
        ) : (
          <span className="muted">—</span>
        ),
    },
    {
      key: 'findings',
      header: 'Findings',
      align: 'right',
      render: (r) => <span className="num">{r.findings === null ? '—' : num.format(r.findings)}</span>,
    },
    {
      key: 'duration',
      header: 'Took',
      align: 'right',
      render: (r) => <span className="num">{duration(r.durationMs)}</span>,
    },
  ];

  const columns: Column<ClusterChange>[] = [
    {
      key: 'change',
      header: 'Change',
      render: (r) => (
        <span className={`chg chg-${r.change}`}>
          <span aria-hidden="true">{CHANGE_ICON[r.change]}</span> {r.change}
        </span>
      ),
    },
    { key: 'kind', header: 'Kind', render: (r) => <span className="tag">{r.kind}</span> },
    {
      key: 'object',
      header: 'Object',
      render: (r) => (
        <span>
          {r.namespace && <span className="muted">{r.namespace}/</span>}
          <span className="strong">{r.name}</span>
        </span>
      ),
    },
    { key: 'what', header: 'What changed', render: (r) => <span className="small">{r.summary}</span> },
    {
      key: 'taken',
      header: 'Snapshot',
      render: (r) => <span title={dateTime(r.takenAt)}>{ago(r.takenAt)}</span>,
    },
  ];

  return (
    <>
      <h2 className="section">Snapshots</h2>
      {snaps.error ? (
        <ErrorState error={snaps.error} onRetry={snaps.reload} />
      ) : !snaps.data ? (
        <Spinner />
      ) : (
        <Table
          testId="snapshots-table"
          caption="Snapshots, newest first"
          rows={snaps.data.items}
          columns={snapColumns}
          rowKey={(r) => r.id}
          empty={<Empty title="No snapshots yet" />}
        />
      )}
      <h2 className="section">Changes {snapshot ? 'in the selected snapshot' : 'between snapshots'}, newest first</h2>
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Change type">
          {([undefined, 'added', 'removed', 'modified'] as const).map((c) => (
            <button
              key={c ?? 'all'}
              type="button"
              aria-pressed={change === c}
              className={change === c ? 'on' : ''}
              onClick={() => setSearch({ change: c, offset: undefined })}
            >
              {c ?? 'all'}
            </button>
          ))}
        </div>
        {snapshot && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() => setSearch({ snapshot: undefined, offset: undefined })}
          >
            All snapshots
          </button>
        )}
      </div>
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <PagedTable
          testId="changes-table"
          caption="Changes"
          rows={res.data.items}
          columns={columns}
          rowKey={(r) => `${r.snapshotId}/${r.kind}/${r.namespace ?? ''}/${r.name}/${r.change}`}
          busy={res.loading}
          offset={offset}
          limit={LIMIT}
          total={res.data.total}
          onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
          empty={
            <Empty title="No changes">
              Changes are recorded between complete snapshots: the first one records none.
            </Empty>
          }
        />
      )}
    </>
  );
}

// ---------- findings ----------

function FindingsTab({ id, version }: { id: string; version: string | null }): ReactNode {
  const { search } = useLocation();
  const severity = parseSeverities(search.get('severity'));
  const check = search.get('check') ?? '';
  const namespace = search.get('namespace') ?? '';
  const offset = parseOffset(search.get('offset'));
  const [checkText, setCheckText] = useDebouncedParam('check', check);
  const [nsText, setNsText] = useDebouncedParam('namespace', namespace);
  const query = {
    severity,
    check: check || undefined,
    namespace: namespace || undefined,
    limit: LIMIT,
    offset,
  };
  const res = useApi((signal) => clustersApi.findings(id, query, signal), [id, version, JSON.stringify(query)]);

  const columns: Column<PostureFinding>[] = [
    { key: 'severity', header: 'Severity', render: (r) => <SeverityBadge severity={r.severity} /> },
    {
      key: 'check',
      header: 'Check',
      render: (r) => (
        <div>
          <button
            type="button"
            className="linkbtn mono small"
            title="Show only this check"
            onClick={() => setSearch({ check: r.checkId, offset: undefined })}
          >
            {r.checkId}
          </button>
          <div className="small">{r.title}</div>
        </div>
      ),
    },
    {
      key: 'resource',
      header: 'Resource',
      render: (r) => (
        <div>
          <span className="tag">{r.kind}</span> {r.namespace && <span className="muted">{r.namespace}/</span>}
          <span className="strong">{r.name}</span>
        </div>
      ),
    },
    { key: 'path', header: 'Field', render: (r) => <code className="small fieldpath">{r.path || '—'}</code> },
    {
      key: 'message',
      header: 'Message',
      render: (r) => (
        <div>
          <div className="small">{r.message}</div>
          {r.remediation && <div className="small muted">Fix: {r.remediation}</div>}
        </div>
      ),
    },
    {
      key: 'frameworks',
      header: 'Frameworks',
      render: (r) => (
        <div className="tags">
          {r.pss && !Object.keys(r.frameworks).some((fw) => fw.toUpperCase().startsWith('PSS')) && (
            <span className="tag" title={`Pod Security Standards ${r.pss.version}: ${r.pss.control}`}>
              PSS {r.pss.level}
            </span>
          )}
          {Object.entries(r.frameworks).map(([fw, ids]) => (
            <span key={fw} className="tag wrap" title={`${fw}: ${ids.join(', ')}`}>
              {fw} {ids.slice(0, 2).join(', ')}
              {ids.length > 2 ? '…' : ''}
            </span>
          ))}
        </div>
      ),
    },
  ];

  const filtered = severity.length > 0 || Boolean(check) || Boolean(namespace);
  return (
    <>
      <div className="toolbar">
        <SeverityFilter
          value={severity}
          onChange={(v) => setSearch({ severity: v.join(',') || undefined, offset: undefined })}
        />
        <input
          type="search"
          className="search short"
          placeholder="Check id, e.g. pss-privileged"
          aria-label="Filter by check"
          value={checkText}
          onChange={(e) => setCheckText(e.target.value)}
        />
        <input
          type="search"
          className="search short"
          placeholder="Namespace"
          aria-label="Filter findings by namespace"
          value={nsText}
          onChange={(e) => setNsText(e.target.value)}
        />
        {filtered && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() =>
              setSearch({ severity: undefined, check: undefined, namespace: undefined, offset: undefined })
            }
          >
            Clear filters
          </button>
        )}
      </div>
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <PagedTable
          testId="cluster-findings-table"
          caption="Posture findings, worst first"
          rows={res.data.items}
          columns={columns}
          rowKey={(r) => r.id}
          busy={res.loading}
          offset={offset}
          limit={LIMIT}
          total={res.data.total}
          onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
          empty={
            filtered ? (
              <Empty title="No finding matches these filters" />
            ) : (
              <Empty title="No posture findings">Nothing failed the checks in the latest complete snapshot.</Empty>
            )
          }
        />
      )}
    </>
  );
}

// ---------- attack paths ----------

const STEP_ICON: Record<AttackStep['kind'], string> = {
  entry: '⇥',
  workload: '▣',
  image: '◈',
  privilege: '▲',
  target: '◎',
};

function AttackPathsTab({ id, version }: { id: string; version: string | null }): ReactNode {
  const { search } = useLocation();
  const severity = parseSeverities(search.get('severity'));
  const namespace = search.get('namespace') ?? '';
  const target = ATTACK_TARGET_KINDS.find((t) => t === search.get('target'));
  const offset = parseOffset(search.get('offset'));
  const [nsText, setNsText] = useDebouncedParam('namespace', namespace);
  const query = { severity, namespace: namespace || undefined, target, limit: 20, offset };
  const res = useApi((signal) => clustersApi.attackPaths(id, query, signal), [id, version, JSON.stringify(query)]);
  const filtered = severity.length > 0 || Boolean(namespace) || target !== undefined;
  return (
    <>
      <p className="muted small">
        Ranked paths from an exposure through a workload, its vulnerable image and its privileges to a sensitive target,
        in the latest complete snapshot.
      </p>
      <div className="toolbar">
        <SeverityFilter
          value={severity}
          onChange={(v) => setSearch({ severity: v.join(',') || undefined, offset: undefined })}
        />
        <input
          type="search"
          className="search short"
          placeholder="Workload namespace"
          aria-label="Filter attack paths by namespace"
          value={nsText}
          onChange={(e) => setNsText(e.target.value)}
        />
        <label className="inline-label">
          Target
          <select
            aria-label="Filter by target"
            value={target ?? ''}
            onChange={(e) => setSearch({ target: e.target.value || undefined, offset: undefined })}
          >
            <option value="">any target</option>
            {ATTACK_TARGET_KINDS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {filtered && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() =>
              setSearch({ severity: undefined, namespace: undefined, target: undefined, offset: undefined })
            }
          >
            Clear filters
          </button>
        )}
      </div>
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : res.data.items.length === 0 ? (
        filtered ? (
          <Empty title="No attack path matches these filters" />
        ) : (
          <Empty title="No attack paths">
            No exposed workload leads to a sensitive target in the latest complete snapshot.
          </Empty>
        )
      ) : (
        <>
          <AttackPathList paths={res.data.items} />
          <Pager
            offset={offset}
            limit={20}
            total={res.data.total}
            onChange={(o) => setSearch({ offset: o ? String(o) : undefined })}
          />
        </>
      )}
    </>
  );
}

function AttackPathList({ paths }: { paths: AttackPath[] }): ReactNode {
  return (
    <ol className="paths" data-testid="attack-paths">
      {paths.map((p) => (
        <li key={p.id} className="path card">
          <div className="path-head">
            <span className="rank">#{p.rank}</span>
            <SeverityBadge severity={p.severity} />
            <span
              className="muted small"
              title={`exposure ${p.factors.exposure}, exploitability ${p.factors.exploitability}, impact ${p.factors.impact}`}
            >
              score {num.format(p.score)}
            </span>
            <span className="small">
              to {p.target.kind} <b>{p.target.name}</b> through{' '}
              <span className="mono">
                {p.workload.namespace ? `${p.workload.namespace}/` : ''}
                {p.workload.kind}/{p.workload.name}
              </span>
            </span>
          </div>
          <p className="path-why">{p.explanation}</p>
          <ol className="chain" aria-label={`Steps of path ${p.rank}`}>
            {p.steps.map((s, i) => (
              <li key={`${s.id}-${i}`} className={`step step-${s.kind}`}>
                {s.edge && (
                  <span className="edge" title={s.edge.mitre.join(', ')}>
                    <span aria-hidden="true">→</span> {s.edge.relation}
                  </span>
                )}
                <span className="node">
                  <span aria-hidden="true">{STEP_ICON[s.kind] ?? '•'}</span>{' '}
                  {!s.label.toLowerCase().startsWith((s.objectKind ?? s.kind).toLowerCase()) && (
                    <span className="muted small">{s.objectKind ?? s.kind} </span>
                  )}
                  <StepLabel s={s} />
                </span>
              </li>
            ))}
          </ol>
          {p.mitre.length > 0 && (
            <div className="tags">
              {p.mitre.map((m) => (
                <span key={m} className="tag">
                  {m}
                </span>
              ))}
            </div>
          )}
        </li>
      ))}
    </ol>
  );
}

/** A step's label; an image step links to the scanned image and names its worst vulnerabilities. */
function StepLabel({ s }: { s: AttackStep }): ReactNode {
  const v = s.vulnerabilities;
  return (
    <>
      {s.digest ? (
        <Link href={`/images/${encodeURIComponent(s.digest)}`} title={s.digest}>
          {s.label}
        </Link>
      ) : (
        s.label
      )}
      {v && (v.critical > 0 || v.high > 0) && (
        <span className="small warn">
          {' '}
          ({v.critical} critical, {v.high} high{v.kev ? `, ${v.kev} KEV` : ''}
          {s.vulnerabilitySource === 'reference' ? ', from the same tag’s scan' : ''})
        </span>
      )}
      {s.vulnerabilityIds && s.vulnerabilityIds.length > 0 && (
        <span className="small mono muted"> {s.vulnerabilityIds.slice(0, 3).join(' ')}</span>
      )}
    </>
  );
}
