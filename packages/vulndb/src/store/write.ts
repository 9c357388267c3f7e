/** Writing a DB file from collected records, atomically: temp file beside the target, then rename. */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { PalisadeError } from '@palisade/core';
import type { Collector } from '../importers/collect.js';
import type { Advisory } from '../model.js';
import { INDEX_SQL, SCHEMA_SQL, SCHEMA_VERSION, type StoredAdvisory } from './schema.js';

function stored(a: Advisory): StoredAdvisory {
  const { feed, id, affected, ...rest } = a;
  void feed;
  void id;
  void affected;
  return rest;
}

function fill(db: Database.Database, c: Collector, builtAt: string): void {
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  meta.run('schema_version', String(SCHEMA_VERSION));
  meta.run('built_at', builtAt);
  const feed = db.prepare('INSERT INTO feeds (id, updated_at, records, skipped, withdrawn) VALUES (?, ?, ?, ?, ?)');
  for (const id of [...c.stats.keys()].sort()) {
    const s = c.stats.get(id);
    if (s) feed.run(id, s.date ?? builtAt, s.records, s.skipped, s.withdrawn);
  }
  const adv = db.prepare('INSERT INTO advisories (feed, id, data) VALUES (?, ?, ?)');
  const aff = db.prepare('INSERT INTO affected (ecosystem, name, advisory, data) VALUES (?, ?, ?, ?)');
  // Sorted so equal inputs give byte-comparable content and stable row ids.
  for (const key of [...c.advisories.keys()].sort()) {
    const a = c.advisories.get(key);
    if (!a || a.affected.length === 0) continue;
    const row = adv.run(a.feed, a.id, JSON.stringify(stored(a))).lastInsertRowid;
    for (const e of a.affected) {
      const { ecosystem, name, ...rest } = e;
      aff.run(ecosystem, name, row, JSON.stringify(rest));
    }
  }
  const kev = db.prepare('INSERT INTO kev (cve, data) VALUES (?, ?)');
  for (const cve of [...c.kevs.keys()].sort()) kev.run(cve, JSON.stringify(c.kevs.get(cve)));
  const epss = db.prepare('INSERT INTO epss (cve, score, percentile, date) VALUES (?, ?, ?, ?)');
  for (const cve of [...c.epssScores.keys()].sort()) {
    const e = c.epssScores.get(cve);
    if (e) epss.run(cve, e.score, e.percentile, e.date ?? null);
  }
  const rel = db.prepare('INSERT OR REPLACE INTO releases (distro, codename, version, support) VALUES (?, ?, ?, ?)');
  for (const r of c.releases) rel.run(r.distro, r.codename, r.version, r.support);
}

/** Write `c` to `dbPath`. The existing file is replaced only once the new one is complete. */
export function writeDbAtomically(dbPath: string, c: Collector, builtAt: string): void {
  const dir = dirname(dbPath);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(dbPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const db = new Database(tmp);
    try {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.exec(SCHEMA_SQL);
      db.transaction(() => fill(db, c, builtAt))();
      db.exec(INDEX_SQL);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } finally {
      db.close();
    }
    renameSync(tmp, dbPath);
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof PalisadeError) throw err;
    throw new PalisadeError('E_DB', `cannot write the vulnerability database: ${(err as Error).message}`, {
      subject: dbPath,
      cause: err,
    });
  }
}
