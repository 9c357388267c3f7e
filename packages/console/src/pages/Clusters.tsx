import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { clustersApi, type Cluster, type ClusterCreated, type ClusterFigures } from '../api.js';
import { ClusterProblem, ClusterStatusBadge } from '../cluster-parts.js';
import {
  ConfirmButton,
  Empty,
  ErrorState,
  OnceSecret,
  PageHeader,
  SeverityBar,
  Spinner,
  Table,
  type Column,
} from '../components.js';
import { Link } from '../router.js';
import { ago, dateTime, errorText, num, useApi } from '../util.js';

const INTERVALS: Array<[number, string]> = [
  [300, 'every 5 minutes'],
  [900, 'every 15 minutes'],
  [3600, 'every hour'],
  [21600, 'every 6 hours'],
  [86400, 'every day'],
];

/** Poll this long at most after asking for a snapshot (the scheduler runs it at its next tick). */
const WATCH_MS = 180_000;

export function Clusters(): ReactNode {
  const res = useApi((signal) => clustersApi.list(signal), []);
  const [created, setCreated] = useState<ClusterCreated | null>(null);
  const [showForm, setShowForm] = useState(false);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  // Snapshots asked for from this page: cluster id → when; the list refreshes until they ran.
  const [watching, setWatching] = useState<Map<string, number>>(new Map());

  const clusters = res.data ?? [];
  const figuresKey = clusters.map((c) => `${c.id}@${c.lastCompleteSnapshotId ?? '-'}`).join(',');
  const figures = useApi(
    async (signal) => {
      const out = new Map<string, ClusterFigures>();
      await Promise.all(clusters.map(async (c) => out.set(c.id, await clustersApi.figures(c, signal))));
      return out;
    },
    [figuresKey],
  );

  const { reload } = res;
  /** A snapshot asked for here has not run yet (the cluster's last attempt is older). */
  const awaiting = (c: Cluster): boolean => {
    const at = watching.get(c.id);
    if (at === undefined) return false;
    const ran = c.lastAttemptAt ? Date.parse(c.lastAttemptAt) >= at - 1000 : false;
    return !ran && Date.now() - at < WATCH_MS;
  };
  useEffect(() => {
    if (watching.size === 0) return;
    const t = setInterval(() => {
      const still = new Map([...watching].filter(([id]) => clusters.some((c) => c.id === id && awaiting(c))));
      if (still.size !== watching.size) setWatching(still);
      if (still.size > 0) reload();
    }, 2000);
    return () => clearInterval(t);
  }, [watching, clusters, reload]);

  const snapshotNow = async (c: Cluster): Promise<void> => {
    try {
      const r = await clustersApi.snapshotNow(c.id);
      setMessage({
        kind: 'info',
        text: r.deduplicated
          ? `A snapshot of “${c.name}” is already queued or running.`
          : `Snapshot of “${c.name}” queued: the scheduler runs it at its next tick.`,
      });
      setWatching((w) => new Map(w).set(c.id, Date.now()));
    } catch (e) {
      setMessage({ kind: 'error', text: `Could not queue a snapshot of “${c.name}”: ${errorText(e)}` });
    }
  };

  const columns: Column<Cluster>[] = [
    {
      key: 'name',
      header: 'Cluster',
      sort: (r) => r.name,
      render: (r) => (
        <div>
          <Link href={`/clusters/${encodeURIComponent(r.id)}`} className="strong">
            {r.name}
          </Link>
          <div className="muted small">
            {r.context ? (
              <>
                context <span className="mono">{r.context}</span>
              </>
            ) : (
              'no kubeconfig'
            )}
          </div>
        </div>
      ),
    },
    {
      key: 'status',
      header: 'Status',
      sort: (r) => r.status,
      render: (r) => (
        <div className="cell-status">
          <ClusterStatusBadge status={r.status} />
          {awaiting(r) && <span className="muted small"> snapshot requested…</span>}
          <ClusterProblem cluster={r} />
        </div>
      ),
    },
    {
      key: 'snapshot',
      header: 'Last snapshot',
      descFirst: true,
      sort: (r) => r.lastCompleteSnapshotAt ?? '',
      render: (r) =>
        r.lastCompleteSnapshotAt ? (
          <span title={dateTime(r.lastCompleteSnapshotAt)}>{ago(r.lastCompleteSnapshotAt)}</span>
        ) : (
          <span className="muted">never</span>
        ),
    },
    {
      key: 'objects',
      header: 'Objects',
      align: 'right',
      descFirst: true,
      sort: (r) => figures.data?.get(r.id)?.objects ?? -1,
      render: (r) => {
        const f = figures.data?.get(r.id);
        return f?.objects != null ? (
          <span className="num">{num.format(f.objects)}</span>
        ) : (
          <span className="muted">—</span>
        );
      },
    },
    {
      key: 'findings',
      header: 'Posture findings',
      render: (r) => {
        const f = figures.data?.get(r.id)?.findings;
        if (f) return <SeverityBar counts={f} width={120} />;
        return <span className="muted small">{figures.loading ? '…' : 'no inventory yet'}</span>;
      },
    },
    {
      key: 'actions',
      header: <span className="sr-only">Actions</span>,
      align: 'right',
      render: (r) => (
        <span className="rowactions">
          {r.hasKubeconfig && (
            <button type="button" className="btn small" onClick={() => void snapshotNow(r)}>
              Snapshot now
            </button>
          )}
          <ConfirmButton
            label="Delete"
            confirm={`Delete “${r.name}” and its data?`}
            onConfirm={async () => {
              try {
                await clustersApi.remove(r.id);
                setMessage({ kind: 'info', text: `Cluster “${r.name}” deleted.` });
                reload();
              } catch (e) {
                setMessage({ kind: 'error', text: `Could not delete “${r.name}”: ${errorText(e)}` });
              }
            }}
          />
        </span>
      ),
    },
  ];

  return (
    <div className="page">
      <PageHeader
        title="Clusters"
        sub={res.data ? `${num.format(res.data.length)} registered` : ' '}
        actions={
          !showForm && (
            <button type="button" className="btn primary" onClick={() => setShowForm(true)}>
              Register cluster
            </button>
          )
        }
      />
      {created && <IngestTokenOnce created={created} onDone={() => setCreated(null)} />}
      {showForm && (
        <RegisterForm
          onCancel={() => setShowForm(false)}
          onCreated={(c) => {
            setCreated(c);
            setShowForm(false);
            setMessage(null);
            reload();
          }}
        />
      )}
      {message && (
        <div
          className={`banner ${message.kind}`}
          role={message.kind === 'error' ? 'alert' : 'status'}
          data-testid="clusters-message"
        >
          {message.text}
        </div>
      )}
      {res.error ? (
        <ErrorState error={res.error} onRetry={reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <Table
          testId="clusters-table"
          caption="Clusters"
          rows={res.data}
          columns={columns}
          rowKey={(r) => r.id}
          initialSort={{ key: 'name', order: 'asc' }}
          empty={
            <Empty title="No clusters yet">
              Register one with a read-only kubeconfig (<code>palisade cluster manifests</code> prints the RBAC), or
              without one to receive only runtime alerts.
            </Empty>
          }
        />
      )}
    </div>
  );
}

/** The ingest token right after registration or rotation: shown this once. */
export function IngestTokenOnce({ created, onDone }: { created: ClusterCreated; onDone: () => void }): ReactNode {
  return (
    <div className="once" data-testid="cluster-created" role="status">
      <strong>Ingest token for “{created.cluster.name}”.</strong>
      <span>
        Copy it now: it is shown <b>only this once</b> and cannot be recovered. The cluster&apos;s sensors send it to{' '}
        <code>POST /api/v1/ingest/runtime</code>; it can do nothing else. Store it as a Kubernetes Secret, not in a
        manifest checked into Git.
      </span>
      <OnceSecret label="Ingest token" value={created.ingestToken} testId="ingest-token" />
      <button type="button" className="btn small" onClick={onDone}>
        I have saved it
      </button>
    </div>
  );
}

function RegisterForm({
  onCreated,
  onCancel,
}: {
  onCreated: (c: ClusterCreated) => void;
  onCancel: () => void;
}): ReactNode {
  const [name, setName] = useState('');
  const [kubeconfig, setKubeconfig] = useState('');
  const [context, setContext] = useState('');
  const [interval, setInterval_] = useState(900);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
      setError('Name: up to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit.');
      return;
    }
    if (context.trim() && !kubeconfig.trim()) {
      setError('A context needs a kubeconfig.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onCreated(
        await clustersApi.create({
          name,
          ...(kubeconfig.trim() ? { kubeconfig, intervalSeconds: interval } : {}),
          ...(context.trim() ? { context: context.trim() } : {}),
        }),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="form" onSubmit={(e) => void submit(e)} aria-label="Register cluster">
      <div className="formgrid">
        <label>
          Name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="prod-eu" required />
        </label>
        <label>
          Context <span className="muted">(optional: default the kubeconfig&apos;s current-context)</span>
          <input name="context" value={context} onChange={(e) => setContext(e.target.value)} className="mono" />
        </label>
        <label>
          Snapshots
          <select name="interval" value={interval} onChange={(e) => setInterval_(Number(e.target.value))}>
            {INTERVALS.map(([s, label]) => (
              <option key={s} value={s}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label className="block">
        Kubeconfig <span className="muted">(optional: without one the cluster only sends runtime data)</span>
        <textarea
          name="kubeconfig"
          value={kubeconfig}
          onChange={(e) => setKubeconfig(e.target.value)}
          rows={8}
          spellCheck={false}
          autoComplete="off"
          className="mono"
          placeholder="apiVersion: v1&#10;kind: Config&#10;clusters: …"
        />
      </label>
      <p className="muted small">
        Paste a self-contained kubeconfig (<code>certificate-authority-data</code>, <code>token</code> or client
        certificate data; no file paths) for a read-only identity. It is encrypted at rest and never shown again.
      </p>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      <div className="formactions">
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? 'Registering…' : 'Register'}
        </button>
        <button type="button" className="btn ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
