/**
 * The `cyclonedx` format: a CycloneDX 1.6 JSON BOM. The image is metadata.component (type
 * container); packages are components; each finding (vulnerability × package) is one entry of
 * `vulnerabilities`, so a VEX decision about one package can be stated as that entry's `analysis`.
 * With no findings (`palisade sbom`) the document is a plain SBOM.
 */
import {
  stableId,
  type CvssScore,
  type Package,
  type ScanReport,
  type Severity,
  type VulnerabilityMatch,
} from '@palisade/core';
import { imagePurl, sortedReport, utcSeconds } from '../report/common.js';
import { stableStringify } from './json.js';
import { classifyLicense } from './licenses.js';
import type { ReportWriter, WriteOptions } from './types.js';

type Obj = Record<string, unknown>;

/** A UUID-shaped serial number derived from the report, so equal reports give equal BOMs. */
export function serialNumber(report: ScanReport): string {
  const h = (
    stableId(report.artifact.name, report.artifact.digest, report.createdAt, 'cdx') +
    stableId(report.createdAt, report.artifact.name)
  ).split('');
  h[12] = '8'; // version nibble: 8 = custom (RFC 9562), we are not a random v4 UUID
  h[16] = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16); // RFC variant
  const x = h.join('');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const IMAGE_REF = 'palisade:image';

function property(name: string, value: string | number | undefined): Obj[] {
  return value === undefined || value === '' ? [] : [{ name, value: String(value) }];
}

function licenses(pkg: Package): Obj[] | undefined {
  const list = [...new Set(pkg.licenses ?? [])];
  if (list.length === 0) return undefined;
  const kinds = list.map(classifyLicense);
  // The schema allows either license objects or exactly one expression: several expressions
  // (or an expression next to ids) are joined into one AND-expression only when all are SPDX.
  if (kinds.some((k) => k.kind === 'expression')) {
    if (kinds.every((k) => k.kind !== 'text')) {
      const parts = kinds.map((k) => (k.kind === 'id' ? k.id : k.kind === 'expression' ? `(${k.expression})` : ''));
      return [
        { expression: parts.length === 1 ? (kinds[0] as { expression: string }).expression : parts.join(' AND ') },
      ];
    }
    return list.map((name) => ({ license: { name } }));
  }
  return kinds.map((k) =>
    k.kind === 'id' ? { license: { id: k.id } } : { license: { name: k.kind === 'text' ? k.text : '' } },
  );
}

function component(pkg: Package): Obj {
  const props = [
    ...property('palisade:package:type', pkg.type),
    ...property('palisade:package:foundBy', pkg.foundBy),
    ...property('palisade:package:arch', pkg.arch),
    ...property('palisade:package:sourceName', pkg.source?.name),
    ...property('palisade:package:sourceVersion', pkg.source?.version),
    ...pkg.locations.flatMap((l, i) => [
      ...property(`palisade:location:${i}:path`, l.path),
      ...property(`palisade:location:${i}:layerDigest`, l.layerDigest),
      ...property(`palisade:location:${i}:layerDiffId`, l.layerDiffId),
      ...property(`palisade:location:${i}:layerIndex`, l.layerIndex),
    ]),
    ...Object.keys(pkg.metadata ?? {})
      .sort()
      .flatMap((k) => property(`palisade:metadata:${k}`, pkg.metadata?.[k])),
  ];
  const lic = licenses(pkg);
  return {
    'bom-ref': pkg.id,
    type: 'library',
    name: pkg.name,
    version: pkg.version,
    purl: pkg.purl,
    ...(lic ? { licenses: lic } : {}),
    ...(props.length > 0 ? { properties: props } : {}),
  };
}

function imageComponent(report: ScanReport): Obj {
  const a = report.artifact;
  const purl = imagePurl(a);
  const hex = a.digest?.startsWith('sha256:') ? a.digest.slice(7) : undefined;
  const props = [
    ...property('palisade:image:kind', a.kind),
    ...property('palisade:image:digest', a.digest),
    ...property('palisade:image:configDigest', a.configDigest),
    ...property(
      'palisade:image:platform',
      a.platform ? [a.platform.os, a.platform.architecture, a.platform.variant].filter(Boolean).join('/') : undefined,
    ),
    ...property('palisade:image:os', a.os ? `${a.os.id} ${a.os.version}` : undefined),
    ...(a.repoTags ?? []).flatMap((t) => property('palisade:image:repoTag', t)),
    ...a.layers.flatMap((l, i) => property(`palisade:image:layer:${i}`, l.digest)),
  ];
  return {
    'bom-ref': IMAGE_REF,
    type: 'container',
    name: a.name,
    ...(a.digest ? { version: a.digest } : {}),
    ...(purl ? { purl } : {}),
    ...(hex && /^[a-f0-9]{64}$/.test(hex) ? { hashes: [{ alg: 'SHA-256', content: hex }] } : {}),
    ...(props.length > 0 ? { properties: props } : {}),
  };
}

const CVSS_METHODS: Record<string, string> = { '2.0': 'CVSSv2', '3.0': 'CVSSv3', '3.1': 'CVSSv31', '4.0': 'CVSSv4' };

/** CycloneDX severities: ours, with "negligible" spelled "info". */
function cdxSeverity(s: Severity): string {
  return s === 'negligible' ? 'info' : s;
}

function scoreSeverity(c: CvssScore): string | undefined {
  if (c.score === undefined) return undefined;
  if (c.score === 0) return 'none';
  // CVSS v2 has no "critical" band (NVD: 0–3.9 low, 4–6.9 medium, 7–10 high).
  if (c.version.startsWith('2')) return c.score >= 7 ? 'high' : c.score >= 4 ? 'medium' : 'low';
  return c.score >= 9 ? 'critical' : c.score >= 7 ? 'high' : c.score >= 4 ? 'medium' : 'low';
}

function ratings(v: VulnerabilityMatch): Obj[] {
  const out: Obj[] = [{ source: { name: v.severitySource }, severity: cdxSeverity(v.severity), method: 'other' }];
  for (const c of v.cvss) {
    const sev = scoreSeverity(c);
    out.push({
      source: { name: c.source },
      ...(c.score !== undefined ? { score: c.score } : {}),
      ...(sev ? { severity: sev } : {}),
      method: CVSS_METHODS[c.version] ?? 'other',
      vector: c.vector,
    });
  }
  return out;
}

// OpenVEX justifications mapped to the nearest CycloneDX impact-analysis justification.
const JUSTIFICATIONS: Record<string, string> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  vulnerable_code_cannot_be_controlled_by_adversary: 'requires_environment',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
};

function analysis(v: VulnerabilityMatch): Obj | undefined {
  const s = v.suppressed;
  if (!s) return undefined;
  const state = s.status === 'fixed' ? 'resolved' : s.status === 'not_affected' ? 'not_affected' : 'in_triage';
  const justification = s.justification ? JUSTIFICATIONS[s.justification] : undefined;
  const detail = [`VEX ${s.by}: ${s.status}`, s.justification, s.statement].filter(Boolean).join('; ');
  return { state, ...(justification ? { justification } : {}), detail };
}

function vulnerability(v: VulnerabilityMatch): Obj {
  const refs = v.aliases.map((id) => ({ id, source: { name: aliasSource(id) } }));
  const advisories = [...new Set([v.dataSource.url, ...v.references].filter((u): u is string => !!u))].map((url) => ({
    url,
  }));
  const versions = [
    // A VEX not_affected/fixed decision is exactly a statement that the installed version is unaffected.
    { version: v.installedVersion, status: v.suppressed ? 'unaffected' : 'affected' },
    ...v.fixedVersions.filter((f) => f !== v.installedVersion).map((f) => ({ version: f, status: 'unaffected' })),
  ];
  const props = [
    ...property('palisade:status', v.status),
    ...property('palisade:dataSource', `${v.dataSource.feed}:${v.dataSource.id}`),
    ...property('palisade:matchedOn', v.matchedOn ? `${v.matchedOn.kind}:${v.matchedOn.name}` : undefined),
    ...property('palisade:kev:dateAdded', v.kev?.dateAdded),
    ...property('palisade:kev:dueDate', v.kev?.dueDate),
    ...property('palisade:kev:knownRansomwareCampaignUse', v.kev?.knownRansomwareCampaignUse),
    ...property('palisade:epss:score', v.epss?.score),
    ...property('palisade:epss:percentile', v.epss?.percentile),
    ...property('palisade:epss:date', v.epss?.date),
  ];
  const an = analysis(v);
  return {
    'bom-ref': `${v.id}/${v.package.id}/${v.dataSource.feed}`,
    id: v.id,
    source: { name: v.dataSource.feed, ...(v.dataSource.url ? { url: v.dataSource.url } : {}) },
    ...(refs.length > 0 ? { references: refs } : {}),
    ratings: ratings(v),
    ...(v.title ? { description: v.title } : {}),
    ...(v.description ? { detail: v.description } : {}),
    ...(v.fixedVersions.length > 0
      ? { recommendation: `Upgrade ${v.package.name} to ${v.fixedVersions.join(' or ')}.` }
      : {}),
    ...(advisories.length > 0 ? { advisories } : {}),
    ...(v.published ? { published: v.published } : {}),
    ...(v.modified ? { updated: v.modified } : {}),
    ...(an ? { analysis: an } : {}),
    affects: [{ ref: v.package.id, versions }],
    ...(props.length > 0 ? { properties: props } : {}),
  };
}

function aliasSource(id: string): string {
  const prefix = id.split('-')[0] ?? id;
  return prefix.toUpperCase() === 'CVE' ? 'NVD' : prefix.toUpperCase() === 'GHSA' ? 'GitHub' : prefix;
}

export function writeCycloneDx(report: ScanReport, _options: WriteOptions): string {
  const r = sortedReport(report);
  const components = r.packages.map(component);
  const bom: Obj = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: serialNumber(r),
    version: 1,
    metadata: {
      timestamp: utcSeconds(r.createdAt, 'report createdAt'),
      tools: { components: [{ type: 'application', name: 'palisade', version: r.generator.version }] },
      component: imageComponent(r),
    },
    components,
    dependencies: [{ ref: IMAGE_REF, dependsOn: r.packages.map((p) => p.id) }],
    ...(r.vulnerabilities.length > 0 ? { vulnerabilities: r.vulnerabilities.map(vulnerability) } : {}),
  };
  return stableStringify(bom);
}

export const cyclonedxWriter: ReportWriter = {
  id: 'cyclonedx',
  version: 1,
  mediaType: 'application/vnd.cyclonedx+json; version=1.6',
  fileExtension: 'cdx.json',
  description: 'CycloneDX 1.6 JSON SBOM, with vulnerabilities and VEX analysis',
  write: writeCycloneDx,
};
