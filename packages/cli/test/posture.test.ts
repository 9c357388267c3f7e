/**
 * `palisade posture scan`, in-process: formats, file and line in every output, stdin, exit
 * codes for CI gates, malformed input failing closed, PSS version selection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

const DEPLOYMENT = fixturePath('posture', 'deployment.yaml');

interface JsonReport {
  schemaVersion: number;
  pss: { level: string; version: string };
  summary: { objects: number; findings: number; skippedKinds: Record<string, number> };
  misconfigurations: Array<{
    checkId: string;
    path: string;
    source?: { file: string; line?: number };
    pss?: { version: string };
  }>;
  errors: Array<{ file: string; line?: number }>;
}

test('posture scan: table names file:line, resource, check and field', async () => {
  const r = await run(['posture', 'scan', DEPLOYMENT]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /deployment\.yaml:17\s+Deployment\/shop\/web\s+CRITICAL\s+pss-privileged\s+spec\.template\.spec\.containers\[0\]\.securityContext\.privileged/,
  );
  assert.match(r.stdout, /misconfigurations .* in 1 object · PSS restricted v1\.\d+/);
});

test('posture scan --format json: documented shape with source.file and line', async () => {
  const r = await run(['posture', 'scan', '-f', 'json', DEPLOYMENT]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.equal(report.schemaVersion, 1);
  const priv = report.misconfigurations.find((m) => m.checkId === 'pss-privileged');
  assert.equal(priv?.source?.file, DEPLOYMENT);
  assert.equal(priv?.source?.line, 17);
  for (const m of report.misconfigurations) assert.ok(m.source?.file, 'every finding from a file names it');
});

test('posture scan --format sarif', async () => {
  const r = await run(['posture', 'scan', '--format', 'sarif', DEPLOYMENT]);
  assert.equal(r.code, 0, r.stderr);
  const sarif = JSON.parse(r.stdout) as { version: string; runs: Array<{ results: Array<{ ruleId: string }> }> };
  assert.equal(sarif.version, '2.1.0');
  assert.ok(sarif.runs[0]?.results.some((x) => x.ruleId === 'pss-privileged'));
});

test('posture scan -: reads stdin, file shown as -', async () => {
  const yaml = readFileSync(DEPLOYMENT, 'utf8');
  const r = await run(['posture', 'scan', '-f', 'json', '-'], { stdin: yaml });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  const priv = report.misconfigurations.find((m) => m.checkId === 'pss-privileged');
  assert.deepEqual([priv?.source?.file, priv?.source?.line], ['-', 17]);
});

test('posture scan --exit-code: CI gate fails on findings, passes when clean', async () => {
  const bad = await run(['posture', 'scan', '--exit-code', '3', DEPLOYMENT]);
  assert.equal(bad.code, 3);
  const clean = `apiVersion: v1
kind: Pod
metadata: { name: ok, namespace: apps }
spec:
  automountServiceAccountToken: false
  securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: app
      image: app:1.0@sha256:${'a'.repeat(64)}
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
      resources: { limits: { cpu: 100m, memory: 64Mi }, requests: { cpu: 100m, memory: 64Mi } }
      livenessProbe: { exec: { command: [true] } }
      readinessProbe: { exec: { command: [true] } }
`;
  const ok = await run(['posture', 'scan', '--exit-code', '3', '-'], { stdin: clean });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^0 misconfigurations in 1 object/m);
});

test('posture scan --pss-version and --pss-level select the policy', async () => {
  const r = await run([
    'posture',
    'scan',
    '-f',
    'json',
    '--pss-only',
    '--pss-version',
    'v1.7',
    '--pss-level',
    'baseline',
    DEPLOYMENT,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.deepEqual(report.pss, { level: 'baseline', version: 'v1.7' });
  assert.deepEqual([...new Set(report.misconfigurations.map((m) => m.checkId))].sort(), [
    'pss-host-ports',
    'pss-privileged',
  ]);
  const bad = await run(['posture', 'scan', '--pss-version', 'v2', DEPLOYMENT]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--pss-version: invalid Pod Security Standards version "v2"/);
});

test('posture scan: malformed YAML names file and line and fails closed; --allow-unreadable accepts', async () => {
  const file = fixturePath('posture', 'malformed.yaml');
  const r = await run(['posture', 'scan', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`palisade: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:16: malformed YAML`));
  const allowed = await run(['posture', 'scan', '--allow-unreadable', file]);
  assert.equal(allowed.code, 0);
  assert.match(allowed.stderr, /warning: .*malformed\.yaml:16/);
});

test('posture scan: a directory, a List, a kubectl dump; unknown kinds counted', async () => {
  const r = await run(['posture', 'scan', '-f', 'json', '--allow-unreadable', fixturePath('posture')]);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.equal(report.summary.skippedKinds['cert-manager.io/v1/Certificate'], 1);
  assert.ok(report.misconfigurations.some((m) => m.source?.file.endsWith('kubectl-dump.json')));
  assert.ok(report.misconfigurations.some((m) => m.source?.file.endsWith('list.yaml')));
  assert.equal(report.errors.length, 1);
});

test('posture scan: a missing path is an error naming it; -o writes a file', async () => {
  const r = await run(['posture', 'scan', '/nonexistent/x.yaml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/nonexistent\/x\.yaml: no such file or directory/);
  const dir = tempDir();
  try {
    const out = join(dir.path, 'r.json');
    const w = await run(['posture', 'scan', '-f', 'json', '-o', out, DEPLOYMENT]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as JsonReport).schemaVersion, 1);
  } finally {
    dir.cleanup();
  }
});

test('posture checks lists the catalogue; --skip-check validates ids', async () => {
  const r = await run(['posture', 'checks']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /pss-privileged\s+critical\s+baseline privileged \(v1\.0\+\)/);
  const skip = await run([
    'posture',
    'scan',
    '-f',
    'json',
    '--skip-check',
    'pss-privileged,workload-secrets-in-env',
    DEPLOYMENT,
  ]);
  const report = JSON.parse(skip.stdout) as JsonReport;
  assert.ok(
    !report.misconfigurations.some((m) => m.checkId === 'pss-privileged' || m.checkId === 'workload-secrets-in-env'),
  );
  const bad = await run(['posture', 'scan', '--skip-check', 'nope', DEPLOYMENT]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown check "nope"/);
});

test('posture scan --checks: custom CEL checks report like built-ins; broken files and duplicates exit 2', async () => {
  const checksFile = fixturePath('posture', 'custom-checks', 'checks.yaml');
  const workloads = fixturePath('posture', 'custom-checks', 'workloads.yaml');
  const r = await run(['posture', 'scan', '-f', 'json', '--checks', checksFile, '--allow-unreadable', workloads]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  const hostPath = report.misconfigurations.find((m) => m.checkId === 'custom-no-hostpath');
  assert.equal(hostPath?.path, 'spec.template.spec.volumes');
  assert.equal(hostPath?.source?.file, workloads);
  assert.equal(hostPath?.source?.line, 10);
  assert.ok(report.misconfigurations.some((m) => m.checkId === 'custom-team-label'));
  assert.ok(
    report.misconfigurations.some((m) => m.checkId === 'pss-restricted-volumes'),
    'built-ins still run',
  );
  // The one object custom-min-replicas cannot be evaluated on is reported once, as a warning.
  assert.match(
    r.stderr,
    /warning: .*checks\.yaml:24: check custom-min-replicas: condition could not be evaluated on 1 object/,
  );

  // Without --allow-unreadable an unevaluable object fails closed, like unreadable input.
  const strict = await run(['posture', 'scan', '--checks', checksFile, workloads]);
  assert.equal(strict.code, 2);
  assert.match(strict.stdout, /workloads\.yaml:10\s+Deployment\/shop\/bad\s+HIGH\s+custom-no-hostpath/);

  // --skip-check knows custom ids; --checks is repeatable.
  const skipped = await run([
    'posture',
    'scan',
    '-f',
    'json',
    '--checks',
    checksFile,
    '--checks',
    fixturePath('posture', 'custom-checks', 'custom-resource.yaml'),
    '--skip-check',
    'custom-min-replicas',
    workloads,
    fixturePath('posture', 'custom-checks', 'servicemonitor.yaml'),
  ]);
  assert.equal(skipped.code, 0, skipped.stderr);
  const ids = (JSON.parse(skipped.stdout) as JsonReport).misconfigurations.map((m) => m.checkId);
  assert.ok(ids.includes('custom-metrics-plain-http') && !ids.includes('custom-min-replicas'));

  const broken = fixturePath('posture', 'custom-checks', 'broken.yaml');
  const b = await run(['posture', 'scan', '--checks', broken, workloads]);
  assert.equal(b.code, 2);
  assert.equal(b.stdout, '');
  assert.match(b.stderr, /^palisade: .*broken\.yaml:17: check custom-broken: condition 2:\d+: /);

  const dup = await run([
    'posture',
    'scan',
    '--checks',
    fixturePath('posture', 'custom-checks', 'duplicate.yaml'),
    workloads,
  ]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /duplicate\.yaml:2: check pss-privileged: duplicate id: a built-in check has it/);

  const listed = await run(['posture', 'checks', '--checks', checksFile]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /custom-no-hostpath\s+high\s+hostPath volume/);
});
