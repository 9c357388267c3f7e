/** Opening a DB file: checks, status, and the row access the matcher needs. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PalisadeError, type DbStatus, type EpssInfo, type KevInfo } from '@palisade/core';
import { SCHEMA_VERSION, type StoredAdvisory } from './schema.js';

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const UPDATE_HINT = 'run `palisade db update` (or `palisade db import`) to build it';

export interface AffectedRow {
  ecosystem: string;
  name: string;
  advisory: number;
  data: string;
}

export interface AdvisoryRow {
  feed: string;
  id: string;
  data: StoredAdvisory;
}

function advisoryRow(r: { feed: string; id: string; data: string }): AdvisoryRow {
  const data = JSON.parse(r.data) as StoredAdvisory;
  // Sorted once here so a single-record finding can copy the list as it is.
  data.cvss.sort(
    (a, b) => byString(b.version, a.version) || byString(a.source, b.source) || byString(a.vector, b.vector),
  );
  data.references.sort(byString);
  return { feed: r.feed, id: r.id, data };
}

/** Thin, read-only access to a DB file. */
export class DbFile {
  private readonly db: Database.Database;
  private readonly advStmt: Database.Statement<[number], { feed: string; id: string; data: string }>;
  private readonly advManyStmt: Database.Statement<[string], { rowid: number; feed: string; id: string; data: string }>;
  private readonly kevStmt: Database.Statement<[string], { cve: string; data: string }>;
  private readonly epssStmt: Database.Statement<
    [string],
    { cve: string; score: number; percentile: number; date: string | null }
  >;

  constructor(readonly path: string) {
    if (!existsSync(path))
      throw new PalisadeError('E_DB', `no vulnerability database here; ${UPDATE_HINT}`, { subject: path });
    try {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      this.checkSchema();
      this.advStmt = this.db.prepare('SELECT feed, id, data FROM advisories WHERE rowid = ?');
      this.advManyStmt = this.db.prepare(
        'SELECT rowid, feed, id, data FROM advisories WHERE rowid IN (SELECT value FROM json_each(?))',
      );
      this.kevStmt = this.db.prepare('SELECT cve, data FROM kev WHERE cve IN (SELECT value FROM json_each(?))');
      this.epssStmt = this.db.prepare(
        'SELECT cve, score, percentile, date FROM epss WHERE cve IN (SELECT value FROM json_each(?))',
      );
    } catch (err) {
      if (err instanceof PalisadeError) throw err;
      throw new PalisadeError(
        'E_DB',
        `not a readable vulnerability database (${(err as Error).message}); ${UPDATE_HINT}`,
        {
          subject: path,
          cause: err,
        },
      );
    }
  }

  private checkSchema(): void {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      { value: string } | undefined;
    const found = row === undefined ? NaN : Number(row.value);
    if (found !== SCHEMA_VERSION) {
      this.db.close();
      throw new PalisadeError(
        'E_DB',
        `database schema version ${Number.isNaN(found) ? 'unknown' : found} is not the version this Palisade reads (${SCHEMA_VERSION}); run \`palisade db update\``,
        { subject: this.path },
      );
    }
  }

  status(): DbStatus {
    const builtAt =
      (this.db.prepare("SELECT value FROM meta WHERE key = 'built_at'").get() as { value: string } | undefined)
        ?.value ?? '';
    const feeds = this.db
      .prepare('SELECT id, updated_at AS updatedAt, records FROM feeds ORDER BY id')
      .all() as DbStatus['feeds'];
    return { schemaVersion: SCHEMA_VERSION, builtAt, feeds };
  }

  /** The affected rows of one ecosystem key; one name's rows come in stored order (the index ends in rowid). */
  affectedOf(ecosystem: string): AffectedRow[] {
    return this.db
      .prepare('SELECT ecosystem, name, advisory, data FROM affected WHERE ecosystem = ?')
      .all(ecosystem) as AffectedRow[];
  }

  /** Every affected row in stored order (as affectedOf gives one name's rows): one scan, for preload. */
  affectedAll(): AffectedRow[] {
    return this.db
      .prepare('SELECT ecosystem, name, advisory, data FROM affected ORDER BY rowid')
      .all() as AffectedRow[];
  }

  ecosystems(): string[] {
    return (
      this.db.prepare('SELECT DISTINCT ecosystem FROM affected ORDER BY ecosystem').all() as Array<{
        ecosystem: string;
      }>
    ).map((r) => r.ecosystem);
  }

  advisory(rowid: number): AdvisoryRow | undefined {
    const r = this.advStmt.get(rowid);
    return r === undefined ? undefined : advisoryRow(r);
  }

  /** Many advisories in one query (a statement per record showed in first-match profiles); missing rowids are absent. */
  advisoriesMany(rowids: readonly number[]): Map<number, AdvisoryRow> {
    const out = new Map<number, AdvisoryRow>();
    for (const r of this.advManyStmt.all(JSON.stringify(rowids))) out.set(r.rowid, advisoryRow(r));
    return out;
  }

  /** KEV entries of many CVEs in one query (a statement per CVE dominated match time). */
  kevMany(cves: readonly string[]): Map<string, KevInfo> {
    const out = new Map<string, KevInfo>();
    for (const r of this.kevStmt.all(JSON.stringify(cves))) out.set(r.cve, JSON.parse(r.data) as KevInfo);
    return out;
  }

  epssMany(cves: readonly string[]): Map<string, EpssInfo> {
    const out = new Map<string, EpssInfo>();
    for (const r of this.epssStmt.all(JSON.stringify(cves))) {
      const e: EpssInfo = { score: r.score, percentile: r.percentile };
      if (r.date !== null) e.date = r.date;
      out.set(r.cve, e);
    }
    return out;
  }

  releaseSupport(distro: string, codenameOrVersion: string): string | undefined {
    const r = this.db
      .prepare('SELECT support FROM releases WHERE distro = ? AND (codename = ? OR version = ?)')
      .get(distro, codenameOrVersion, codenameOrVersion) as { support: string } | undefined;
    return r?.support;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A warning when the newest data in the DB is more than 7 days older than `now`. */
export function dbAgeWarning(status: DbStatus, now: Date): string | undefined {
  const dates = status.feeds.map((f) => Date.parse(f.updatedAt)).filter((t) => !Number.isNaN(t));
  const newest = dates.length > 0 ? Math.max(...dates) : Date.parse(status.builtAt);
  if (Number.isNaN(newest)) return 'vulnerability database has no build date; run `palisade db update`';
  const days = Math.floor((now.getTime() - newest) / DAY_MS);
  if (now.getTime() - newest <= 7 * DAY_MS) return undefined;
  return `vulnerability database is ${days} days old (newest data ${new Date(newest).toISOString().slice(0, 10)}); run \`palisade db update\``;
}
