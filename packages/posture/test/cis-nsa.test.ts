/**
 * CIS/NSA checks in detail beyond their pass/fail fixtures: the field each names (path and
 * line), and which absence checks a source that cannot read some kinds must skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import { ABSENCE_CHECK_KINDS, CIS_NSA_CHECKS, scanManifests, unjudgeableAbsenceChecks } from '../src/index.js';

function findings(rel: string, checkId: string): string[] {
  const file = fixturePath('posture', 'checks', checkId, rel);
  const report = scanManifests([{ file: rel, text: readFileSync(file, 'utf8') }]);
  return report.misconfigurations
    .filter((m) => m.checkId === checkId)
    .map((m) => `${m.resource.kind}/${m.resource.name} ${m.path} @${m.source?.line}: ${m.message}`);
}

test('secrets as environment variables: each secretKeyRef and secretRef, at its line', () => {
  assert.deepEqual(findings('fail.secret-key-ref.yaml', 'workload-secret-env-reference'), [
    'Deployment/api spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef @22: container "main" reads Secret db key password into environment variable DB_PASSWORD',
  ]);
  assert.deepEqual(findings('fail.env-from.yaml', 'workload-secret-env-reference'), [
    'CronJob/backup spec.jobTemplate.spec.template.spec.containers[0].envFrom[1].secretRef @20: container "backup" loads every key of Secret s3-credentials into its environment',
  ]);
});

test('no security context: the container field to set, empty objects count as unset', () => {
  assert.deepEqual(findings('fail.empty.yaml', 'workload-no-security-context'), [
    'StatefulSet/db spec.template.spec.containers[0].securityContext @21: container "db" has no securityContext, and neither has the pod: it runs with the runtime\'s defaults',
  ]);
});

test('absence checks a source cannot judge are named for skipping', () => {
  const ids = new Set(CIS_NSA_CHECKS.map((c) => c.id));
  for (const id of Object.keys(ABSENCE_CHECK_KINDS)) assert.ok(ids.has(id), id);
  assert.deepEqual(unjudgeableAbsenceChecks([]), Object.keys(ABSENCE_CHECK_KINDS).sort());
  assert.deepEqual(unjudgeableAbsenceChecks(['Namespace', 'NetworkPolicy', 'ValidatingWebhookConfiguration']), [
    'namespace-admission-policy-missing',
    'namespace-limit-range-missing',
    'namespace-resource-quota-missing',
  ]);
  assert.deepEqual(
    unjudgeableAbsenceChecks([
      'NetworkPolicy',
      'LimitRange',
      'ResourceQuota',
      'ValidatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]),
    [],
  );
});
