import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PalisadeError } from '@palisade/core';
import { applyFilters, parseSeverities, remainingFindings } from '../../src/report/filter.js';
import { sampleReport } from './sample.js';

test('severity filter keeps only the listed severities', () => {
  const r = sampleReport();
  const out = applyFilters(r, { severities: ['critical', 'high'] });
  assert.deepEqual(out.vulnerabilities.map((v) => v.id).sort(), [
    'CVE-2021-23337',
    'CVE-2021-44228',
    'CVE-2023-4911',
    'CVE-2024-5535',
  ]);
  assert.equal(out.packages, r.packages, 'packages are not filtered');
});

test('an empty severity list filters nothing', () => {
  const r = sampleReport();
  assert.equal(applyFilters(r, { severities: [] }).vulnerabilities.length, r.vulnerabilities.length);
  assert.equal(applyFilters(r, {}).vulnerabilities.length, r.vulnerabilities.length);
});

test('ignoreUnfixed drops findings without a fixed version', () => {
  const out = applyFilters(sampleReport(), { ignoreUnfixed: true });
  assert.ok(out.vulnerabilities.every((v) => v.fixedVersions.length > 0));
  assert.equal(
    out.vulnerabilities.find((v) => v.id === 'CVE-2019-1010022'),
    undefined,
  );
  assert.equal(out.vulnerabilities.length, sampleReport().vulnerabilities.length - 2);
});

test('filters combine and leave the input untouched', () => {
  const r = sampleReport();
  const before = JSON.stringify(r);
  const out = applyFilters(r, { severities: ['medium', 'negligible'], ignoreUnfixed: true });
  assert.deepEqual(
    out.vulnerabilities.map((v) => v.id),
    ['CVE-2023-32681'],
  );
  assert.equal(JSON.stringify(r), before);
});

test('remainingFindings counts what VEX did not suppress', () => {
  const r = sampleReport();
  assert.equal(remainingFindings(r), r.vulnerabilities.length - 2);
  assert.equal(remainingFindings({ ...r, vulnerabilities: [] }), 0);
  // Only the suppressed ones left: nothing remains, so --exit-code passes.
  assert.equal(remainingFindings({ ...r, vulnerabilities: r.vulnerabilities.filter((v) => v.suppressed) }), 0);
});

test('parseSeverities accepts any case and rejects unknown names', () => {
  assert.deepEqual(parseSeverities('CRITICAL, high,high'), ['critical', 'high']);
  assert.throws(
    () => parseSeverities('high,severe'),
    (e: unknown) =>
      e instanceof PalisadeError &&
      e.code === 'E_INPUT' &&
      e.subject === '--severity' &&
      /unknown severity "severe"/.test(e.message),
  );
});
