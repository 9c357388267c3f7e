import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api, type ScanRecord, type ScanStatus } from '../api.js';
import { Empty, ErrorState, PageHeader, PagedTable, Spinner, parseOffset, type Column } from '../components.js';
import { Link, setSearch, useLocation } from '../router.js';
import { ago, dateTime, duration, errorText, num, shortDigest, useApi } from '../util.js';

const LIMIT = 50;
const STATUSES: ScanStatus[] = ['queued', 'running', 'succeeded', 'failed'];
const STATUS_LABEL: Record<ScanStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
};
const STATUS_ICON: Record<ScanStatus, string> = { queued: '◷', running: '↻', succeeded: '✓', failed: '✕' };

export function ScanStatusBadge({ status }: { status: ScanStatus }): ReactNode {
  return (
    <span className={`status status-${status}`}>
      <span aria-hidden="true">{STATUS_ICON[status] ?? '?'}</span> {STATUS_LABEL[status] ?? status}
    </span>
  );
}

export function Scans(): ReactNode {
  const { search } = useLocation();
  const statusParam = search.get('status');
  const status = STATUSES.find((s) => s === statusParam);
  const offset = parseOffset(search.get('offset'));
  const res = useApi((signal) => api.scans({ status, limit: LIMIT, offset }, signal), [status, offset]);

  // While something is queued or running, refresh every few seconds.
  const active = res.data?.items.some((s) => s.status === 'queued' || s.status === 'running') ?? false;
  const { reload } = res;
  useEffect(() => {
    if (!active) return;
    const t = setInterval(reload, 3000);
    return () => clearInterval(t);
  }, [active, reload]);

  const columns: Column<ScanRecord>[] = [
    { key: 'status', header: 'Status', sort: (r) => r.status, render: (r) => <ScanStatusBadge status={r.status} /> },
    {
      key: 'ref',
      header: 'Image reference',
      sort: (r) => r.imageRef,
      render: (r) => (
        <div>
          <span className="mono small">{r.imageRef}</span>
          {r.digest && (
            <div>
              <Link href={`/images/${encodeURIComponent(r.digest)}`} className="mono small">
                {shortDigest(r.digest)}
              </Link>
            </div>
          )}
          {r.error && (
            <div className="err small" data-testid="scan-error">
              {r.error}
            </div>
          )}
        </div>
      ),
    },
    {
      key: 'queued',
      header: 'Queued',
      descFirst: true,
      sort: (r) => r.queuedAt,
      render: (r) => <span title={dateTime(r.queuedAt)}>{ago(r.queuedAt)}</span>,
    },
    {
      key: 'duration',
      header: 'Duration',
      align: 'right',
      descFirst: true,
      sort: (r) => r.durationMs ?? -1,
      render: (r) => <span className="num">{duration(r.durationMs)}</span>,
    },
    {
      key: 'attempts',
      header: 'Attempts',
      align: 'right',
      sort: (r) => r.attempts,
      render: (r) => <span className={r.attempts > 1 ? 'num warn' : 'num muted'}>{r.attempts}</span>,
    },
    {
      key: 'finished',
      header: 'Finished',
      descFirst: true,
      sort: (r) => r.finishedAt ?? '',
      render: (r) => <span title={dateTime(r.finishedAt)}>{r.finishedAt ? ago(r.finishedAt) : '—'}</span>,
    },
  ];

  return (
    <div className="page">
      <PageHeader
        title="Scans"
        sub={
          res.data
            ? `${num.format(res.data.total)} scans${status ? ` ${STATUS_LABEL[status].toLowerCase()}` : ''}`
            : ' '
        }
      />
      <NewScan onQueued={reload} />
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Status">
          <button
            type="button"
            aria-pressed={!status}
            className={!status ? 'on' : ''}
            onClick={() => setSearch({ status: undefined, offset: undefined })}
          >
            All
          </button>
          {STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              aria-pressed={status === s}
              className={status === s ? 'on' : ''}
              onClick={() => setSearch({ status: s, offset: undefined })}
            >
              {STATUS_LABEL[s]}
            </button>
          ))}
        </div>
        {active && <span className="muted small">Refreshing while scans run…</span>}
      </div>
      {res.error ? (
        <ErrorState error={res.error} onRetry={reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <>
          <PagedTable
            offset={offset}
            limit={LIMIT}
            total={res.data.total}
            onPage={(o) => setSearch({ offset: o ? String(o) : undefined })}
            testId="scans-table"
            caption="Scan history"
            rows={res.data.items}
            columns={columns}
            rowKey={(r) => r.id}
            empty={
              <Empty title={status ? `No ${STATUS_LABEL[status].toLowerCase()} scans` : 'No scans yet'}>
                Queue one above, or let a registry webhook trigger them.
              </Empty>
            }
          />
        </>
      )}
    </div>
  );
}

function NewScan({ onQueued }: { onQueued: () => void }): ReactNode {
  const [ref, setRef] = useState('');
  const [msg, setMsg] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!ref.trim()) return;
    setBusy(true);
    setMsg(null);
    try {
      const r = await api.createScan(ref.trim());
      setMsg({ kind: 'ok', text: r.deduplicated ? 'Already queued: joined the existing scan.' : 'Scan queued.' });
      setRef('');
      onQueued();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" onSubmit={(e) => void submit(e)}>
      <label htmlFor="scanref" className="strong">
        Scan an image
      </label>
      <input
        id="scanref"
        className="grow mono"
        placeholder="registry.example.com/team/app:1.4 or …@sha256:…"
        value={ref}
        onChange={(e) => setRef(e.target.value)}
      />
      <button type="submit" className="btn primary" disabled={busy || !ref.trim()}>
        {busy ? 'Queuing…' : 'Queue scan'}
      </button>
      {msg && (
        <div
          className={`banner ${msg.kind === 'ok' ? 'info' : 'error'} full`}
          role={msg.kind === 'error' ? 'alert' : 'status'}
        >
          {msg.text}
        </div>
      )}
    </form>
  );
}
