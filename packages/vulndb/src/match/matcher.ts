/** The VulnDb the scanner calls: open a DB file, match an inventory, attach KEV/EPSS. */
import {
  isOsPackageType,
  normalizeSeverity,
  type CvssScore,
  type DbStatus,
  type EpssInfo,
  type KevInfo,
  type OsInfo,
  type Package,
  type Severity,
  type VulnerabilityMatch,
} from '@palisade/core';
import type { VulnDb } from '../types.js';
import { schemeFor } from '../versions/index.js';
import { DbFile } from '../store/read.js';
import { lookupTarget, type LookupTarget } from '../ecosystems.js';
import { severityFromCvssList } from '../cvss.js';
import { isCve } from '../ids.js';
import { MatchIndex, type CompiledEntry, type EntryHit, type SchemeLookup } from './index.js';
import { groupHits, primaryId, toRec, type Hit, type HitGroup, type Rec } from './merge.js';
import { VersionUses } from './known.js';
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

function sortVersions(vs: readonly string[], cmp: Compare | undefined): string[] {
  // Nearly every finding has no fix or one: nothing to order.
  if (vs.length < 2) return vs.slice();
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

function byPackage(a: Package, b: Package): number {
  return byString(a.name, b.name) || byString(a.version, b.version) || byString(a.id, b.id);
}

/** The hit a group reports from: most authoritative feed, then the record named by the id, then record id. */
function choosePrimary(group: HitGroup, id: string): Hit {
  let best = group.hits[0] as Hit;
  for (let i = 1; i < group.hits.length; i++) {
    const h = group.hits[i] as Hit;
    // Strictly better only: on ties the earlier hit stays, as a stable sort would keep it first.
    const d =
      rank(h.record.feed) - rank(best.record.feed) ||
      Number(best.record.id === id) - Number(h.record.id === id) ||
      byString(h.record.id, best.record.id);
    if (d < 0) best = h;
  }
  return best;
}

function mergedCvss(group: HitGroup): CvssScore[] {
  // Stored sorted by the importer pipeline is not guaranteed across feeds; one record: copy as is.
  if (group.hits.length === 1) return (group.hits[0]?.record.data.cvss ?? []).slice();
  const seen = new Map<string, CvssScore>();
  for (const h of group.hits) for (const c of h.record.data.cvss) seen.set(`${c.source}|${c.vector}`, c);
  return [...seen.values()].sort(
    (a, b) => byString(b.version, a.version) || byString(a.source, b.source) || byString(a.vector, b.vector),
  );
}

interface SeverityPick {
  severity: Severity;
  source: string;
}

/** Memo of what depends only on one compiled entry (and so on its one record). */
const vendorOfEntry = new WeakMap<CompiledEntry, SeverityPick | null>();

function vendorSeverity(h: Hit): SeverityPick | undefined {
  const memo = vendorOfEntry.get(h.entry);
  if (memo !== undefined) return memo ?? undefined;
  let pick: SeverityPick | null = null;
  const fromEntry = normalizeSeverity(h.entry.severity);
  const fromRecord = normalizeSeverity(h.record.data.severity);
  if (fromEntry !== 'unknown') pick = { severity: fromEntry, source: h.entry.severitySource ?? h.record.feed };
  else if (fromRecord !== 'unknown')
    pick = { severity: fromRecord, source: h.record.data.severitySource ?? h.record.feed };
  vendorOfEntry.set(h.entry, pick);
  return pick ?? undefined;
}

/** Severity from CVSS of a lone record's (sorted) list, once per record. */
const cvssOfRecord = new WeakMap<Rec, SeverityPick | null>();

function cvssSeverity(group: HitGroup, cvss: readonly CvssScore[]): SeverityPick | undefined {
  const only = group.hits.length === 1 ? group.hits[0] : undefined;
  if (only === undefined) return severityFromCvssList(cvss);
  const memo = cvssOfRecord.get(only.record);
  if (memo !== undefined) return memo ?? undefined;
  const pick = severityFromCvssList(cvss) ?? null;
  cvssOfRecord.set(only.record, pick);
  return pick ?? undefined;
}

function firstDefined<T>(group: HitGroup, get: (h: Hit) => T | undefined): T | undefined {
  for (const h of group.hits) {
    const v = get(h);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Ids a group reports: its primary id and the sorted rest (precomputed for a lone record). */
function groupIds(group: HitGroup): { id: string; aliases: string[] } {
  if (group.ids === undefined) {
    const rec = (group.hits[0] as Hit).record;
    return { id: rec.primary, aliases: rec.others.slice() };
  }
  const id = primaryId(group.ids);
  return { id, aliases: [...group.ids].filter((i) => i !== id).sort() };
}

/** One package's lookup, waiting for its advisory records. */
interface Pending {
  pkg: Package;
  target: LookupTarget;
  hits: Array<EntryHit<Rec>>;
}

export class SqliteVulnDb implements VulnDb {
  private readonly file: DbFile;
  private readonly index: MatchIndex;
  /** Advisory records by rowid; null when the row is missing. */
  private readonly records = new Map<number, Rec | null>();
  /** KEV / EPSS by CVE; null when the CVE has none. Read-only data shared by the findings. */
  private readonly kev = new Map<string, KevInfo | null>();
  private readonly epss = new Map<string, EpssInfo | null>();
  private readonly versionUse = new VersionUses();

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

  /** Read the records of `rowids` not read yet, in one query. */
  private loadRecords(rowids: Iterable<number>): void {
    const missing = [...rowids].filter((r) => !this.records.has(r));
    if (missing.length === 0) return;
    const rows = this.file.advisoriesMany(missing);
    for (const r of missing) {
      const row = rows.get(r);
      this.records.set(r, row === undefined ? null : toRec(row));
    }
  }

  match(packages: readonly Package[], os: OsInfo | undefined): VulnerabilityMatch[] {
    // Sorting the (few) packages first and each package's (few) findings after is much cheaper
    // than one comparator sort over all findings.
    const ordered = [...packages].sort(byPackage);
    const pending = this.lookupAll(ordered, os);
    const out: VulnerabilityMatch[] = [];
    const cves: Array<string | undefined> = [];
    for (const p of pending) {
      const hits = this.withRecords(p.hits);
      if (hits.length === 0) continue;
      const groups = groupHits(hits);
      const found = groups.map((g) => this.toMatch(p.pkg, p.target, g));
      if (found.length > 1) found.sort((a, b) => byString(a.id, b.id));
      for (const m of found) {
        out.push(m);
        cves.push(isCve(m.id) ? m.id : undefined);
      }
    }
    this.attachExploitData(out, cves);
    return out;
  }

  /** Look every package up; then read all advisory records they need at once. */
  private lookupAll(ordered: readonly Package[], os: OsInfo | undefined): Pending[] {
    const pending: Pending[] = [];
    const needed = new Set<number>();
    for (const pkg of ordered) {
      const target = lookupTarget(pkg, os);
      if (!target) continue;
      const scheme = target.ecosystem.scheme;
      // "(devel)" and "" are unknown; other versions the scheme cannot order ("latest") match
      // only advisories listing them exactly (known.ts).
      const use = this.versionUse.get(scheme, target.version, this.index.comparator(scheme));
      if (use === 'none') continue;
      const hits = this.index.lookup<Rec>(target.ecosystem.key, target.name, target.version, use === 'ordered');
      if (hits.length === 0) continue;
      for (const h of hits) if (!this.records.has(h.entry.advisory)) needed.add(h.entry.advisory);
      pending.push({ pkg, target, hits });
    }
    this.loadRecords(needed);
    return pending;
  }

  /** The hits with their records attached; a hit whose record row is missing is dropped. */
  private withRecords(hits: Array<EntryHit<Rec>>): Hit[] {
    let complete = true;
    for (const h of hits) {
      const rec = this.records.get(h.entry.advisory) ?? undefined;
      h.record = rec;
      if (rec === undefined) complete = false;
    }
    return (complete ? hits : hits.filter((h) => h.record !== undefined)) as Hit[];
  }

  private toMatch(pkg: Package, target: LookupTarget, group: HitGroup): VulnerabilityMatch {
    const { id, aliases } = groupIds(group);
    const primary = group.hits.length === 1 ? (group.hits[0] as Hit) : choosePrimary(group, id);
    const rec = primary.record.data;
    const cvss = mergedCvss(group);
    const sev = vendorSeverity(primary) ??
      firstDefined(group, vendorSeverity) ??
      cvssSeverity(group, cvss) ?? { severity: 'unknown' as Severity, source: primary.record.feed };
    const m: VulnerabilityMatch = {
      id,
      aliases,
      package: { id: pkg.id, name: pkg.name, version: pkg.version, type: pkg.type, purl: pkg.purl },
      installedVersion: pkg.version,
      fixedVersions: sortVersions(primary.fixed, primary.entry.cmp),
      status: primary.status,
      severity: sev.severity,
      severitySource: sev.source,
      cvss,
      dataSource: rec.url
        ? { feed: primary.record.feed, id: primary.record.id, url: rec.url }
        : { feed: primary.record.feed, id: primary.record.id },
      references:
        group.hits.length === 1
          ? rec.references.slice()
          : [...new Set(group.hits.flatMap((h) => h.record.data.references))].sort(),
    };
    const title = rec.summary ?? firstDefined(group, (h) => h.record.data.summary);
    const description = rec.details ?? firstDefined(group, (h) => h.record.data.details);
    if (title) m.title = title;
    if (description) m.description = description;
    if (isOsPackageType(pkg.type)) m.matchedOn = { name: target.name, kind: target.kind };
    if (rec.published) m.published = rec.published;
    if (rec.modified) m.modified = rec.modified;
    return m;
  }

  /**
   * KEV and EPSS by CVE id (`cves[i]` is the CVE of `matches[i]`: the primary id is a CVE
   * whenever the group has one). Each CVE is read from the DB once per process.
   */
  private attachExploitData(matches: VulnerabilityMatch[], cves: ReadonlyArray<string | undefined>): void {
    const unknown = new Set<string>();
    for (const c of cves) if (c !== undefined && !this.kev.has(c)) unknown.add(c);
    if (unknown.size > 0) {
      const list = [...unknown];
      const kev = this.file.kevMany(list);
      const epss = this.file.epssMany(list);
      for (const c of list) {
        this.kev.set(c, kev.get(c) ?? null);
        this.epss.set(c, epss.get(c) ?? null);
      }
    }
    matches.forEach((m, i) => {
      const cve = cves[i];
      if (cve === undefined) return;
      const k = this.kev.get(cve);
      const e = this.epss.get(cve);
      if (k) m.kev = k;
      if (e) m.epss = e;
    });
  }

  close(): void {
    this.file.close();
  }
}

/** Open a DB file for matching. E_DB naming the path when it is missing, corrupt or of another schema. */
export function openVulnDb(path: string, options: OpenOptions = {}): SqliteVulnDb {
  return new SqliteVulnDb(path, options);
}
