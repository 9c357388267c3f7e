import { useEffect, useState, type ReactNode } from 'react';
import {
  alertsApi,
  clustersApi,
  type AlertGroup,
  type AlertQuery,
  type AlertRecord,
  type Cluster,
  type SensorCounters,
} from '../api.js';
import { groupWorkloadText, workloadText } from '../alert-parts.js';
import {
  Empty,
  ErrorState,
  PageHeader,
  PagedTable,
  SeverityBadge,
  SeverityFilter,
  Spinner,
  Table,
  parseOffset,
  parseSeverities,
  type Column,
} from '../components.js';
import { Link, navigate, setSearch, useLocation } from '../router.js';
import { ago, dateTime, num, useApi } from '../util.js';

const LIMIT = 50;

/** Time range presets: how far back from now. */
const RANGES: Array<[string, string, number]> = [
  ['1h', 'Last hour', 3_600_000],
  ['24h', '24 hours', 86_400_000],
  ['7d', '7 days', 7 * 86_400_000],
  ['30d', '30 days', 30 * 86_400_000],
];

/** ISO time from a `datetime-local` value (local time), or undefined when empty or invalid. */
function fromLocal(v: string): string | undefined {
  if (!v) return undefined;
  const t = new Date(v);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** `datetime-local` value (local time, minutes) for an ISO time. */
function toLocal(iso: string | null): string {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}`;
}

/** A text filter that updates its URL parameter shortly after typing stops. */
function TextFilter({
  param,
  value,
  label,
  placeholder,
}: {
  param: string;
  value: string;
  label: string;
  placeholder: string;
}): ReactNode {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(() => setSearch({ [param]: text.trim() || undefined, offset: undefined }), 300);
    return () => clearTimeout(t);
  }, [text, value, param]);
  return (
    <input
      type="search"
      className="search short"
      placeholder={placeholder}
      aria-label={label}
      value={text}
      onChange={(e) => setText(e.target.value)}
    />
  );
}

export function Alerts(): ReactNode {
  const { search } = useLocation();
  const view = search.get('view') === 'alerts' ? 'alerts' : 'groups';
  const severity = parseSeverities(search.get('severity'));
  const rule = search.get('rule') ?? '';
  const cluster = search.get('cluster') ?? '';
  const namespace = search.get('namespace') ?? '';
  const group = search.get('group') ?? '';
  const range = search.get('range') ?? '';
  const offset = parseOffset(search.get('offset'));
  const preset = RANGES.find(([k]) => k === range);
  // Presets count back from now, rounded to the minute so the query (and its fetch) is stable.
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const from = preset
    ? new Date(minute - preset[2]).toISOString()
    : range === 'custom'
      ? (search.get('from') ?? undefined)
      : undefined;
  const to = range === 'custom' ? (search.get('to') ?? undefined) : undefined;

  const clusters = useApi((signal) => clustersApi.list(signal), []);
  const names = new Map((clusters.data ?? []).map((c) => [c.id, c.name]));
  const query: AlertQuery = {
    severity,
    ruleId: rule || undefined,
    clusterId: cluster || undefined,
    namespace: namespace || undefined,
    from,
    to,
    limit: LIMIT,
    offset,
  };
  const key = JSON.stringify(query);
  const groups = useApi(
    (signal) => (view === 'groups' ? alertsApi.groups(query, signal) : Promise.resolve(null)),
    [view, key],
  );
  const alerts = useApi(
    (signal) =>
      view === 'alerts' ? alertsApi.list({ ...query, groupId: group || undefined }, signal) : Promise.resolve(null),
    [view, key, group],
  );
  const filtered = Boolean(severity.length || rule || cluster || namespace || range || group);

  const refresh = (): void => {
    groups.reload();
    alerts.reload();
  };

  return (
    <div className="page">
      <PageHeader
        title="Runtime alerts"
        sub="What the sensors and the server's rules caught, newest first"
        actions={
          <button type="button" className="btn" onClick={refresh}>
            Refresh
          </button>
        }
      />
      <div className="toolbar" role="search" aria-label="Filter alerts">
        <SeverityFilter
          value={severity}
          onChange={(v) => setSearch({ severity: v.join(',') || undefined, offset: undefined })}
        />
      </div>
      <div className="toolbar">
        <TextFilter param="rule" value={rule} label="Filter by rule id" placeholder="Rule id, e.g. PAL-RT-001" />
        <label className="inline-label">
          Cluster
          <select
            aria-label="Filter by cluster"
            value={cluster}
            onChange={(e) => setSearch({ cluster: e.target.value || undefined, offset: undefined })}
          >
            <option value="">all clusters</option>
            {(clusters.data ?? []).map((c: Cluster) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
            {cluster && !names.has(cluster) && <option value={cluster}>{cluster}</option>}
          </select>
        </label>
        <TextFilter param="namespace" value={namespace} label="Filter by namespace" placeholder="Namespace" />
      </div>
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Time range">
          {[['', 'All time'] as const, ...RANGES.map(([k, l]) => [k, l] as const), ['custom', 'Custom'] as const].map(
            ([k, label]) => (
              <button
                key={k || 'all'}
                type="button"
                aria-pressed={range === k}
                className={range === k ? 'on' : ''}
                onClick={() =>
                  setSearch({
                    range: k || undefined,
                    from: k === 'custom' ? (search.get('from') ?? undefined) : undefined,
                    to: k === 'custom' ? (search.get('to') ?? undefined) : undefined,
                    offset: undefined,
                  })
                }
              >
                {label}
              </button>
            ),
          )}
        </div>
        {range === 'custom' && (
          <>
            <label className="inline-label">
              From
              <input
                type="datetime-local"
                value={toLocal(search.get('from'))}
                onChange={(e) => setSearch({ from: fromLocal(e.target.value), offset: undefined })}
              />
            </label>
            <label className="inline-label">
              To
              <input
                type="datetime-local"
                value={toLocal(search.get('to'))}
                onChange={(e) => setSearch({ to: fromLocal(e.target.value), offset: undefined })}
              />
            </label>
          </>
        )}
        {filtered && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() => navigate(`/alerts${view === 'alerts' ? '?view=alerts' : ''}`, { replace: true })}
          >
            Clear filters
          </button>
        )}
      </div>
      <div className="toolbar">
        <div className="seg" role="group" aria-label="View">
          <button
            type="button"
            aria-pressed={view === 'groups'}
            className={view === 'groups' ? 'on' : ''}
            onClick={() => setSearch({ view: undefined, group: undefined, offset: undefined })}
          >
            Grouped
          </button>
          <button
            type="button"
            aria-pressed={view === 'alerts'}
            className={view === 'alerts' ? 'on' : ''}
            onClick={() => setSearch({ view: 'alerts', offset: undefined })}
          >
            Every alert
          </button>
        </div>
        {group && view === 'alerts' && (
          <span className="small">
            Alerts of one group only.{' '}
            <button
              type="button"
              className="btn small ghost"
              onClick={() => setSearch({ group: undefined, offset: undefined })}
            >
              Show all
            </button>
          </span>
        )}
      </div>
      {view === 'groups' ? (
        <GroupsTable res={groups} names={names} offset={offset} filtered={filtered} />
      ) : (
        <AlertsTable res={alerts} names={names} offset={offset} filtered={filtered} />
      )}
      <Sensors clusterId={cluster || undefined} names={names} />
    </div>
  );
}

interface PageRes<T> {
  data: { items: T[]; total: number } | null | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

function GroupsTable({
  res,
  names,
  offset,
  filtered,
}: {
  res: PageRes<AlertGroup>;
  names: Map<string, string>;
  offset: number;
  filtered: boolean;
}): ReactNode {
  const columns: Column<AlertGroup>[] = [
    { key: 'severity', header: 'Severity', render: (r) => <SeverityBadge severity={r.severity} /> },
    {
      key: 'title',
      header: 'Alert',
      render: (r) => (
        <div>
          <Link href={`/alerts/${encodeURIComponent(r.latestAlertId)}`} className="strong">
            {r.title}
          </Link>
          <div className="mono small muted">{r.ruleId}</div>
        </div>
      ),
    },
    {
      key: 'workload',
      header: 'Workload',
      render: (r) => (
        <div>
          <span className="mono small">{groupWorkloadText(r)}</span>
          <div className="muted small">node {r.node}</div>
        </div>
      ),
    },
    { key: 'cluster', header: 'Cluster', render: (r) => <ClusterLink id={r.clusterId} names={names} /> },
    {
      key: 'count',
      header: 'Count',
      align: 'right',
      render: (r) => (
        <Link
          href={`/alerts?view=alerts&group=${encodeURIComponent(r.id)}`}
          className="num strong count"
          title="Show the alerts of this group"
          aria-label={`${r.count} alerts: show them`}
        >
          {num.format(r.count)}
        </Link>
      ),
    },
    {
      key: 'first',
      header: 'First seen',
      render: (r) => <span title={dateTime(r.firstTime)}>{ago(r.firstTime)}</span>,
    },
    { key: 'last', header: 'Last seen', render: (r) => <span title={dateTime(r.lastTime)}>{ago(r.lastTime)}</span> },
  ];
  if (res.error) return <ErrorState error={res.error} onRetry={res.reload} />;
  if (!res.data) return <Spinner />;
  return (
    <>
      <p className="muted small">
        Alerts of the same rule on the same workload within a 10-minute window form one group.{' '}
        {num.format(res.data.total)} groups.
      </p>
      <PagedTable
        testId="alert-groups-table"
        caption="Alert groups, newest first"
        rows={res.data.items}
        columns={columns}
        rowKey={(r) => r.id}
        busy={res.loading}
        offset={offset}
        limit={LIMIT}
        total={res.data.total}
        onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
        empty={<NoAlerts filtered={filtered} />}
      />
    </>
  );
}

function AlertsTable({
  res,
  names,
  offset,
  filtered,
}: {
  res: PageRes<AlertRecord>;
  names: Map<string, string>;
  offset: number;
  filtered: boolean;
}): ReactNode {
  const columns: Column<AlertRecord>[] = [
    {
      key: 'time',
      header: 'Time',
      render: (r) => (
        <span title={dateTime(r.time)} className="nowrap">
          {ago(r.time)}
        </span>
      ),
    },
    { key: 'severity', header: 'Severity', render: (r) => <SeverityBadge severity={r.severity} /> },
    {
      key: 'title',
      header: 'Alert',
      render: (r) => (
        <div>
          <Link href={`/alerts/${encodeURIComponent(r.id)}`} className="strong">
            {r.title}
          </Link>
          <div className="small clamp mono muted" title={r.output}>
            {r.output}
          </div>
        </div>
      ),
    },
    { key: 'rule', header: 'Rule', render: (r) => <span className="mono small">{r.ruleId}</span> },
    {
      key: 'where',
      header: 'Where',
      render: (r) => (
        <div className="small">
          <span className="mono">{workloadText(r)}</span>
          <div className="muted">
            <ClusterLink id={r.clusterId} names={names} /> · node {r.node}
          </div>
        </div>
      ),
    },
    {
      key: 'process',
      header: 'Process',
      render: (r) =>
        r.process ? (
          <span className="mono small" title={r.process.argv.join(' ')}>
            {r.process.exe} <span className="muted">({r.process.pid})</span>
          </span>
        ) : (
          <span className="muted">—</span>
        ),
    },
  ];
  if (res.error) return <ErrorState error={res.error} onRetry={res.reload} />;
  if (!res.data) return <Spinner />;
  return (
    <>
      <p className="muted small">{num.format(res.data.total)} alerts.</p>
      <PagedTable
        testId="alerts-table"
        caption="Alerts, newest first"
        rows={res.data.items}
        columns={columns}
        rowKey={(r) => r.id}
        busy={res.loading}
        offset={offset}
        limit={LIMIT}
        total={res.data.total}
        onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
        empty={<NoAlerts filtered={filtered} />}
      />
    </>
  );
}

function NoAlerts({ filtered }: { filtered: boolean }): ReactNode {
  return filtered ? (
    <Empty title="No alert matches these filters">Try a longer time range or fewer filters.</Empty>
  ) : (
    <Empty title="No runtime alerts">
      Alerts arrive when a cluster&apos;s sensors send them with its ingest token (see{' '}
      <Link href="/clusters">Clusters</Link>).
    </Empty>
  );
}

function ClusterLink({ id, names }: { id: string; names: Map<string, string> }): ReactNode {
  return <Link href={`/clusters/${encodeURIComponent(id)}`}>{names.get(id) ?? id}</Link>;
}

function sumSeen(s: SensorCounters): number {
  return Object.values(s.seen).reduce((a, n) => a + n, 0);
}

/** What each node's sensor reported about itself; drops are what an operator must see. */
function Sensors({ clusterId, names }: { clusterId?: string; names: Map<string, string> }): ReactNode {
  const res = useApi((signal) => alertsApi.sensors(clusterId, signal), [clusterId]);
  const drop = (n: number, what: string): ReactNode =>
    n > 0 ? (
      <span className="drop" title={`${num.format(n)} ${what}: events were lost`}>
        ⚠ {num.format(n)}
      </span>
    ) : (
      <span className="num muted">0</span>
    );
  const columns: Column<SensorCounters>[] = [
    {
      key: 'node',
      header: 'Node',
      sort: (r) => r.node,
      render: (r) => (
        <div>
          <span className="strong">{r.node}</span>
          <div className="small muted">
            <ClusterLink id={r.clusterId} names={names} />
          </div>
        </div>
      ),
    },
    { key: 'version', header: 'Sensor', render: (r) => <span className="mono small">{r.sensorVersion}</span> },
    {
      key: 'last',
      header: 'Last report',
      sort: (r) => r.lastReportAt,
      descFirst: true,
      render: (r) => <span title={dateTime(r.lastReportAt)}>{ago(r.lastReportAt)}</span>,
    },
    {
      key: 'batches',
      header: 'Batches',
      align: 'right',
      render: (r) => <span className="num">{num.format(r.batches)}</span>,
    },
    {
      key: 'seen',
      header: 'Events seen',
      align: 'right',
      sort: (r) => sumSeen(r),
      descFirst: true,
      render: (r) => (
        <span
          className="num"
          title={Object.entries(r.seen)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([t, n]) => `${t}: ${n}`)
            .join('\n')}
        >
          {num.format(sumSeen(r))}
        </span>
      ),
    },
    {
      key: 'kernel',
      header: 'Kernel drops',
      align: 'right',
      sort: (r) => r.kernelDrops,
      descFirst: true,
      render: (r) => drop(r.kernelDrops, 'ring-buffer drops in the kernel'),
    },
    {
      key: 'user',
      header: 'User drops',
      align: 'right',
      sort: (r) => r.userDrops,
      descFirst: true,
      render: (r) => drop(r.userDrops, 'drops in user space (queues full)'),
    },
    {
      key: 'spool',
      header: 'Spool drops',
      align: 'right',
      sort: (r) => r.spoolDrops,
      descFirst: true,
      render: (r) => drop(r.spoolDrops, 'drops from the publisher spool (at its limit)'),
    },
  ];
  const dropping = (res.data ?? []).filter((s) => s.kernelDrops + s.userDrops + s.spoolDrops > 0).length;
  return (
    <section className="card sensors" aria-labelledby="sensors-h">
      <div className="cardhead">
        <h2 id="sensors-h">Sensors</h2>
        {dropping > 0 && (
          <span className="drop" role="status">
            ⚠ {dropping} {dropping === 1 ? 'node drops' : 'nodes drop'} events
          </span>
        )}
      </div>
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <Table
          testId="sensors-table"
          caption="Sensors by node"
          rows={res.data}
          columns={columns}
          rowKey={(r) => `${r.clusterId}/${r.node}`}
          initialSort={{ key: 'node', order: 'asc' }}
          empty={<Empty title="No sensor has reported yet" />}
        />
      )}
    </section>
  );
}
