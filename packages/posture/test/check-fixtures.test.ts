/**
 * Hand-written fixtures for the cross-object checks: test/fixtures/checks/<check id>/ holds
 * `fail.*.yaml` (at least one finding of that check) and `pass.*.yaml` (none of it). Every
 * RBAC, exposure and CIS/NSA check (cis-nsa-checks.ts) must have both, so a check cannot ship untested either way. Reports
 * of every fixture also validate against the JSON schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { fixturePath, repoRoot } from '@palisade/testkit';
import { CHECKS, CIS_NSA_CHECKS, scanManifests, writePostureReport } from '../src/index.js';

type FormatsPlugin = (ajv: Ajv2020) => unknown;
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as unknown as FormatsPlugin;

test('every RBAC, exposure and CIS/NSA check has pass and fail fixtures, and they behave', () => {
  const root = fixturePath('posture', 'checks');
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(
    JSON.parse(readFileSync(join(repoRoot(), 'docs', 'posture-schema.json'), 'utf8')) as object,
  );
  const cisNsa = new Set(CIS_NSA_CHECKS.map((c) => c.id));
  const ids = CHECKS.map((c) => c.id).filter((id) => /^(rbac|exposure)-/.test(id) || cisNsa.has(id));
  const dirs = readdirSync(root).sort();
  assert.deepEqual(dirs, [...ids].sort(), 'one fixture directory per cross-object check');
  const failures: string[] = [];
  let total = 0;
  for (const id of dirs) {
    const names = readdirSync(join(root, id)).sort();
    assert.ok(
      names.some((n) => n.startsWith('fail.')),
      `${id}: no fail fixture`,
    );
    assert.ok(
      names.some((n) => n.startsWith('pass.')),
      `${id}: no pass fixture`,
    );
    for (const name of names) {
      total++;
      const file = join(root, id, name);
      const report = scanManifests([{ file, text: readFileSync(file, 'utf8') }]);
      assert.equal(report.errors.length, 0, `${file}: ${JSON.stringify(report.errors)}`);
      const json: unknown = JSON.parse(writePostureReport(report, 'json'));
      assert.ok(validate(json), `${file}: ${JSON.stringify(validate.errors)}`);
      const hits = report.misconfigurations.filter((m) => m.checkId === id);
      if (name.startsWith('fail.') && hits.length === 0) failures.push(`${id}/${name}: expected a finding`);
      if (name.startsWith('pass.') && hits.length > 0)
        failures.push(`${id}/${name}: unexpected ${hits.map((h) => `${h.path}: ${h.message}`).join(' | ')}`);
    }
  }
  console.log(`check fixtures: ${total - failures.length}/${total} pass over ${dirs.length} checks`);
  assert.deepEqual(failures, []);
});
