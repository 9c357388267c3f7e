import { useEffect, useState, type ReactNode } from 'react';
import { SEVERITIES, api, type SortOrder, type VulnerabilityQuery, type VulnerabilitySummary } from '../api.js';
import {
  Empty,
  ErrorState,
  KevBadge,
  PageHeader,
  PagedTable,
  parseOffset,
  SeverityBadge,
  SeverityFilter,
  Spinner,
  parseSeverities,
  type Column,
} from '../components.js';
import { Link, navigate, setSearch, useLocation } from '../router.js';
import { num, useApi } from '../util.js';

const LIMIT = 50;
const SORTS = ['severity', 'affectedImages', 'epss', 'id'] as const;
type VSort = (typeof SORTS)[number];

export function Vulnerabilities(): ReactNode {
  const { search } = useLocation();
  const id = search.get('id') ?? '';
  const severity = parseSeverities(search.get('severity'));
  const kev = search.get('kev') === 'true' ? true : undefined;
  const fixableParam = search.get('fixable');
  const fixable = fixableParam === 'true' ? true : fixableParam === 'false' ? false : undefined;
  const sortParam = search.get('sort') ?? '';
  const sort: VSort = (SORTS as readonly string[]).includes(sortParam) ? (sortParam as VSort) : 'severity';
  const order: SortOrder = search.get('order') === 'asc' ? 'asc' : 'desc';
  const offset = parseOffset(search.get('offset'));

  const [text, setText] = useState(id);
  useEffect(() => setText(id), [id]);
  useEffect(() => {
    if (text === id) return;
    const t = setTimeout(() => setSearch({ id: idQuery(text) || undefined, offset: undefined }), 300);
    return () => clearTimeout(t);
  }, [text, id]);

  const query: VulnerabilityQuery = { id: id || undefined, severity, kev, fixable, sort, order, limit: LIMIT, offset };
  const res = useApi((signal) => api.vulnerabilities(query, signal), [JSON.stringify(query)]);

  const columns: Column<VulnerabilitySummary>[] = [
    {
      key: 'id',
      header: 'Vulnerability',
      serverSort: 'id',
      sort: (r) => r.id,
      render: (r) => (
        <div>
          <Link href={`/vulnerabilities/${encodeURIComponent(r.id)}`} className="strong mono">
            {r.id}
          </Link>{' '}
          {r.kev && <KevBadge />}
          {r.aliases.length > 0 && <div className="muted small mono">{r.aliases.slice(0, 3).join(' · ')}</div>}
          {r.title && <div className="small clamp">{r.title}</div>}
        </div>
      ),
    },
    {
      key: 'severity',
      header: 'Severity',
      serverSort: 'severity',
      descFirst: true,
      sort: (r) => 6 - SEVERITIES.indexOf(r.severity),
      render: (r) => <SeverityBadge severity={r.severity} />,
    },
    {
      key: 'affectedImages',
      header: 'Images',
      align: 'right',
      serverSort: 'affectedImages',
      descFirst: true,
      sort: (r) => r.affectedImages,
      render: (r) => <span className="num strong">{num.format(r.affectedImages)}</span>,
    },
    {
      key: 'fixableImages',
      header: 'Fix available in',
      align: 'right',
      descFirst: true,
      sort: (r) => r.fixableImages,
      render: (r) => (
        <span className={r.fixableImages ? 'num ok' : 'num muted'}>
          {num.format(r.fixableImages)} / {num.format(r.affectedImages)}
        </span>
      ),
    },
    {
      key: 'packages',
      header: 'Packages',
      align: 'right',
      descFirst: true,
      sort: (r) => r.affectedPackages,
      render: (r) => <span className="num muted">{num.format(r.affectedPackages)}</span>,
    },
    {
      key: 'epss',
      header: 'EPSS',
      align: 'right',
      serverSort: 'epss',
      descFirst: true,
      sort: (r) => r.epss ?? -1,
      render: (r) =>
        r.epss === null ? <span className="muted">—</span> : <span className="num">{(r.epss * 100).toFixed(1)}%</span>,
    },
  ];

  const filtered = Boolean(id || severity.length || kev || fixable !== undefined);
  return (
    <div className="page">
      <PageHeader
        title="Vulnerabilities"
        sub={
          res.data
            ? `${num.format(res.data.total)} ${filtered ? 'matching' : 'distinct'} vulnerabilities across your images`
            : ' '
        }
      />
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="CVE-2024-… or GHSA-… (prefix)"
          aria-label="Search by id"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <SeverityFilter
          value={severity}
          onChange={(v) => setSearch({ severity: v.join(',') || undefined, offset: undefined })}
        />
        <label className="check">
          <input
            type="checkbox"
            checked={kev === true}
            onChange={(e) => setSearch({ kev: e.target.checked ? 'true' : undefined, offset: undefined })}
          />{' '}
          Known exploited (KEV)
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={fixable === true}
            onChange={(e) => setSearch({ fixable: e.target.checked ? 'true' : undefined, offset: undefined })}
          />{' '}
          Fix available
        </label>
        {filtered && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() => navigate('/vulnerabilities', { replace: true })}
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
        <>
          <PagedTable
            offset={offset}
            limit={LIMIT}
            total={res.data.total}
            onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
            testId="vulnerabilities-table"
            caption="Vulnerabilities"
            rows={res.data.items}
            columns={columns}
            rowKey={(r) => r.id}
            busy={res.loading}
            serverSort={{ key: sort, order, set: (k, o) => setSearch({ sort: k, order: o, offset: undefined }) }}
            empty={
              filtered ? (
                <Empty title="No vulnerability matches these filters" />
              ) : (
                <Empty title="No vulnerabilities">Nothing found in any scanned image — or nothing scanned yet.</Empty>
              )
            }
          />
        </>
      )}
    </div>
  );
}

/** A complete id searches exactly; anything shorter searches by prefix (the API's `ID*` form). */
function idQuery(text: string): string {
  let v = text.trim();
  if (!v) return '';
  if (/^(cve|ghsa|dsa|dla|usn|rhsa|alsa)-/i.test(v))
    v = v.slice(0, v.indexOf('-')).toUpperCase() + v.slice(v.indexOf('-'));
  if (/^CVE-/.test(v)) v = v.toUpperCase();
  const complete = /^CVE-\d{4}-\d{4,}$/.test(v) || /^GHSA(-[a-z0-9]{4}){3}$/i.test(v);
  return complete || v.endsWith('*') ? v : `${v}*`;
}
