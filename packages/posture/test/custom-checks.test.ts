/**
 * Custom checks: CEL conditions over `object` loaded from a YAML file into the same registry
 * as the built-in checks. They fire (and stay quiet) like built-in checks, load errors name
 * FILE:LINE, and an object a condition cannot be evaluated on is counted, not a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import { PalisadeError } from '@palisade/core';
import { CelError, compileCel, displayValue, typeName } from '@palisade/rules';
import {
  CHECKS,
  checksInForce,
  loadCustomChecks,
  parseCustomChecks,
  parseFieldPath,
  scanManifests,
  type ConditionLanguage,
  type PostureInput,
} from '../src/index.js';

// What the CLI passes: posture itself does not depend on @palisade/rules.
const CEL: ConditionLanguage = {
  compile: (source, variables) => compileCel(source, { variables }),
  errorOf: (v) => (v instanceof CelError ? v.message : undefined),
  describe: (v) => `${typeName(v)} ${displayValue(v)}`,
};

const dir = (name: string): string => fixturePath('posture', 'custom-checks', name);
const CHECKS_FILE = dir('checks.yaml');
const WORKLOADS = dir('workloads.yaml');
const FIXED_CLOCK = { now: () => new Date('2026-01-01T00:00:00Z') };

function input(path: string): PostureInput {
  return { file: path, text: readFileSync(path, 'utf8') };
}

function custom(
  report: ReturnType<typeof scanManifests>,
): Array<{ id: string; name: string; path: string; line?: number }> {
  return report.misconfigurations
    .filter((m) => m.checkId.startsWith('custom-'))
    .map((m) => ({
      id: m.checkId,
      name: m.resource.name,
      path: m.path,
      ...(m.source?.line !== undefined ? { line: m.source.line } : {}),
    }));
}

test('custom checks load into the registry next to the built-ins', () => {
  const all = loadCustomChecks([CHECKS_FILE], CEL);
  assert.equal(all.length, CHECKS.length + 3);
  const ids = checksInForce({ checks: all }).map((c) => c.id);
  for (const id of ['custom-team-label', 'custom-no-hostpath', 'custom-min-replicas']) assert.ok(ids.includes(id), id);
  const hostPath = all.find((c) => c.id === 'custom-no-hostpath');
  assert.deepEqual(hostPath?.frameworks, { CIS: ['5.2.12'], MITRE: ['T1611'] });
  assert.equal(hostPath?.severity, 'high');
});

test('custom checks fire on violating objects and not on compliant ones', () => {
  const report = scanManifests([input(WORKLOADS)], {
    checks: loadCustomChecks([CHECKS_FILE], CEL),
    clock: FIXED_CLOCK,
  });
  const byId = (a: { id: string }, b: { id: string }): number => a.id.localeCompare(b.id);
  assert.deepEqual(custom(report).sort(byId), [
    { id: 'custom-min-replicas', name: 'bad', path: 'spec.replicas', line: 7 },
    { id: 'custom-no-hostpath', name: 'bad', path: 'spec.template.spec.volumes', line: 10 },
    { id: 'custom-team-label', name: 'bad', path: 'metadata.labels', line: 3 },
  ]);
  // `good` passes everything; the Pod is not a kind the checks name.
  assert.ok(!custom(report).some((f) => f.name === 'good' || f.name === 'pod-not-targeted'));
  // Built-in checks still run alongside.
  assert.ok(report.misconfigurations.some((m) => m.checkId === 'pss-restricted-volumes' && m.resource.name === 'bad'));
});

test('a custom finding looks like a built-in one', () => {
  const report = scanManifests([input(WORKLOADS)], {
    checks: loadCustomChecks([CHECKS_FILE], CEL),
    clock: FIXED_CLOCK,
  });
  const f = report.misconfigurations.find((m) => m.checkId === 'custom-no-hostpath');
  assert.ok(f);
  assert.equal(f.severity, 'high');
  assert.equal(f.title, 'hostPath volume');
  assert.equal(f.remediation, 'Use an emptyDir, a ConfigMap or a PersistentVolumeClaim instead.');
  assert.deepEqual(f.frameworks, { CIS: ['5.2.12'], MITRE: ['T1611'] });
  assert.deepEqual(f.resource, { namespace: 'shop', apiVersion: 'apps/v1', kind: 'Deployment', name: 'bad' });
  assert.equal(f.source?.file, WORKLOADS);
  assert.equal(f.source?.line, 10);
  assert.equal(f.checkVersion, 1);
  assert.match(f.id, /^[0-9a-f]+$/);
  assert.ok(report.checks.includes('custom-no-hostpath'));
});

test('an evaluation error is counted and reported once per check, never a crash', () => {
  // no-replicas has no spec.replicas: `object.spec.replicas < 2` cannot be evaluated on it.
  const report = scanManifests([input(WORKLOADS), input(WORKLOADS)], {
    checks: loadCustomChecks([CHECKS_FILE], CEL),
    clock: FIXED_CLOCK,
  });
  const errors = report.errors.filter((e) => e.message.includes('custom-min-replicas'));
  assert.equal(errors.length, 1, JSON.stringify(report.errors));
  assert.equal(errors[0]?.file, CHECKS_FILE);
  assert.equal(errors[0]?.line, 24);
  assert.match(
    errors[0]?.message ?? '',
    /could not be evaluated on 2 objects \(first: Deployment\/shop\/no-replicas in .*workloads\.yaml:\d+\): no such key/,
  );
  assert.equal(report.errors.length, 1);
  // The other checks still judged every object.
  assert.equal(custom(report).filter((f) => f.id === 'custom-team-label').length, 2);
});

test('a CEL syntax error is FILE:LINE: reason, with the line in the YAML', () => {
  const file = dir('broken.yaml');
  assert.throws(
    () => loadCustomChecks([file], CEL),
    (err: unknown) => {
      assert.ok(err instanceof PalisadeError);
      assert.equal(err.code, 'E_INPUT');
      assert.ok(err.message.startsWith(`${file}:17: check custom-broken: condition 2:`), err.message);
      return true;
    },
  );
  // A one-line condition: the line is the condition's own.
  assert.throws(
    () =>
      parseCustomChecks(
        [
          'checks:',
          '  - id: x',
          '    title: t',
          '    severity: low',
          '    description: d',
          '    remediation: r',
          '    kinds: [Pod]',
          '    condition: "object.spec.(nope"',
        ].join('\n'),
        'inline.yaml',
        CEL,
      ),
    /^PalisadeError: inline\.yaml:8: check x: condition 1:\d+: /,
  );
  // An unknown identifier is a compile error too.
  assert.throws(
    () =>
      parseCustomChecks(
        [
          '- id: y',
          '  title: t',
          '  severity: low',
          '  description: d',
          '  remediation: r',
          '  kinds: [Pod]',
          '  condition: evt.spec == 1',
        ].join('\n'),
        'inline.yaml',
        CEL,
      ),
    /inline\.yaml:7: check y: condition 1:1: undeclared reference to 'evt'/,
  );
});

test('a duplicate id is an error naming the file and the id', () => {
  const file = dir('duplicate.yaml');
  assert.throws(
    () => loadCustomChecks([file], CEL),
    (err: unknown) => {
      assert.ok(err instanceof PalisadeError);
      assert.equal(err.message, `${file}:2: check pss-privileged: duplicate id: a built-in check has it`);
      return true;
    },
  );
  // The same file twice: the second clashes with the first.
  assert.throws(
    () => loadCustomChecks([CHECKS_FILE, CHECKS_FILE], CEL),
    /checks\.yaml:3: check custom-team-label: duplicate id: a check in .*checks\.yaml has it/,
  );
});

test('invalid check fields are FILE:LINE errors', () => {
  const base = [
    '- id: z',
    '  title: t',
    '  description: d',
    '  remediation: r',
    '  kinds: [Pod]',
    '  condition: "true"',
  ];
  assert.throws(
    () => parseCustomChecks([...base, '  severity: urgent'].join('\n'), 'f.yaml', CEL),
    /^PalisadeError: f\.yaml:7: check z: severity must be one of/,
  );
  assert.throws(() => parseCustomChecks(base.join('\n'), 'f.yaml', CEL), /f\.yaml:1: check z: missing severity/);
  assert.throws(
    () => parseCustomChecks([...base, '  severity: low', '  frameworks: { SOC2: [x] }'].join('\n'), 'f.yaml', CEL),
    /f\.yaml:8: check z: unknown framework "SOC2"/,
  );
  assert.throws(
    () => parseCustomChecks([...base, '  severity: low', '  colour: red'].join('\n'), 'f.yaml', CEL),
    /f\.yaml:8: check z: unknown field "colour"/,
  );
  assert.throws(() => parseCustomChecks('checks: [\n', 'f.yaml', CEL), /f\.yaml:\d+: YAML syntax error/);
});

test('custom checks can judge custom resource kinds', () => {
  const checks = loadCustomChecks([dir('custom-resource.yaml')], CEL);
  const report = scanManifests([input(dir('servicemonitor.yaml'))], { checks, clock: FIXED_CLOCK });
  assert.deepEqual(custom(report), [
    { id: 'custom-metrics-plain-http', name: 'web', path: 'spec.endpoints', line: 10 },
  ]);
  assert.deepEqual(report.summary.skippedKinds, {});
  // Without the custom check the kind is skipped, as before.
  const plain = scanManifests([input(dir('servicemonitor.yaml'))], { clock: FIXED_CLOCK });
  assert.deepEqual(plain.summary.skippedKinds, { 'monitoring.coreos.com/v1/ServiceMonitor': 1 });
});

test('parseFieldPath', () => {
  assert.deepEqual(parseFieldPath('spec.containers[0].image'), ['spec', 'containers', 0, 'image']);
  assert.deepEqual(parseFieldPath('metadata.labels["app.kubernetes.io/name"]'), [
    'metadata',
    'labels',
    'app.kubernetes.io/name',
  ]);
  assert.deepEqual(parseFieldPath(''), []);
  assert.equal(parseFieldPath('spec..x'), undefined);
  assert.equal(parseFieldPath('spec[x]'), undefined);
});
