/**
 * Matching checked against a reading of real advisories by hand: each expectation below was
 * written from the record text in ../shared/vulndata (quoted in comments), not from the code.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, sharedPath, tempDir } from '@palisade/testkit';
import type { OsInfo, Package, VulnerabilityMatch } from '@palisade/core';
import { importPaths } from '../src/import.js';
import { openVulnDb, type SqliteVulnDb } from '../src/match/matcher.js';
import { ALPINE_310, DEBIAN_11, DEBIAN_12, UBUNTU_2204, pkg, testSchemes } from './helpers.js';

let db: SqliteVulnDb;
let cleanup: () => void;

before(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const dbPath = join(t.path, 'all.db');
  await importPaths([sharedPath('vulndata'), fixturePath('vulndb', 'constructed')], dbPath, {
    now: new Date('2025-03-01T00:00:00Z'),
  });
  db = openVulnDb(dbPath, { schemes: testSchemes });
});

after(() => {
  db.close();
  cleanup();
});

function ids(p: Package, os?: OsInfo): string[] {
  return db.match([p], os).map((m) => m.id);
}

function one(p: Package, os: OsInfo | undefined, id: string): VulnerabilityMatch | undefined {
  return db.match([p], os).find((m) => m.id === id);
}

const DEBIAN_10: OsInfo = { family: 'debian', id: 'debian', version: '10' };
const DEBIAN_13: OsInfo = { family: 'debian', id: 'debian', version: '13' };

test('Debian tracker: chromium CVE-2022-0456 bookworm resolved fixed_version 98.0.4758.80-1', () => {
  const id = 'CVE-2022-0456';
  const m = one(pkg('deb', 'chromium', '98.0.4758.79-1'), DEBIAN_12, id);
  assert.equal(m?.status, 'fixed');
  assert.deepEqual(m?.fixedVersions, ['98.0.4758.80-1']);
  assert.equal(m?.dataSource.feed, 'debian-tracker');
  assert.ok(!ids(pkg('deb', 'chromium', '98.0.4758.80-1'), DEBIAN_12).includes(id));
  assert.ok(!ids(pkg('deb', 'chromium', '98.0.4758.102-1'), DEBIAN_12).includes(id));
  // bullseye's own fix is 98.0.4758.80-1~deb11u1, which sorts below 98.0.4758.80-1.
  assert.deepEqual(one(pkg('deb', 'chromium', '90.0.4430.212-1'), DEBIAN_11, id)?.fixedVersions, [
    '98.0.4758.80-1~deb11u1',
  ]);
  assert.ok(!ids(pkg('deb', 'chromium', '98.0.4758.80-1~deb11u1'), DEBIAN_11).includes(id));
  // buster: status open, urgency end-of-life.
  assert.equal(one(pkg('deb', 'chromium', '99.0-1'), DEBIAN_10, id)?.status, 'end-of-life');
});

test('Debian tracker: fixed_version "0" is not-affected (prototypejs CVE-2007-2383) and urgency maps severity', () => {
  assert.ok(!ids(pkg('deb', 'prototypejs', '1.0-1'), DEBIAN_10).includes('CVE-2007-2383'));
  // CVE-2008-7220: buster fixed 1.6.0.2-1, urgency "high**".
  const m = one(pkg('deb', 'prototypejs', '1.6.0.1-1'), DEBIAN_10, 'CVE-2008-7220');
  assert.equal(m?.severity, 'high');
  assert.equal(m?.severitySource, 'debian');
  assert.ok(!ids(pkg('deb', 'prototypejs', '1.6.0.2-1'), DEBIAN_10).includes('CVE-2008-7220'));
});

test('Debian: source package decides, binary is reported; no-dsa and not-affected from data/CVE/list', () => {
  // CVE-2023-7008: "[bookworm] - systemd <no-dsa> (Minor issue)".
  const m = one(
    pkg('deb', 'libsystemd0', '252.22-1~deb12u1', { source: { name: 'systemd' } }),
    DEBIAN_12,
    'CVE-2023-7008',
  );
  assert.equal(m?.status, 'no-dsa');
  assert.deepEqual(m?.matchedOn, { name: 'systemd', kind: 'source' });
  assert.equal(m?.package.name, 'libsystemd0');
  assert.deepEqual(
    ids(pkg('deb', 'libsystemd0', '252.22-1~deb12u1'), DEBIAN_12),
    [],
    'the binary name alone has no advisory',
  );
  // CVE-2024-0684: "[bookworm] - coreutils <not-affected>", unstable fixed in 9.5-1.
  assert.ok(!ids(pkg('deb', 'coreutils', '9.1-1'), DEBIAN_12).includes('CVE-2024-0684'));
  assert.equal(one(pkg('deb', 'coreutils', '9.4-3'), DEBIAN_13, 'CVE-2024-0684')?.status, 'fixed');
  // CVE-2024-0727: "[bookworm] - openssl 3.0.13-1~deb12u1".
  assert.deepEqual(
    one(pkg('deb', 'libssl3', '3.0.11-1~deb12u2', { source: { name: 'openssl' } }), DEBIAN_12, 'CVE-2024-0727')
      ?.fixedVersions,
    ['3.0.13-1~deb12u1'],
  );
  assert.ok(
    !ids(pkg('deb', 'libssl3', '3.0.13-1~deb12u1', { source: { name: 'openssl' } }), DEBIAN_12).includes(
      'CVE-2024-0727',
    ),
  );
  // CVE-2024-5535: "[bookworm] - openssl <postponed>".
  assert.equal(one(pkg('deb', 'openssl', '3.0.15-1~deb12u1'), DEBIAN_12, 'CVE-2024-5535')?.status, 'postponed');
});

test('Debian tracker nodsa / nodsa_reason / plain open (constructed fixture)', () => {
  const p = pkg('deb', 'demo-src', '1.0-1');
  assert.equal(one(p, DEBIAN_12, 'CVE-2099-1000')?.status, 'no-dsa');
  assert.equal(one(p, DEBIAN_11, 'CVE-2099-1000')?.status, 'postponed');
  assert.equal(one(p, DEBIAN_10, 'CVE-2099-1000')?.status, 'ignored');
  assert.equal(one(p, DEBIAN_10, 'CVE-2099-1000')?.severity, 'negligible');
  assert.equal(one(p, DEBIAN_13, 'CVE-2099-1000')?.status, 'affected');
});

test('release streams: Debian 12 data never matches Debian 11, Ubuntu or no OS', () => {
  assert.deepEqual(ids(pkg('deb', 'chromium', '98.0.4758.79-1'), undefined), []);
  assert.deepEqual(ids(pkg('deb', 'chromium', '98.0.4758.79-1'), UBUNTU_2204), []);
  assert.deepEqual(ids(pkg('npm', 'chromium', '1.0.0'), DEBIAN_12), [], 'a language package never meets distro data');
});

test('Ubuntu OSV: 22.04 stream only (Pro streams ignored), source package, alias dedup', () => {
  // UBUNTU-CVE-2024-6119: Ubuntu:22.04:LTS openssl fixed 3.0.2-0ubuntu1.18; Pro streams have no fix.
  const p = pkg('deb', 'libssl3', '3.0.2-0ubuntu1.17', { source: { name: 'openssl' } });
  const m = one(p, UBUNTU_2204, 'CVE-2024-6119');
  assert.deepEqual(m?.fixedVersions, ['3.0.2-0ubuntu1.18']);
  assert.ok(m?.aliases.includes('UBUNTU-CVE-2024-6119'));
  assert.equal(m?.severity, 'medium', 'Ubuntu priority "medium"');
  assert.ok(!ids({ ...p, version: '3.0.2-0ubuntu1.18' }, UBUNTU_2204).includes('CVE-2024-6119'));
  // glibc: UBUNTU-CVE-2023-4911 and USN-6409-1 (fixed 2.35-0ubuntu3.4).
  const g = db.match([pkg('deb', 'libc6', '2.35-0ubuntu3.3', { source: { name: 'glibc' } })], UBUNTU_2204);
  assert.equal(g.filter((x) => x.id === 'CVE-2023-4911').length, 1);
  assert.ok(g.every((x) => x.status === 'fixed'));
});

test('Alpine secdb: v3.10 ansible 2.8.4-r0 fixes CVE-2019-10206 (origin package, release stream)', () => {
  assert.deepEqual(one(pkg('apk', 'ansible', '2.8.3-r0'), ALPINE_310, 'CVE-2019-10206')?.fixedVersions, ['2.8.4-r0']);
  assert.ok(!ids(pkg('apk', 'ansible', '2.8.4-r0'), ALPINE_310).includes('CVE-2019-10206'));
  assert.ok(!ids(pkg('apk', 'ansible', '2.8.5-r0'), ALPINE_310).includes('CVE-2019-10206'));
  assert.deepEqual(ids(pkg('apk', 'ansible', '2.8.3-r0'), { family: 'alpine', id: 'alpine', version: '3.99.1' }), []);
  // 3.20 openssl: "0" lists CVE-2022-1292 (not affected); 3.1.4-r5 fixes CVE-2024-0727.
  const a320: OsInfo = { family: 'alpine', id: 'alpine', version: '3.20.3' };
  const o = ids(pkg('apk', 'libcrypto3', '3.1.4-r4', { source: { name: 'openssl' } }), a320);
  assert.ok(o.includes('CVE-2024-0727') && !o.includes('CVE-2022-1292'));
  // No vendor severity, no CVSS: unknown.
  assert.equal(one(pkg('apk', 'ansible', '2.8.3-r0'), ALPINE_310, 'CVE-2019-10206')?.severity, 'unknown');
});

test('Go: GO-2020-0001 gin introduced 0 fixed 1.6.0, and stdlib "1.16.0-0" bounds (GO-2021-0067)', () => {
  const gin = (v: string): string[] => ids(pkg('golang', 'github.com/gin-gonic/gin', v));
  assert.ok(gin('v1.5.0').includes('CVE-2020-36567'));
  assert.ok(!gin('v1.6.0').includes('CVE-2020-36567'));
  assert.ok(!gin('v1.7.0').includes('CVE-2020-36567'));
  const m = one(pkg('golang', 'github.com/gin-gonic/gin', 'v1.5.0'), undefined, 'CVE-2020-36567');
  assert.deepEqual(m?.aliases, ['GHSA-6vm3-jj99-7229', 'GO-2020-0001']);
  const rec = JSON.parse(readFileSync(sharedPath('vulndata', 'osv', 'Go', 'GO-2021-0067.json'), 'utf8')) as {
    aliases: string[];
  };
  const cve = rec.aliases.find((a) => a.startsWith('CVE-')) ?? 'GO-2021-0067';
  const std = (v: string): boolean => db.match([pkg('golang', 'stdlib', v)], undefined).some((x) => x.id === cve);
  assert.equal(std('go1.15.9'), false, 'below introduced 1.16.0-0');
  assert.equal(std('1.16.0-0'), true);
  assert.equal(std('go1.16.0'), true);
  assert.equal(std('1.16.1'), false, 'fixed');
});

test('PyPI: PYSEC-2021-76 aiohttp fixed 3.7.4 with PEP 503 names; PYSEC-2024-1 versions list only', () => {
  const a = (name: string, v: string): string[] => ids(pkg('pypi', name, v));
  assert.ok(a('AioHTTP', '3.7.3').includes('CVE-2021-21330'));
  assert.ok(!a('aiohttp', '3.7.4').includes('CVE-2021-21330'));
  assert.ok(!a('aiohttp', '3.8.0').includes('CVE-2021-21330'));
  // gratient: "versions: ['0.5']", no ECOSYSTEM range: exact membership only.
  const g = (v: string): boolean =>
    db
      .match([pkg('pypi', 'gratient', v)], undefined)
      .some((x) => x.aliases.includes('PYSEC-2024-1') || x.id === 'PYSEC-2024-1');
  assert.equal(g('0.5'), true);
  assert.equal(g('0.4'), false);
  assert.equal(g('0.6'), false);
});

test('GHSA npm: several affected entries (semver), severity from database_specific', () => {
  const s = (v: string): VulnerabilityMatch | undefined => one(pkg('npm', 'semver', v), undefined, 'CVE-2022-25883');
  assert.deepEqual(s('6.3.0')?.fixedVersions, ['6.3.1']);
  assert.deepEqual(s('7.5.1')?.fixedVersions, ['7.5.2']);
  assert.deepEqual(s('5.7.1')?.fixedVersions, ['5.7.2']);
  assert.equal(s('6.3.1'), undefined);
  assert.equal(s('7.5.2'), undefined);
  assert.equal(s('5.7.2'), undefined);
  assert.equal(s('6.3.0')?.severity, 'medium');
  assert.equal(s('6.3.0')?.severitySource, 'ghsa');
  // log4j-core (Maven group:artifact from the purl), critical, KEV-less sample.
  const l = one(pkg('maven', 'org.apache.logging.log4j:log4j-core', '2.14.1'), undefined, 'CVE-2021-44228');
  assert.equal(l?.severity, 'critical');
  assert.ok(l?.cvss.some((c) => c.version === '3.1' && c.score === 10));
});

test('last_affected and limit (constructed record)', () => {
  const la = (v: string): boolean => ids(pkg('npm', 'last-affected-demo', v)).includes('CVE-2099-0001');
  assert.equal(la('1.1.9'), false);
  assert.equal(la('1.2.0'), true);
  assert.equal(la('1.4.2'), true);
  assert.equal(la('1.4.3'), false);
  const lim = (v: string): boolean => ids(pkg('npm', 'limit-demo', v)).includes('CVE-2099-0001');
  assert.equal(lim('1.9.9'), true);
  assert.equal(lim('2.0.0'), false);
  assert.equal(one(pkg('npm', 'last-affected-demo', '1.3.0'), undefined, 'CVE-2099-0001')?.status, 'affected');
});

test('withdrawn records never match (GO-2022-0617 k8s.io/kubernetes)', () => {
  const m = db.match([pkg('golang', 'k8s.io/kubernetes', 'v1.0.0')], undefined);
  assert.ok(!m.some((x) => x.id === 'GO-2022-0617' || x.aliases.includes('GO-2022-0617')));
});

test('output is sorted and deterministic', () => {
  const ps = [
    pkg('npm', 'semver', '6.3.0'),
    pkg('pypi', 'aiohttp', '3.7.3'),
    pkg('golang', 'github.com/gin-gonic/gin', 'v1.5.0'),
  ];
  const a = db.match(ps, undefined);
  const b = db.match([...ps].reverse(), undefined);
  assert.deepEqual(a, b);
  const keys = a.map((m) => `${m.package.name}\u0000${m.id}`);
  assert.deepEqual(keys, [...keys].sort());
});

interface GoRecord {
  id: string;
  aliases?: string[];
  withdrawn?: string;
  affected?: Array<{
    package: { name: string };
    ranges?: Array<{ type: string; events: Array<Record<string, string>> }>;
    versions?: string[];
  }>;
}

test('sweep over every Go OSV record: fixed boundaries do not match, introduced boundaries do', () => {
  const dir = sharedPath('vulndata', 'osv', 'Go');
  const probes: Array<{ pkg: Package; rec: string; expect: boolean }> = [];
  for (const f of readdirSync(dir).sort()) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as GoRecord;
    if (r.withdrawn) continue;
    const byName = new Map<string, number>();
    for (const a of r.affected ?? []) byName.set(a.package.name, (byName.get(a.package.name) ?? 0) + 1);
    for (const a of r.affected ?? []) {
      // Keep the reading simple: one entry, one range, no versions list for that package.
      if (byName.get(a.package.name) !== 1 || (a.ranges ?? []).length !== 1 || (a.versions ?? []).length > 0) continue;
      const events = a.ranges?.[0]?.events ?? [];
      const introduced = events.map((e) => e.introduced).filter((v): v is string => v !== undefined);
      const fixed = events.map((e) => e.fixed).filter((v): v is string => v !== undefined);
      for (const v of fixed)
        if (!introduced.includes(v)) probes.push({ pkg: pkg('golang', a.package.name, v), rec: r.id, expect: false });
      for (const v of introduced)
        if (v !== '0' && !fixed.includes(v))
          probes.push({ pkg: pkg('golang', a.package.name, v), rec: r.id, expect: true });
    }
  }
  assert.ok(probes.length > 3000, `probes: ${probes.length}`);
  const failures: string[] = [];
  for (const p of probes) {
    const got = db.match([p.pkg], undefined).some((m) => m.id === p.rec || m.aliases.includes(p.rec));
    if (got !== p.expect)
      failures.push(`${p.rec} ${p.pkg.name}@${p.pkg.version}: expected ${p.expect ? 'match' : 'no match'}`);
  }
  assert.deepEqual(failures.slice(0, 10), []);
});
