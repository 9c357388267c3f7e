/** Pieces the alerts list and an alert's page share. */
import type { ReactNode } from 'react';
import type { AlertGroup, AlertRecord, MitreRef, ProcessNode } from './api.js';

/** `shop/Deployment/web`, or the image on a node for containers outside Kubernetes, or the node. */
export function workloadText(
  a: Pick<AlertRecord, 'namespace' | 'workloadKind' | 'workloadName' | 'pod' | 'image' | 'node'>,
): string {
  if (a.namespace && a.workloadKind && a.workloadName) return `${a.namespace}/${a.workloadKind}/${a.workloadName}`;
  if (a.namespace && a.pod) return `${a.namespace}/Pod/${a.pod}`;
  if (a.image) return `${a.image} on ${a.node}`;
  return `host ${a.node}`;
}

export function groupWorkloadText(g: AlertGroup): string {
  return workloadText({ ...g, pod: null });
}

/** ATT&CK technique page: T1059.004 → /techniques/T1059/004/. */
export function mitreUrl(technique: string): string {
  return `https://attack.mitre.org/techniques/${technique.replace('.', '/')}/`;
}

/** `credential-access` → `Credential access` (rules name tactics by their ATT&CK slug). */
export function tacticName(tactic: string): string {
  const t = tactic.replace(/-/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function MitreList({ mitre }: { mitre: MitreRef[] }): ReactNode {
  if (mitre.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="mitre">
      {mitre.map((m) => (
        <li key={`${m.tacticId}/${m.technique}`}>
          <span className="strong">{tacticName(m.tactic)}</span> <span className="muted mono small">{m.tacticId}</span>
          {' · '}
          <a href={mitreUrl(m.technique)} target="_blank" rel="noopener noreferrer" className="mono">
            {m.technique} ↗
          </a>
        </li>
      ))}
    </ul>
  );
}

/** `bash -c 'curl …'`: argv joined, arguments with spaces quoted. */
export function argvText(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * The process tree, oldest ancestor at the top and each child indented under its parent; the
 * process that did what the alert is about is marked in words as well as colour.
 */
export function ProcessTree({ roots }: { roots: ProcessNode[] }): ReactNode {
  if (roots.length === 0)
    return <p className="muted">No process information: the matched events carry no process (audit events).</p>;
  return (
    <div className="ptree" data-testid="process-tree">
      <ProcessList nodes={roots} depth={0} label="Process tree" />
    </div>
  );
}

function ProcessList({ nodes, depth, label }: { nodes: ProcessNode[]; depth: number; label?: string }): ReactNode {
  return (
    <ul aria-label={label}>
      {nodes.map((n) => (
        <li key={n.pid} data-pid={n.pid} data-alerting={n.alerting ? 'true' : undefined}>
          <div className={`proc${n.alerting ? ' alerting' : ''}`} aria-current={n.alerting ? 'true' : undefined}>
            <span className="pid">pid {n.pid}</span>
            <code className="exe">{n.exe}</code>
            {n.argv.length > 0 && <code className="argv">{argvText(n.argv)}</code>}
            {n.alerting && <span className="alerting-badge">⚠ alerting process</span>}
            {depth === 0 && !n.alerting && n.children.length > 0 && (
              <span className="muted small">oldest known ancestor</span>
            )}
          </div>
          {n.children.length > 0 && <ProcessList nodes={n.children} depth={depth + 1} />}
        </li>
      ))}
    </ul>
  );
}
