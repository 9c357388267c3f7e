/**
 * Reading an rpmdb into a small list of installed packages: the SQLite rpmdb (RHEL 9, Fedora,
 * Amazon Linux 2023, …) is opened in memory from the file's bytes and every Packages blob is
 * decoded with the header reader. The reduced form is what `extract` keeps and caches.
 */
import Database from 'better-sqlite3';
import { parseRpmHeader, TAG, type RpmTags } from './header.js';

/** One installed package as the rpmdb records it. */
export interface RpmEntry {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  license?: string;
  vendor?: string;
  sourceRpm?: string;
  modularityLabel?: string;
}

export interface RpmDbContents {
  entries: RpmEntry[];
  /** What could not be read, without the file path ("package hnum 7: …"). */
  problems: string[];
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const REDUCED_MAGIC = 'PALISADE-RPMDB-1\n';

export function isSqlite(data: Buffer): boolean {
  return data.length >= 100 && data.subarray(0, 16).equals(SQLITE_MAGIC);
}

function str(tags: RpmTags, tag: number): string | undefined {
  const v = tags.get(tag);
  return typeof v === 'string' && v !== '' && v !== '(none)' ? v : undefined;
}

/** An entry from a header's tags; undefined for gpg-pubkey pseudo-packages (imported keys). */
export function entryFromTags(tags: RpmTags): RpmEntry | string | undefined {
  const name = str(tags, TAG.NAME);
  const version = str(tags, TAG.VERSION);
  const release = str(tags, TAG.RELEASE);
  if (!name || !version || !release) return 'header has no NAME, VERSION or RELEASE';
  if (name === 'gpg-pubkey') return undefined;
  const e: RpmEntry = { name, version, release };
  const epoch = tags.get(TAG.EPOCH);
  if (typeof epoch === 'number') e.epoch = epoch;
  const optional: ReadonlyArray<readonly ['arch' | 'license' | 'vendor' | 'sourceRpm' | 'modularityLabel', number]> = [
    ['arch', TAG.ARCH],
    ['license', TAG.LICENSE],
    ['vendor', TAG.VENDOR],
    ['sourceRpm', TAG.SOURCERPM],
    ['modularityLabel', TAG.MODULARITYLABEL],
  ];
  for (const [prop, tag] of optional) {
    const v = str(tags, tag);
    if (v) e[prop] = v;
  }
  return e;
}

function openSqlite(data: Buffer): Database.Database {
  // rpm keeps its database in WAL mode; a WAL-mode file cannot be opened from memory, so the
  // copy is marked as a rollback-journal database (header bytes 18-19) first.
  const copy = Buffer.from(data);
  if (copy[18] === 2 || copy[19] === 2) {
    copy[18] = 1;
    copy[19] = 1;
  }
  return new Database(copy);
}

/** Read the Packages table of a SQLite rpmdb. Never throws: failures become problems. */
export function readSqliteRpmdb(data: Buffer): RpmDbContents {
  const out: RpmDbContents = { entries: [], problems: [] };
  if (!isSqlite(data)) {
    out.problems.push('not an SQLite database');
    return out;
  }
  let db: Database.Database | undefined;
  try {
    db = openSqlite(data);
    const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').iterate() as Iterable<{
      hnum: number;
      blob: unknown;
    }>;
    for (const row of rows) readRow(row, out);
  } catch (err) {
    out.problems.push(`cannot read the Packages table (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    db?.close();
  }
  return out;
}

function readRow(row: { hnum: number; blob: unknown }, out: RpmDbContents): void {
  if (!Buffer.isBuffer(row.blob)) {
    out.problems.push(`package hnum ${row.hnum}: blob is not binary`);
    return;
  }
  try {
    const e = entryFromTags(parseRpmHeader(row.blob));
    if (typeof e === 'string') out.problems.push(`package hnum ${row.hnum}: ${e}`);
    else if (e) out.entries.push(e);
  } catch (err) {
    out.problems.push(`package hnum ${row.hnum}: corrupt header (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** The reduced form kept per layer: a marker line and the contents as JSON. */
export function encodeReduced(c: RpmDbContents): Buffer {
  return Buffer.from(REDUCED_MAGIC + JSON.stringify(c));
}

function decodeReduced(data: Buffer): RpmDbContents | undefined {
  if (data.length < REDUCED_MAGIC.length || data.toString('latin1', 0, REDUCED_MAGIC.length) !== REDUCED_MAGIC)
    return undefined;
  try {
    const parsed = JSON.parse(data.toString('utf8', REDUCED_MAGIC.length)) as RpmDbContents;
    if (Array.isArray(parsed.entries) && Array.isArray(parsed.problems)) return parsed;
  } catch {
    // fall through: a damaged cache entry reads as unreadable
  }
  return { entries: [], problems: ['damaged cached rpmdb summary'] };
}

/** Contents of a kept rpmdb file: the reduced form from `extract`, or the raw SQLite bytes. */
export function readRpmdb(data: Buffer): RpmDbContents {
  return decodeReduced(data) ?? readSqliteRpmdb(data);
}
