import type { ReactNode } from 'react';
import { alertsApi, clustersApi, knownImageDigests, type AlertRecord } from '../api.js';
import { MitreList, ProcessTree, argvText, workloadText } from '../alert-parts.js';
import { CopyButton, ErrorState, Fact, PageHeader, SeverityBadge, Spinner } from '../components.js';
import { Link } from '../router.js';
import { ago, dateTime, shortDigest, useApi } from '../util.js';

export function AlertPage({ id }: { id: string }): ReactNode {
  const res = useApi((signal) => alertsApi.get(id, signal), [id]);
  const clusterId = res.data?.alert.clusterId;
  const cluster = useApi(
    (signal) => (clusterId ? clustersApi.get(clusterId, signal).catch(() => null) : Promise.resolve(null)),
    [clusterId],
  );
  const digest = res.data?.alert.imageDigest ?? null;
  const known = useApi(
    (signal) => knownImageDigests(digest ? [digest] : [], signal).catch(() => new Set<string>()),
    [digest],
  );

  if (res.error) {
    return (
      <div className="page">
        <PageHeader title="Alert" sub={<span className="mono">{id}</span>} />
        <ErrorState error={res.error} onRetry={res.reload} />
        <p>
          <Link href="/alerts">← All alerts</Link>
        </p>
      </div>
    );
  }
  if (!res.data) return <Spinner />;
  const { alert: a, events, processTree } = res.data;

  return (
    <div className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/alerts">Alerts</Link> <span aria-hidden="true">/</span> <span>{a.title}</span>
      </nav>
      <PageHeader
        title={
          <>
            {a.title} <SeverityBadge severity={a.severity} />
          </>
        }
        sub={
          <div className="meta">
            <span title={dateTime(a.time)}>{dateTime(a.time)}</span>
            <span>
              rule <span className="mono">{a.ruleId}</span>
            </span>
            <span>raised by the {a.origin === 'sensor' ? 'node’s sensor' : 'server'}</span>
            <Link href={`/alerts?view=alerts&group=${encodeURIComponent(a.groupId)}`}>
              Other alerts of this group →
            </Link>
          </div>
        }
      />
      <pre className="output" data-testid="alert-output">
        {a.output}
      </pre>

      <section className="facts" aria-label="Detection">
        <Fact label="Severity">
          <SeverityBadge severity={a.severity} />
        </Fact>
        <Fact label="Rule">
          <span className="mono">{a.ruleId}</span>
        </Fact>
        <Fact label="MITRE ATT&CK">
          <MitreList mitre={a.mitre} />
        </Fact>
        {a.tags.length > 0 && (
          <Fact label="Tags">
            <span className="tags">
              {a.tags.map((t) => (
                <span key={t} className="tag">
                  {t}
                </span>
              ))}
            </span>
          </Fact>
        )}
        <Fact label="Received">
          <span title={dateTime(a.receivedAt)}>{ago(a.receivedAt)}</span>
        </Fact>
      </section>

      <div className="cols alertcols">
        <section className="card" aria-labelledby="context-h">
          <h2 id="context-h">Context</h2>
          <Context
            a={a}
            clusterName={cluster.data?.name ?? null}
            imageKnown={digest ? known.data?.has(digest) === true : false}
          />
        </section>
        <section className="card" aria-labelledby="ptree-h">
          <h2 id="ptree-h">Process tree</h2>
          <p className="muted small">Oldest known ancestor first; each process is indented under its parent.</p>
          <ProcessTree roots={processTree} />
        </section>
      </div>

      {Object.keys(a.fields).length > 0 && (
        <section className="card" aria-labelledby="fields-h">
          <h2 id="fields-h">Output fields</h2>
          <table className="mini">
            <tbody>
              {Object.entries(a.fields)
                .sort(([x], [y]) => x.localeCompare(y))
                .map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row" className="mono small">
                      {k}
                    </th>
                    <td className="mono small">{v}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      )}

      <section className="card" aria-labelledby="events-h">
        <h2 id="events-h">Matched events ({events.length})</h2>
        {events.map((e, i) => {
          const text = JSON.stringify(e, null, 2);
          return (
            <details key={String(e['id'] ?? i)} className="rawevent">
              <summary>
                <span className="mono small">{String(e['type'] ?? 'event')}</span>{' '}
                <span className="muted small">
                  {String(e['id'] ?? '')} · {dateTime(String(e['time'] ?? ''))}
                </span>
              </summary>
              <div className="rawevent-body">
                <CopyButton text={text} label="Copy JSON" />
                <pre className="json" data-testid="raw-event">
                  {text}
                </pre>
              </div>
            </details>
          );
        })}
      </section>
    </div>
  );
}

function Context({
  a,
  clusterName,
  imageKnown,
}: {
  a: AlertRecord;
  clusterName: string | null;
  imageKnown: boolean;
}): ReactNode {
  const rows: Array<[string, ReactNode]> = [
    ['Cluster', <Link href={`/clusters/${encodeURIComponent(a.clusterId)}`}>{clusterName ?? a.clusterId}</Link>],
    ['Node', <span className="mono">{a.node}</span>],
  ];
  if (a.namespace) rows.push(['Namespace', <span className="mono">{a.namespace}</span>]);
  if (a.pod) rows.push(['Pod', <span className="mono">{a.pod}</span>]);
  if (a.workloadKind || a.workloadName) rows.push(['Workload', <span className="mono">{workloadText(a)}</span>]);
  if (a.containerName || a.containerId)
    rows.push([
      'Container',
      <span>
        <span className="mono">{a.containerName ?? '—'}</span>{' '}
        {a.containerId && (
          <span className="mono small muted" title={a.containerId}>
            {a.containerId.slice(0, 12)}
          </span>
        )}
      </span>,
    ]);
  if (a.image) rows.push(['Image', <span className="mono">{a.image}</span>]);
  if (a.imageDigest)
    rows.push([
      'Image digest',
      imageKnown ? (
        <Link href={`/images/${encodeURIComponent(a.imageDigest)}`} className="mono" title={a.imageDigest}>
          {shortDigest(a.imageDigest, 16)} (vulnerabilities →)
        </Link>
      ) : (
        <span className="mono" title={`${a.imageDigest} (not scanned by this server)`}>
          {shortDigest(a.imageDigest, 16)}
        </span>
      ),
    ]);
  if (a.process)
    rows.push([
      'Process',
      <span className="mono">
        {a.process.exe} <span className="muted">pid {a.process.pid}</span>
        <div className="small">{argvText(a.process.argv)}</div>
      </span>,
    ]);
  if (a.peer)
    rows.push([
      'Network peer',
      <span className="mono" data-testid="alert-peer">
        {a.peer.direction} {a.peer.address.includes(':') ? `[${a.peer.address}]` : a.peer.address}:{a.peer.port}/
        {a.peer.protocol}
      </span>,
    ]);
  return (
    <dl className="context" data-testid="alert-context">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
