/** The VulnDb the scanner calls: open a DB file, match an inventory, attach KEV/EPSS. */
import {
  isOsPackageType,
  normalizeSeverity,
  type CvssScore,
  type DbStatus,
  type OsInfo,
  type Package,
  type Severity,
  type VulnerabilityMatch,
} from '@palisade/core';
import type { VulnDb } from '../types.js';
import { schemeFor } from '../versions/index.js';
import { DbFile, type AdvisoryRow } from '../store/read.js';
import { lookupTarget, type LookupTarget } from '../ecosystems.js';
import { severityFromCvssList } from '../cvss.js';
import { isCve } from '../ids.js';
import { MatchIndex, type SchemeLookup } from './index.js';
import { groupHits, primaryId, type Hit, type HitGroup } from './merge.js';
import type { Compare } from './ranges.js';

export interface OpenOptions {
  /** Version comparators by OSV ecosystem name; defaults to the registered version schemes. */
  schemes?: SchemeLookup;
}

/** Feeds whose own vendor decides for the packages of its distro, most authoritative first. */
const FEED_RANK: readonly string[] = [
  'debian-tracker',
  'ubuntu-osv',
  'alpine-secdb',
  'redhat',
  'debian-cve-list',
  'debian-osv',
  'alpine-osv',
  'debian-dsa',
  'ghsa',
];

function rank(feed: string): number {
  const i = FEED_RANK.indexOf(feed);
  return i < 0 ? FEED_RANK.length : i;
}

const defaultSchemes: SchemeLookup = (eco) => {
  const s = schemeFor(eco);
  return s === undefined ? undefined : (a: string, b: string): number => s.compare(a, b);
};

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortVersions(vs: string[], cmp: Compare | undefined): string[] {
  const uniq = [...new Set(vs)];
  return uniq.sort((a, b) => {
    if (cmp === undefined) return byString(a, b);
    try {
      return cmp(a, b);
    } catch {
      return byString(a, b);
    }
  });
}

function choosePrimary(group: HitGroup, id: string): Hit {
  const sorted = [...group.hits].sort(
    (a, b) =>
      rank(a.record.feed) - rank(b.record.feed) ||
      Number(b.record.id === id) - Number(a.record.id === id) ||
      byString(a.record.id, b.record.id),
  );
  return sorted[0] as Hit;
}

function mergedCvss(group: HitGroup): CvssScore[] {
  // Stored sorted by the importer pipeline is not guaranteed across feeds; one record: copy as is.
  if (group.hits.length === 1) return (group.hits[0]?.record.data.cvss ?? []).slice();
  const seen = new Map<string, CvssScore>();
  for (const h of group.hits) for (const c of h.record.data.cvss) seen.set(`${c.source}|${c.vector}`, c);
  return [...seen.values()].sort((a, b) => byString(b.version, a.version) || byString(a.source, b.source) || byString(a.vector, b.vector));
}

function vendorSeverity(h: Hit): { severity: Severity; source: string } | undefined {
  const fromEntry = normalizeSeverity(h.severity);
  if (fromEntry !== 'unknown') return { severity: fromEntry, source: h.severitySource ?? h.record.feed };
  const fromRecord = normalizeSeverity(h.record.data.severity);
  if (fromRecord !== 'unknown') return { severity: fromRecord, source: h.record.data.severitySource ?? h.record.feed };
  return undefined;
}

export class SqliteVulnDb implements VulnDb {
  private readonly file: DbFile;
  private readonly index: MatchIndex;
  private readonly advisories = new Map<number, AdvisoryRow | undefined>();

  constructor(
    readonly path: string,
    options: OpenOptions = {},
  ) {
    this.file = new DbFile(path);
    this.index = new MatchIndex(this.file, options.schemes ?? defaultSchemes);
  }

  status(): DbStatus {
    return this.file.status();
  }

  /** Load the match index of the given ecosystem keys (all when omitted), e.g. before a benchmark. */
  preload(ecosystems?: readonly string[]): void {
    this.index.preload(ecosystems);
  }

  /** Ecosystem keys present in the DB ("debian:12", "go", "pypi", …). */
  ecosystems(): string[] {
    return this.file.ecosystems();
  }

  /** Package names indexed under an ecosystem key, sorted. */
  packageNames(ecosystem: string): string[] {
    return this.index.names(ecosystem);
  }

  /** Support state of a distro release from imported release data ("end-of-life", "lts", …). */
  releaseSupport(distro: string, release: string): string | undefined {
    return this.file.releaseSupport(distro, release);
  }

  private record(rowid: number): AdvisoryRow | undefined {
    if (!this.advisories.has(rowid)) this.advisories.set(rowid, this.file.advisory(rowid));
    return this.advisories.get(rowid);
  }

  match(packages: readonly Package[], os: OsInfo | undefined): VulnerabilityMatch[] {
    // Sorting the (few) packages first and each package's (few) findings after is much cheaper
    // than one comparator sort over all findings.
    const ordered = [...packages].sort(
      (a, b) => byString(a.name, b.name) || byString(a.version, b.version) || byString(a.id, b.id),
    );
    const out: VulnerabilityMatch[] = [];
    for (const pkg of ordered) {
      const target = lookupTarget(pkg, os);
      if (!target) continue;
      const hits: Hit[] = [];
      for (const h of this.index.lookup(target.ecosystem.key, target.name, target.version)) {
        const record = this.record(h.advisory);
        if (record) hits.push({ ...h, record });
      }
      if (hits.length === 0) continue;
      const found = groupHits(hits).map((g) => this.toMatch(pkg, target, g));
      found.sort((a, b) => byString(a.id, b.id));
      for (const m of found) out.push(m);
    }
    this.attachExploitData(out);
    return out;
  }

  private toMatch(pkg: Package, target: LookupTarget, group: HitGroup): VulnerabilityMatch {
    const id = primaryId(group.ids);
    const primary = choosePrimary(group, id);
    const rec = primary.record.data;
    const cvss = mergedCvss(group);
    const sev =
      vendorSeverity(primary) ??
      group.hits.map(vendorSeverity).find((s) => s !== undefined) ??
      severityFromCvssList(cvss) ?? { severity: 'unknown' as Severity, source: primary.record.feed };
    const m: VulnerabilityMatch = {
      id,
      aliases: [...group.ids].filter((i) => i !== id).sort(),
      package: { id: pkg.id, name: pkg.name, version: pkg.version, type: pkg.type, purl: pkg.purl },
      installedVersion: pkg.version,
      fixedVersions: sortVersions(primary.fixed, primary.cmp),
      status: primary.status,
      severity: sev.severity,
      severitySource: sev.source,
      cvss,
      dataSource: { feed: primary.record.feed, id: primary.record.id, ...(rec.url ? { url: rec.url } : {}) },
      references:
        group.hits.length === 1 ? rec.references.slice() : [...new Set(group.hits.flatMap((h) => h.record.data.references))].sort(),
    };
    const title = rec.summary ?? group.hits.map((h) => h.record.data.summary).find((s) => s !== undefined);
    const description = rec.details ?? group.hits.map((h) => h.record.data.details).find((s) => s !== undefined);
    if (title) m.title = title;
    if (description) m.description = description;
    if (isOsPackageType(pkg.type)) m.matchedOn = { name: target.name, kind: target.kind };
    if (rec.published) m.published = rec.published;
    if (rec.modified) m.modified = rec.modified;
    return m;
  }

  /** KEV and EPSS by CVE id, fetched for all matches at once. */
  private attachExploitData(matches: VulnerabilityMatch[]): void {
    const cveOf = (m: VulnerabilityMatch): string | undefined => (isCve(m.id) ? m.id : m.aliases.find(isCve));
    const cves = [...new Set(matches.map(cveOf).filter((c): c is string => c !== undefined))];
    if (cves.length === 0) return;
    const kev = this.file.kevMany(cves);
    const epss = this.file.epssMany(cves);
    for (const m of matches) {
      const cve = cveOf(m);
      if (cve === undefined) continue;
      const k = kev.get(cve);
      const e = epss.get(cve);
      if (k) m.kev = k;
      if (e) m.epss = e;
    }
  }

  close(): void {
    this.file.close();
  }
}

/** Open a DB file for matching. E_DB naming the path when it is missing, corrupt or of another schema. */
export function openVulnDb(path: string, options: OpenOptions = {}): SqliteVulnDb {
  return new SqliteVulnDb(path, options);
}
