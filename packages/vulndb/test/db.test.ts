import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fixturePath, sharedPath, tempDir } from '@palisade/testkit';
import { PalisadeError } from '@palisade/core';
import { importPaths } from '../src/import.js';
import { openVulnDb } from '../src/match/matcher.js';
import { dbAgeWarning } from '../src/store/read.js';
import { SCHEMA_VERSION } from '../src/store/schema.js';
import { makeZip } from './zipwriter.js';
import { pkg, testSchemes } from './helpers.js';

const NOW = new Date('2025-03-01T00:00:00Z');

function isDbError(path: string, re: RegExp) {
  return (e: unknown): boolean =>
    e instanceof PalisadeError && e.code === 'E_DB' && e.subject === path && re.test(e.message);
}

test('round trip: import samples, status lists feeds with their own dates', async () => {
  const t = tempDir();
  try {
    const dbPath = join(t.path, 'sub', 'vuln.db');
    const summary = await importPaths([sharedPath('vulndata', 'samples')], dbPath, { now: NOW });
    assert.equal(summary.builtAt, NOW.toISOString());
    const db = openVulnDb(dbPath, { schemes: testSchemes });
    try {
      const st = db.status();
      assert.equal(st.schemaVersion, SCHEMA_VERSION);
      assert.equal(st.builtAt, NOW.toISOString());
      const kev = st.feeds.find((f) => f.id === 'kev');
      assert.deepEqual(kev, { id: 'kev', updatedAt: '2025-02-19T14:08:44.502Z', records: 3 });
      // No date of its own: import time.
      assert.equal(st.feeds.find((f) => f.id === 'debian-tracker')?.updatedAt, NOW.toISOString());
      assert.deepEqual(
        st.feeds.map((f) => f.id),
        [...st.feeds.map((f) => f.id)].sort(),
      );
      assert.equal(db.releaseSupport('debian', 'jessie'), 'end-of-life');
    } finally {
      db.close();
    }
  } finally {
    t.cleanup();
  }
});

test('dbAgeWarning: quiet within 7 days, warns after', () => {
  const status = {
    schemaVersion: 1,
    builtAt: '2025-01-01T00:00:00Z',
    feeds: [
      { id: 'a', updatedAt: '2025-02-20T00:00:00Z', records: 1 },
      { id: 'b', updatedAt: '2024-01-01T00:00:00Z', records: 1 },
    ],
  };
  assert.equal(dbAgeWarning(status, new Date('2025-02-26T23:00:00Z')), undefined);
  const w = dbAgeWarning(status, new Date('2025-03-01T00:00:00Z'));
  assert.match(w ?? '', /9 days old.*2025-02-20.*palisade db update/);
});

test('open: missing file, garbage file and other schema version are E_DB naming the path', async () => {
  const t = tempDir();
  try {
    const missing = join(t.path, 'none.db');
    assert.throws(() => openVulnDb(missing), isDbError(missing, /palisade db update/));
    const garbage = join(t.path, 'garbage.db');
    writeFileSync(garbage, 'this is not sqlite'.repeat(100));
    assert.throws(() => openVulnDb(garbage), isDbError(garbage, /not a readable vulnerability database/));
    const old = join(t.path, 'old.db');
    await importPaths([sharedPath('vulndata', 'samples', 'kev-epss')], old, { now: NOW });
    const raw = new Database(old);
    raw.prepare("UPDATE meta SET value = '0' WHERE key = 'schema_version'").run();
    raw.close();
    assert.throws(() => openVulnDb(old), isDbError(old, /schema version 0 .*run `palisade db update`/));
  } finally {
    t.cleanup();
  }
});

test('atomic import: a failing import leaves the existing DB untouched and no temp file', async () => {
  const t = tempDir();
  try {
    const dbPath = join(t.path, 'vuln.db');
    await importPaths([sharedPath('vulndata', 'samples', 'kev-epss')], dbPath, { now: NOW });
    const before = readFileSync(dbPath);
    await assert.rejects(
      importPaths(
        [sharedPath('vulndata', 'samples', 'ghsa-npm'), fixturePath('vulndb', 'corrupt', 'truncated-tracker.json')],
        dbPath,
      ),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_CORRUPT',
    );
    assert.deepEqual(readFileSync(dbPath), before);
    assert.deepEqual(readdirSync(t.path), ['vuln.db']);
    const db = openVulnDb(dbPath);
    assert.deepEqual(
      db.status().feeds.map((f) => f.id),
      ['epss', 'kev'],
    );
    db.close();
    await assert.rejects(
      importPaths([fixturePath('vulndb', 'corrupt', 'notes.txt')], dbPath),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_UNSUPPORTED',
    );
    await assert.rejects(
      importPaths([join(t.path, 'nope')], dbPath),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_NOT_FOUND',
    );
  } finally {
    t.cleanup();
  }
});

test('OSV all.zip is imported like the folder; a corrupt zip names the archive', async () => {
  const t = tempDir();
  try {
    const dir = sharedPath('vulndata', 'osv', 'Go');
    const names = readdirSync(dir)
      .filter((f) => f.startsWith('GO-2020-'))
      .sort();
    const zip = join(t.path, 'all.zip');
    writeFileSync(zip, makeZip(names.map((n) => ({ name: n, data: readFileSync(join(dir, n)) }))));
    const dbPath = join(t.path, 'z.db');
    const s = await importPaths([zip], dbPath, { now: NOW });
    const go = s.feeds.find((f) => f.id === 'osv-go');
    assert.equal((go?.records ?? 0) + (go?.withdrawn ?? 0), names.length);
    const db = openVulnDb(dbPath, { schemes: testSchemes });
    const m = db.match([pkg('golang', 'github.com/gin-gonic/gin', 'v1.5.0')], undefined);
    assert.ok(m.some((x) => x.id === 'CVE-2020-36567'));
    db.close();
    const bad = join(t.path, 'bad.zip');
    copyFileSync(zip, bad);
    writeFileSync(bad, readFileSync(zip).subarray(0, 100));
    await assert.rejects(importPaths([bad], dbPath), (e: unknown) => e instanceof PalisadeError && e.subject === bad);
  } finally {
    t.cleanup();
  }
});
