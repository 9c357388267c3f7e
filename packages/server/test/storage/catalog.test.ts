import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPalisadeError, type ScanReport, type Severity } from '@palisade/core';
import {
  resultFromReport,
  type FindingInput,
  type ImageSummary,
  type PackageRecord,
  type Storage,
} from '../../src/storage/index.js';
import { forEachBackend, sha, TestClock } from './harness.js';

function pkg(name: string, version = '1.0'): PackageRecord {
  return {
    id: `p-${name}`,
    name,
    version,
    type: 'deb',
    purl: `pkg:deb/debian/${name}@${version}`,
    licenses: ['MIT'],
    layerDigest: sha(999),
  };
}

function vuln(
  id: string,
  pkgName: string,
  severity: Severity,
  fixed = false,
  extra: Partial<FindingInput> = {},
): FindingInput {
  return {
    vulnerabilityId: id,
    aliases: [`GHSA-${id}`],
    packageId: `p-${pkgName}`,
    packageName: pkgName,
    packageVersion: '1.0',
    packageType: 'deb',
    purl: `pkg:deb/debian/${pkgName}@1.0`,
    severity,
    fixedVersions: fixed ? ['1.1'] : [],
    kev: false,
    epss: null,
    epssPercentile: null,
    layerDigest: sha(999),
    title: `${id} in ${pkgName}`,
    ...extra,
  };
}

async function land(s: Storage, digest: string, at: string, findings: FindingInput[]): Promise<boolean> {
  const pkgs = [...new Set(findings.map((f) => f.packageName))].map((n) => pkg(n));
  return s.findings.replaceForDigest(digest, { scanId: null, scannedAt: at, packages: pkgs, findings });
}

forEachBackend((h) => {
  test('a new scan replaces the findings of a digest atomically, and older results never win', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock });
    const img = await s.images.upsert({
      registry: 'r',
      repository: 'app',
      digest: sha(1),
      tags: ['1.0'],
      pushedAt: '2025-01-02T00:00:00.000Z',
    });
    await s.images.upsert({
      registry: 'r',
      repository: 'app',
      digest: sha(1),
      tags: ['latest', '1.0'],
      pushedAt: '2025-01-01T00:00:00.000Z',
    });
    const rec = await s.images.get(img.id);
    assert.deepEqual(rec?.tags, ['1.0', 'latest']);
    assert.equal(rec?.lastPushedAt, '2025-01-02T00:00:00.000Z', 'timestamps only move forward');
    assert.equal(rec?.worst, null);

    assert.ok(
      await land(s, sha(1), '2025-03-01T00:00:00.000Z', [
        vuln('CVE-1', 'openssl', 'critical', true),
        vuln('CVE-2', 'zlib', 'high'),
        vuln('CVE-3', 'zlib', 'low'),
      ]),
    );
    let sum = await s.images.get(img.id);
    assert.deepEqual(sum?.counts, { critical: 1, high: 1, medium: 0, low: 1, negligible: 0, unknown: 0 });
    assert.equal(sum?.fixableCounts.critical, 1);
    assert.equal(sum?.total, 3);
    assert.equal(sum?.fixable, 1);
    assert.equal(sum?.worst, 'critical');
    assert.equal(sum?.packages, 2);
    assert.deepEqual(
      (await s.vulnerabilities.list({ sort: 'id' })).items.map((v) => v.id),
      ['CVE-1', 'CVE-2', 'CVE-3'],
    );

    assert.ok(
      await land(s, sha(1), '2025-03-02T00:00:00.000Z', [
        vuln('CVE-2', 'zlib', 'high', true),
        vuln('CVE-4', 'curl', 'medium'),
      ]),
    );
    sum = await s.images.get(img.id);
    assert.deepEqual(sum?.counts, { critical: 0, high: 1, medium: 1, low: 0, negligible: 0, unknown: 0 });
    assert.equal(sum?.lastScannedAt, '2025-03-02T00:00:00.000Z');
    assert.deepEqual(
      (await s.findings.forDigest(sha(1))).map((f) => f.vulnerabilityId),
      ['CVE-2', 'CVE-4'],
    );
    assert.deepEqual(
      (await s.vulnerabilities.list({ sort: 'id' })).items.map((v) => v.id),
      ['CVE-2', 'CVE-4'],
      'vanished vulnerabilities leave the list',
    );
    assert.equal((await s.vulnerabilities.get('CVE-2'))?.fixableImages, 1);

    assert.equal(
      await land(s, sha(1), '2025-03-01T12:00:00.000Z', [vuln('CVE-9', 'x', 'critical')]),
      false,
      'an older scan landing late is ignored',
    );
    assert.equal((await s.findings.forDigest(sha(1))).length, 2);

    // A transaction that fails after replacing leaves the previous set in place.
    await assert.rejects(
      s.withTransaction(async (tx) => {
        await land(tx, sha(1), '2025-03-03T00:00:00.000Z', [vuln('CVE-5', 'bash', 'critical')]);
        assert.equal((await tx.findings.forDigest(sha(1))).length, 1);
        throw new Error('scan crashed while landing');
      }),
      /scan crashed/,
    );
    assert.deepEqual(
      (await s.findings.forDigest(sha(1))).map((f) => f.vulnerabilityId),
      ['CVE-2', 'CVE-4'],
    );
    assert.equal(await s.vulnerabilities.get('CVE-5'), null);
  });

  test('images list: filters, sorting, offset and keyset paging', async () => {
    const db = await h.fresh();
    const s = await db.open({ clock: new TestClock() });
    // 30 images in three repositories; image i has i%4 criticals (fixable when i is even) and one low.
    for (let i = 0; i < 30; i++) {
      const repo = ['web', 'api', 'worker'][i % 3] as string;
      await s.images.upsert({
        registry: 'reg',
        repository: `team/${repo}`,
        digest: sha(i + 1),
        tags: [`v${i}`, i === 7 ? 'Special_100%' : 'x'],
      });
      const fs = [vuln(`CVE-L${i}`, 'libc', 'low')];
      for (let c = 0; c < i % 4; c++) fs.push(vuln(`CVE-C${c}`, `pkg${c}`, 'critical', i % 2 === 0));
      if (i < 25) await land(s, sha(i + 1), `2025-02-${String(1 + (i % 28)).padStart(2, '0')}T00:00:00.000Z`, fs);
    }
    const all = await s.images.list({ limit: 500 });
    assert.equal(all.total, 30);
    assert.equal(all.items.length, 30);
    assert.equal(all.nextCursor, null);
    assertSorted(all.items, (a, b) => rankKey(b) - rankKey(a) || 0);

    assert.equal((await s.images.list({ repository: 'team/web' })).total, 10);
    assert.deepEqual(
      (await s.images.list({ text: 'SPECIAL_100%' })).items.map((i) => i.tags),
      [['Special_100%', 'v7']],
    );
    assert.equal((await s.images.list({ text: '_100%x' })).total, 0, 'LIKE wildcards in the text are literal');
    assert.equal((await s.images.list({ text: sha(3).slice(-8) })).total, 1);
    const crit = await s.images.list({ severity: ['critical'], limit: 500 });
    assert.ok(crit.items.every((i) => i.counts.critical > 0));
    assert.equal(crit.total, [...Array(25).keys()].filter((i) => i % 4 > 0).length);
    const critFix = await s.images.list({ severity: ['critical'], fixable: true, limit: 500 });
    assert.ok(critFix.items.every((i) => i.fixableCounts.critical > 0));
    assert.equal(critFix.total, [...Array(25).keys()].filter((i) => i % 4 > 0 && i % 2 === 0).length);
    const noFix = await s.images.list({ fixable: false, limit: 500 });
    assert.ok(noFix.items.every((i) => i.fixable === 0));
    assert.equal(noFix.total, 30 - critFix.total);

    const byRepo = await s.images.list({ sort: 'repository', order: 'asc', limit: 500 });
    assertSorted(byRepo.items, (a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));

    for (const sort of ['severity', 'repository', 'lastScanned', 'total', 'lastPushed'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const full = (await s.images.list({ sort, order, limit: 500 })).items.map((i) => i.id);
        const walked: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await s.images.list({ sort, order, limit: 7, ...(cursor ? { cursor } : {}) });
          walked.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        assert.deepEqual(walked, full, `keyset walk by ${sort} ${order}`);
        const offsetWalk: string[] = [];
        for (let off = 0; off < 30; off += 8)
          offsetWalk.push(...(await s.images.list({ sort, order, limit: 8, offset: off })).items.map((i) => i.id));
        assert.deepEqual(offsetWalk, full, `offset walk by ${sort} ${order}`);
      }
    }
    await assert.rejects(
      s.images.list({ cursor: 'garbage' }),
      (e: unknown) => isPalisadeError(e) && e.code === 'E_INPUT',
    );
    await assert.rejects(s.images.list({ severity: ['severe' as Severity] }), /unknown severity/);
  });

  test('vulnerabilities across images: counts, filters, paging, affected images', async () => {
    const db = await h.fresh();
    const s = await db.open({ clock: new TestClock() });
    for (let i = 0; i < 6; i++) {
      await s.images.upsert({ registry: 'reg', repository: `app${i}`, digest: sha(i + 1) });
      const fs = [
        vuln('CVE-2024-0001', 'openssl', 'critical', i < 2, { kev: true, epss: 0.9 }),
        vuln(`CVE-2023-${i}`, 'zlib', 'medium'),
      ];
      if (i % 2 === 0)
        fs.push(vuln('GHSA-aaaa', 'lodash', 'high', true, { packageType: 'npm', purl: 'pkg:npm/lodash@1.0' }));
      await land(s, sha(i + 1), '2025-03-01T00:00:00.000Z', fs);
    }
    const top = await s.vulnerabilities.list({ sort: 'affectedImages' });
    assert.equal(top.total, 8);
    assert.deepEqual(
      top.items.slice(0, 2).map((v) => [v.id, v.affectedImages]),
      [
        ['CVE-2024-0001', 6],
        ['GHSA-aaaa', 3],
      ],
    );
    const kev = await s.vulnerabilities.list({ kev: true });
    assert.deepEqual(
      kev.items.map((v) => [v.id, v.severity, v.kev, v.epss, v.fixableImages]),
      [['CVE-2024-0001', 'critical', true, 0.9, 2]],
    );
    assert.equal((await s.vulnerabilities.list({ severity: ['medium'] })).total, 6);
    assert.equal((await s.vulnerabilities.list({ fixable: true })).total, 2);
    assert.equal((await s.vulnerabilities.list({ fixable: false })).total, 6);
    assert.equal((await s.vulnerabilities.list({ id: 'CVE-2023-*' })).total, 6);
    assert.equal((await s.vulnerabilities.list({ id: 'GHSA-aaaa' })).total, 1);
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.vulnerabilities.list({ sort: 'severity', limit: 3, ...(cursor ? { cursor } : {}) });
      walked.push(...page.items.map((v) => v.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(
      walked,
      (await s.vulnerabilities.list({ sort: 'severity' })).items.map((v) => v.id),
    );
    assert.equal(new Set(walked).size, 8);

    const affected = await s.vulnerabilities.affectedImages('CVE-2024-0001', { limit: 4 });
    assert.equal(affected.total, 6);
    assert.deepEqual(
      affected.items.map((a) => a.image.repository),
      ['app0', 'app1', 'app2', 'app3'],
    );
    assert.deepEqual(affected.items[0]?.fixedVersions, ['1.1']);
  });

  test('image detail, trend snapshots, and deleting the last image of a digest', async () => {
    const db = await h.fresh();
    const clock = new TestClock('2025-03-01T10:00:00.000Z');
    const s = await db.open({ clock });
    const a = await s.images.upsert({ registry: 'reg', repository: 'a', digest: sha(1) });
    const b = await s.images.upsert({ registry: 'reg', repository: 'b', digest: sha(2) });
    await s.images.upsert({ registry: 'reg', repository: 'c', digest: sha(3) });
    await land(s, sha(1), '2025-03-01T00:00:00.000Z', [
      vuln('CVE-1', 'zlib', 'low'),
      vuln('CVE-2', 'openssl', 'critical', true),
    ]);
    await land(s, sha(2), '2025-03-01T00:00:00.000Z', []);
    const detail = await s.images.detail(a.id);
    assert.deepEqual(
      detail?.packages.map((p) => p.name),
      ['openssl', 'zlib'],
    );
    assert.deepEqual(
      detail?.vulnerabilities.map((v) => [v.vulnerabilityId, v.severity, v.fixable]),
      [
        ['CVE-2', 'critical', true],
        ['CVE-1', 'low', false],
      ],
    );
    assert.equal(await s.images.detail('nope'), null);

    const day1 = await s.trends.snapshot();
    assert.deepEqual(day1, {
      day: '2025-03-01',
      images: 3,
      clean: 1,
      unscanned: 1,
      critical: 1,
      high: 0,
      medium: 0,
      low: 0,
      negligible: 0,
      unknown: 0,
    });
    clock.advance(86_400_000);
    await land(s, sha(2), '2025-03-02T00:00:00.000Z', [vuln('CVE-3', 'bash', 'high')]);
    await s.trends.snapshot();
    await s.trends.snapshot(); // again the same day: replaces
    const points = await s.trends.range('2025-02-01', '2025-03-31');
    assert.deepEqual(
      points.map((p) => [p.day, p.critical, p.high, p.clean]),
      [
        ['2025-03-01', 1, 0, 1],
        ['2025-03-02', 1, 1, 0],
      ],
    );

    // Another image with the same digest keeps the findings; deleting the last one drops them.
    const a2 = await s.images.upsert({ registry: 'mirror', repository: 'a', digest: sha(1) });
    assert.equal((await s.images.get(a2.id))?.counts.critical, 1, 'findings are per digest, shared by its images');
    assert.ok(await s.images.delete(a.id));
    assert.equal((await s.vulnerabilities.get('CVE-2'))?.affectedImages, 1);
    assert.ok(await s.images.delete(a2.id));
    assert.equal(await s.vulnerabilities.get('CVE-2'), null);
    assert.equal(await s.images.delete(a2.id), false);
    assert.ok(await s.images.get(b.id));
  });

  test('scans: lifecycle, report kept, findings landed in the same transaction', async () => {
    const db = await h.fresh();
    const clock = new TestClock();
    const s = await db.open({ clock });
    const scan = await s.scans.create({ imageRef: 'reg/app:1' });
    assert.equal(scan.status, 'queued');
    clock.advance(1000);
    const started = await s.scans.start(scan.id);
    assert.equal(started?.status, 'running');
    assert.equal(started?.attempts, 1);
    clock.advance(2500);
    const report = minimalReport(sha(42), clock.now().toISOString());
    await s.withTransaction(async (tx) => {
      await tx.images.upsert({ registry: 'reg', repository: 'app', digest: sha(42), tags: ['1'] });
      await tx.findings.replaceForDigest(sha(42), resultFromReport(report, scan.id));
      await tx.scans.succeed(scan.id, report);
    });
    const done = await s.scans.get(scan.id);
    assert.equal(done?.status, 'succeeded');
    assert.equal(done?.digest, sha(42));
    assert.equal(done?.durationMs, 2500);
    assert.deepEqual(await s.scans.report(scan.id), report);
    const img = await s.images.find('reg', 'app', sha(42));
    assert.equal(img?.scanId, scan.id);
    assert.equal(img?.counts.high, 1, 'the suppressed finding is not stored');
    assert.equal(img?.packages, 1);

    const other = await s.scans.create({ imageRef: 'reg/app:2' });
    await s.scans.start(other.id);
    assert.equal((await s.scans.fail(other.id, 'E_REGISTRY: 503'))?.error, 'E_REGISTRY: 503');
    assert.equal((await s.scans.list({ status: 'failed' })).total, 1);
    assert.equal((await s.scans.list()).total, 2);
    assert.equal(await s.scans.get('nope'), null);
  });
});

function rankKey(i: ImageSummary): number {
  const ranks: Record<string, number> = { critical: 5, high: 4, medium: 3, low: 2, negligible: 1, unknown: 0 };
  return (i.worst === null ? -1 : (ranks[i.worst] ?? 0)) * 1000 + i.counts.critical;
}

function assertSorted<T>(items: T[], cmp: (a: T, b: T) => number): void {
  for (let k = 1; k < items.length; k++) assert.ok(cmp(items[k - 1] as T, items[k] as T) <= 0, `out of order at ${k}`);
}

function minimalReport(digest: string, createdAt: string): ScanReport {
  const p = {
    id: 'pkg-1',
    name: 'openssl',
    version: '3.0.1',
    type: 'deb' as const,
    purl: 'pkg:deb/debian/openssl@3.0.1',
    locations: [{ path: 'var/lib/dpkg/status', layerDigest: sha(7) }],
    foundBy: 'dpkg',
  };
  const v = (id: string, suppressed: boolean): ScanReport['vulnerabilities'][number] => ({
    id,
    aliases: [],
    package: { id: p.id, name: p.name, version: p.version, type: p.type, purl: p.purl },
    installedVersion: p.version,
    fixedVersions: ['3.0.2'],
    status: 'fixed',
    severity: 'high',
    severitySource: 'debian',
    cvss: [],
    dataSource: { feed: 'debian', id },
    references: [],
    ...(suppressed ? { suppressed: { by: 'vex', status: 'not_affected' } } : {}),
  });
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: '0.1.0' },
    createdAt,
    artifact: { name: 'reg/app:1', kind: 'registry', digest, layers: [] },
    packages: [p],
    vulnerabilities: [v('CVE-2024-1', false), v('CVE-2024-2', true)],
    warnings: [],
  };
}
