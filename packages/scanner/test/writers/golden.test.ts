/**
 * Golden files: every format, byte for byte. This is the only test that writes them, and only
 * with UPDATE_GOLDEN=1 (then review the diff before committing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ScanReport } from '@palisade/core';
import { fixturePath } from '@palisade/testkit';
import { writeReport } from '../../src/writers/registry.js';
import type { WriteOptions } from '../../src/writers/types.js';
import { emptyReport, inventoryReport, sampleReport } from './sample.js';

interface Case {
  file: string;
  report: () => ScanReport;
  format: string;
  options?: WriteOptions;
}

const CASES: Case[] = [
  { file: 'report.table.txt', report: sampleReport, format: 'table' },
  {
    file: 'report.table-color.txt',
    report: sampleReport,
    format: 'table',
    options: { color: true, maxTitleWidth: 40 },
  },
  { file: 'report.json', report: sampleReport, format: 'json' },
  { file: 'report.sarif', report: sampleReport, format: 'sarif' },
  { file: 'report.cdx.json', report: sampleReport, format: 'cyclonedx' },
  { file: 'report.spdx.json', report: sampleReport, format: 'spdx' },
  { file: 'sbom.cdx.json', report: inventoryReport, format: 'cyclonedx' },
  { file: 'sbom.spdx.json', report: inventoryReport, format: 'spdx' },
  { file: 'sbom.json', report: inventoryReport, format: 'json' },
  { file: 'empty.table.txt', report: emptyReport, format: 'table' },
  { file: 'empty.sarif', report: emptyReport, format: 'sarif' },
  { file: 'empty.cdx.json', report: emptyReport, format: 'cyclonedx' },
  { file: 'empty.spdx.json', report: emptyReport, format: 'spdx' },
];

test('every format matches its golden file byte for byte', () => {
  const update = process.env['UPDATE_GOLDEN'] === '1';
  const mismatched: string[] = [];
  for (const c of CASES) {
    const path = fixturePath('scanner', 'writers', 'golden', c.file);
    const actual = writeReport(c.report(), c.format, c.options ?? {});
    if (update) {
      writeFileSync(path, actual);
      continue;
    }
    assert.ok(existsSync(path), `golden file missing: ${path} (run with UPDATE_GOLDEN=1)`);
    if (readFileSync(path, 'utf8') !== actual) mismatched.push(c.file);
  }
  assert.deepEqual(mismatched, [], 'output differs from golden files (UPDATE_GOLDEN=1 rewrites them; review the diff)');
});
