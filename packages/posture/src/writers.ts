/**
 * Posture report formats: `table` for people, `json` (the documented schema,
 * docs/posture-schema.json) and `sarif` (SARIF 2.1.0 for code scanning, one rule per check,
 * each result at the file and line of the field at fault).
 */
import { PalisadeError, type Misconfiguration, type Severity } from '@palisade/core';
import type { Check } from './check.js';
import { CHECKS } from './checks.js';
import type { PostureReport } from './scan.js';
import { attackPathLine, type PostureReportWithAttackPaths } from './attack-paths.js';

export const POSTURE_FORMATS = ['table', 'json', 'sarif'] as const;
export type PostureFormat = (typeof POSTURE_FORMATS)[number];

export function writePostureReport(
  report: PostureReportWithAttackPaths,
  format: string,
  checks: readonly Check[] = CHECKS,
): string {
  switch (format) {
    case 'table':
      return postureTable(report);
    case 'json':
      return JSON.stringify(report, null, 2) + '\n';
    case 'sarif':
      return JSON.stringify(postureSarif(report, checks), null, 2) + '\n';
    default:
      throw new PalisadeError('E_INPUT', `unknown format "${format}" (known: ${POSTURE_FORMATS.join(', ')})`, {
        subject: '--format',
      });
  }
}

// ---------------------------------------------------------------- table

function resourceLabel(m: Misconfiguration): string {
  const ns = m.resource.namespace ? `${m.resource.namespace}/` : '';
  return `${m.resource.kind}/${ns}${m.resource.name}`;
}

function where(m: Misconfiguration): string {
  if (!m.source) return '';
  return m.source.line !== undefined ? `${m.source.file}:${m.source.line}` : m.source.file;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Attack paths shown in the table; the JSON report has them all. */
const TABLE_ATTACK_PATHS = 10;

function attackPathSection(report: PostureReportWithAttackPaths): string[] {
  const paths = report.attackPaths ?? [];
  if (paths.length === 0) return [];
  const shown = paths.slice(0, TABLE_ATTACK_PATHS);
  const more = paths.length > shown.length ? ` (top ${shown.length} of ${paths.length}; all in -f json)` : '';
  return [`ATTACK PATHS${more}`, ...shown.map(attackPathLine), ''];
}

export function postureTable(report: PostureReportWithAttackPaths): string {
  const lines: string[] = [];
  const rows = report.misconfigurations.map((m) => [
    where(m),
    resourceLabel(m),
    m.severity.toUpperCase(),
    m.checkId,
    m.path,
    m.message,
  ]);
  const header = ['LOCATION', 'RESOURCE', 'SEVERITY', 'CHECK', 'FIELD', 'MESSAGE'];
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  if (rows.length > 0) {
    lines.push(
      header
        .map((h, i) => pad(h, widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
    for (const r of rows) lines.push(r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0))).join('  '));
    lines.push('');
  }
  lines.push(...attackPathSection(report));
  lines.push(summaryLine(report));
  for (const e of report.errors) lines.push(`error: ${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}`);
  return lines.join('\n') + '\n';
}

function summaryLine(report: PostureReport): string {
  const s = report.summary;
  const bySev = new Map<Severity, number>();
  for (const m of report.misconfigurations) bySev.set(m.severity, (bySev.get(m.severity) ?? 0) + 1);
  const sev = [...bySev.entries()].map(([k, v]) => `${k}: ${v}`).join(', ');
  const skipped = Object.values(s.skippedKinds).reduce((a, b) => a + b, 0);
  return (
    `${s.findings} misconfiguration${s.findings === 1 ? '' : 's'}${sev ? ` (${sev})` : ''} in ${s.checked} object${s.checked === 1 ? '' : 's'}` +
    ` · PSS ${report.pss.level} ${report.pss.version}` +
    (skipped > 0 ? ` · ${skipped} skipped (unknown kinds: ${Object.keys(s.skippedKinds).sort().join(', ')})` : '') +
    (s.invalid > 0 ? ` · ${s.invalid} without apiVersion/kind` : '')
  );
}

// ---------------------------------------------------------------- SARIF

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
const SEVERITY_SCORE: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '2.0',
  negligible: '0.1',
  unknown: '0.0',
};

function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  if (s === 'critical' || s === 'high') return 'error';
  return s === 'medium' ? 'warning' : 'note';
}

function sarifRule(c: Check): Record<string, unknown> {
  const tags = [
    'security',
    'misconfiguration',
    'kubernetes',
    ...Object.entries(c.frameworks).flatMap(([fw, ids]) => (ids ?? []).map((id) => `${fw}:${id}`)),
  ];
  return {
    id: c.id,
    name: c.id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')),
    shortDescription: { text: c.title },
    fullDescription: { text: c.description },
    help: {
      text: `${c.description}\n\nFix: ${c.remediation}`,
      markdown: `**${c.title}**\n\n${c.description}\n\n**Fix:** ${c.remediation}`,
    },
    defaultConfiguration: { level: sarifLevel(c.severity) },
    properties: { 'security-severity': SEVERITY_SCORE[c.severity], tags },
  };
}

function sarifResult(m: Misconfiguration, ruleIndex: number): Record<string, unknown> {
  const region =
    m.source?.line !== undefined
      ? { region: { startLine: m.source.line, ...(m.source.column ? { startColumn: m.source.column } : {}) } }
      : {};
  const uri = m.source && m.source.file !== '-' ? m.source.file : 'stdin';
  return {
    ruleId: m.checkId,
    ruleIndex,
    level: sarifLevel(m.severity),
    message: { text: `${resourceLabel(m)}: ${m.message} (${m.path}). ${m.remediation}` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri }, ...region },
        logicalLocations: [{ fullyQualifiedName: `${resourceLabel(m)}:${m.path}`, kind: 'object' }],
      },
    ],
    partialFingerprints: { palisadeFinding: m.id },
  };
}

export function postureSarif(report: PostureReport, checks: readonly Check[] = CHECKS): Record<string, unknown> {
  const used = [...new Set(report.misconfigurations.map((m) => m.checkId))].sort();
  const byId = new Map(checks.map((c) => [c.id, c]));
  const rules = used.map((id) => byId.get(id)).filter((c): c is Check => c !== undefined);
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'palisade',
            version: report.generator.version,
            informationUri: 'https://github.com/palisade-security/palisade',
            rules: rules.map(sarifRule),
          },
        },
        results: report.misconfigurations.map((m) => sarifResult(m, index.get(m.checkId) ?? -1)),
      },
    ],
  };
}
