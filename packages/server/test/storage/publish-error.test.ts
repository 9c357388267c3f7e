/**
 * scans.publish_error (migration 3) on both backends: set and cleared without touching the
 * scan's status or report, and added to a database created before it (old scans show null).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PALISADE_VERSION, type ScanReport } from '@palisade/core';
import { MIGRATIONS } from '../../src/storage/migrations.js';
import { forEachBackend, sha } from './harness.js';

function report(digest: string): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt: '2025-01-01T00:00:00.000Z',
    artifact: { name: 'reg.example.com/app:1', kind: 'registry', digest, layers: [] },
    packages: [],
    vulnerabilities: [],
    warnings: [],
  };
}

forEachBackend((h) => {
  test('scans.setPublishError keeps the scan succeeded and its report unchanged', async () => {
    const s = await (await h.fresh()).open();
    const scan = await s.scans.create({ imageRef: 'reg.example.com/app:1' });
    assert.equal(scan.publishError, null);
    await s.scans.start(scan.id);
    await s.scans.succeed(scan.id, report(sha(1)));
    const set = await s.scans.setPublishError(scan.id, 'E_NETWORK: connection refused');
    assert.equal(set?.status, 'succeeded');
    assert.equal(set?.publishError, 'E_NETWORK: connection refused');
    assert.equal((await s.scans.get(scan.id))?.publishError, 'E_NETWORK: connection refused');
    assert.deepEqual(await s.scans.report(scan.id), report(sha(1)));
    assert.equal((await s.scans.setPublishError(scan.id, null))?.publishError, null);
    assert.equal(await s.scans.setPublishError('no-such-scan', 'x'), null);
    await s.close();
  });

  test('migration 3 adds publish_error to an existing database', async () => {
    const db = await h.fresh();
    const old = await db.open({ migrations: MIGRATIONS.filter((m) => m.version < 3) });
    assert.equal((await old.migrationStatus()).version, 2);
    await old.close();
    // The v2 schema has no publish_error: write a scan row the way a v2 server did.
    await db.raw(
      `INSERT INTO scans (id, image_ref, status, attempts, queued_at) VALUES ('old-scan', 'reg.example.com/app:0', 'succeeded', 1, '2025-01-01T00:00:00.000Z')`,
    );
    const s = await db.open();
    // Migration 3 and every later one apply on top of the v2 database.
    assert.equal((await s.migrationStatus()).version, Math.max(...MIGRATIONS.map((m) => m.version)));
    assert.equal((await s.scans.get('old-scan'))?.publishError, null);
    assert.equal((await s.scans.setPublishError('old-scan', 'denied'))?.publishError, 'denied');
    await s.close();
  });
});
