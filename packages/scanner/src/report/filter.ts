/**
 * Finding filters of `palisade scan image` (--severity, --ignore-unfixed) and the count behind
 * --exit-code. Pure: they return a new report and never touch their input.
 */
import {
  isSeverity,
  PalisadeError,
  SEVERITIES,
  type ScanReport,
  type Severity,
  type VulnerabilityMatch,
} from '@palisade/core';

export interface FindingFilters {
  /** Keep only findings of these severities (all when absent or empty). */
  severities?: Severity[];
  /** Drop findings that have no fixed version yet. */
  ignoreUnfixed?: boolean;
}

function keep(v: VulnerabilityMatch, filters: FindingFilters): boolean {
  const sevs = filters.severities;
  if (sevs && sevs.length > 0 && !sevs.includes(v.severity)) return false;
  if (filters.ignoreUnfixed && v.fixedVersions.length === 0) return false;
  return true;
}

export function applyFilters(report: ScanReport, filters: FindingFilters): ScanReport {
  return { ...report, vulnerabilities: report.vulnerabilities.filter((v) => keep(v, filters)) };
}

/** Findings not suppressed by VEX: what `--exit-code` fails on. */
export function remainingFindings(report: ScanReport): number {
  return report.vulnerabilities.filter((v) => !v.suppressed).length;
}

/** Parse "--severity critical,HIGH" into severities; E_INPUT names the first unknown one. */
export function parseSeverities(list: string, subject = '--severity'): Severity[] {
  const out: Severity[] = [];
  for (const raw of list.split(',')) {
    const s = raw.trim().toLowerCase();
    if (s === '') continue;
    if (!isSeverity(s)) {
      throw new PalisadeError('E_INPUT', `unknown severity "${raw.trim()}" (known: ${SEVERITIES.join(', ')})`, {
        subject,
      });
    }
    if (!out.includes(s)) out.push(s);
  }
  return out;
}
