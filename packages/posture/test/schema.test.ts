/** Every report the fixtures produce validates against docs/posture-schema.json. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { fixturePath, repoRoot } from '@palisade/testkit';
import { scanManifests, writePostureReport } from '../src/index.js';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
type FormatsPlugin = (ajv: Ajv2020) => unknown;
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as unknown as FormatsPlugin;

test('posture JSON reports validate against docs/posture-schema.json', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(
    JSON.parse(readFileSync(join(repoRoot(), 'docs', 'posture-schema.json'), 'utf8')) as object,
  );
  const dir = fixturePath('posture');
  // Per-check fixtures live in subdirectories (checks/<id>/); they are validated by check-fixtures.test.ts.
  const files = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile());
  for (const name of files.map((e) => e.name).sort()) {
    const file = join(dir, name);
    const json: unknown = JSON.parse(
      writePostureReport(scanManifests([{ file, text: readFileSync(file, 'utf8') }], { cluster: 'c1' }), 'json'),
    );
    assert.ok(validate(json), `${name}: ${JSON.stringify(validate.errors)}`);
  }
});
