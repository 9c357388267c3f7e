/**
 * Rematching after a DB update, on both backends: an inventory stored from a real scan of an
 * OCI layout is matched again against an updated DB with the layout deleted first, so no layer
 * can have been read; and the DbWatcher noticing a DB file replaced under it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ScanReport } from '@palisade/core';
import { scanImage } from '@palisade/scanner';
import { sharedPath, tempDir, writeOciLayout, type LayoutResult } from '@palisade/testkit';
import { importPaths, openVulnDb } from '@palisade/vulndb';
import { createDbWatcher, rematchAll, REMATCH_JOB_KIND } from '../../src/scheduler/index.js';
import { resultFromReport, type Storage } from '../../src/storage/index.js';
import { forEachBackend, TestClock } from '../storage/harness.js';

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
const STATUS = [
  'Package: chromium',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 97.0.4692.99-1~deb11u2',
  'Source: chromium',
  '',
].join('\n');

let dir: { path: string; cleanup: () => void };
/** npm advisories only (built 2025-03-01). */
let oldDb: string;
/** npm and Debian advisories (built 2025-03-02): the update. */
let newDb: string;

before(async () => {
  dir = tempDir('palisade-rematch-');
  oldDb = join(dir.path, 'old.db');
  newDb = join(dir.path, 'new.db');
  await importPaths([sharedPath('vulndata', 'samples', 'ghsa-npm')], oldDb, { now: new Date('2025-03-01T00:00:00Z') });
  await importPaths(
    [
      sharedPath('vulndata', 'samples', 'ghsa-npm'),
      sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
    ],
    newDb,
    { now: new Date('2025-03-02T00:00:00Z') },
  );
});

after(() => dir?.cleanup());

function layout(name: string): LayoutResult {
  return writeOciLayout(join(dir.path, name), 'v1', [
    {
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: OS_RELEASE },
            { path: 'var/lib/dpkg/status', content: STATUS },
            {
              path: 'app/node_modules/lodash/package.json',
              content: '{"name":"lodash","version":"4.17.20","license":"MIT"}',
            },
          ],
        },
      ],
    },
  ]);
}

/** Scan the layout with `dbPath` and land the result as the worker does. */
async function scanAndLand(storage: Storage, img: LayoutResult, dbPath: string, clock: TestClock): Promise<ScanReport> {
  const ref = `oci:${img.dir}:v1`;
  const db = openVulnDb(dbPath);
  let report: ScanReport;
  try {
    report = await scanImage(ref, { db, clock });
  } finally {
    db.close();
  }
  const digest = report.artifact.digest;
  assert.equal(digest, img.digest);
  const scan = await storage.scans.create({ imageRef: ref, digest });
  await storage.scans.start(scan.id);
  await storage.withTransaction(async (tx) => {
    await tx.scans.succeed(scan.id, report, digest);
    await tx.findings.replaceForDigest(img.digest, resultFromReport(report, scan.id));
    await tx.images.upsert({ registry: 'local', repository: `oci:${img.dir}`, digest: img.digest, tags: ['v1'] });
  });
  return report;
}

forEachBackend((h) => {
  test('rematch after a DB update changes findings without reading any layer', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const img = layout(`layout-${h.backend}`);
    const report = await scanAndLand(storage, img, oldDb, clock);
    const before = await storage.findings.forDigest(img.digest);
    assert.ok(before.length > 0, 'the old DB knows lodash advisories');
    assert.ok(before.every((f) => f.packageType === 'npm'));
    const packagesBefore = await storage.findings.packagesForDigest(img.digest);
    const scannedAtBefore = (await storage.images.list()).items[0]?.lastScannedAt;

    // No image left to read: only the stored inventory can be matched.
    rmSync(img.dir, { recursive: true, force: true });
    assert.equal(existsSync(img.dir), false);

    const db = openVulnDb(newDb);
    try {
      const r = await rematchAll(storage, db, { batchSize: 1 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.dbBuiltAt, '2025-03-02T00:00:00.000Z');
      assert.equal(r.digests, 1);
      assert.equal(r.changed, 1);
      assert.equal(r.findingsBefore, before.length);
      assert.ok(r.findingsAfter > before.length);
      assert.ok(r.durationMs >= 0);

      const after = await storage.findings.forDigest(img.digest);
      const debs = after.filter((f) => f.packageType === 'deb');
      assert.ok(debs.length > 0, 'Debian advisories now match chromium');
      assert.ok(debs.every((f) => f.packageName === 'chromium'));
      assert.ok(
        after.some((f) => f.packageType === 'npm'),
        'lodash findings kept',
      );
      // The inventory, the scan it came from and its time are unchanged.
      assert.deepEqual(await storage.findings.packagesForDigest(img.digest), packagesBefore);
      const summary = (await storage.images.list()).items[0];
      assert.equal(summary?.lastScannedAt, scannedAtBefore);
      assert.equal(summary?.total, after.length);
      assert.ok(summary && summary.counts.critical + summary.counts.high + summary.counts.medium > 0);
      // The vulnerability list follows.
      const vulns = await storage.vulnerabilities.list({ limit: 500 });
      assert.ok(vulns.items.some((v) => debs.some((f) => f.vulnerabilityId === v.id)));
      // The stored report is the scan's own record: untouched.
      assert.equal(
        (await storage.scans.report(summary?.scanId ?? ''))?.vulnerabilities.length,
        report.vulnerabilities.length,
      );

      // Matching again finds nothing new and writes nothing.
      const again = await rematchAll(storage, db);
      assert.equal(again.changed, 0);
      assert.equal(again.unchanged, 1);
    } finally {
      db.close();
    }
  });

  test('a newer scan landing during a rematch is not overwritten', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const img = layout(`layout-race-${h.backend}`);
    await scanAndLand(storage, img, oldDb, clock);
    // The rematch reads the digest's state, then a rescan lands before its write.
    const db = openVulnDb(newDb);
    try {
      const racing: Storage = {
        ...storage,
        findings: {
          ...storage.findings,
          replaceForDigest: async (digest, result) => {
            clock.advance(60_000);
            await storage.findings.replaceForDigest(digest, {
              scanId: null,
              scannedAt: clock.now().toISOString(),
              packages: [],
              findings: [],
            });
            return storage.findings.replaceForDigest(digest, result);
          },
        },
      };
      const r = await rematchAll(racing, db);
      assert.equal(r.superseded, 1);
      assert.equal(r.changed, 0);
      assert.deepEqual(await storage.findings.forDigest(img.digest), []);
    } finally {
      db.close();
    }
  });

  test('a digest without a stored report is skipped, not emptied', async () => {
    const clock = new TestClock();
    const storage = await (await h.fresh()).open({ clock });
    const digest = `sha256:${'cd'.repeat(32)}`;
    const scan = await storage.scans.create({ imageRef: 'r.example.com/x:1' }); // never succeeded: no report
    await storage.images.upsert({ registry: 'r.example.com', repository: 'x', digest });
    await storage.findings.replaceForDigest(digest, {
      scanId: scan.id,
      scannedAt: clock.now().toISOString(),
      packages: [],
      findings: [
        {
          vulnerabilityId: 'CVE-2000-0001',
          aliases: [],
          packageId: 'p1',
          packageName: 'x',
          packageVersion: '1',
          packageType: 'deb',
          purl: 'pkg:deb/debian/x@1',
          severity: 'high',
          fixedVersions: [],
          kev: false,
          epss: null,
          epssPercentile: null,
          layerDigest: null,
          title: null,
        },
      ],
    });
    const db = openVulnDb(newDb);
    try {
      const r = await rematchAll(storage, db);
      assert.equal(r.skipped, 1);
      assert.equal((await storage.findings.forDigest(digest)).length, 1);
    } finally {
      db.close();
    }
  });

  test('the DbWatcher notices a replaced DB file and queues one rematch across replicas', async () => {
    const clock = new TestClock();
    const tdb = await h.fresh();
    const s1 = await tdb.open({ clock });
    const s2 = await tdb.open({ clock });
    const watched = join(dir.path, `watched-${h.backend}.db`);
    copyFileSync(oldDb, watched);
    const w1 = createDbWatcher({ storage: s1, path: watched });
    const w2 = createDbWatcher({ storage: s2, path: watched });
    assert.deepEqual(await w1.check(), { outcome: 'baseline', builtAt: '2025-03-01T00:00:00.000Z' });
    assert.equal((await w2.check()).outcome, 'baseline');
    assert.deepEqual(await w1.check(), { outcome: 'unchanged' });

    // `palisade db update` writes a new file and renames it over the old one.
    const tmp = `${watched}.tmp`;
    copyFileSync(newDb, tmp);
    renameSync(tmp, watched);

    const c1 = await w1.check();
    assert.equal(c1.outcome, 'rematch-queued');
    assert.ok(c1.outcome === 'rematch-queued' && c1.created && c1.builtAt === '2025-03-02T00:00:00.000Z');
    const c2 = await w2.check();
    assert.ok(
      c2.outcome === 'rematch-queued' && !c2.created && c2.jobId === c1.jobId,
      'the other replica gets the same job',
    );
    assert.deepEqual(await w1.check(), { outcome: 'unchanged' });
    const jobs = await s1.jobs.list({ kind: REMATCH_JOB_KIND });
    assert.equal(jobs.total, 1);

    // Once that rematch ran, a replica noticing the same build late does not queue another.
    const w3 = createDbWatcher({ storage: s2, path: watched });
    copyFileSync(oldDb, tmp);
    renameSync(tmp, watched);
    await w3.check(); // baseline on the old build
    const job = await s1.jobs.claim('test', { kinds: [REMATCH_JOB_KIND], leaseMs: 60_000 });
    assert.ok(job && (await s1.jobs.complete(job.id, 'test')));
    copyFileSync(newDb, tmp);
    renameSync(tmp, watched);
    assert.deepEqual(await w3.check(), { outcome: 'already-rematched', builtAt: '2025-03-02T00:00:00.000Z' });

    // A file touched or copied again with the same build queues nothing; an unreadable one waits.
    copyFileSync(newDb, tmp);
    renameSync(tmp, watched);
    assert.equal((await w3.check()).outcome, 'same-build');
    rmSync(watched);
    assert.equal((await w3.check()).outcome, 'unreadable');
    assert.equal((await s1.jobs.list({ kind: REMATCH_JOB_KIND })).total, 1);
  });
});
