/**
 * The `spdx` format: an SPDX 2.3 JSON document. The image is the described package (purpose
 * CONTAINER), which CONTAINS every package found in it. Licenses that are not SPDX ids become
 * LicenseRef-… with their text recorded, as SPDX requires. Findings are attached as SECURITY
 * advisory references of the affected packages; the inventory is the same with or without them.
 */
import { stableId, type Package, type ScanReport } from '@palisade/core';
import { imagePurl, sortedReport, utcSeconds } from '../report/common.js';
import { stableStringify } from './json.js';
import { classifyLicense, licenseRef } from './licenses.js';
import type { ReportWriter, WriteOptions } from './types.js';

type Obj = Record<string, unknown>;
const NOASSERTION = 'NOASSERTION';
const IMAGE_SPDXID = 'SPDXRef-Image';

/** Characters SPDX ids allow: letters, digits, "." and "-". */
function idPart(s: string): string {
  // Strip accents first so "ünicode" reads "unicode" rather than losing the letter.
  return (
    s
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9.-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'x'
  );
}

/** Deterministic SPDXID: readable prefix (type, name) plus the package's stable id for uniqueness. */
export function spdxIdFor(pkg: Package): string {
  return `SPDXRef-Package-${idPart(pkg.type)}-${idPart(pkg.name)}-${idPart(pkg.id)}`;
}

/** Collects LicenseRef-… definitions; two different texts never share one ref. */
class LicenseRefs {
  private readonly byRef = new Map<string, string>();

  refFor(text: string): string {
    let ref = licenseRef(text);
    const taken = this.byRef.get(ref);
    if (taken !== undefined && taken !== text) ref = `${ref}-${stableId(text).slice(0, 8)}`;
    this.byRef.set(ref, text);
    return ref;
  }

  infos(): Obj[] {
    return [...this.byRef.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([licenseId, name]) => ({
        licenseId,
        name,
        extractedText: `License named "${name}" in the package metadata; Palisade did not read the license text.`,
      }));
  }
}

function declared(pkg: Package, refs: LicenseRefs): string {
  const list = [...new Set(pkg.licenses ?? [])];
  if (list.length === 0) return NOASSERTION;
  const parts = list.map((raw) => {
    const k = classifyLicense(raw);
    if (k.kind === 'id') return k.id;
    if (k.kind === 'expression') return list.length > 1 ? `(${k.expression})` : k.expression;
    return refs.refFor(k.text);
  });
  // Several licenses listed for one package apply together.
  return parts.join(' AND ');
}

function advisoryRefs(pkg: Package, report: ScanReport): Obj[] {
  const seen = new Set<string>();
  const out: Obj[] = [];
  for (const v of report.vulnerabilities) {
    const url = v.dataSource.url ?? v.references[0];
    if (v.package.id !== pkg.id || v.suppressed || !url || seen.has(url)) continue;
    seen.add(url);
    out.push({
      referenceCategory: 'SECURITY',
      referenceType: 'advisory',
      referenceLocator: url,
      comment: `${v.id} (${v.severity})`,
    });
  }
  return out;
}

function spdxPackage(pkg: Package, report: ScanReport, refs: LicenseRefs): Obj {
  const paths = [...new Set(pkg.locations.map((l) => l.path))];
  return {
    SPDXID: spdxIdFor(pkg),
    name: pkg.name,
    versionInfo: pkg.version,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    // Concluding a license needs a human review of the files; Palisade only reports what is declared.
    licenseConcluded: NOASSERTION,
    licenseDeclared: declared(pkg, refs),
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'LIBRARY',
    ...(pkg.source?.name && pkg.source.name !== pkg.name
      ? {
          sourceInfo: `built from source package ${pkg.source.name}${pkg.source.version ? ` ${pkg.source.version}` : ''}`,
        }
      : {}),
    ...(paths.length > 0 ? { comment: `found by ${pkg.foundBy} at ${paths.join(', ')}` } : {}),
    externalRefs: [
      { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: pkg.purl },
      ...advisoryRefs(pkg, report),
    ],
  };
}

function imagePackage(report: ScanReport): Obj {
  const a = report.artifact;
  const purl = imagePurl(a);
  const hex = a.digest?.startsWith('sha256:') ? a.digest.slice(7) : undefined;
  return {
    SPDXID: IMAGE_SPDXID,
    name: a.name,
    versionInfo: a.digest ?? NOASSERTION,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    primaryPackagePurpose: 'CONTAINER',
    ...(hex && /^[a-f0-9]{64}$/.test(hex) ? { checksums: [{ algorithm: 'SHA256', checksumValue: hex }] } : {}),
    ...(purl
      ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl }] }
      : {}),
    ...(a.os ? { comment: `operating system: ${a.os.prettyName ?? `${a.os.id} ${a.os.version}`}` } : {}),
  };
}

/** A namespace URI unique to this document (same report → same namespace, as output must be deterministic). */
function documentNamespace(report: ScanReport): string {
  const slug = idPart(report.artifact.name).slice(0, 80);
  return `https://palisade.dev/spdx/${slug}-${stableId(report.artifact.name, report.artifact.digest, report.createdAt)}`;
}

export function writeSpdx(report: ScanReport, _options: WriteOptions): string {
  const r = sortedReport(report);
  const refs = new LicenseRefs();
  const packages = r.packages.map((p) => spdxPackage(p, r, refs));
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE_SPDXID },
    ...r.packages.map((p) => ({
      spdxElementId: IMAGE_SPDXID,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: spdxIdFor(p),
    })),
  ];
  const extracted = refs.infos();
  const doc: Obj = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: r.artifact.name,
    documentNamespace: documentNamespace(r),
    creationInfo: {
      created: utcSeconds(r.createdAt, 'report createdAt'),
      creators: [`Tool: palisade-${r.generator.version}`],
    },
    packages: [imagePackage(r), ...packages],
    relationships,
    ...(extracted.length > 0 ? { hasExtractedLicensingInfos: extracted } : {}),
  };
  return stableStringify(doc);
}

export const spdxWriter: ReportWriter = {
  id: 'spdx',
  version: 1,
  mediaType: 'application/spdx+json',
  fileExtension: 'spdx.json',
  description: 'SPDX 2.3 JSON SBOM',
  write: writeSpdx,
};
