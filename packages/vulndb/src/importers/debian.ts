/**
 * Debian security tracker data in its three public shapes:
 * - the tracker JSON (https://security-tracker.debian.org/tracker/data/json):
 *   {srcpkg: {CVE: {description, scope, releases: {codename: {status, fixed_version, urgency, nodsa, nodsa_reason}}}}};
 * - per-CVE annotation files of data/CVE/list (as mirrored by vuln-list-debian: Header + Annotations);
 * - the DSA list (data/DSA/list), giving DSA ids, their CVEs and fixed versions per release.
 * All are keyed by SOURCE package and by release codename (mapped to "debian:<major>").
 */
import type { VulnStatus } from '@palisade/core';
import type { Advisory, AffectedEntry, ImportSink } from '../model.js';
import { debianRelease } from '../ecosystems.js';
import { isCve, sortedUnique } from '../ids.js';
import type { FeedImporter, SourceDoc } from './types.js';
import { asArr, asObj, asStr, firstEntries, type Obj } from './util.js';

const TRACKER_URL = 'https://security-tracker.debian.org/tracker/';

function entry(
  release: string,
  name: string,
  fixed: string | undefined,
  extra: Partial<AffectedEntry> = {},
): AffectedEntry | undefined {
  const rel = debianRelease(release);
  if (rel === undefined) return undefined;
  const events = fixed === undefined ? [{ introduced: '0' }] : [{ introduced: '0' }, { fixed }];
  return { ecosystem: `debian:${rel}`, scheme: 'Debian', name, ranges: [{ type: 'ECOSYSTEM', events }], ...extra };
}

/** Tracker urgency → severity word ("low**" is "low, not yet confirmed"). */
function urgencySeverity(urgency: string | undefined): string | undefined {
  if (urgency === undefined) return undefined;
  const u = urgency.replace(/\*+$/, '').trim().toLowerCase();
  return ['unimportant', 'low', 'medium', 'high'].includes(u) ? u : undefined;
}

function openStatus(rel: Obj): VulnStatus {
  const urgency = asStr(rel.urgency)?.toLowerCase();
  if (urgency === 'end-of-life') return 'end-of-life';
  const reason = asStr(rel.nodsa_reason)?.toLowerCase();
  if (reason === 'ignored') return 'ignored';
  if (reason === 'postponed') return 'postponed';
  if (asStr(rel.nodsa) !== undefined) return 'no-dsa';
  return 'affected';
}

/** One release of one tracker record → an affected entry, or undefined when not affected. */
function trackerRelease(codename: string, pkg: string, raw: unknown): AffectedEntry | undefined {
  const rel = asObj(raw);
  if (!rel) return undefined;
  const status = asStr(rel.status);
  const fixed = asStr(rel.fixed_version);
  const sev = urgencySeverity(asStr(rel.urgency));
  const extra: Partial<AffectedEntry> = sev === undefined ? {} : { severity: sev, severitySource: 'debian' };
  if (status === 'resolved') {
    // fixed_version "0": the release was never affected.
    if (fixed === undefined || fixed === '0') return undefined;
    return entry(codename, pkg, fixed, extra);
  }
  if (status === 'open') return entry(codename, pkg, undefined, { ...extra, unfixedStatus: openStatus(rel) });
  if (status === 'undetermined')
    return entry(codename, pkg, undefined, { ...extra, unfixedStatus: 'under-investigation' });
  return undefined;
}

function looksLikeTracker(data: unknown): boolean {
  const o = asObj(data);
  if (!o || 'id' in o || 'Header' in o) return false;
  for (const [, recs] of firstEntries(o, 3)) {
    for (const [, rec] of firstEntries(asObj(recs) ?? {}, 3)) {
      if (asObj(rec) && 'releases' in (asObj(rec) ?? {})) return true;
    }
  }
  return false;
}

export const debianTrackerImporter: FeedImporter = {
  id: 'debian-tracker',
  version: 1,
  description: 'Debian security tracker JSON (security-tracker.debian.org/tracker/data/json)',
  sniff: (doc: SourceDoc): boolean => looksLikeTracker(doc.data),
  import(doc: SourceDoc, sink: ImportSink): void {
    const root = asObj(doc.data) ?? {};
    for (const pkg of Object.keys(root).sort()) {
      const recs = asObj(root[pkg]);
      if (!recs) {
        sink.skip('debian-tracker', `${doc.subject}: ${pkg}`, 'package entry is not an object');
        continue;
      }
      for (const id of Object.keys(recs).sort()) importTrackerRecord(doc, sink, pkg, id, recs[id]);
    }
  },
};

function importTrackerRecord(doc: SourceDoc, sink: ImportSink, pkg: string, id: string, raw: unknown): void {
  const rec = asObj(raw);
  if (!rec || (rec.releases !== undefined && asObj(rec.releases) === undefined && asArr(rec.releases) === undefined)) {
    sink.skip('debian-tracker', `${doc.subject}: ${pkg}/${id}`, 'record is not an object with "releases"');
    return;
  }
  // "releases": [] (an empty list instead of an object) means no release data yet.
  const releases = asObj(rec.releases) ?? {};
  const affected = Object.keys(releases)
    .sort()
    .map((codename) => trackerRelease(codename, pkg, releases[codename]))
    .filter((e): e is AffectedEntry => e !== undefined);
  const adv: Advisory = {
    feed: 'debian-tracker',
    id,
    aliases: [],
    related: [],
    cvss: [],
    references: [],
    url: TRACKER_URL + id,
    affected,
  };
  const desc = asStr(rec.description);
  if (desc) adv.details = desc;
  sink.advisory(adv);
}

// ---- data/CVE/list annotations (vuln-list-debian) ----

/** Releases an unqualified ("- pkg 1.2-3") annotation applies to when no release line overrides it. */
export const DEBIAN_DEFAULT_RELEASES = ['buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'sid'] as const;

const KIND_STATUS: Readonly<Record<string, VulnStatus>> = {
  unfixed: 'affected',
  'no-dsa': 'no-dsa',
  postponed: 'postponed',
  ignored: 'ignored',
  'end-of-life': 'end-of-life',
  undetermined: 'under-investigation',
};

function annotationEntry(release: string, pkg: string, ann: Obj): AffectedEntry | undefined {
  const kind = asStr(ann.Kind) ?? '';
  if (kind === 'fixed') {
    const v = asStr(ann.Version);
    return v === undefined || v === '0' ? undefined : entry(release, pkg, v);
  }
  const status = KIND_STATUS[kind];
  // not-affected, removed and unknown kinds: nothing to match.
  return status === undefined ? undefined : entry(release, pkg, undefined, { unfixedStatus: status });
}

function cveListAffected(annotations: Obj[]): AffectedEntry[] {
  const byPkg = new Map<string, { general?: Obj; releases: Map<string, Obj> }>();
  for (const a of annotations) {
    const pkg = asStr(a.Package);
    if (asStr(a.Type) !== 'package' || pkg === undefined) continue;
    const slot = byPkg.get(pkg) ?? { releases: new Map<string, Obj>() };
    const rel = asStr(a.Release);
    if (rel === undefined) slot.general = a;
    else slot.releases.set(rel, a);
    byPkg.set(pkg, slot);
  }
  const out: AffectedEntry[] = [];
  for (const pkg of [...byPkg.keys()].sort()) {
    const slot = byPkg.get(pkg);
    if (!slot) continue;
    const releases = new Set<string>([...slot.releases.keys(), ...(slot.general ? DEBIAN_DEFAULT_RELEASES : [])]);
    for (const rel of [...releases].sort()) {
      const ann = slot.releases.get(rel) ?? slot.general;
      const e = ann === undefined ? undefined : annotationEntry(rel, pkg, ann);
      if (e) out.push(e);
    }
  }
  return out;
}

export const debianCveListImporter: FeedImporter = {
  id: 'debian-cve-list',
  version: 1,
  description: 'Debian tracker data/CVE/list annotations, one JSON file per CVE (vuln-list-debian layout)',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    return o !== undefined && asObj(o.Header) !== undefined && Array.isArray(o.Annotations);
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const o = asObj(doc.data) ?? {};
    const id = asStr(asObj(o.Header)?.ID);
    if (id === undefined || id === '') {
      sink.skip('debian-cve-list', doc.subject, 'Header.ID is missing');
      return;
    }
    const anns = (asArr(o.Annotations) ?? []).map(asObj).filter((a): a is Obj => a !== undefined);
    const xrefs = anns.filter((a) => asStr(a.Type) === 'xref').flatMap((a) => (asArr(a.Bugs) ?? []).map(asStr));
    const adv: Advisory = {
      feed: 'debian-cve-list',
      id,
      aliases: [],
      related: sortedUnique(xrefs.filter((x): x is string => x !== undefined)),
      cvss: [],
      references: sortedUnique(anns.map((a) => asStr(a.Description) ?? '').filter((d) => /^https?:\/\/\S+$/.test(d))),
      url: TRACKER_URL + id,
      affected: cveListAffected(anns),
    };
    const desc = asStr(asObj(o.Header)?.Description)?.replace(/^[[(]|[\])]$/g, '');
    if (desc) adv.details = desc;
    sink.advisory(adv);
  },
};

// ---- data/DSA/list ----

const DSA_HEAD = /^\[(\d{2} \w{3} \d{4})\] ((?:DSA|DLA|DTSA)-[\w-]+)\s+(.*)$/;
const DSA_FIX = /^\s+\[(\w+)\] - (\S+) (\S+)/;

interface DsaBlock {
  id: string;
  date: string;
  title: string;
  cves: string[];
  fixes: Array<{ release: string; pkg: string; version: string }>;
}

function parseDsaList(text: string): DsaBlock[] {
  const blocks: DsaBlock[] = [];
  let cur: DsaBlock | undefined;
  for (const line of text.split('\n')) {
    const head = DSA_HEAD.exec(line);
    if (head) {
      cur = { date: head[1] ?? '', id: head[2] ?? '', title: head[3] ?? '', cves: [], fixes: [] };
      blocks.push(cur);
      continue;
    }
    if (!cur) continue;
    const cves = /^\s+\{([^}]*)\}/.exec(line);
    if (cves) cur.cves.push(...(cves[1] ?? '').split(/\s+/).filter(isCve));
    const fix = DSA_FIX.exec(line);
    if (fix && !(fix[3] ?? '').startsWith('<'))
      cur.fixes.push({ release: fix[1] ?? '', pkg: fix[2] ?? '', version: fix[3] ?? '' });
  }
  return blocks;
}

export const debianDsaImporter: FeedImporter = {
  id: 'debian-dsa',
  version: 1,
  description: 'Debian DSA/DLA list (security-tracker data/DSA/list): advisory ids, CVEs, fixed versions',
  sniff: (doc: SourceDoc): boolean => doc.data === undefined && DSA_HEAD.test(doc.text.split('\n', 1)[0] ?? ''),
  import(doc: SourceDoc, sink: ImportSink): void {
    for (const b of parseDsaList(doc.text)) {
      const affected = b.fixes
        .map((f) => entry(f.release, f.pkg, f.version))
        .filter((e): e is AffectedEntry => e !== undefined);
      const cves = sortedUnique(b.cves);
      const adv: Advisory = {
        feed: 'debian-dsa',
        id: b.id,
        aliases: cves.length === 1 ? cves : [],
        related: cves.length === 1 ? [] : cves,
        cvss: [],
        references: [],
        url: TRACKER_URL + b.id,
        summary: b.title,
        affected,
      };
      const date = new Date(`${b.date} UTC`);
      if (!Number.isNaN(date.getTime())) {
        adv.published = date.toISOString();
        sink.feedDate('debian-dsa', adv.published);
      }
      sink.advisory(adv);
    }
  },
};

// ---- tracker distributions.json: release codenames, versions and support state ----

export const debianDistributionsImporter: FeedImporter = {
  id: 'debian-distributions',
  version: 1,
  description: 'Debian tracker distributions.json (codename → major version, support state)',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    if (!o) return false;
    const first = firstEntries(o, 1)[0];
    return first !== undefined && asObj(first[1]) !== undefined && 'major-version' in (asObj(first[1]) ?? {});
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const o = asObj(doc.data) ?? {};
    for (const codename of Object.keys(o).sort()) {
      const r = asObj(o[codename]);
      const support = asStr(r?.support);
      if (!r || support === undefined) {
        sink.skip('debian-distributions', `${doc.subject}: ${codename}`, 'release without "support"');
        continue;
      }
      sink.release('debian', codename, asStr(r['major-version']) ?? '', support);
    }
  },
};
