/**
 * Plots drawn as inline SVG (no charting library): a stacked-area trend of images by worst
 * severity per day, and a donut of the current split. Every plot has a text equivalent.
 */
import { useMemo, useState, type MouseEvent, type ReactNode } from 'react';
import { SEVERITIES, type Severity, type SeverityCounts, type TrendPoint } from './api.js';
import { SEVERITY_COLOR, SEVERITY_LABEL } from './components.js';
import { num } from './util.js';

const W = 960;
const H = 220;
const PAD = { l: 40, r: 12, t: 12, b: 26 };

/** Bottom to top: the worst severities at the bottom, where the eye starts. */
const STACK: Severity[] = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

function niceMax(v: number): number {
  if (v <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime())
    ? day
    : d.toLocaleDateString('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

export function TrendChart({ points: given, clean = true }: { points: TrendPoint[]; clean?: boolean }): ReactNode {
  // One day is drawn as a flat band across the plot rather than a zero-width area.
  const points = useMemo(() => (given.length === 1 && given[0] ? [given[0], given[0]] : given), [given]);
  const [hover, setHover] = useState<number | null>(null);
  const layers = useMemo(() => (clean ? [...STACK, 'clean' as const] : STACK), [clean]);
  const geo = useMemo(() => {
    const totals = points.map((p) => layers.reduce((a, k) => a + (p[k] ?? 0), 0));
    const max = niceMax(Math.max(1, ...totals));
    const iw = W - PAD.l - PAD.r;
    const ih = H - PAD.t - PAD.b;
    const x = (i: number): number => PAD.l + (points.length <= 1 ? iw / 2 : (i / (points.length - 1)) * iw);
    const y = (v: number): number => PAD.t + ih - (v / max) * ih;
    const base = points.map(() => 0);
    const areas = layers.map((k) => {
      const lo = [...base];
      points.forEach((p, i) => {
        base[i] = (base[i] ?? 0) + (p[k] ?? 0);
      });
      const hi = [...base];
      const top = hi.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      const bottom = lo.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).reverse();
      return { k, d: `M${top.join('L')}L${bottom.join('L')}Z`, line: `M${top.join('L')}` };
    });
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ v: max * f, y: y(max * f) }));
    const step = Math.max(1, Math.ceil(points.length / 8));
    const xticks = points
      .map((p, i) => ({ i, x: x(i), label: shortDay(p.day) }))
      .filter((t) => (given.length > 1 && t.i % step === 0) || t.i === points.length - 1);
    return { areas, ticks, xticks, x, iw };
  }, [points, layers]);

  if (points.length === 0) return null;
  const hp = hover === null ? undefined : points[hover];
  const onMove = (e: MouseEvent<SVGRectElement>): void => {
    const r = e.currentTarget.getBoundingClientRect();
    const fx = (e.clientX - r.left) / r.width;
    setHover(Math.max(0, Math.min(points.length - 1, Math.round(fx * (points.length - 1)))));
  };

  return (
    <figure className="chart" data-testid="trend-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Images by worst severity over ${points.length} days`}>
        {geo.ticks.map((t) => (
          <g key={t.v}>
            <line x1={PAD.l} x2={W - PAD.r} y1={t.y} y2={t.y} className="gridline" />
            <text x={PAD.l - 6} y={t.y + 4} textAnchor="end" className="axis">
              {num.format(Math.round(t.v))}
            </text>
          </g>
        ))}
        {geo.areas.map((a) => (
          <path
            key={a.k}
            d={a.d}
            fill={a.k === 'clean' ? 'var(--clean)' : SEVERITY_COLOR[a.k]}
            fillOpacity={a.k === 'clean' ? 0.35 : 0.85}
            stroke="none"
          >
            <title>{a.k === 'clean' ? 'Clean' : SEVERITY_LABEL[a.k]}</title>
          </path>
        ))}
        {geo.xticks.map((t) => (
          <text key={t.i} x={t.x} y={H - 8} textAnchor="middle" className="axis">
            {t.label}
          </text>
        ))}
        {hover !== null && <line x1={geo.x(hover)} x2={geo.x(hover)} y1={PAD.t} y2={H - PAD.b} className="guide" />}
        <rect
          x={PAD.l}
          y={PAD.t}
          width={geo.iw}
          height={H - PAD.t - PAD.b}
          fill="transparent"
          onMouseMove={onMove}
          onMouseLeave={() => setHover(null)}
        />
      </svg>
      <figcaption className="legend">
        {hp ? (
          <strong className="legend-day">{shortDay(hp.day)}</strong>
        ) : (
          <span className="muted">Images by worst severity · hover for a day</span>
        )}
        {layers.map((k) => (
          <span key={k} className="legend-item">
            <i
              className="dot"
              style={{ background: k === 'clean' ? 'var(--clean)' : SEVERITY_COLOR[k] }}
              aria-hidden="true"
            />
            {k === 'clean' ? 'Clean' : SEVERITY_LABEL[k]}
            {hp && <b>{num.format(hp[k] ?? 0)}</b>}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** A donut of counts by severity with the total in the middle. */
export function Donut({ counts, label }: { counts: SeverityCounts; label: string }): ReactNode {
  const total = SEVERITIES.reduce((a, s) => a + counts[s], 0);
  const r = 52;
  const c = 2 * Math.PI * r;
  let off = 0;
  return (
    <svg viewBox="0 0 140 140" width={140} height={140} role="img" aria-label={`${total} ${label}`} className="donut">
      <circle cx={70} cy={70} r={r} fill="none" stroke="var(--line)" strokeWidth={18} />
      {total > 0 &&
        SEVERITIES.map((s) => {
          const len = (counts[s] / total) * c;
          const el = (
            <circle
              key={s}
              cx={70}
              cy={70}
              r={r}
              fill="none"
              stroke={SEVERITY_COLOR[s]}
              strokeWidth={18}
              strokeDasharray={`${len} ${c - len}`}
              strokeDashoffset={-off}
              transform="rotate(-90 70 70)"
            >
              <title>{`${counts[s]} ${SEVERITY_LABEL[s]}`}</title>
            </circle>
          );
          off += len;
          return el;
        })}
      <text x={70} y={68} textAnchor="middle" className="donut-num">
        {num.format(total)}
      </text>
      <text x={70} y={86} textAnchor="middle" className="donut-label">
        {label}
      </text>
    </svg>
  );
}
