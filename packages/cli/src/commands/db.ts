import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { importPaths, openVulnDb, updateDb } from '@palisade/vulndb';
import { defaultCacheDir, defaultDbPath } from '../paths.js';
import type { Io } from '../output.js';

interface DbFlags {
  db?: string;
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
    .action(async (flags: DbFlags & { downloadDir?: string }) => {
      const dbPath = flags.db ?? defaultDbPath(io.env);
      mkdirSync(dirname(dbPath), { recursive: true });
      const onProgress = progressBar(io);
      const summary = await updateDb(dbPath, {
        downloadDir: flags.downloadDir ?? join(defaultCacheDir(io.env), 'feeds'),
        onProgress,
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
