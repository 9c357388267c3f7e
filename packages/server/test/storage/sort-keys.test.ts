/**
 * Migration 2 copies each digest's summary onto its image rows so the images list is an index
 * range scan. These tests check the copy never drifts from `digests` (the source of truth):
 * after scans, rescans, new image rows for scanned digests, concurrent landings, and when an
 * existing database is migrated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Severity } from '@palisade/core';
import { MIGRATIONS, type FindingInput, type ImageSummary, type Storage } from '../../src/storage/index.js';
import { forEachBackend, sha, TestClock, type TestDb } from './harness.js';

function finding(id: string, severity: Severity, fixable = false, epss: number | null = null): FindingInput {
  return {
    vulnerabilityId: id,
    aliases: [],
    packageId: `p-${id}`,
    packageName: `pkg-${id}`,
    packageVersion: '1.0',
    packageType: 'deb',
    purl: `pkg:deb/debian/pkg-${id}@1.0`,
    severity,
    fixedVersions: fixable ? ['1.1'] : [],
    kev: false,
    epss,
    epssPercentile: null,
    layerDigest: null,
    title: null,
  };
}

function land(s: Storage, digest: string, at: string, findings: FindingInput[]): Promise<boolean> {
  return s.findings.replaceForDigest(digest, { scanId: `scan-${at}`, scannedAt: at, packages: [], findings });
}

/** Every image row's copy equals its digest's `digests` row (or the never-scanned defaults). */
async function assertInSync(db: TestDb): Promise<void> {
  const rows = await db.raw(
    `SELECT i.id, i.max_rank, i.total, i.fixable, i.n_critical, i.f_critical, i.n_high, i.scanned_key, i.scanned_at,
       d.max_rank AS d_max_rank, d.total AS d_total, d.fixable AS d_fixable, d.n_critical AS d_n_critical,
       d.f_critical AS d_f_critical, d.n_high AS d_n_high, d.scanned_at AS d_scanned_at
     FROM images i LEFT JOIN digests d ON d.digest = i.digest`,
  );
  for (const r of rows) {
    const want = (col: string, dflt: number): number => Number(r[`d_${col}`] ?? dflt);
    for (const col of ['total', 'fixable', 'n_critical', 'f_critical', 'n_high'])
      assert.equal(Number(r[col]), want(col, 0), `${String(r['id'])} ${col}`);
    assert.equal(Number(r['max_rank']), want('max_rank', -1), `${String(r['id'])} max_rank`);
    assert.equal(r['scanned_at'] ?? null, r['d_scanned_at'] ?? null);
    assert.equal(r['scanned_key'], r['d_scanned_at'] ?? '');
  }
}

forEachBackend((h) => {
  test('image rows carry their digest summary through scans, rescans and new image rows', async () => {
    const db = await h.fresh();
    const s = await db.open({ clock: new TestClock() });
    const a = await s.images.upsert({ registry: 'reg', repository: 'a', digest: sha(1) });
    assert.equal(a.lastScannedAt, null);
    await land(s, sha(1), '2025-03-01T00:00:00.000Z', [finding('CVE-1', 'critical', true), finding('CVE-2', 'low')]);
    // Pushed to another repository after the scan: the new row starts with the digest's counts.
    const b = await s.images.upsert({
      registry: 'reg',
      repository: 'b',
      digest: sha(1),
      pushedAt: '2025-03-02T00:00:00.000Z',
    });
    assert.equal(b.lastScannedAt, '2025-03-01T00:00:00.000Z');
    const got = (await s.images.get(b.id)) as ImageSummary;
    assert.deepEqual(
      [got.counts.critical, got.fixableCounts.critical, got.counts.low, got.total, got.worst],
      [1, 1, 1, 2, 'critical'],
    );
    await s.images.upsert({ registry: 'reg', repository: 'c', digest: sha(2) });
    await assertInSync(db);

    // A rescan updates every image of the digest.
    await land(s, sha(1), '2025-03-03T00:00:00.000Z', [finding('CVE-3', 'high')]);
    await assertInSync(db);
    const list = await s.images.list({ sort: 'severity' });
    assert.deepEqual(
      list.items.map((i) => [i.repository, i.worst, i.counts.high, i.counts.critical]),
      [
        ['b', 'high', 1, 0],
        ['a', 'high', 1, 0],
        ['c', null, 0, 0],
      ],
    );
    assert.deepEqual(
      (await s.images.list({ severity: ['critical'] })).total,
      0,
      'filters read the copied counts of the latest scan',
    );
    assert.deepEqual(
      (await s.images.list({ sort: 'lastPushed' })).items.map((i) => i.repository),
      ['b', 'c', 'a'],
      'pushed first, then never pushed by id desc',
    );
    // Re-upserting an existing image leaves its counts alone.
    await s.images.upsert({ registry: 'reg', repository: 'a', digest: sha(1), tags: ['v2'] });
    await assertInSync(db);
  });

  test('concurrent new image rows and landings of the same digest never leave a stale copy', async () => {
    const db = await h.fresh();
    const s = await db.open({ clock: new TestClock() });
    const other = await db.open({ clock: new TestClock() });
    await s.images.upsert({ registry: 'reg', repository: 'seed', digest: sha(7) });
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 12; i++) {
      work.push(other.images.upsert({ registry: 'reg', repository: `r${i}`, digest: sha(7) }));
      const at = `2025-03-01T00:00:${String(i).padStart(2, '0')}.000Z`;
      work.push(land(s, sha(7), at, [finding(`CVE-${i}`, i % 2 === 0 ? 'critical' : 'medium')]));
    }
    await Promise.all(work);
    await assertInSync(db);
    const all = await s.images.list({ limit: 500 });
    assert.equal(all.total, 13);
    assert.ok(all.items.every((i) => i.total === 1 && i.lastScannedAt === '2025-03-01T00:00:11.000Z'));
  });

  test('migration 2 fills the copies and sort keys of an existing database', async () => {
    const db = await h.fresh();
    const v1 = MIGRATIONS.filter((m) => m.version === 1);
    await (await db.open({ migrations: v1 })).close();
    // Version-1 rows, written as the version-1 code did (the current code needs the new columns).
    await db.raw(
      `INSERT INTO images (id, registry, repository, digest, tags, first_seen_at, last_pushed_at) VALUES
        ('i1', 'reg', 'a', '${sha(1)}', '[]', '2025-01-01T00:00:00.000Z', '2025-01-05T00:00:00.000Z'),
        ('i2', 'reg', 'b', '${sha(2)}', '[]', '2025-01-01T00:00:00.000Z', NULL)`,
    );
    await db.raw(
      `INSERT INTO digests (digest, scan_id, scanned_at, packages, total, fixable, max_rank, n_critical, f_critical)
       VALUES ('${sha(1)}', 's1', '2025-02-01T00:00:00.000Z', 3, 2, 1, 5, 2, 1)`,
    );
    await db.raw(
      `INSERT INTO vulnerabilities (vuln_id, severity_rank, kev, epss, affected_images, fixable_images, affected_packages, updated_at)
       VALUES ('CVE-A', 5, 0, 0.5, 1, 1, 1, 'x'), ('CVE-B', 5, 0, NULL, 1, 0, 1, 'x'), ('CVE-C', 3, 0, 0.9, 1, 0, 1, 'x')`,
    );
    const s = await db.open();
    assert.equal((await s.migrationStatus()).version, Math.max(...MIGRATIONS.map((m) => m.version)));
    await assertInSync(db);
    const list = await s.images.list();
    assert.deepEqual(
      list.items.map((i) => [i.id, i.worst, i.counts.critical, i.fixable, i.packages, i.lastScannedAt]),
      [
        ['i1', 'critical', 2, 1, 3, '2025-02-01T00:00:00.000Z'],
        ['i2', null, 0, 0, 0, null],
      ],
    );
    assert.deepEqual(
      (await s.images.list({ sort: 'lastPushed', order: 'asc' })).items.map((i) => i.id),
      ['i2', 'i1'],
    );
    assert.deepEqual(
      (await s.vulnerabilities.list({ sort: 'epss' })).items.map((v) => [
        v.id,
        v.epss === null ? null : Math.round(v.epss * 10),
      ]),
      [
        ['CVE-C', 9],
        ['CVE-A', 5],
        ['CVE-B', null],
      ],
    );
  });

  test('every list sort walks the same rows by keyset as by offset, with filters', async () => {
    const db = await h.fresh();
    const s = await db.open({ clock: new TestClock() });
    const sevs: Severity[] = ['critical', 'high', 'medium', 'low'];
    for (let i = 0; i < 24; i++) {
      await s.images.upsert({
        registry: i % 2 === 0 ? 'reg' : 'mirror',
        repository: `team/app${i % 5}`,
        digest: sha(100 + (i % 18)), // some digests shared by two images
        ...(i % 3 === 0 ? { pushedAt: `2025-02-${String(1 + (i % 9)).padStart(2, '0')}T00:00:00.000Z` } : {}),
      });
    }
    for (let d = 0; d < 15; d++) {
      const fs = Array.from({ length: d % 4 }, (_, k) =>
        finding(`CVE-${d}-${k}`, sevs[(d + k) % 4] as Severity, k % 2 === 0, k === 0 ? d / 20 : null),
      );
      await land(s, sha(100 + d), `2025-03-${String(1 + (d % 7)).padStart(2, '0')}T00:00:00.000Z`, fs);
    }
    await assertInSync(db);
    for (const filter of [
      {},
      { registry: 'reg' },
      { severity: ['high', 'critical'] as Severity[] },
      { fixable: false },
    ]) {
      for (const sort of ['severity', 'repository', 'lastScanned', 'total', 'lastPushed'] as const) {
        const full = await s.images.list({ ...filter, sort, limit: 500 });
        const walked: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await s.images.list({ ...filter, sort, limit: 5, ...(cursor ? { cursor } : {}) });
          assert.equal(page.total, full.total);
          walked.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        assert.deepEqual(
          walked,
          full.items.map((i) => i.id),
          `${sort} ${JSON.stringify(filter)}`,
        );
      }
    }
    // A text filter counts its matches in the page's own scan; the total must not depend on paging.
    const app1 = await s.images.list({ text: 'APP1', limit: 500 });
    assert.ok(app1.total > 2);
    assert.equal((await s.images.list({ text: 'app1', limit: 2 })).total, app1.total);
    assert.equal((await s.images.list({ text: 'app1', limit: 2, offset: 1 })).total, app1.total);
    const second = await s.images.list({ text: 'app1', limit: 2 });
    assert.equal((await s.images.list({ text: 'app1', limit: 2, cursor: second.nextCursor ?? '' })).total, app1.total);
    const past = await s.images.list({ text: 'app1', limit: 2, offset: 500 });
    assert.deepEqual([past.items.length, past.total], [0, app1.total]);

    for (const sort of ['severity', 'affectedImages', 'epss', 'id'] as const) {
      const full = (await s.vulnerabilities.list({ sort, limit: 500 })).items.map((v) => v.id);
      const walked: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.vulnerabilities.list({ sort, limit: 4, ...(cursor ? { cursor } : {}) });
        walked.push(...page.items.map((v) => v.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(walked, full, `vulnerabilities by ${sort}`);
    }
  });
});
