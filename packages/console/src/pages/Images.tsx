import { useEffect, useState, type ReactNode } from 'react';
import { SEVERITIES, api, type ImageQuery, type ImageSummary, type SortOrder } from '../api.js';
import {
  Empty,
  ErrorState,
  PageHeader,
  PagedTable,
  parseOffset,
  SeverityBadge,
  SeverityBar,
  SeverityFilter,
  Spinner,
  parseSeverities,
  type Column,
} from '../components.js';
import { Link, navigate, setSearch, useLocation } from '../router.js';
import { ago, dateTime, imageName, num, shortDigest, useApi } from '../util.js';

const LIMIT = 50;
const SORTS = ['repository', 'lastScanned', 'lastPushed', 'severity', 'total'] as const;
type ImageSort = (typeof SORTS)[number];

export function Images(): ReactNode {
  const { search } = useLocation();
  const q = search.get('q') ?? '';
  const severity = parseSeverities(search.get('severity'));
  const fixableParam = search.get('fixable');
  const fixable = fixableParam === 'true' ? true : fixableParam === 'false' ? false : undefined;
  const sortParam = search.get('sort');
  const sort: ImageSort = (SORTS as readonly string[]).includes(sortParam ?? '')
    ? (sortParam as ImageSort)
    : 'severity';
  const order: SortOrder = search.get('order') === 'asc' ? 'asc' : 'desc';
  const offset = parseOffset(search.get('offset'));

  // The search box updates the URL (and the query) shortly after typing stops.
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);
  useEffect(() => {
    if (text === q) return;
    const t = setTimeout(() => setSearch({ q: text.trim() || undefined, offset: undefined }), 250);
    return () => clearTimeout(t);
  }, [text, q]);

  const query: ImageQuery = { q: q || undefined, severity, fixable, sort, order, limit: LIMIT, offset };
  const res = useApi((signal) => api.images(query, signal), [JSON.stringify(query)]);

  const columns: Column<ImageSummary>[] = [
    {
      key: 'repository',
      header: 'Image',
      serverSort: 'repository',
      sort: (r) => imageName(r),
      render: (r) => (
        <div className="cell-image">
          <Link href={`/images/${encodeURIComponent(r.digest)}`} className="strong">
            {imageName(r)}
          </Link>
          <div className="tags">
            {r.tags.slice(0, 4).map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
            {r.tags.length > 4 && <span className="muted small">+{r.tags.length - 4}</span>}
            <span className="mono muted small" title={r.digest}>
              {shortDigest(r.digest)}
            </span>
          </div>
        </div>
      ),
    },
    {
      key: 'worst',
      header: 'Worst',
      serverSort: 'severity',
      descFirst: true,
      sort: (r) => (r.worst ? 6 - SEVERITIES.indexOf(r.worst) : 0),
      render: (r) =>
        r.worst ? (
          <SeverityBadge severity={r.worst} />
        ) : r.lastScannedAt ? (
          <span className="sev sev-clean">Clean</span>
        ) : (
          <span className="muted">not scanned</span>
        ),
    },
    { key: 'counts', header: 'Findings by severity', render: (r) => <SeverityBar counts={r.counts} /> },
    {
      key: 'total',
      header: 'Total',
      align: 'right',
      serverSort: 'total',
      descFirst: true,
      sort: (r) => r.total,
      render: (r) => <span className="num">{num.format(r.total)}</span>,
    },
    {
      key: 'fixable',
      header: 'Fixable',
      align: 'right',
      descFirst: true,
      sort: (r) => r.fixable,
      render: (r) => <span className={r.fixable ? 'num ok' : 'num muted'}>{num.format(r.fixable)}</span>,
    },
    {
      key: 'packages',
      header: 'Packages',
      align: 'right',
      descFirst: true,
      sort: (r) => r.packages,
      render: (r) => <span className="num muted">{num.format(r.packages)}</span>,
    },
    {
      key: 'lastScanned',
      header: 'Scanned',
      serverSort: 'lastScanned',
      descFirst: true,
      sort: (r) => r.lastScannedAt ?? '',
      render: (r) => <span title={dateTime(r.lastScannedAt)}>{ago(r.lastScannedAt)}</span>,
    },
  ];

  const filtered = Boolean(q || severity.length || fixable !== undefined);
  return (
    <div className="page">
      <PageHeader
        title="Images"
        sub={res.data ? `${num.format(res.data.total)} ${filtered ? 'matching' : 'known'} images` : ' '}
      />
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Search repository, tag or digest"
          aria-label="Search images"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <SeverityFilter
          value={severity}
          onChange={(v) => setSearch({ severity: v.join(',') || undefined, offset: undefined })}
        />
        <div className="seg" role="group" aria-label="Fixable">
          {(
            [
              ['any', undefined],
              ['fixable', 'true'],
              ['no fix', 'false'],
            ] as const
          ).map(([label, v]) => (
            <button
              key={label}
              type="button"
              aria-pressed={fixableParam === (v ?? null)}
              className={(fixableParam ?? undefined) === v ? 'on' : ''}
              onClick={() => setSearch({ fixable: v, offset: undefined })}
            >
              {label}
            </button>
          ))}
        </div>
        {filtered && (
          <button type="button" className="btn small ghost" onClick={() => navigate('/images', { replace: true })}>
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
            testId="images-table"
            caption="Images"
            rows={res.data.items}
            columns={columns}
            rowKey={(r) => r.id}
            busy={res.loading}
            serverSort={{ key: sort, order, set: (k, o) => setSearch({ sort: k, order: o, offset: undefined }) }}
            empty={
              filtered ? (
                <Empty title="No image matches these filters">Try a shorter search or fewer severities.</Empty>
              ) : (
                <Empty title="No images yet">
                  Images appear when a registry webhook reports a push or a scan runs. See{' '}
                  <Link href="/settings">Settings</Link>.
                </Empty>
              )
            }
          />
        </>
      )}
    </div>
  );
}
