import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { PalisadeError, SEVERITIES, isSeverity, type ScanReport, type Severity } from '@palisade/core';
import {
  FsLayerCache,
  applyFilters,
  applyVex,
  loadVex,
  remainingFindings,
  scanImage,
  writeReport,
} from '@palisade/scanner';
import { openVulnDb } from '@palisade/vulndb';
import { defaultCacheDir, defaultDbPath } from '../paths.js';
import { emit, type Io } from '../output.js';
import { progressReporter } from '../progress.js';
import { reportProblems } from '../problems.js';
import { addSourceOptions, collect, sourceOptionsFrom, type SourceFlags } from '../source-options.js';

export const SCAN_FORMATS = ['table', 'json', 'sarif', 'cyclonedx', 'spdx'] as const;

interface ScanFlags extends SourceFlags {
  format: string;
  output?: string;
  severity?: string;
  ignoreUnfixed: boolean;
  vex: string[];
  exitCode: number;
  db?: string;
  cacheDir?: string;
  cache: boolean;
  progress: boolean;
  allowUnreadable: boolean;
}

function parseSeverities(list: string | undefined): Severity[] | undefined {
  if (!list) return undefined;
  const out: Severity[] = [];
  for (const raw of list.split(',')) {
    const s = raw.trim().toLowerCase();
    if (!isSeverity(s)) {
      throw new PalisadeError('E_INPUT', `unknown severity "${raw}" (known: ${SEVERITIES.join(', ')})`, {
        subject: '--severity',
      });
    }
    out.push(s);
  }
  return out;
}

function parseExitCode(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new PalisadeError('E_INPUT', `--exit-code must be 0-255, got "${v}"`);
  return n;
}

/** `palisade scan image REF`. Returns the exit code. */
async function runScanImage(ref: string, flags: ScanFlags, io: Io): Promise<number> {
  const severities = parseSeverities(flags.severity);
  const cacheDir = flags.cacheDir ?? defaultCacheDir(io.env);
  const dbPath = flags.db ?? defaultDbPath(io.env);
  if (!existsSync(dbPath)) {
    throw new PalisadeError(
      'E_DB',
      'no vulnerability database: run `palisade db update` (online) or `palisade db import PATH…` (air-gapped) first',
      { subject: dbPath },
    );
  }
  const vexDocs = await Promise.all(flags.vex.map((f) => loadVex(f)));
  const tmp = join(cacheDir, 'tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const db = openVulnDb(dbPath);
  const progress = progressReporter(io, flags.progress);
  let report: ScanReport;
  try {
    report = await scanImage(ref, {
      source: await sourceOptionsFrom(flags, io, tmp),
      db,
      ...(flags.cache ? { cache: new FsLayerCache(cacheDir) } : {}),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
  } finally {
    progress.done();
    db.close();
  }
  if (vexDocs.length > 0) report = applyVex(report, vexDocs);
  report = applyFilters(report, {
    ...(severities ? { severities } : {}),
    ignoreUnfixed: flags.ignoreUnfixed,
  });
  const problems = reportProblems(io, report, flags.allowUnreadable);
  const color = flags.format === 'table' && !flags.output && io.stdout.isTTY === true && !io.env.NO_COLOR;
  emit(io, writeReport(report, flags.format, { color }), flags.output);
  if (problems !== 0) return problems;
  return flags.exitCode !== 0 && remainingFindings(report) > 0 ? flags.exitCode : 0;
}

export function scanCommand(io: Io, setExit: (code: number) => void): Command {
  const scan = new Command('scan').description('scan an artifact for vulnerabilities');
  const image = new Command('image')
    .description(
      'scan a container image: a registry reference (host/repo:tag, host/repo@sha256:…), oci:DIR[:tag], archive:FILE or dir:PATH',
    )
    .argument('<ref>', 'image reference')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...SCAN_FORMATS]).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--severity <list>', `only report these severities (comma-separated: ${SEVERITIES.join(',')})`)
    .option('--ignore-unfixed', 'hide vulnerabilities that have no fixed version', false)
    .option('--vex <file>', 'OpenVEX document whose statements suppress findings (repeatable)', collect, [])
    .option('--exit-code <n>', 'exit with this code when unsuppressed findings remain (CI gates)', parseExitCode, 0)
    .option('--db <path>', 'vulnerability database (default: $PALISADE_DB or <cache>/db/palisade-vuln.db)')
    .option('--cache-dir <dir>', 'layer cache and temporary files (default: $PALISADE_CACHE_DIR or ~/.cache/palisade)')
    .option('--no-cache', 'do not read or write the layer cache')
    .option('--no-progress', 'no progress display on stderr')
    .option(
      '--allow-unreadable',
      'exit 0 even when some package files could not be read (by default the scan fails closed)',
      false,
    );
  addSourceOptions(image).action(async (ref: string, flags: ScanFlags) => {
    setExit(await runScanImage(ref, flags, io));
  });
  scan.addCommand(image);
  return scan;
}
