import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScanReport } from '@palisade/core';
import { writeReport } from '../../src/writers/registry.js';
import { emptyReport, inventoryReport, sampleReport } from './sample.js';
import { errorText, validatorFor } from './validators.js';

const FORMATS = ['json', 'sarif', 'cyclonedx', 'spdx'] as const;
const REPORTS: Array<[string, () => ScanReport]> = [
  ['full report', sampleReport],
  ['inventory only (palisade sbom)', inventoryReport],
  ['empty directory', emptyReport],
];

for (const format of FORMATS) {
  for (const [label, make] of REPORTS) {
    test(`${format}: ${label} validates against the official schema`, () => {
      const doc: unknown = JSON.parse(writeReport(make(), format));
      const validate = validatorFor(format);
      assert.equal(validate(doc), true, errorText(validate));
    });
  }
}

// The validators must be able to fail: each mutation is a real mistake a writer could make.
type Path = Array<string | number>;

function parent(doc: unknown, path: Path): [Record<string | number, unknown>, string | number] {
  let cur = doc;
  for (const key of path.slice(0, -1)) cur = (cur as Record<string | number, unknown>)[key];
  return [cur as Record<string | number, unknown>, path[path.length - 1] as string | number];
}
const set =
  (path: Path, value: unknown) =>
  (doc: unknown): void => {
    const [obj, key] = parent(doc, path);
    obj[key] = value;
  };
const del =
  (path: Path) =>
  (doc: unknown): void => {
    const [obj, key] = parent(doc, path);
    delete obj[key];
  };
/** Index of the first CycloneDX vulnerability that carries a VEX analysis. */
function analysed(doc: unknown): number {
  const vulns = (doc as { vulnerabilities: Array<{ analysis?: unknown }> }).vulnerabilities;
  return vulns.findIndex((v) => v.analysis !== undefined);
}

const MISTAKES: Array<[(typeof FORMATS)[number], string, (d: unknown) => void]> = [
  ['sarif', 'a level SARIF does not define', set(['runs', 0, 'results', 0, 'level'], 'critical')],
  [
    'sarif',
    'a region without a start',
    set(['runs', 0, 'results', 1, 'locations', 0, 'physicalLocation', 'region'], { endLine: 1 }),
  ],
  [
    'sarif',
    'an artifact uri with a raw space',
    set(['runs', 0, 'results', 1, 'locations', 0, 'physicalLocation', 'artifactLocation', 'uri'], 'a b/c d'),
  ],
  ['sarif', 'a rule without id', del(['runs', 0, 'tool', 'driver', 'rules', 0, 'id'])],
  [
    'cyclonedx',
    'a severity CycloneDX does not define',
    set(['vulnerabilities', 0, 'ratings', 0, 'severity'], 'negligible'),
  ],
  [
    'cyclonedx',
    'a score method CycloneDX does not define',
    set(['vulnerabilities', 0, 'ratings', 1, 'method'], 'CVSSv3.1'),
  ],
  [
    'cyclonedx',
    'a license id outside the SPDX list',
    set(['components', 0, 'licenses'], [{ license: { id: 'Apache 2.0' } }]),
  ],
  ['cyclonedx', 'a serial number that is not a UUID URN', set(['serialNumber'], 'urn:uuid:palisade')],
  [
    'cyclonedx',
    'an OpenVEX justification where CycloneDX wants its own',
    (d) => set(['vulnerabilities', analysed(d), 'analysis', 'justification'], 'vulnerable_code_not_in_execute_path')(d),
  ],
  ['spdx', 'a package without SPDXID', del(['packages', 1, 'SPDXID'])],
  ['spdx', 'an unknown relationship type', set(['relationships', 0, 'relationshipType'], 'HAS')],
  [
    'spdx',
    'an unknown external reference category',
    set(['packages', 1, 'externalRefs', 0, 'referenceCategory'], 'PACKAGE_MANAGER'),
  ],
  ['json', 'an unknown severity', set(['vulnerabilities', 0, 'severity'], 'severe')],
  ['json', 'a package without purl', del(['packages', 0, 'purl'])],
  ['json', 'an unexpected top-level field', set(['extra'], true)],
];

for (const [format, what, mutate] of MISTAKES) {
  test(`${format}: the schema rejects ${what}`, () => {
    const doc: unknown = JSON.parse(writeReport(sampleReport(), format));
    const validate = validatorFor(format);
    assert.equal(validate(doc), true, `unmutated ${format} must validate: ${errorText(validate)}`);
    mutate(doc);
    assert.equal(validate(doc), false, `${what} must be rejected`);
  });
}
