/**
 * Helpers shared by the writers, the filters and VEX: deterministic ordering, image identity.
 */
import {
  buildPurl,
  parsePurl,
  PalisadeError,
  type ArtifactInfo,
  type Package,
  type PurlParts,
  type ScanReport,
  type VulnerabilityMatch,
} from '@palisade/core';

/** Plain code-unit comparison: the same order on every machine and locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePackages(a: Package, b: Package): number {
  return (
    compareStrings(a.type, b.type) ||
    compareStrings(a.name, b.name) ||
    compareStrings(a.version, b.version) ||
    compareStrings(a.purl, b.purl) ||
    compareStrings(a.id, b.id)
  );
}

export function compareMatches(a: VulnerabilityMatch, b: VulnerabilityMatch): number {
  return (
    compareStrings(a.package.type, b.package.type) ||
    compareStrings(a.package.name, b.package.name) ||
    compareStrings(a.installedVersion, b.installedVersion) ||
    compareStrings(a.id, b.id) ||
    compareStrings(a.package.id, b.package.id) ||
    compareStrings(a.dataSource.feed, b.dataSource.feed)
  );
}

/** The report with packages and vulnerabilities in canonical order (a copy; the input is untouched). */
export function sortedReport(report: ScanReport): ScanReport {
  return {
    ...report,
    packages: [...report.packages].sort(comparePackages),
    vulnerabilities: [...report.vulnerabilities].sort(compareMatches),
  };
}

/**
 * The image as a purl (`pkg:oci/<name>@<digest>?repository_url=…&tag=…`), the form OpenVEX and
 * CycloneDX use to name a container image. Undefined without a manifest digest: a purl without
 * a digest would not identify one image.
 */
export function imagePurl(artifact: ArtifactInfo): string | undefined {
  if (!artifact.digest) return undefined;
  const ref = splitImageRef(artifact.name);
  const qualifiers: Record<string, string | undefined> = { tag: ref.tag };
  if (ref.repository.includes('/')) qualifiers['repository_url'] = ref.repository;
  const name = ref.repository.split('/').pop() ?? ref.repository;
  return buildPurl({ type: 'oci', name: name.toLowerCase(), version: artifact.digest, qualifiers });
}

/** "registry/repo:tag@digest" → repository and tag (transport prefixes like oci:/archive: removed). */
export function splitImageRef(name: string): { repository: string; tag?: string } {
  let rest = name.replace(/^(oci|archive|dir|docker|registry):/, '');
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  // A colon after the last slash is a tag; before it, a registry port.
  if (colon > slash) return { repository: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  return { repository: rest };
}

/** Parse a purl, or undefined when the string is not one (OpenVEX products may be any IRI). */
export function tryParsePurl(s: string): PurlParts | undefined {
  if (!s.startsWith('pkg:')) return undefined;
  try {
    return parsePurl(s);
  } catch {
    return undefined;
  }
}

/** A report timestamp as RFC 3339 UTC without fractional seconds (SPDX requires exactly that form). */
export function utcSeconds(iso: string, subject: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new PalisadeError('E_INPUT', `createdAt "${iso}" is not a date-time`, { subject });
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Index packages by id, to find a finding's locations. */
export function packagesById(report: ScanReport): Map<string, Package> {
  return new Map(report.packages.map((p) => [p.id, p]));
}
