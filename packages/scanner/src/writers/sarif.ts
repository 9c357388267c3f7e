/**
 * The `sarif` format: SARIF 2.1.0 as GitHub code scanning reads it. One rule per vulnerability id,
 * one result per (finding, location of the package). VEX-suppressed findings stay in the log with a
 * `suppressions` entry, which is how SARIF consumers learn a result was triaged.
 */
import {
  severityRank,
  stableId,
  type Package,
  type ScanReport,
  type Severity,
  type VulnerabilityMatch,
} from '@palisade/core';
import { compareStrings, packagesById, sortedReport } from '../report/common.js';
import { stableStringify } from './json.js';
import type { ReportWriter, WriteOptions } from './types.js';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
const INFORMATION_URI = 'https://github.com/palisade-security/palisade';

type Level = 'error' | 'warning' | 'note' | 'none';

export function sarifLevel(s: Severity): Level {
  if (s === 'critical' || s === 'high') return 'error';
  if (s === 'medium') return 'warning';
  return 'note';
}

// GitHub buckets security-severity as >= 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low.
// Used when no CVSS score is known, so the bucket agrees with the vendor's severity.
const SEVERITY_SCORE: Record<Severity, number> = {
  critical: 9.5,
  high: 8.0,
  medium: 5.5,
  low: 2.0,
  negligible: 0.1,
  unknown: 0.0,
};

/** The score GitHub sorts and buckets by: the highest CVSS score of the finding, else one from its severity. */
export function securitySeverity(v: VulnerabilityMatch): string {
  const scores = v.cvss.map((c) => c.score).filter((s): s is number => typeof s === 'number');
  const score = scores.length > 0 ? Math.max(...scores) : SEVERITY_SCORE[v.severity];
  return score.toFixed(1);
}

function helpUri(v: VulnerabilityMatch): string | undefined {
  return v.dataSource.url ?? v.references[0];
}

function helpMarkdown(v: VulnerabilityMatch): string {
  const lines = [`**${v.id}**${v.title ? `: ${v.title}` : ''}`, ''];
  lines.push('| Package | Installed | Fixed | Severity |', '| --- | --- | --- | --- |');
  lines.push(`| ${v.package.name} | ${v.installedVersion} | ${v.fixedVersions.join(', ') || 'none'} | ${v.severity} |`);
  if (v.description) lines.push('', v.description);
  if (v.kev) lines.push('', `Listed in CISA KEV since ${v.kev.dateAdded}.`);
  const refs = [...new Set([v.dataSource.url, ...v.references].filter((r): r is string => !!r))];
  if (refs.length > 0) lines.push('', ...refs.map((r) => `- ${r}`));
  return lines.join('\n');
}

function ruleFor(v: VulnerabilityMatch): Record<string, unknown> {
  const text = v.title ?? `${v.id} in ${v.package.name}`;
  const uri = helpUri(v);
  return {
    id: v.id,
    name: v.id.replace(/[^A-Za-z0-9]/g, ''),
    shortDescription: { text },
    fullDescription: { text: v.description ?? text },
    ...(uri ? { helpUri: uri } : {}),
    help: { text: `${v.id}: ${v.description ?? text}${uri ? ` (${uri})` : ''}`, markdown: helpMarkdown(v) },
    defaultConfiguration: { level: sarifLevel(v.severity) },
    properties: {
      'security-severity': securitySeverity(v),
      precision: 'very-high',
      tags: ['security', 'vulnerability', v.severity],
    },
  };
}

/** The representative finding of each id: the most severe, so the rule's level is the worst case. */
function representatives(vulns: VulnerabilityMatch[]): Map<string, VulnerabilityMatch> {
  const byId = new Map<string, VulnerabilityMatch>();
  for (const v of vulns) {
    const cur = byId.get(v.id);
    const worse =
      cur &&
      (severityRank(v.severity) > severityRank(cur.severity) ||
        Number(securitySeverity(v)) > Number(securitySeverity(cur)));
    if (!cur || worse) byId.set(v.id, v);
  }
  return byId;
}

/** A relative URI for an image path: each segment percent-encoded (paths may hold spaces, unicode). */
export function pathUri(path: string): string {
  return path.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

function message(v: VulnerabilityMatch, report: ScanReport, path: string | undefined): string {
  const fix = v.fixedVersions.length > 0 ? `fixed in ${v.fixedVersions.join(', ')}` : `no fix (${v.status})`;
  const where = path ? ` at ${path}` : '';
  return `${v.package.name} ${v.installedVersion} (${v.package.type}) in image ${report.artifact.name}${where} is affected by ${v.id} (${v.severity}); ${fix}.`;
}

function resultsFor(v: VulnerabilityMatch, ruleIndex: number, pkg: Package | undefined, report: ScanReport): object[] {
  const paths = [...new Set((pkg?.locations ?? []).map((l) => l.path))].sort(compareStrings);
  // A package without a known location still gets one result, without a location.
  const targets: Array<string | undefined> = paths.length > 0 ? paths : [undefined];
  return targets.map((path) => ({
    ruleId: v.id,
    ruleIndex,
    level: sarifLevel(v.severity),
    message: { text: message(v, report, path) },
    ...(path
      ? { locations: [{ physicalLocation: { artifactLocation: { uri: pathUri(path) }, region: { startLine: 1 } } }] }
      : {}),
    partialFingerprints: { 'palisadeFinding/v1': stableId(v.id, v.package.purl, path) },
    ...(v.suppressed
      ? {
          suppressions: [
            {
              kind: 'external',
              status: 'accepted',
              justification: [
                v.suppressed.status,
                v.suppressed.justification,
                v.suppressed.statement,
                `(${v.suppressed.by})`,
              ]
                .filter(Boolean)
                .join(': '),
            },
          ],
        }
      : {}),
    properties: {
      packageType: v.package.type,
      purl: v.package.purl,
      installedVersion: v.installedVersion,
      fixedVersions: v.fixedVersions,
      ...(v.kev ? { kev: true } : {}),
      ...(v.epss ? { epss: v.epss.score } : {}),
    },
  }));
}

export function writeSarif(report: ScanReport, _options: WriteOptions): string {
  const sorted = sortedReport(report);
  const reps = [...representatives(sorted.vulnerabilities).values()].sort((a, b) => compareStrings(a.id, b.id));
  const ruleIndex = new Map(reps.map((v, i) => [v.id, i]));
  const pkgs = packagesById(sorted);
  const results = sorted.vulnerabilities.flatMap((v) =>
    resultsFor(v, ruleIndex.get(v.id) ?? 0, pkgs.get(v.package.id), sorted),
  );
  const a = sorted.artifact;
  const log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'Palisade',
            semanticVersion: sorted.generator.version,
            version: sorted.generator.version,
            informationUri: INFORMATION_URI,
            rules: reps.map(ruleFor),
          },
        },
        automationDetails: { id: `palisade/image/${a.name}/` },
        results,
        properties: {
          imageName: a.name,
          ...(a.digest ? { imageDigest: a.digest } : {}),
          ...(a.os ? { os: `${a.os.id} ${a.os.version}` } : {}),
          createdAt: sorted.createdAt,
        },
      },
    ],
  };
  return stableStringify(log);
}

export const sarifWriter: ReportWriter = {
  id: 'sarif',
  version: 1,
  mediaType: 'application/sarif+json',
  fileExtension: 'sarif',
  description: 'SARIF 2.1.0 for GitHub code scanning and other SARIF viewers',
  write: writeSarif,
};
