/**
 * The DB file: SQLite, one schema version per layout. A reader refuses any other version, because
 * records are stored as JSON shaped by this code; `palisade db update` rebuilds the file.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE feeds (id TEXT PRIMARY KEY, updated_at TEXT NOT NULL, records INTEGER NOT NULL,
  skipped INTEGER NOT NULL, withdrawn INTEGER NOT NULL);
CREATE TABLE advisories (rowid INTEGER PRIMARY KEY, feed TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
  UNIQUE (feed, id));
CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE kev (cve TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE epss (cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL, date TEXT);
CREATE TABLE releases (distro TEXT NOT NULL, codename TEXT NOT NULL, version TEXT NOT NULL, support TEXT NOT NULL,
  PRIMARY KEY (distro, codename));
`;

/** Built after the bulk insert: cheaper than maintaining it row by row. */
export const INDEX_SQL = `CREATE INDEX affected_by_package ON affected (ecosystem, name);`;

/** What `advisories.data` holds: the advisory without feed, id and affected (stored apart). */
export interface StoredAdvisory {
  aliases: string[];
  related: string[];
  summary?: string;
  details?: string;
  published?: string;
  modified?: string;
  severity?: string;
  severitySource?: string;
  cvss: Array<{ version: string; vector: string; score?: number; source: string }>;
  references: string[];
  url?: string;
}
