/**
 * Red Hat Security Data API CVE JSON (https://access.redhat.com/hydra/rest/securitydata/cve/<CVE>.json,
 * as mirrored by vuln-list-redhat): fixed packages per RHEL product (`affected_release`) and the
 * state of unfixed ones (`package_state`). Keyed "redhat:<major>" from the product CPE.
 */
import type { VulnStatus } from '@palisade/core';
import type { Advisory, AffectedEntry, ImportSink } from '../model.js';
import { parseCvss } from '../cvss.js';
import type { FeedImporter, SourceDoc } from './types.js';
import { asArr, asObj, asStr, isoDate, type Obj } from './util.js';

function rhelKey(cpe: string | undefined): string | undefined {
  const m = /^cpe:\/[ao]:redhat:(?:enterprise_linux|rhel_eus|rhel_aus|rhel_e4s):(\d+)/.exec(cpe ?? '');
  return m ? `redhat:${m[1]}` : undefined;
}

const FIX_STATE: Readonly<Record<string, VulnStatus>> = {
  affected: 'affected',
  'will not fix': 'will-not-fix',
  'fix deferred': 'postponed',
  'out of support scope': 'end-of-life',
  'under investigation': 'under-investigation',
};

/** "openssl-1:1.0.2k-26.el7_9" → name "openssl", version "1:1.0.2k-26.el7_9". */
function splitNevra(nevra: string): { name: string; version: string } | undefined {
  const m = /^(.+)-((?:\d+:)?[^-]+-[^-]+)$/.exec(
    nevra.replace(/\.(x86_64|noarch|aarch64|src|i686|ppc64le|s390x)$/, ''),
  );
  return m ? { name: m[1] ?? '', version: m[2] ?? '' } : undefined;
}

function rhEntry(key: string, name: string, fixed: string | undefined, status?: VulnStatus): AffectedEntry {
  const events = fixed === undefined ? [{ introduced: '0' }] : [{ introduced: '0' }, { fixed }];
  const e: AffectedEntry = { ecosystem: key, scheme: 'Red Hat', name, ranges: [{ type: 'ECOSYSTEM', events }] };
  if (status) e.unfixedStatus = status;
  return e;
}

function affectedOf(o: Obj): AffectedEntry[] {
  const out: AffectedEntry[] = [];
  for (const r of asArr(o.affected_release) ?? []) {
    const ar = asObj(r);
    const key = rhelKey(asStr(ar?.cpe));
    const nevra = splitNevra(asStr(ar?.package) ?? '');
    if (key && nevra) out.push(rhEntry(key, nevra.name, nevra.version));
  }
  for (const s of asArr(o.package_state) ?? []) {
    const ps = asObj(s);
    const key = rhelKey(asStr(ps?.cpe));
    const name = asStr(ps?.package_name);
    const status = FIX_STATE[(asStr(ps?.fix_state) ?? '').toLowerCase()];
    if (key && name && status) out.push(rhEntry(key, name, undefined, status));
  }
  return out;
}

export const redhatImporter: FeedImporter = {
  id: 'redhat',
  version: 1,
  description: 'Red Hat Security Data API CVE JSON (affected_release / package_state)',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    return o !== undefined && typeof o.name === 'string' && ('package_state' in o || 'affected_release' in o);
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const o = asObj(doc.data) ?? {};
    const id = asStr(o.name) ?? '';
    const cvss3 = parseCvss(asStr(asObj(o.cvss3)?.cvss3_scoring_vector) ?? '', 'redhat');
    const cvss2 = parseCvss(asStr(asObj(o.cvss)?.cvss_scoring_vector) ?? '', 'redhat');
    // "references" is one string of newline-separated URLs in real data.
    const refs = (asArr(o.references) ?? [])
      .flatMap((r) => (asStr(r) ?? '').split(/\s+/))
      .filter((u) => /^https?:\/\//.test(u));
    const adv: Advisory = {
      feed: 'redhat',
      id,
      aliases: [],
      related: [],
      cvss: [cvss3, cvss2].filter((c) => c !== undefined),
      references: [...new Set(refs)].sort(),
      url: `https://access.redhat.com/security/cve/${id}`,
      affected: affectedOf(o),
    };
    const sev = asStr(o.threat_severity);
    if (sev) {
      adv.severity = sev;
      adv.severitySource = 'redhat';
    }
    const desc = asStr(asObj(o.bugzilla)?.description);
    if (desc) adv.summary = desc;
    const pub = isoDate(o.public_date);
    if (pub) adv.published = pub;
    sink.advisory(adv);
  },
};
