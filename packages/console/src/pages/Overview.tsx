import { useState, type ReactNode } from 'react';
import { SEVERITIES, api, type ImageSummary, type Severity, type SeverityCounts, type TrendPoint } from '../api.js';
import { Donut, TrendChart } from '../charts.js';
import {
  Empty,
  ErrorState,
  KevBadge,
  PageHeader,
  SEVERITY_COLOR,
  SEVERITY_LABEL,
  SeverityBadge,
  SeverityBar,
  Spinner,
} from '../components.js';
import { Link } from '../router.js';
import { ScanStatusBadge } from './Scans.js';
import { ago, imageName, num, shortDigest, useApi } from '../util.js';

const zero = (): SeverityCounts => ({ critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 });

interface Totals {
  images: number;
  scanned: number;
  /** Images by their worst severity. */
  byWorst: SeverityCounts;
  clean: number;
  findings: SeverityCounts;
  fixable: SeverityCounts;
  sampled: boolean;
  top: ImageSummary[];
}

function aggregate(items: ImageSummary[], total: number): Totals {
  const t: Totals = {
    images: total,
    scanned: 0,
    byWorst: zero(),
    clean: 0,
    findings: zero(),
    fixable: zero(),
    sampled: items.length < total,
    top: [],
  };
  for (const img of items) {
    if (img.lastScannedAt || img.scanId) t.scanned++;
    if (img.worst) t.byWorst[img.worst]++;
    else if (img.lastScannedAt || img.scanId) t.clean++;
    for (const s of SEVERITIES) {
      t.findings[s] += img.counts?.[s] ?? 0;
      t.fixable[s] += img.fixableCounts?.[s] ?? 0;
    }
  }
  t.top = items.filter((i) => i.total > 0).slice(0, 6);
  return t;
}

function sum(c: SeverityCounts): number {
  return SEVERITIES.reduce((a, s) => a + c[s], 0);
}

export function Overview(): ReactNode {
  const [days, setDays] = useState(30);
  const images = useApi((signal) => api.images({ sort: 'severity', order: 'desc', limit: 500 }, signal), []);
  const kev = useApi(
    (signal) => api.vulnerabilities({ kev: true, sort: 'affectedImages', order: 'desc', limit: 5 }, signal),
    [],
  );
  const trend = useApi((signal) => api.trend(days, signal), [days]);
  const scans = useApi((signal) => api.scans({ limit: 5 }, signal), []);

  if (images.error) return <ErrorState error={images.error} onRetry={images.reload} />;
  if (!images.data) return <Spinner />;
  const t = aggregate(images.data.items, images.data.total);
  const totalFindings = sum(t.findings);
  const totalFixable = sum(t.fixable);
  const critHigh = t.byWorst.critical + t.byWorst.high;

  return (
    <div className="page overview">
      <PageHeader
        title="Overview"
        sub={
          t.sampled
            ? `Figures from the ${num.format(images.data.items.length)} most exposed images of ${num.format(t.images)}`
            : 'Everything scanned, at a glance'
        }
      />

      {t.images === 0 ? (
        <Empty title="No images yet">
          Add a registry under <Link href="/settings">Settings</Link> so pushes are scanned, or queue a scan under{' '}
          <Link href="/scans">Scans</Link>.
        </Empty>
      ) : (
        <>
          <section className="stats" aria-label="Key figures">
            <Stat
              label="Images"
              value={t.images}
              testId="stat-images"
              foot={`${num.format(t.scanned)} scanned`}
              href="/images"
            />
            <Stat
              label="Critical or high"
              value={critHigh}
              testId="stat-critical-high"
              foot={`images whose worst finding is critical or high`}
              tone={critHigh > 0 ? 'bad' : 'good'}
              href="/images?severity=critical,high"
            />
            <Stat
              label="Fixable findings"
              value={totalFixable}
              testId="stat-fixable"
              foot={`of ${num.format(totalFindings)} findings have a fixed version`}
              href="/images?fixable=true"
            />
            <Stat
              label="Known exploited"
              value={kev.data?.total ?? 0}
              testId="stat-kev"
              foot="vulnerabilities in CISA KEV"
              tone={(kev.data?.total ?? 0) > 0 ? 'bad' : 'good'}
              href="/vulnerabilities?kev=true"
            />
          </section>

          <div className="cols">
            <section className="card" aria-labelledby="byworst">
              <h2 id="byworst">Images by worst severity</h2>
              <div className="split">
                <Donut counts={t.byWorst} label="with findings" />
                <ul className="barlist" data-testid="images-by-severity">
                  {SEVERITIES.map((s) => (
                    <BarRow
                      key={s}
                      severity={s}
                      value={t.byWorst[s]}
                      max={Math.max(1, ...SEVERITIES.map((x) => t.byWorst[x]), t.clean)}
                      href={`/images?severity=${s}`}
                    />
                  ))}
                  <li className="barrow">
                    <span className="barlabel">
                      <span className="sev sev-clean">Clean</span>
                    </span>
                    <span className="bartrack">
                      <span
                        className="barfill"
                        style={{ width: `${(t.clean / Math.max(1, t.images)) * 100}%`, background: 'var(--clean)' }}
                      />
                    </span>
                    <span className="barval">{num.format(t.clean)}</span>
                  </li>
                </ul>
              </div>
            </section>

            <section className="card" aria-labelledby="fixable">
              <h2 id="fixable">Findings and fixes</h2>
              <table className="mini" data-testid="findings-by-severity">
                <thead>
                  <tr>
                    <th>Severity</th>
                    <th className="right">Findings</th>
                    <th className="right">Fixable</th>
                    <th>Share fixable</th>
                  </tr>
                </thead>
                <tbody>
                  {SEVERITIES.map((s) => (
                    <tr key={s}>
                      <td>
                        <SeverityBadge severity={s} />
                      </td>
                      <td className="right num">{num.format(t.findings[s])}</td>
                      <td className="right num">{num.format(t.fixable[s])}</td>
                      <td>
                        <span className="bartrack thin" title={`${t.fixable[s]} of ${t.findings[s]} fixable`}>
                          <span
                            className="barfill"
                            style={{
                              width: `${t.findings[s] ? (t.fixable[s] / t.findings[s]) * 100 : 0}%`,
                              background: 'var(--ok)',
                            }}
                          />
                        </span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>

          <section className="card" aria-labelledby="trend">
            <div className="cardhead">
              <h2 id="trend">Trend</h2>
              <div className="seg" role="group" aria-label="Period">
                {[7, 30, 90].map((d) => (
                  <button
                    key={d}
                    type="button"
                    aria-pressed={days === d}
                    className={days === d ? 'on' : ''}
                    onClick={() => setDays(d)}
                  >
                    {d} days
                  </button>
                ))}
              </div>
            </div>
            {trend.error ? (
              <ErrorState error={trend.error} onRetry={trend.reload} />
            ) : !trend.data ? (
              <Spinner />
            ) : trend.data.length === 0 ? (
              <TrendFallback totals={t} />
            ) : (
              <TrendChart points={trend.data} />
            )}
          </section>

          <div className="cols">
            <section className="card" aria-labelledby="top">
              <div className="cardhead">
                <h2 id="top">Most exposed images</h2>
                <Link href="/images">All images →</Link>
              </div>
              {t.top.length === 0 ? (
                <Empty title="No findings in any image" />
              ) : (
                <ul className="rows">
                  {t.top.map((img) => (
                    <li key={img.id}>
                      <Link href={`/images/${encodeURIComponent(img.digest)}`} className="rowlink">
                        <span className="grow">
                          <span className="strong">{imageName(img)}</span>
                          <span className="muted mono small">
                            {' '}
                            {img.tags[0] ? `:${img.tags[0]}` : shortDigest(img.digest)}
                          </span>
                        </span>
                        <SeverityBar counts={img.counts} width={110} />
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section className="card" aria-labelledby="kevs">
              <div className="cardhead">
                <h2 id="kevs">Known exploited vulnerabilities</h2>
                <Link href="/vulnerabilities?kev=true">All KEV →</Link>
              </div>
              {kev.error ? (
                <ErrorState error={kev.error} />
              ) : !kev.data ? (
                <Spinner />
              ) : kev.data.items.length === 0 ? (
                <Empty title="None of your images carries a known exploited vulnerability" />
              ) : (
                <ul className="rows">
                  {kev.data.items.map((v) => (
                    <li key={v.id}>
                      <Link href={`/vulnerabilities/${encodeURIComponent(v.id)}`} className="rowlink">
                        <span className="grow">
                          <span className="strong mono">{v.id}</span> <KevBadge />
                        </span>
                        <SeverityBadge severity={v.severity} />
                        <span className="muted small">{v.affectedImages} images</span>
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>

          <section className="card" aria-labelledby="recent">
            <div className="cardhead">
              <h2 id="recent">Recent scans</h2>
              <Link href="/scans">Scan history →</Link>
            </div>
            {!scans.data ? (
              scans.error ? (
                <ErrorState error={scans.error} />
              ) : (
                <Spinner />
              )
            ) : scans.data.items.length === 0 ? (
              <Empty title="No scans yet" />
            ) : (
              <ul className="rows">
                {scans.data.items.map((s) => (
                  <li key={s.id} className="rowlink static">
                    <ScanStatusBadge status={s.status} />
                    <span className="grow mono small">{s.imageRef}</span>
                    {s.error && <span className="err small">{s.error}</span>}
                    <span className="muted small">{ago(s.finishedAt ?? s.startedAt ?? s.queuedAt)}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </div>
  );
}

function Stat(props: {
  label: string;
  value: number;
  foot: string;
  tone?: 'bad' | 'good';
  href: string;
  testId: string;
}): ReactNode {
  return (
    <Link href={props.href} className={`stat ${props.tone ?? ''}`}>
      <span className="stat-label">{props.label}</span>
      <span className="stat-value" data-testid={props.testId}>
        {num.format(props.value)}
      </span>
      <span className="stat-foot">{props.foot}</span>
    </Link>
  );
}

function BarRow({
  severity,
  value,
  max,
  href,
}: {
  severity: Severity;
  value: number;
  max: number;
  href: string;
}): ReactNode {
  return (
    <li className="barrow">
      <Link href={href} className="barlabel">
        <SeverityBadge severity={severity} />
      </Link>
      <span className="bartrack">
        <span className="barfill" style={{ width: `${(value / max) * 100}%`, background: SEVERITY_COLOR[severity] }} />
      </span>
      <span
        className="barval"
        title={`${value} images whose worst finding is ${SEVERITY_LABEL[severity].toLowerCase()}`}
      >
        {num.format(value)}
      </span>
    </li>
  );
}

/** Without daily snapshots yet, draw today's split as the only point and say why. */
function TrendFallback({ totals }: { totals: Totals }): ReactNode {
  const today: TrendPoint = {
    day: new Date().toISOString().slice(0, 10),
    images: totals.images,
    clean: totals.clean,
    unscanned: totals.images - totals.scanned,
    ...totals.byWorst,
  };
  return (
    <>
      <TrendChart points={[today]} />
      <p className="muted small">
        The server records one snapshot a day; the trend fills in as days pass. Shown: today.
      </p>
    </>
  );
}
