/**
 * Run by large.test.ts in a child process with a capped heap: generates a 50 MB manifest
 * (YAML multi-document, one YAML `List` document as kubectl writes it, or a JSON List), scans
 * it, prints the summary and whether every finding points at the line and column it should.
 */
import { scanManifests } from '../src/index.js';

const TARGET = 50 * 1024 * 1024;
const format = process.argv[2] === 'json' ? 'json' : process.argv[2] === 'yaml-list' ? 'yaml-list' : 'yaml';

function configMap(i: number): Record<string, unknown> {
  // Big data values, as real dumps have (certificates, dashboards, managedFields).
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, namespace: 'bulk' },
    data: { blob: 'x'.repeat(4000) },
  };
}

function deployment(i: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `app-${i}`, namespace: 'bulk' },
    spec: {
      template: { spec: { containers: [{ name: 'c', image: 'nginx:1.25', securityContext: { privileged: true } }] } },
    },
  };
}

function objectAt(i: number): Record<string, unknown> {
  return i % 100 === 0 ? deployment(i) : configMap(i);
}

function yamlText(): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < TARGET; i++) {
    const o = objectAt(i);
    // Block YAML for the Deployment, flow (JSON) style for the rest: both are valid YAML documents.
    const doc =
      o.kind === 'Deployment'
        ? `---\n# Source: bulk/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  namespace: bulk\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: nginx:1.25\n          securityContext:\n            privileged: true\n`
        : `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: bulk\ndata:\n  blob: ${'x'.repeat(4000)}\n`;
    parts.push(doc);
    size += doc.length;
  }
  return parts.join('');
}

/** One `kubectl get -o yaml` List document: items as a block sequence at column 0. */
function yamlListText(): string {
  const parts: string[] = ['apiVersion: v1\nitems:\n'];
  let size = 0;
  for (let i = 0; size < TARGET; i++) {
    const item =
      i % 100 === 0
        ? `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: app-${i}\n    namespace: bulk\n  spec:\n    template:\n      spec:\n        containers:\n        - name: c\n          image: nginx:1.25\n          securityContext:\n            privileged: true\n`
        : `- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-${i}\n    namespace: bulk\n  data:\n    # a comment at the item's indentation\n    blob: ${'x'.repeat(4000)}\n`;
    parts.push(item);
    size += item.length;
  }
  parts.push('kind: List\nmetadata:\n  resourceVersion: ""\n');
  return parts.join('');
}

/** One-based line and column of every `privileged: true` in the text: where findings must point. */
function privilegedPositions(text: string): string[] {
  const out: string[] = [];
  const re = format === 'json' ? /"privileged": true/g : /privileged: true/g;
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    for (let i = text.indexOf('\n', scanned); i >= 0 && i < m.index; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    scanned = m.index;
    // JSON findings point at the value (`true`), YAML ones at the key.
    const at = format === 'json' ? m.index + '"privileged": '.length : m.index;
    out.push(`${line}:${at - lineStart + 1}`);
  }
  return out;
}

function jsonText(): string {
  const items: string[] = [];
  let size = 0;
  for (let i = 0; size < TARGET; i++) {
    const s = JSON.stringify(objectAt(i), null, 2);
    items.push(s);
    size += s.length + 2;
  }
  return `{\n"apiVersion": "v1",\n"items": [\n${items.join(',\n')}\n],\n"kind": "List"\n}\n`;
}

const text = format === 'json' ? jsonText() : format === 'yaml-list' ? yamlListText() : yamlText();
const report = scanManifests([{ file: `big.${format}`, text }], { pssOnly: true });
const lines = report.misconfigurations.map((m) => m.source?.line ?? 0);
// Sorted by name within a document, so put back in line order to compare with the text.
const privileged = report.misconfigurations
  .filter((m) => m.checkId === 'pss-privileged')
  .map((m) => ({ line: m.source?.line ?? 0, column: m.source?.column ?? 0 }))
  .sort((a, b) => a.line - b.line)
  .map((p) => `${p.line}:${p.column}`);
const expected = privilegedPositions(text);
process.stdout.write(
  JSON.stringify({
    bytes: text.length,
    summary: report.summary,
    privileged: privileged.length,
    // Every privileged finding at the line and column of its `privileged: true`, in order.
    positionsMatch: privileged.length === expected.length && privileged.every((p, i) => p === expected[i]),
    firstMismatch: privileged.find((p, i) => p !== expected[i]) ?? null,
    expectedAt: expected[privileged.findIndex((p, i) => p !== expected[i])] ?? null,
    errors: report.errors.length,
    lastLine: lines.reduce((a, b) => Math.max(a, b), 0),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    heapMB: Math.round(process.memoryUsage().heapUsed / 1048576),
  }) + '\n',
);
