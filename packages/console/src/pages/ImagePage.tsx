import { useMemo, useState, type ReactNode } from 'react';
import { SEVERITIES, api, type Finding, type PackageRecord, type ReportLayer, type Severity } from '../api.js';
import {
  CopyButton,
  Empty,
  ErrorState,
  Fact,
  FixBadge,
  KevBadge,
  PageHeader,
  SeverityBadge,
  SeverityBar,
  SeverityFilter,
  Spinner,
  Table,
  Tabs,
  type Column,
} from '../components.js';
import { Link, setSearch, useLocation } from '../router.js';
import { advisoryLinks, ago, dateTime, errorText, imageName, num, shortDigest, useApi } from '../util.js';

type Tab = 'vulnerabilities' | 'packages' | 'layers';

interface LayerInfo {
  digest: string;
  /** 1-based position in the image, when the scan report is available. */
  index: number | null;
  createdBy?: string;
  size?: number;
}

export function ImagePage({ digest }: { digest: string }): ReactNode {
  const { search } = useLocation();
  const tab =
    (['vulnerabilities', 'packages', 'layers'] as const).find((t) => t === search.get('tab')) ?? 'vulnerabilities';
  const res = useApi((signal) => api.image(digest, signal), [digest]);
  const scanId = res.data?.image.scanId ?? null;
  const layersRes = useApi((signal) => (scanId ? api.scanLayers(scanId, signal) : Promise.resolve(null)), [scanId]);
  const [rescan, setRescan] = useState<string | null>(null);

  const layers = useMemo(
    () => buildLayers(res.data?.packages ?? [], layersRes.data ?? null),
    [res.data, layersRes.data],
  );

  if (res.error) {
    return (
      <div className="page">
        <PageHeader title="Image" sub={<span className="mono">{digest}</span>} />
        <ErrorState error={res.error} onRetry={res.reload} />
        <p>
          <Link href="/images">← All images</Link>
        </p>
      </div>
    );
  }
  if (!res.data) return <Spinner />;
  const { image, packages, vulnerabilities, alsoAt } = res.data;
  const vulnsByPackage = new Map<string, number>();
  for (const v of vulnerabilities) vulnsByPackage.set(v.packageId, (vulnsByPackage.get(v.packageId) ?? 0) + 1);

  const doRescan = async (): Promise<void> => {
    setRescan('Queuing…');
    try {
      const ref =
        image.registry === 'local'
          ? `${image.repository}${image.tags[0] ? `:${image.tags[0]}` : ''}`
          : `${imageName(image)}@${image.digest}`;
      const r = await api.createScan(ref);
      setRescan(
        r.deduplicated
          ? 'A scan of this image is already queued.'
          : 'Scan queued. Results replace these when it finishes.',
      );
    } catch (e) {
      setRescan(`Could not queue a scan: ${errorText(e)}`);
    }
  };

  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/images">Images</Link> <span aria-hidden="true">/</span> <span>{imageName(image)}</span>
      </nav>
      <PageHeader
        title={
          <>
            {imageName(image)}{' '}
            {image.worst ? (
              <SeverityBadge severity={image.worst} />
            ) : image.lastScannedAt ? (
              <span className="sev sev-clean">Clean</span>
            ) : null}
          </>
        }
        sub={
          <div className="meta">
            <span className="mono" title="Manifest digest">
              {image.digest}
            </span>
            <CopyButton text={image.digest} label="Copy digest" />
            {image.tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </div>
        }
        actions={
          <button type="button" className="btn" onClick={() => void doRescan()}>
            Rescan
          </button>
        }
      />
      {rescan && (
        <div className="banner info" role="status">
          {rescan}
        </div>
      )}
      <section className="facts">
        <Fact label="Findings">
          <SeverityBar counts={image.counts} width={180} />
        </Fact>
        <Fact label="Fixable">
          <span className="num strong">{num.format(image.fixable)}</span>{' '}
          <span className="muted">of {num.format(image.total)}</span>
        </Fact>
        <Fact label="KEV">
          <span className="num strong">
            {num.format(new Set(vulnerabilities.filter((v) => v.kev).map((v) => v.vulnerabilityId)).size)}
          </span>
        </Fact>
        <Fact label="Packages">
          <span className="num strong">{num.format(image.packages || packages.length)}</span>
        </Fact>
        <Fact label="Layers">
          <span className="num strong">{num.format(layers.length)}</span>
        </Fact>
        <Fact label="Last scanned">
          <span title={dateTime(image.lastScannedAt)}>{ago(image.lastScannedAt)}</span>
        </Fact>
        <Fact label="Last pushed">
          <span title={dateTime(image.lastPushedAt)}>{ago(image.lastPushedAt)}</span>
        </Fact>
      </section>
      {alsoAt.length > 0 && (
        <p className="muted small">
          Same digest also at:{' '}
          {alsoAt.map((a) => (
            <span key={a.id} className="tag">
              {imageName(a)}
              {a.tags[0] ? `:${a.tags[0]}` : ''}
            </span>
          ))}
        </p>
      )}

      <Tabs
        label="Image details"
        value={tab}
        onChange={(t) => setSearch({ tab: t === 'vulnerabilities' ? undefined : t })}
        tabs={[
          ['vulnerabilities', `Vulnerabilities (${num.format(vulnerabilities.length)})`],
          ['packages', `Packages (${num.format(packages.length)})`],
          ['layers', `Layers (${num.format(layers.length)})`],
        ]}
      />
      {!image.lastScannedAt && !image.scanId && vulnerabilities.length === 0 && packages.length === 0 ? (
        <Empty title="Not scanned yet">Use Rescan to queue a scan of this digest.</Empty>
      ) : tab === 'vulnerabilities' ? (
        <FindingsTable findings={vulnerabilities} layers={layers} />
      ) : tab === 'packages' ? (
        <PackagesTable packages={packages} layers={layers} vulns={vulnsByPackage} />
      ) : (
        <LayersTable layers={layers} packages={packages} findings={vulnerabilities} />
      )}
    </div>
  );
}

function buildLayers(packages: PackageRecord[], report: ReportLayer[] | null): LayerInfo[] {
  if (report && report.length > 0)
    return report.map((l, i) => ({ digest: l.digest, index: i + 1, createdBy: l.createdBy, size: l.size }));
  const seen = new Set<string>();
  const out: LayerInfo[] = [];
  for (const p of packages) {
    if (p.layerDigest && !seen.has(p.layerDigest)) {
      seen.add(p.layerDigest);
      out.push({ digest: p.layerDigest, index: null });
    }
  }
  return out;
}

export function LayerRef({ digest, layers }: { digest: string | null; layers: LayerInfo[] }): ReactNode {
  if (!digest) return <span className="muted">—</span>;
  const l = layers.find((x) => x.digest === digest);
  return (
    <span className="layer" title={`${digest}${l?.createdBy ? `\n${l.createdBy}` : ''}`}>
      {l?.index ? <span className="layer-idx">#{l.index}</span> : null}
      <span className="mono small">{shortDigest(digest, 10)}</span>
    </span>
  );
}

function FindingsTable({ findings, layers }: { findings: Finding[]; layers: LayerInfo[] }): ReactNode {
  const [text, setText] = useState('');
  const [sev, setSev] = useState<Severity[]>([]);
  const [fixOnly, setFixOnly] = useState(false);
  const rows = useMemo(() => {
    const t = text.trim().toLowerCase();
    return findings.filter(
      (f) =>
        (!t ||
          f.vulnerabilityId.toLowerCase().includes(t) ||
          f.packageName.toLowerCase().includes(t) ||
          f.aliases.some((a) => a.toLowerCase().includes(t))) &&
        (sev.length === 0 || sev.includes(f.severity)) &&
        (!fixOnly || f.fixable),
    );
  }, [findings, text, sev, fixOnly]);

  const columns: Column<Finding>[] = [
    {
      key: 'id',
      header: 'Vulnerability',
      sort: (r) => r.vulnerabilityId,
      render: (r) => (
        <div>
          <Link href={`/vulnerabilities/${encodeURIComponent(r.vulnerabilityId)}`} className="strong mono">
            {r.vulnerabilityId}
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
      descFirst: true,
      sort: (r) => 6 - SEVERITIES.indexOf(r.severity),
      render: (r) => <SeverityBadge severity={r.severity} />,
    },
    {
      key: 'package',
      header: 'Package',
      sort: (r) => r.packageName,
      render: (r) => (
        <div>
          <span className="strong">{r.packageName}</span> <span className="mono small">{r.packageVersion}</span>
          <div className="muted small">{r.packageType}</div>
        </div>
      ),
    },
    {
      key: 'fix',
      header: 'Fixed in',
      sort: (r) => (r.fixable ? 1 : 0),
      descFirst: true,
      render: (r) => <FixBadge versions={r.fixedVersions} />,
    },
    {
      key: 'layer',
      header: 'Layer',
      sort: (r) => layers.find((l) => l.digest === r.layerDigest)?.index ?? 0,
      render: (r) => <LayerRef digest={r.layerDigest} layers={layers} />,
    },
    {
      key: 'epss',
      header: 'EPSS',
      align: 'right',
      descFirst: true,
      sort: (r) => r.epss ?? -1,
      render: (r) =>
        r.epss === null ? (
          <span className="muted">—</span>
        ) : (
          <span
            className="num"
            title={r.epssPercentile !== null ? `percentile ${(r.epssPercentile * 100).toFixed(0)}` : undefined}
          >
            {(r.epss * 100).toFixed(1)}%
          </span>
        ),
    },
    {
      key: 'links',
      header: 'Advisory',
      render: (r) => (
        <span className="links">
          {[r.vulnerabilityId, ...r.aliases.filter((a) => /^(CVE|GHSA)-/i.test(a))]
            .flatMap((id) => advisoryLinks(id))
            .filter((l, i, all) => all.findIndex((x) => x.href === l.href) === i)
            .slice(0, 3)
            .map((l) => (
              <a key={l.href} href={l.href} target="_blank" rel="noopener noreferrer">
                {l.label} ↗
              </a>
            ))}
        </span>
      ),
    },
  ];

  if (findings.length === 0)
    return (
      <Empty title="No vulnerabilities found">
        The last scan matched no package of this image against the vulnerability database.
      </Empty>
    );
  return (
    <>
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Filter by id or package"
          aria-label="Filter vulnerabilities"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <SeverityFilter value={sev} onChange={setSev} />
        <label className="check">
          <input type="checkbox" checked={fixOnly} onChange={(e) => setFixOnly(e.target.checked)} /> Fixable only
        </label>
        <span className="muted small">
          {num.format(rows.length)} of {num.format(findings.length)}
        </span>
      </div>
      <Table
        testId="findings-table"
        caption="Vulnerabilities"
        rows={rows}
        columns={columns}
        rowKey={(r) => `${r.vulnerabilityId}|${r.packageId}`}
        pageSize={100}
        empty={<Empty title="No finding matches these filters" />}
      />
    </>
  );
}

function PackagesTable({
  packages,
  layers,
  vulns,
}: {
  packages: PackageRecord[];
  layers: LayerInfo[];
  vulns: Map<string, number>;
}): ReactNode {
  const [text, setText] = useState('');
  const rows = useMemo(() => {
    const t = text.trim().toLowerCase();
    return t ? packages.filter((p) => p.name.toLowerCase().includes(t) || p.purl.toLowerCase().includes(t)) : packages;
  }, [packages, text]);
  const columns: Column<PackageRecord>[] = [
    { key: 'name', header: 'Package', sort: (r) => r.name, render: (r) => <span className="strong">{r.name}</span> },
    {
      key: 'version',
      header: 'Version',
      sort: (r) => r.version,
      render: (r) => <span className="mono small">{r.version}</span>,
    },
    { key: 'type', header: 'Type', sort: (r) => r.type, render: (r) => <span className="tag">{r.type}</span> },
    {
      key: 'licenses',
      header: 'Licenses',
      sort: (r) => r.licenses.join(','),
      render: (r) => <span className="small">{r.licenses.join(', ') || <span className="muted">—</span>}</span>,
    },
    {
      key: 'vulns',
      header: 'Vulns',
      align: 'right',
      descFirst: true,
      sort: (r) => vulns.get(r.id) ?? 0,
      render: (r) => <span className={vulns.get(r.id) ? 'num strong' : 'num muted'}>{vulns.get(r.id) ?? 0}</span>,
    },
    {
      key: 'layer',
      header: 'Brought by layer',
      sort: (r) => layers.find((l) => l.digest === r.layerDigest)?.index ?? 0,
      render: (r) => <LayerRef digest={r.layerDigest} layers={layers} />,
    },
    {
      key: 'purl',
      header: 'purl',
      render: (r) => (
        <span className="mono small muted clamp" title={r.purl}>
          {r.purl}
        </span>
      ),
    },
  ];
  if (packages.length === 0) return <Empty title="No packages recorded" />;
  return (
    <>
      <div className="toolbar">
        <input
          type="search"
          className="search"
          placeholder="Filter packages"
          aria-label="Filter packages"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <span className="muted small">
          {num.format(rows.length)} of {num.format(packages.length)}
        </span>
      </div>
      <Table
        testId="packages-table"
        caption="Packages"
        rows={rows}
        columns={columns}
        rowKey={(r) => r.id}
        pageSize={200}
        initialSort={{ key: 'vulns', order: 'desc' }}
      />
    </>
  );
}

function LayersTable({
  layers,
  packages,
  findings,
}: {
  layers: LayerInfo[];
  packages: PackageRecord[];
  findings: Finding[];
}): ReactNode {
  if (layers.length === 0)
    return (
      <Empty title="No layer information">
        The scan did not attribute packages to layers (for example a directory scan).
      </Empty>
    );
  return (
    <ol className="layers" data-testid="layers-list">
      {layers.map((l, i) => {
        const pk = packages.filter((p) => p.layerDigest === l.digest).length;
        const counts = { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 };
        for (const f of findings) if (f.layerDigest === l.digest) counts[f.severity]++;
        return (
          <li key={l.digest}>
            <span className="layer-idx big">#{l.index ?? i + 1}</span>
            <div className="grow">
              <div className="mono small">{l.digest}</div>
              {l.createdBy && <div className="muted small clamp mono">{l.createdBy}</div>}
              <div className="small">
                {num.format(pk)} packages{l.size !== undefined ? ` · ${(l.size / 1024 / 1024).toFixed(1)} MiB` : ''}
              </div>
            </div>
            <SeverityBar counts={counts} width={120} />
          </li>
        );
      })}
    </ol>
  );
}
