import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { PalisadeError } from '@palisade/core';
import { DEFAULT_FEEDS, importPaths, openVulnDb, updateDb } from '@palisade/vulndb';
import { defaultCacheDir, defaultDbPath } from '../paths.js';
import type { Io } from '../output.js';

interface DbFlags {
  db?: string;
}

interface UpdateFlags extends DbFlags {
  downloadDir?: string;
  feeds?: string;
  feedBaseUrl?: string;
}

/** `--feeds a,b`: every id must be a known feed, or the user would silently get less data. */
function parseFeeds(list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const known = DEFAULT_FEEDS.map((f) => f.id);
  const ids = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!known.includes(id)) {
      throw new PalisadeError('E_INPUT', `unknown feed "${id}" (known: ${known.join(', ')})`, { subject: '--feeds' });
    }
  }
  return ids;
}

function progressBar(io: Io): (p: { feed: string; received: number; total?: number }) => void {
  if (!io.stderr.isTTY) return () => undefined;
  return (p) => {
    const mb = (n: number): string => (n / 1048576).toFixed(1);
    const pct = p.total ? Math.floor((p.received / p.total) * 100) : undefined;
    const width = 24;
    const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
    const bar = pct === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% `;
    io.stderr.write(`\r\x1b[2K${p.feed} ${bar}${mb(p.received)}${p.total ? '/' + mb(p.total) : ''} MB`);
  };
}

function printSummary(io: Io, dbPath: string): void {
  const db = openVulnDb(dbPath);
  try {
    const s = db.status();
    io.stdout.write(`database ${dbPath} (schema ${s.schemaVersion}, built ${s.builtAt})\n`);
    for (const f of s.feeds)
      io.stdout.write(`  ${f.id.padEnd(24)} ${String(f.records).padStart(8)} records  ${f.updatedAt}\n`);
  } finally {
    db.close();
  }
}

export function dbCommand(io: Io, setExit: (code: number) => void): Command {
  const db = new Command('db').description('manage the local vulnerability database');
  db.command('update')
    .description(
      'download the current feeds (OSV, Debian tracker, Alpine secdb, CISA KEV, EPSS) and rebuild the database; downloads resume',
    )
    .option('--db <path>', 'database file (default: $PALISADE_DB or <cache>/db/palisade-vuln.db)')
    .option('--download-dir <dir>', 'where feed downloads are kept (default: <cache>/feeds)')
    .option('--feeds <ids>', 'only these feeds (comma-separated ids, see docs/vulndb.md)')
    .option('--feed-base-url <url>', 'fetch every feed from this mirror (env PALISADE_FEED_BASE_URL)')
    .action(async (flags: UpdateFlags) => {
      const dbPath = flags.db ?? defaultDbPath(io.env);
      const feeds = parseFeeds(flags.feeds);
      mkdirSync(dirname(dbPath), { recursive: true });
      const onProgress = progressBar(io);
      const summary = await updateDb(dbPath, {
        downloadDir: flags.downloadDir ?? join(defaultCacheDir(io.env), 'feeds'),
        onProgress,
        env: io.env,
        ...(feeds ? { feeds } : {}),
        ...(flags.feedBaseUrl ? { baseUrl: flags.feedBaseUrl } : {}),
      });
      if (io.stderr.isTTY) io.stderr.write('\r\x1b[2K');
      for (const w of summary.warnings) io.stderr.write(`warning: ${w}\n`);
      printSummary(io, dbPath);
      setExit(0);
    });
  db.command('import')
    .description('build the database from local feed files or folders (air-gapped sites, tests)')
    .argument('<paths...>', 'OSV records/folders/all.zip, Debian tracker JSON, Alpine secdb, KEV JSON, EPSS CSV')
    .option('--db <path>', 'database file (default: $PALISADE_DB or <cache>/db/palisade-vuln.db)')
    .action(async (paths: string[], flags: DbFlags) => {
      const dbPath = flags.db ?? defaultDbPath(io.env);
      mkdirSync(dirname(dbPath), { recursive: true });
      const summary = await importPaths(paths, dbPath, {});
      for (const w of summary.warnings) io.stderr.write(`warning: ${w}\n`);
      printSummary(io, dbPath);
      setExit(0);
    });
  db.command('status')
    .description('show the feeds, their timestamps and record counts')
    .option('--db <path>', 'database file')
    .action((flags: DbFlags) => {
      printSummary(io, flags.db ?? defaultDbPath(io.env));
      setExit(0);
    });
  return db;
}
