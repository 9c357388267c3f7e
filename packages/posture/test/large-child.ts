/**
 * Run by large.test.ts in a child process with a capped heap: generates a 50 MB manifest
 * (YAML multi-document or a JSON List), scans it, prints the summary as JSON.
 */
import { scanManifests } from '../src/index.js';

const TARGET = 50 * 1024 * 1024;
const format = process.argv[2] === 'json' ? 'json' : 'yaml';

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

const text = format === 'json' ? jsonText() : yamlText();
const report = scanManifests([{ file: `big.${format}`, text }], { pssOnly: true });
const lines = report.misconfigurations.map((m) => m.source?.line ?? 0);
process.stdout.write(
  JSON.stringify({
    bytes: text.length,
    summary: report.summary,
    privileged: report.misconfigurations.filter((m) => m.checkId === 'pss-privileged').length,
    errors: report.errors.length,
    lastLine: Math.max(...lines),
    heapMB: Math.round(process.memoryUsage().heapUsed / 1048576),
  }) + '\n',
);
