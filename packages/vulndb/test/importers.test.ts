import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fixturePath, sharedPath, tempDir } from '@palisade/testkit';
import { PalisadeError } from '@palisade/core';
import { collectPaths } from '../src/import.js';
import { extractIds } from '../src/ids.js';
import { importers } from '../src/importers/registry.js';

function feed(paths: string[], id: string): { records: number; skipped: number; withdrawn: number; date?: string } {
  const { collector } = collectPaths(paths);
  const s = collector.stats.get(id);
  assert.ok(s, `feed ${id} was read`);
  return s;
}

test('registry: one list, unique ids, all importers present', () => {
  assert.deepEqual(importers.ids().sort(), [
    'alpine-secdb',
    'debian-cve-list',
    'debian-distributions',
    'debian-dsa',
    'debian-tracker',
    'epss',
    'kev',
    'osv',
    'redhat',
  ]);
});

test('OSV Go: every file read, withdrawn ones counted apart', () => {
  const dir = sharedPath('vulndata', 'osv', 'Go');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const withdrawn = files.filter(
    (f) => 'withdrawn' in (JSON.parse(readFileSync(join(dir, f), 'utf8')) as object),
  ).length;
  const s = feed([dir], 'osv-go');
  assert.equal(s.records + s.withdrawn, files.length);
  assert.equal(s.withdrawn, withdrawn);
  assert.ok(withdrawn > 0);
  assert.equal(s.skipped, 0);
});

test('OSV PyPI YAML: 2,661 records in package folders', () => {
  const s = feed([sharedPath('vulndata', 'osv', 'PyPI')], 'osv-pypi');
  assert.equal(s.records + s.withdrawn, 2661);
  assert.equal(s.skipped, 0);
});

test('OSV YAML versions stay strings (failsafe schema)', () => {
  const { collector } = collectPaths([sharedPath('vulndata', 'osv', 'PyPI', 'aiohttp')]);
  const a = collector.advisories.get('osv-pypi\u0000PYSEC-2021-76');
  assert.ok(a);
  assert.deepEqual(a.aliases, ['CVE-2021-21330', 'GHSA-v6wp-4m6f-gcjg']);
  const e = a.affected[0];
  assert.ok(e?.versions?.includes('0.1'));
  assert.equal(e?.ranges.length, 1, 'the GIT range is dropped, the ECOSYSTEM one kept');
});

test('GHSA, Ubuntu OSV, KEV, EPSS, Red Hat, Debian samples', () => {
  const s = (id: string, ...p: string[]): ReturnType<typeof feed> =>
    feed([sharedPath('vulndata', 'samples', ...p)], id);
  assert.equal(s('ghsa', 'ghsa-npm').records, 10);
  assert.equal(s('ghsa', 'ghsa-maven').records, 3);
  assert.equal(s('ubuntu-osv', 'ubuntu-osv').records, 8);
  const kev = s('kev', 'kev-epss', 'vunnel-kev-valid-catalog-1.json');
  assert.equal(kev.records, 3);
  assert.equal(kev.date, '2025-02-19T14:08:44.502Z');
  const epss = s('epss', 'kev-epss', 'vunnel-epss-example-1.csv');
  assert.equal(epss.records, 5);
  assert.equal(epss.date, '2025-02-20T00:00:00.000Z');
  assert.equal(s('redhat', 'redhat').records, 1);
  assert.equal(s('debian-cve-list', 'vuln-list-debian-CVE').records, 15);
  assert.equal(s('debian-distributions', 'vuln-list-debian-distributions.json').records, 9);
  // 6 CVE records (two under prototypejs); chromium-browser's "releases": [] is read, not skipped.
  const tracker = s('debian-tracker', 'debian-tracker-vunnel-debian.json');
  assert.equal(tracker.records, 6);
  assert.equal(tracker.skipped, 0);
  // 10 DSA blocks, including ones without CVEs or fixes.
  assert.equal(s('debian-dsa', 'debian-dsa-list-vunnel-DSA.txt').records, 10);
});

test('EPSS gzipped reads like plain', () => {
  const t = tempDir();
  try {
    const gz = join(t.path, 'epss.csv.gz');
    writeFileSync(
      gz,
      gzipSync(readFileSync(sharedPath('vulndata', 'samples', 'kev-epss', 'vunnel-epss-example-1.csv'))),
    );
    const { collector } = collectPaths([gz]);
    assert.deepEqual(collector.epssScores.get('CVE-1999-0005'), {
      score: 0.91963,
      percentile: 0.99214,
      date: '2025-02-20',
    });
  } finally {
    t.cleanup();
  }
});

test('Alpine secdb YAML (all releases) and JSON, messy ids', () => {
  const { collector } = collectPaths([
    sharedPath('vulndata', 'alpine-secdb'),
    sharedPath('vulndata', 'samples', 'alpine'),
  ]);
  const s = collector.stats.get('alpine-secdb');
  assert.ok(s && s.records > 2000);
  // "CVE-2017-8904 XSA-214": the CVE leads, the XSA is an alias.
  assert.deepEqual(collector.advisories.get('alpine-secdb\u0000CVE-2017-8904')?.aliases, ['XSA-214']);
  // "0" lists not-affected ids: no entry for openssl 3.20 CVE-2022-1292.
  const nf = collector.advisories.get('alpine-secdb\u0000CVE-2022-1292');
  assert.ok(!nf?.affected.some((e) => e.ecosystem === 'alpine:3.20' && e.name === 'openssl'));
  // "2.8.0-r0": {} in 312-main.json is tolerated.
  assert.ok(
    collector.advisories.get('alpine-secdb\u0000CVE-2018-16876')?.affected.some((e) => e.ecosystem === 'alpine:3.12'),
  );
});

test('extractIds handles the real secdb oddities', () => {
  assert.deepEqual(extractIds('CVE-2017-8904 XSA-214'), ['CVE-2017-8904', 'XSA-214']);
  assert.deepEqual(extractIds('CVE-2018-16301 (was fixed in libpcap)'), ['CVE-2018-16301']);
  assert.deepEqual(extractIds('CVE_2019-2426'), ['CVE-2019-2426']);
  assert.deepEqual(extractIds('CVE 2018-16859'), ['CVE-2018-16859']);
  assert.deepEqual(extractIds('CVE-2019-19451.patch'), ['CVE-2019-19451']);
  assert.deepEqual(extractIds('CVE-????-?????  XSA-295'), ['XSA-295']);
  assert.deepEqual(extractIds(' CVE-2017-11610  '), ['CVE-2017-11610']);
  assert.deepEqual(extractIds('(comment only)'), []);
});

test('malformed records are skipped and counted, with the file named', () => {
  const { collector } = collectPaths([
    fixturePath('vulndb', 'corrupt', 'epss-bad-rows.csv'),
    fixturePath('vulndb', 'corrupt', 'osv-bad.json'),
    fixturePath('vulndb', 'constructed', 'debian-nodsa.json'),
  ]);
  assert.equal(collector.stats.get('epss')?.records, 1);
  assert.equal(collector.stats.get('epss')?.skipped, 3);
  assert.equal(collector.stats.get('ghsa')?.skipped, 1);
  assert.equal(collector.stats.get('debian-tracker')?.skipped, 1);
  assert.ok(collector.warnings.some((w) => w.includes('epss-bad-rows.csv:4') && w.includes('malformed row')));
  assert.ok(collector.warnings.some((w) => w.includes('osv-bad.json') && w.includes('not a list')));
  assert.ok(collector.warnings.some((w) => w.includes('demo-src/CVE-2099-1001')));
});

test('a corrupt file given explicitly is an E_CORRUPT error naming it; in a folder it is skipped', () => {
  const bad = fixturePath('vulndb', 'corrupt', 'truncated-tracker.json');
  assert.throws(
    () => collectPaths([bad]),
    (e: unknown) => e instanceof PalisadeError && e.code === 'E_CORRUPT' && e.subject === bad,
  );
  const { collector, skipped } = collectPaths([fixturePath('vulndb', 'corrupt')]);
  assert.equal(skipped, 2, 'truncated JSON and the unknown-format text file');
  assert.ok(collector.warnings.some((w) => w.startsWith(bad)));
  const txt = fixturePath('vulndb', 'corrupt', 'notes.txt');
  assert.throws(
    () => collectPaths([txt]),
    (e: unknown) => e instanceof PalisadeError && e.code === 'E_UNSUPPORTED' && e.subject === txt,
  );
});
