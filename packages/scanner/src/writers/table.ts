/**
 * The `table` format, for people at a terminal: a header about the image, counts by severity,
 * then one table per package type. VEX-suppressed findings are left out and only counted.
 */
import { compareSeverity, SEVERITIES, type Severity, type ScanReport, type VulnerabilityMatch } from '@palisade/core';
import { compareStrings } from '../report/common.js';
import type { ReportWriter, WriteOptions } from './types.js';

const DEFAULT_TITLE_WIDTH = 60;
const RESET = '\u001b[0m';
const COLORS: Record<Severity, string> = {
  critical: '\u001b[1;31m', // bold red
  high: '\u001b[31m',
  medium: '\u001b[33m',
  low: '\u001b[34m',
  negligible: '\u001b[2m',
  unknown: '\u001b[2m',
};
const HEADINGS = ['PACKAGE', 'INSTALLED', 'FIXED', 'SEVERITY', 'ID', 'TITLE'] as const;
const INVENTORY_HEADINGS = ['NAME', 'VERSION', 'LAYER', 'PATH'] as const;

/** Display width in terminal columns: code points, wide East Asian characters and emoji count twice. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x300 && cp < 0x370) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Cut to at most `max` columns, ending with "…" when something was cut. */
export function truncate(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (displayWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return out + '…';
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

interface Row {
  cells: string[];
  severity: Severity;
}

function header(report: ScanReport, shown: VulnerabilityMatch[], suppressed: number): string[] {
  const a = report.artifact;
  const lines = [`Artifact: ${a.name} (${a.kind})`];
  if (a.digest) lines.push(`Digest:   ${a.digest}`);
  const os = a.os;
  if (os) {
    const name = os.prettyName ?? `${os.id} ${os.version}`;
    lines.push(`OS:       ${name}${os.eol ? ' (end of life: no more security updates)' : ''}`);
  } else {
    lines.push('OS:       unknown');
  }
  lines.push(`Packages: ${report.packages.length}`);
  for (const w of report.warnings) lines.push(`Warning: ${w}`);
  for (const u of report.unreadable ?? []) lines.push(`Not read: ${u}`);
  // An inventory-only report (`palisade sbom`) was never matched: no vulnerability line.
  if (report.db === undefined && report.vulnerabilities.length === 0) return lines;
  const counts = SEVERITIES.map((s) => `${s}: ${shown.filter((v) => v.severity === s).length}`);
  lines.push(`Vulnerabilities: ${shown.length} (${counts.join(', ')})`);
  if (suppressed > 0) lines.push(`${suppressed} suppressed by VEX`);
  return lines;
}

function fixedCell(v: VulnerabilityMatch): string {
  if (v.fixedVersions.length > 0) return v.fixedVersions.join(', ');
  // No fixed version: say what the vendor decided instead of leaving the cell blank.
  return v.status === 'fixed' ? '' : `(${v.status})`;
}

function toRow(v: VulnerabilityMatch, titleWidth: number): Row {
  const id = v.kev ? `${v.id} (KEV)` : v.id;
  const title = truncate((v.title ?? v.description ?? '').replace(/\s+/g, ' ').trim(), titleWidth);
  return { cells: [v.package.name, v.installedVersion, fixedCell(v), v.severity, id, title], severity: v.severity };
}

function renderTable(rows: Row[], color: boolean, headings: readonly string[] = HEADINGS): string[] {
  const widths = headings.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r.cells[i] ?? ''))));
  const line = (cells: readonly string[], sev?: Severity): string =>
    cells
      .map((c, i) => {
        // The last column is not padded: no trailing spaces in the output.
        const padded = i === cells.length - 1 ? c : pad(c, widths[i] ?? 0);
        // Colour is applied after padding so escape codes never count towards widths.
        return sev && color && i === 3 ? `${COLORS[sev]}${padded}${RESET}` : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(headings), line(widths.map((w) => '─'.repeat(w))), ...rows.map((r) => line(r.cells, r.severity))];
}

function compareRows(a: VulnerabilityMatch, b: VulnerabilityMatch): number {
  return (
    compareSeverity(a.severity, b.severity) ||
    compareStrings(a.package.name, b.package.name) ||
    compareStrings(a.installedVersion, b.installedVersion) ||
    compareStrings(a.id, b.id)
  );
}

/** The package inventory, one table per package type (for `palisade sbom --format table`). */
function inventoryTables(report: ScanReport): string[] {
  const out: string[] = [];
  const types = [...new Set(report.packages.map((p) => p.type))].sort(compareStrings);
  for (const type of types) {
    const rows: Row[] = report.packages
      .filter((p) => p.type === type)
      .map((p) => {
        const loc = p.locations[0];
        const layer = loc?.layerIndex === undefined ? '' : String(loc.layerIndex);
        return { cells: [p.name, p.version, layer, loc?.path ?? ''], severity: 'unknown' };
      });
    out.push('', `${type} (${rows.length} ${rows.length === 1 ? 'package' : 'packages'})`);
    out.push(...renderTable(rows, false, INVENTORY_HEADINGS));
  }
  return out;
}

export function writeTable(report: ScanReport, options: WriteOptions): string {
  if (report.db === undefined && report.vulnerabilities.length === 0) {
    return [...header(report, [], 0), ...inventoryTables(report)].join('\n') + '\n';
  }
  const shown = report.vulnerabilities.filter((v) => !v.suppressed);
  const suppressed = report.vulnerabilities.length - shown.length;
  const out = header(report, shown, suppressed);
  if (shown.length === 0) {
    out.push('', 'No vulnerabilities found.');
    return out.join('\n') + '\n';
  }
  const types = [...new Set(shown.map((v) => v.package.type))].sort(compareStrings);
  const titleWidth = Math.max(4, options.maxTitleWidth ?? DEFAULT_TITLE_WIDTH);
  for (const type of types) {
    const ofType = shown.filter((v) => v.package.type === type).sort(compareRows);
    out.push('', `${type} (${ofType.length} ${ofType.length === 1 ? 'vulnerability' : 'vulnerabilities'})`);
    out.push(
      ...renderTable(
        ofType.map((v) => toRow(v, titleWidth)),
        options.color === true,
      ),
    );
  }
  return out.join('\n') + '\n';
}

export const tableWriter: ReportWriter = {
  id: 'table',
  version: 1,
  mediaType: 'text/plain; charset=utf-8',
  fileExtension: 'txt',
  description: 'human-readable tables per package type',
  write: writeTable,
};
