/**
 * Reading real-world manifest shapes: a Deployment with lines per field, malformed YAML,
 * unknown kinds and CRDs, objects missing fields, a List, a `kubectl get -A -o json` dump,
 * Helm-rendered output, JSON streams. Fixtures are in test/fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import { fixedClock } from '@palisade/core';
import {
  PSS_LATEST_MINOR,
  checkRegistry,
  CHECKS,
  parsePssVersion,
  scanManifests,
  writePostureReport,
  type PostureReport,
} from '../src/index.js';

function scanFixture(name: string, options: Parameters<typeof scanManifests>[1] = {}): PostureReport {
  const file = fixturePath('posture', name);
  return scanManifests([{ file, text: readFileSync(file, 'utf8') }], {
    clock: fixedClock('2025-01-01T00:00:00Z'),
    ...options,
  });
}

function find(report: PostureReport, checkId: string, name?: string): PostureReport['misconfigurations'] {
  return report.misconfigurations.filter(
    (m) => m.checkId === checkId && (name === undefined || m.resource.name === name),
  );
}

test('a Deployment: path into the template, line of the field, resource, frameworks', () => {
  const r = scanFixture('deployment.yaml');
  const [p] = find(r, 'pss-privileged');
  assert.ok(p);
  assert.equal(p.path, 'spec.template.spec.containers[0].securityContext.privileged');
  assert.equal(p.source?.line, 17);
  assert.ok(p.source?.file.endsWith('deployment.yaml'));
  assert.deepEqual(p.resource, { namespace: 'shop', apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' });
  assert.deepEqual(p.pss, { level: 'baseline', control: 'privileged', version: `v1.${PSS_LATEST_MINOR}` });
  assert.deepEqual(p.frameworks.CIS, ['5.2.2']);
  assert.ok(p.remediation.length > 0);
  assert.equal(find(r, 'pss-host-ports')[0]?.source?.line, 21);
  assert.equal(find(r, 'pss-allow-privilege-escalation')[0]?.source?.line, 18);
  assert.equal(find(r, 'workload-secrets-in-env')[0]?.path, 'spec.template.spec.containers[0].env[0].value');
  assert.equal(find(r, 'workload-image-digest').length, 0, 'pinned by digest');
  assert.equal(find(r, 'workload-image-tag-latest').length, 0);
  // Missing fields point at the nearest existing parent: the container.
  assert.equal(find(r, 'workload-memory-limits')[0]?.source?.line, 14);
});

test('output is deterministic and findings are sorted', () => {
  const a = writePostureReport(scanFixture('helm-rendered.yaml'), 'json');
  const b = writePostureReport(scanFixture('helm-rendered.yaml'), 'json');
  assert.equal(a, b);
  const r = scanFixture('deployment.yaml');
  const ids = r.misconfigurations.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, 'finding ids are unique');
});

test('malformed YAML: the file and line are named, other documents still checked', () => {
  const r = scanFixture('malformed.yaml');
  assert.equal(r.errors.length, 1);
  const [e] = r.errors;
  assert.ok(e?.file.endsWith('malformed.yaml'));
  assert.ok(e?.line !== undefined && e.line >= 14 && e.line <= 16, `line ${e?.line}`);
  assert.match(e?.message ?? '', /malformed YAML/);
  assert.equal(find(r, 'pss-host-namespaces', 'after-the-broken-one').length, 1);
  assert.equal(r.misconfigurations.filter((m) => m.resource.name === 'broken').length, 0);
});

test('unknown kinds and CRDs are skipped and counted; objects without kind counted as invalid', () => {
  const r = scanFixture('crds-and-unknown.yaml');
  assert.deepEqual(r.summary.skippedKinds, {
    'apiextensions.k8s.io/v1/CustomResourceDefinition': 1,
    'example.com/v1/Widget': 2,
  });
  assert.equal(r.summary.invalid, 1);
  assert.equal(r.summary.objects, 5);
  assert.equal(r.summary.checked, 1);
  assert.equal(find(r, 'pss-host-namespaces').length, 1);
  assert.match(
    writePostureReport(r, 'table'),
    /3 skipped \(unknown kinds: apiextensions\.k8s\.io\/v1\/CustomResourceDefinition, example\.com\/v1\/Widget\)/,
  );
});

test('objects missing fields or with wrong types are checked without crashing', () => {
  const r = scanFixture('missing-fields.yaml');
  assert.equal(r.errors.length, 0);
  assert.equal(r.summary.checked, 4);
  // The one real container still gets judged.
  assert.ok(find(r, 'pss-run-as-non-root', 'odd-types').length > 0);
});

test('a List: items are objects of their own, with lines inside the List; a ServiceAccount in it disables automount', () => {
  const r = scanFixture('list.yaml');
  const [p] = find(r, 'pss-privileged', 'uses-quiet');
  assert.equal(p?.path, 'spec.containers[0].securityContext.privileged');
  assert.equal(p?.source?.line, 21);
  assert.equal(find(r, 'workload-automount-sa-token').length, 0);
});

test('a kubectl get -A -o json dump: items parsed one by one, lines into the JSON, custom resources skipped', () => {
  const r = scanFixture('kubectl-dump.json');
  assert.deepEqual(r.summary.skippedKinds, { 'cert-manager.io/v1/Certificate': 1 });
  assert.equal(find(r, 'pss-run-as-user', 'api-7d4')[0]?.source?.line, 22);
  const hostPath = find(r, 'pss-restricted-volumes', 'api-7d4')[0];
  assert.equal(hostPath?.path, 'spec.volumes[0].hostPath');
  assert.equal(hostPath?.source?.line, 29);
  assert.equal(find(r, 'pss-host-namespaces', 'agent')[0]?.source?.line, 58);
  assert.equal(find(r, 'workload-image-digest', 'agent').length, 0);
});

test('Helm-rendered output: comments, empty documents, YAML 1.1 booleans, a CronJob', () => {
  const r = scanFixture('helm-rendered.yaml');
  assert.equal(r.errors.length, 0);
  assert.equal(r.summary.objects, 3);
  assert.equal(find(r, 'workload-default-namespace', 'shop').length, 1);
  assert.equal(find(r, 'workload-image-tag-latest', 'shop').length, 1);
  assert.equal(
    find(r, 'workload-dangerous-capabilities', 'shop')[0]?.path,
    'spec.template.spec.containers[0].securityContext.capabilities.add[0]',
  );
  const ipc = find(r, 'pss-host-namespaces', 'cleanup')[0];
  assert.equal(ipc?.path, 'spec.jobTemplate.spec.template.spec.hostIPC');
  assert.equal(ipc?.source?.document, 3);
  assert.equal(find(r, 'workload-liveness-probe', 'cleanup').length, 0, 'jobs need no probes');
  // The ServiceAccount does not disable automount: the Deployment is reported.
  assert.equal(find(r, 'workload-automount-sa-token', 'shop').length, 1);
});

test('JSON streams: concatenated objects and a top-level array; malformed JSON names the line', () => {
  const pod = (n: string): string =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: n }, spec: { hostPID: true, containers: [] } });
  const r = scanManifests([{ file: 'a.json', text: `${pod('a')}\n${pod('b')}\n[${pod('c')}]` }]);
  assert.deepEqual(
    find(r, 'pss-host-namespaces')
      .map((m) => m.resource.name)
      .sort(),
    ['a', 'b', 'c'],
  );
  const bad = scanManifests([
    { file: 'bad.json', text: '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "x"\n' },
  ]);
  assert.equal(bad.errors.length, 1);
  assert.equal(bad.errors[0]?.file, 'bad.json');
  assert.equal(bad.errors[0]?.line, 1);
});

test('PSS version and level selection', () => {
  assert.equal(parsePssVersion('latest'), PSS_LATEST_MINOR);
  assert.equal(parsePssVersion('v1.25'), 25);
  assert.equal(parsePssVersion('1.19'), 19);
  assert.equal(parsePssVersion('v1.99'), PSS_LATEST_MINOR, 'clamped as upstream does');
  assert.throws(() => parsePssVersion('v2.0'), /invalid Pod Security Standards version/);
  const r = scanFixture('deployment.yaml', { pssLevel: 'baseline', pssVersion: 7 });
  assert.equal(r.pss.version, 'v1.7');
  assert.equal(find(r, 'pss-allow-privilege-escalation').length, 0, 'restricted only, and only from v1.8');
  assert.equal(find(r, 'pss-privileged')[0]?.pss?.version, 'v1.7');
});

test('the registry: unique ids, every check documented', () => {
  assert.throws(() => checkRegistry([...CHECKS, CHECKS[0]!]), /duplicate plugin id/);
  for (const c of CHECKS) {
    assert.ok(c.title && c.description && c.remediation, c.id);
    assert.match(c.id, /^(pss|workload|rbac|exposure|namespace|ingress|secret)-[a-z0-9-]+$/);
  }
});

test('SARIF: one rule per check used, results at file and line', () => {
  const sarif = JSON.parse(writePostureReport(scanFixture('deployment.yaml'), 'sarif')) as {
    runs: Array<{
      tool: { driver: { rules: Array<{ id: string }> } };
      results: Array<{ ruleId: string; locations: Array<{ physicalLocation: { region?: { startLine: number } } }> }>;
    }>;
  };
  const run = sarif.runs[0]!;
  const priv = run.results.find((x) => x.ruleId === 'pss-privileged');
  assert.equal(priv?.locations[0]?.physicalLocation.region?.startLine, 17);
  assert.ok(run.tool.driver.rules.some((x) => x.id === 'pss-privileged'));
});
