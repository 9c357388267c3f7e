import type { ScanReport } from '@palisade/core';
import type { Io } from './output.js';
import { EXIT_ERROR } from './exit-codes.js';

/**
 * Print warnings, and fail closed when the inventory is incomplete: a package database or
 * manifest that could not be read may hide vulnerable packages, so a CI gate must not pass
 * silently. The report is still written first; `--allow-unreadable` accepts it.
 */
export function reportProblems(io: Io, report: ScanReport, allowUnreadable: boolean): number {
  for (const w of report.warnings) io.stderr.write(`warning: ${w}\n`);
  const unreadable = report.unreadable ?? [];
  if (unreadable.length === 0) return 0;
  const label = allowUnreadable ? 'warning' : 'palisade';
  for (const u of unreadable) io.stderr.write(`${label}: ${report.artifact.name}: ${u}\n`);
  return allowUnreadable ? 0 : EXIT_ERROR;
}
