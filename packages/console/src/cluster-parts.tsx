/** Pieces the clusters list and a cluster's page share: its status, plainly worded. */
import type { ReactNode } from 'react';
import type { Cluster, ClusterStatus } from './api.js';
import { dateTime } from './util.js';

const STATUS: Record<ClusterStatus, { label: string; tone: 'ok' | 'wait' | 'bad' | 'warn'; icon: string }> = {
  ok: { label: 'OK', tone: 'ok', icon: '✓' },
  pending: { label: 'Pending', tone: 'wait', icon: '◷' },
  agent_only: { label: 'Agent only', tone: 'wait', icon: '◌' },
  auth_expired: { label: 'Credentials expired', tone: 'bad', icon: '✕' },
  auth_failed: { label: 'Sign-in failed', tone: 'bad', icon: '✕' },
  forbidden: { label: 'Forbidden', tone: 'bad', icon: '✕' },
  unreachable: { label: 'Unreachable', tone: 'bad', icon: '✕' },
  incomplete: { label: 'Incomplete', tone: 'warn', icon: '!' },
  config: { label: 'Kubeconfig unusable', tone: 'bad', icon: '✕' },
  exec_disabled: { label: 'Exec plugin disabled', tone: 'bad', icon: '✕' },
  error: { label: 'Error', tone: 'bad', icon: '✕' },
};

/** Why the last attempt fell short, in words, before the server's own one-line error. */
const CAUSE: Partial<Record<ClusterStatus, string>> = {
  auth_expired: 'credentials expired or revoked (401)',
  auth_failed: 'the credential plugin failed',
  forbidden: 'access denied (403): the identity lacks list permissions',
  unreachable: 'the API server did not answer',
  incomplete: 'some kinds could not be listed; the last complete inventory stands',
  config: 'the stored kubeconfig cannot be used',
  exec_disabled: 'its kubeconfig needs an exec credential plugin, which this server does not run',
  error: 'the snapshot failed',
};

export function ClusterStatusBadge({ status }: { status: ClusterStatus }): ReactNode {
  const s = STATUS[status] ?? { label: status, tone: 'warn', icon: '?' };
  return (
    <span className={`status cstatus-${s.tone}`} data-status={status}>
      <span aria-hidden="true">{s.icon}</span> {s.label}
    </span>
  );
}

/** `credentials expired or revoked (401) at 2026-… UTC`, then the server's message; null when all is well. */
export function ClusterProblem({ cluster }: { cluster: Cluster }): ReactNode {
  const cause = CAUSE[cluster.status];
  if (!cause && !cluster.lastError) {
    if (cluster.status === 'pending') return <div className="muted small">not snapshotted yet</div>;
    if (cluster.status === 'agent_only') return <div className="muted small">no kubeconfig: runtime data only</div>;
    return null;
  }
  return (
    <div className="cluster-problem small" data-testid="cluster-problem">
      {cause && (
        <div className="err">
          {cause}
          {cluster.lastAttemptAt ? ` at ${dateTime(cluster.lastAttemptAt)}` : ''}
        </div>
      )}
      {cluster.lastError && (
        <div className="muted mono clamp" title={cluster.lastError}>
          {cluster.lastError}
        </div>
      )}
    </div>
  );
}

/** `shop/Deployment/web`, `Node/node-a`. */
export function objectName(o: { kind: string; namespace: string | null; name: string }): string {
  return o.namespace ? `${o.namespace}/${o.kind}/${o.name}` : `${o.kind}/${o.name}`;
}
