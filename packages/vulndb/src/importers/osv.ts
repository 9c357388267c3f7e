/**
 * OSV records (https://ossf.github.io/osv-schema/) of any ecosystem: GHSA, GO, PYSEC, Ubuntu USN
 * and UBUNTU-CVE, Debian DSA/DLA/DEBIAN-CVE, Alpine. JSON or YAML; archives are expanded by the
 * loader. Only SEMVER and ECOSYSTEM ranges are kept; GIT ranges count through `versions`.
 */
import type { CvssScore } from '@palisade/core';
import type { Advisory, AffectedEntry, ImportSink, RangeEvent, VersionRange } from '../model.js';
import { normalizeName, normalizeVersion, osvEcosystem } from '../ecosystems.js';
import { parseCvss } from '../cvss.js';
import { isCve, sortedUnique, wrappedCve } from '../ids.js';
import type { FeedImporter, SourceDoc } from './types.js';
import { asArr, asObj, asStr, isoDate, strList, type Obj } from './util.js';

/** Feed id and severity source of a record, from its id prefix (the database that wrote it). */
export function osvFeedOf(id: string): { feed: string; source: string } {
  const prefix = (/^([A-Za-z]+)-/.exec(id)?.[1] ?? 'osv').toUpperCase();
  switch (prefix) {
    case 'GHSA':
      return { feed: 'ghsa', source: 'ghsa' };
    case 'GO':
      return { feed: 'osv-go', source: 'go' };
    case 'PYSEC':
      return { feed: 'osv-pypi', source: 'pypi' };
    case 'USN':
    case 'UBUNTU':
    case 'LSN':
      return { feed: 'ubuntu-osv', source: 'ubuntu' };
    case 'DSA':
    case 'DLA':
    case 'DTSA':
    case 'DEBIAN':
      return { feed: 'debian-osv', source: 'debian' };
    case 'ALPINE':
      return { feed: 'alpine-osv', source: 'alpine' };
    default:
      return { feed: `osv-${prefix.toLowerCase()}`, source: prefix.toLowerCase() };
  }
}

function recordUrl(id: string, dbSpecific: Obj | undefined): string {
  const u = asStr(dbSpecific?.url);
  if (u !== undefined && /^https?:\/\//.test(u)) return u;
  if (id.startsWith('GHSA-')) return `https://github.com/advisories/${id}`;
  if (id.startsWith('GO-')) return `https://pkg.go.dev/vuln/${id}`;
  return `https://osv.dev/vulnerability/${id}`;
}

function readEvents(raw: unknown, key: string): RangeEvent[] {
  const out: RangeEvent[] = [];
  for (const e of asArr(raw) ?? []) {
    const o = asObj(e);
    if (!o) continue;
    for (const k of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
      const v = asStr(o[k]);
      if (v !== undefined && v !== '') out.push({ [k]: normalizeVersion(key, v) });
    }
  }
  return out;
}

function readRanges(raw: unknown, key: string): VersionRange[] {
  const out: VersionRange[] = [];
  for (const r of asArr(raw) ?? []) {
    const o = asObj(r);
    const type = asStr(o?.type);
    if (!o || (type !== 'SEMVER' && type !== 'ECOSYSTEM')) continue;
    const events = readEvents(o.events, key);
    if (events.length > 0) out.push({ type, events });
  }
  return out;
}

function readAffected(raw: unknown): AffectedEntry | undefined {
  const o = asObj(raw);
  const pkg = asObj(o?.package);
  const ecoName = asStr(pkg?.ecosystem);
  const name = asStr(pkg?.name);
  if (!o || ecoName === undefined || name === undefined || name === '') return undefined;
  const eco = osvEcosystem(ecoName);
  if (!eco) return undefined;
  const entry: AffectedEntry = {
    ecosystem: eco.key,
    scheme: eco.scheme,
    name: normalizeName(eco.key, name),
    ranges: readRanges(o.ranges, eco.key),
  };
  const versions = strList(o.versions).map((v) => normalizeVersion(eco.key, v));
  if (versions.length > 0) entry.versions = versions;
  return entry;
}

function readCvss(raw: unknown, source: string): { cvss: CvssScore[]; vendor?: string } {
  const cvss: CvssScore[] = [];
  let vendor: string | undefined;
  for (const s of asArr(raw) ?? []) {
    const o = asObj(s);
    const type = asStr(o?.type);
    const score = asStr(o?.score);
    if (type === undefined || score === undefined) continue;
    if (type.startsWith('CVSS_')) {
      const c = parseCvss(score, source);
      if (c) cvss.push(c);
    } else if (type === 'Ubuntu') {
      vendor = score; // Ubuntu's own priority: negligible/low/medium/high/critical
    }
  }
  return vendor === undefined ? { cvss } : { cvss, vendor };
}

/** CVEs a record covers without being one of them (USN `upstream`, `related`). */
function relatedCves(o: Obj): string[] {
  const ids = [...strList(o.upstream), ...strList(o.related)];
  return sortedUnique(ids.map((i) => wrappedCve(i)).filter((c): c is string => c !== undefined));
}

const WITHDRAWN = 'withdrawn';

/** Convert one parsed OSV record; returns a reason string when it must be skipped. */
export function osvToAdvisory(data: unknown): Advisory | string {
  const o = asObj(data);
  const id = asStr(o?.id);
  if (!o || id === undefined || id === '') return 'not an OSV record (no "id")';
  if (asStr(o.withdrawn) !== undefined && asStr(o.withdrawn) !== '') return WITHDRAWN;
  const affectedRaw = asArr(o.affected);
  if (affectedRaw === undefined && o.affected !== undefined) return `${id}: "affected" is not a list`;
  const { feed, source } = osvFeedOf(id);
  const aliases = new Set(strList(o.aliases));
  // UBUNTU-CVE-x / DEBIAN-CVE-x are that CVE in the distro's words.
  const own = wrappedCve(id);
  if (own !== undefined && own !== id) aliases.add(own);
  let related = relatedCves(o).filter((c) => c !== own && !aliases.has(c));
  if (related.length === 1 && ![...aliases].some(isCve)) {
    aliases.add(related[0] ?? '');
    related = [];
  }
  const db = asObj(o.database_specific);
  const { cvss, vendor } = readCvss(o.severity, source);
  const adv: Advisory = {
    feed,
    id,
    aliases: sortedUnique([...aliases].filter((a) => a !== id && a !== '')),
    related,
    cvss,
    references: sortedUnique(
      (asArr(o.references) ?? []).map((r) => asStr(asObj(r)?.url)).filter((u): u is string => u !== undefined),
    ),
    url: recordUrl(id, db),
    affected: (affectedRaw ?? []).map(readAffected).filter((a): a is AffectedEntry => a !== undefined),
  };
  const summary = asStr(o.summary);
  const details = asStr(o.details);
  if (summary) adv.summary = summary;
  if (details) adv.details = details;
  const published = isoDate(o.published);
  const modified = isoDate(o.modified);
  if (published) adv.published = published;
  if (modified) adv.modified = modified;
  const ghsaSeverity = asStr(db?.severity);
  if (vendor !== undefined) {
    adv.severity = vendor;
    adv.severitySource = source;
  } else if (ghsaSeverity !== undefined && id.startsWith('GHSA-')) {
    adv.severity = ghsaSeverity;
    adv.severitySource = 'ghsa';
  }
  return adv;
}

export const osvImporter: FeedImporter = {
  id: 'osv',
  version: 1,
  description: 'OSV records (JSON/YAML files, folders, all.zip) of any ecosystem',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    return (
      o !== undefined && typeof o.id === 'string' && (Array.isArray(o.affected) || 'modified' in o || 'withdrawn' in o)
    );
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const adv = osvToAdvisory(doc.data);
    if (typeof adv === 'string') {
      const id = asStr(asObj(doc.data)?.id) ?? doc.subject;
      if (adv === WITHDRAWN) return sink.withdrawn(osvFeedOf(id).feed, id);
      sink.skip(osvFeedOf(id).feed, doc.subject, adv);
      return;
    }
    sink.advisory(adv);
    if (adv.modified) sink.feedDate(adv.feed, adv.modified);
  },
};
