/**
 * The process tree of an alert, from its events: each event's process and that process's
 * ancestry (nearest first, as the sensor records it) form a chain from the oldest known ancestor
 * down to the process that acted; chains of several events share their common ancestors.
 */
import type { RuntimeEvent } from '@palisade/core';

export interface ProcessNode {
  pid: number;
  exe: string;
  argv: string[];
  /** True for a process that did what the alert is about. */
  alerting: boolean;
  children: ProcessNode[];
}

interface Link {
  pid: number;
  exe: string;
  argv: string[];
}

/** Roots of the tree (usually one); empty when no event has a process (audit events). */
export function buildProcessTree(events: readonly RuntimeEvent[]): ProcessNode[] {
  const roots: ProcessNode[] = [];
  const byPid = new Map<number, ProcessNode>();
  for (const ev of events) {
    if (!('proc' in ev)) continue;
    const p = ev.proc;
    // Oldest first: the ancestry is nearest first.
    const chain: Link[] = [...p.ancestry].reverse();
    chain.push({ pid: p.pid, exe: p.exe, argv: p.argv });
    let parent: ProcessNode | undefined;
    chain.forEach((link, i) => {
      const isActor = i === chain.length - 1;
      let node = byPid.get(link.pid);
      if (!node) {
        node = { pid: link.pid, exe: link.exe, argv: [...link.argv], alerting: false, children: [] };
        byPid.set(link.pid, node);
        (parent ? parent.children : roots).push(node);
      } else if (isActor) {
        // The event's own view of the process is newer than an ancestry entry (after an exec).
        node.exe = link.exe;
        node.argv = [...link.argv];
      }
      if (isActor) node.alerting = true;
      parent = node;
    });
  }
  sortTree(roots);
  return roots;
}

function sortTree(nodes: ProcessNode[]): void {
  nodes.sort((a, b) => a.pid - b.pid);
  for (const n of nodes) sortTree(n.children);
}
