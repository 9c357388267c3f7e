import { useMemo, useState, type KeyboardEvent, type ReactNode } from 'react';
import { SEVERITIES, type Severity, type SeverityCounts, type SortOrder } from './api.js';
import { errorText, num } from './util.js';

export const SEVERITY_LABEL: Record<Severity, string> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  negligible: 'Negligible',
  unknown: 'Unknown',
};

/** Fill colours, also used by the charts (CSS custom properties hold the same values). */
export const SEVERITY_COLOR: Record<Severity, string> = {
  critical: '#8b1010',
  high: '#dc3b2f',
  medium: '#ef8a1f',
  low: '#e8c21c',
  negligible: '#a3abb7',
  unknown: '#7b8494',
};

export function SeverityBadge({ severity, count }: { severity: Severity; count?: number }): ReactNode {
  return (
    <span className={`sev sev-${severity}`} title={`Severity: ${SEVERITY_LABEL[severity]}`}>
      {SEVERITY_LABEL[severity]}
      {count !== undefined && <b>{num.format(count)}</b>}
    </span>
  );
}

export function KevBadge(): ReactNode {
  return (
    <span className="kev" title="In CISA's Known Exploited Vulnerabilities catalog: exploited in the wild">
      KEV
    </span>
  );
}

export function FixBadge({ versions }: { versions: string[] }): ReactNode {
  if (versions.length === 0) return <span className="muted nofix">no fix yet</span>;
  return (
    <span className="fix" title="Upgrade to this version to fix">
      ↑ {versions.join(', ')}
    </span>
  );
}

/** Counts by severity as one horizontal stacked bar with numbers beside it. */
export function SeverityBar({
  counts,
  width = 160,
  showNumbers = true,
}: {
  counts: SeverityCounts;
  width?: number;
  showNumbers?: boolean;
}): ReactNode {
  const total = SEVERITIES.reduce((a, s) => a + (counts[s] ?? 0), 0);
  const label = SEVERITIES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(', ');
  if (total === 0) return <span className="muted clean">✓ no findings</span>;
  let x = 0;
  return (
    <span className="sevbar" aria-label={label} title={label}>
      <svg width={width} height={10} role="img" aria-hidden="true">
        {SEVERITIES.map((s) => {
          const w = ((counts[s] ?? 0) / total) * width;
          const r = <rect key={s} x={x} y={0} width={Math.max(0, w)} height={10} fill={SEVERITY_COLOR[s]} />;
          x += w;
          return r;
        })}
      </svg>
      {showNumbers && (
        <span className="sevnums">
          {SEVERITIES.filter((s) => (s !== 'negligible' && s !== 'unknown') || counts[s] > 0).map((s) => (
            <span
              key={s}
              className={counts[s] ? `n n-${s}` : 'n n-zero'}
              title={`${counts[s]} ${SEVERITY_LABEL[s].toLowerCase()}`}
            >
              {SEVERITY_LABEL[s][0]}
              {counts[s]}
            </span>
          ))}
        </span>
      )}
    </span>
  );
}

export function Spinner({ label = 'Loading…' }: { label?: string }): ReactNode {
  return (
    <div className="state loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }): ReactNode {
  return (
    <div className="state error" role="alert">
      <strong>Something went wrong.</strong> <span>{errorText(error)}</span>
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }): ReactNode {
  return (
    <div className="state empty">
      <strong>{title}</strong>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

export function PageHeader({
  title,
  sub,
  actions,
}: {
  title: ReactNode;
  sub?: ReactNode;
  actions?: ReactNode;
}): ReactNode {
  return (
    <header className="pagehead">
      <div>
        <h1>{title}</h1>
        {sub && <div className="sub">{sub}</div>}
      </div>
      {actions && <div className="actions">{actions}</div>}
    </header>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }): ReactNode {
  const [done, setDone] = useState<'idle' | 'ok' | 'fail'>('idle');
  const copy = async (): Promise<void> => {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const ta = document.createElement('textarea');
        ta.value = text;
        ta.style.position = 'fixed';
        ta.style.opacity = '0';
        document.body.appendChild(ta);
        ta.select();
        const ok = document.execCommand('copy');
        ta.remove();
        if (!ok) throw new Error('copy refused');
      }
      setDone('ok');
    } catch {
      setDone('fail');
    }
    setTimeout(() => setDone('idle'), 1800);
  };
  return (
    <button type="button" className="btn small" onClick={() => void copy()}>
      {done === 'ok' ? 'Copied ✓' : done === 'fail' ? 'Select and copy' : label}
    </button>
  );
}

/** A secret shown once, with a copy button and a warning that it will not be shown again. */
export function OnceSecret({ label, value, testId }: { label: string; value: string; testId?: string }): ReactNode {
  return (
    <div className="secret">
      <div className="secret-label">{label}</div>
      <div className="secret-row">
        <code data-testid={testId}>{value}</code>
        <CopyButton text={value} />
      </div>
    </div>
  );
}

// ---------- tables ----------

export interface Column<T> {
  key: string;
  header: ReactNode;
  render: (row: T) => ReactNode;
  /** Client-side sort key. */
  sort?: (row: T) => string | number;
  /** Server-side sort name; when the table has onServerSort, used instead of `sort`. */
  serverSort?: string;
  align?: 'left' | 'right' | 'center';
  className?: string;
  /** First click sorts descending (counts, severities, dates). */
  descFirst?: boolean;
}

export interface SortState {
  key: string;
  order: SortOrder;
}

export function Table<T>(props: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  empty?: ReactNode;
  initialSort?: SortState;
  /** Server sort: current state and a setter; columns with `serverSort` use it. */
  serverSort?: { key: string; order: SortOrder; set: (key: string, order: SortOrder) => void };
  /** Show this many rows, then a "show more" button (keeps big package lists fast). */
  pageSize?: number;
  onRowClick?: (row: T) => void;
  caption?: string;
  testId?: string;
  busy?: boolean;
}): ReactNode {
  const { rows, columns, serverSort } = props;
  const [sort, setSort] = useState<SortState | undefined>(props.initialSort);
  const [shown, setShown] = useState(props.pageSize ?? Infinity);

  const sorted = useMemo(() => {
    if (!sort) return rows;
    const col = columns.find((c) => c.key === sort.key);
    if (!col?.sort) return rows;
    const get = col.sort;
    const dir = sort.order === 'asc' ? 1 : -1;
    return [...rows].sort((a, b) => {
      const x = get(a);
      const y = get(b);
      if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
      return String(x).localeCompare(String(y), 'en', { numeric: true }) * dir;
    });
  }, [rows, columns, sort]);

  const click = (c: Column<T>): void => {
    if (serverSort && c.serverSort) {
      const order: SortOrder =
        serverSort.key === c.serverSort ? (serverSort.order === 'asc' ? 'desc' : 'asc') : c.descFirst ? 'desc' : 'asc';
      setSort(undefined);
      serverSort.set(c.serverSort, order);
      return;
    }
    if (!c.sort) return;
    const order: SortOrder =
      sort?.key === c.key ? (sort.order === 'asc' ? 'desc' : 'asc') : c.descFirst ? 'desc' : 'asc';
    setSort({ key: c.key, order });
  };

  const ariaSort = (c: Column<T>): 'ascending' | 'descending' | undefined => {
    if (serverSort && c.serverSort && !sort) {
      return serverSort.key === c.serverSort ? (serverSort.order === 'asc' ? 'ascending' : 'descending') : undefined;
    }
    if (sort?.key === c.key) return sort.order === 'asc' ? 'ascending' : 'descending';
    return undefined;
  };

  const visible = sorted.slice(0, shown);
  return (
    <div className={`tablewrap${props.busy ? ' busy' : ''}`}>
      <table className="grid" data-testid={props.testId}>
        {props.caption && <caption className="sr-only">{props.caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              const sortable = Boolean(c.sort || (serverSort && c.serverSort));
              const as = ariaSort(c);
              return (
                <th key={c.key} className={`${c.align ?? 'left'} ${c.className ?? ''}`} aria-sort={as}>
                  {sortable ? (
                    <button type="button" className="thbtn" onClick={() => click(c)}>
                      {c.header}
                      <span className="arrow" aria-hidden="true">
                        {as === 'ascending' ? '▲' : as === 'descending' ? '▼' : '↕'}
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {visible.map((r) => (
            <tr
              key={props.rowKey(r)}
              onClick={props.onRowClick ? () => props.onRowClick?.(r) : undefined}
              className={props.onRowClick ? 'clickable' : undefined}
            >
              {columns.map((c) => (
                <td key={c.key} className={`${c.align ?? 'left'} ${c.className ?? ''}`}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && (props.empty ?? <Empty title="Nothing here" />)}
      {sorted.length > shown && (
        <div className="more">
          <button type="button" className="btn" onClick={() => setShown((s) => s + (props.pageSize ?? 100))}>
            Show {Math.min(props.pageSize ?? 100, sorted.length - shown)} more
          </button>
          <span className="muted">
            {num.format(shown)} of {num.format(sorted.length)} shown
          </span>
        </div>
      )}
    </div>
  );
}

export function Pager({
  offset,
  limit,
  total,
  onChange,
}: {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number) => void;
}): ReactNode {
  if (total <= limit && offset === 0) return <div className="pager muted">{plural(total)}</div>;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return (
    <div className="pager">
      <span className="muted">
        {num.format(from)}–{num.format(to)} of {num.format(total)}
      </span>
      <button
        type="button"
        className="btn small"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit))}
      >
        ← Previous
      </button>
      <button
        type="button"
        className="btn small"
        disabled={offset + limit >= total}
        onClick={() => onChange(offset + limit)}
      >
        Next →
      </button>
    </div>
  );
}

function plural(n: number): string {
  return `${num.format(n)} ${n === 1 ? 'row' : 'rows'}`;
}

/** Toggle chips for a set of severities (server-side filter). */
export function SeverityFilter({
  value,
  onChange,
}: {
  value: Severity[];
  onChange: (v: Severity[]) => void;
}): ReactNode {
  return (
    <div className="chips" role="group" aria-label="Filter by severity">
      {SEVERITIES.map((s) => {
        const on = value.includes(s);
        return (
          <button
            key={s}
            type="button"
            aria-pressed={on}
            className={`chip chip-${s}${on ? ' on' : ''}`}
            onClick={() =>
              onChange(on ? value.filter((x) => x !== s) : SEVERITIES.filter((x) => x === s || value.includes(x)))
            }
          >
            <i className="dot" style={{ background: SEVERITY_COLOR[s] }} aria-hidden="true" />
            {SEVERITY_LABEL[s]}
          </button>
        );
      })}
    </div>
  );
}

/** Severities from a comma-separated URL parameter, unknown names dropped, in severity order. */
export function parseSeverities(v: string | null): Severity[] {
  if (!v) return [];
  const wanted = new Set(v.split(','));
  return SEVERITIES.filter((s) => wanted.has(s));
}

/** A non-negative paging offset from a URL parameter. */
export function parseOffset(v: string | null): number {
  return Math.max(0, Math.floor(Number(v ?? 0)) || 0);
}

/** One labelled figure in a `.facts` strip. */
export function Fact({ label, children }: { label: string; children: ReactNode }): ReactNode {
  return (
    <div className="fact">
      <div className="fact-label">{label}</div>
      <div className="fact-value">{children}</div>
    </div>
  );
}

/** A button that asks once more before acting. */
export function ConfirmButton({
  label,
  confirm,
  onConfirm,
}: {
  label: string;
  confirm: string;
  onConfirm: () => Promise<void>;
}): ReactNode {
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!armed) {
    return (
      <button type="button" className="btn small danger-ghost" onClick={() => setArmed(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <button
        type="button"
        className="btn small danger"
        disabled={busy}
        autoFocus
        onClick={() => {
          setBusy(true);
          void onConfirm().finally(() => {
            setBusy(false);
            setArmed(false);
          });
        }}
      >
        {confirm}
      </button>
      <button type="button" className="btn small ghost" onClick={() => setArmed(false)}>
        Cancel
      </button>
    </span>
  );
}

/**
 * Tabs whose selection lives in the URL (`?tab=`), so a tab can be linked. Arrow keys move
 * between tabs, as the WAI-ARIA tabs pattern asks.
 */
export function Tabs<T extends string>({
  tabs,
  value,
  onChange,
  label,
}: {
  tabs: ReadonlyArray<readonly [T, ReactNode]>;
  value: T;
  onChange: (tab: T) => void;
  label: string;
}): ReactNode {
  const keys = tabs.map(([t]) => t);
  const onKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    const i = keys.indexOf(value);
    const next =
      e.key === 'ArrowRight' ? keys[(i + 1) % keys.length] : e.key === 'ArrowLeft' ? keys.at(i - 1) : undefined;
    if (next === undefined) return;
    e.preventDefault();
    onChange(next);
    // Focus follows the selection once React has rendered it.
    requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
  };
  return (
    <div className="tabs" role="tablist" aria-label={label} onKeyDown={onKey}>
      {tabs.map(([t, text]) => (
        <button
          key={t}
          id={`tab-${t}`}
          type="button"
          role="tab"
          aria-selected={value === t}
          tabIndex={value === t ? 0 : -1}
          className={value === t ? 'on' : ''}
          onClick={() => onChange(t)}
        >
          {text}
        </button>
      ))}
    </div>
  );
}

/** A server-paged table: the rows of one page and the pager under it. */
export function PagedTable<T>(
  props: Parameters<typeof Table<T>>[0] & {
    offset: number;
    limit: number;
    total: number;
    onPage: (offset: number) => void;
  },
): ReactNode {
  const { offset, limit, total, onPage, ...table } = props;
  return (
    <>
      <Table {...table} />
      <Pager offset={offset} limit={limit} total={total} onChange={onPage} />
    </>
  );
}
