/**
 * Alpine secdb (https://secdb.alpinelinux.org/<release>/<repo>.json, formerly YAML): per release
 * and repository, per (origin) package, a map fixed-version → ids. The "0" key lists ids that never
 * affected the release. Id strings are free text ("CVE-2017-8904 XSA-214", "CVE-2018-16301 (was
 * fixed in libpcap)"), parsed with extractIds. Also reads single-package files (vuln-list layout).
 */
import type { Advisory, ImportSink } from '../model.js';
import { extractIds, isCve } from '../ids.js';
import type { FeedImporter, SourceDoc } from './types.js';
import { asArr, asObj, asStr, type Obj } from './util.js';

const FEED = 'alpine-secdb';

function releaseKey(distroversion: string): string | undefined {
  const s = distroversion.trim().toLowerCase().replace(/^v/, '');
  if (s === 'edge') return 'alpine:edge';
  const m = /^(\d+)\.(\d+)/.exec(s);
  return m ? `alpine:${m[1]}.${m[2]}` : undefined;
}

/** The ids of one secfixes line: the first CVE leads, the other ids are its aliases. */
function lineIds(line: string): { id: string; aliases: string[] } | undefined {
  const ids = extractIds(line);
  const lead = ids.find(isCve) ?? ids[0];
  if (lead === undefined) return undefined;
  return { id: lead, aliases: ids.filter((i) => i !== lead).sort() };
}

function importPackage(doc: SourceDoc, sink: ImportSink, key: string, pkg: Obj, index: number): void {
  const name = asStr(pkg.name);
  const secfixes = asObj(pkg.secfixes);
  if (name === undefined || name === '' || (!secfixes && pkg.secfixes !== undefined && pkg.secfixes !== null)) {
    sink.skip(
      FEED,
      `${doc.subject}: packages[${index}]${name ? ` (${name})` : ''}`,
      'no name or secfixes is not a map',
    );
    return;
  }
  for (const version of Object.keys(secfixes ?? {}).sort()) {
    const lines = asArr(secfixes?.[version]);
    if (lines === undefined) {
      // Real data has "2.8.0-r0: {}" and empty keys: a version with no ids.
      if (
        secfixes?.[version] !== null &&
        secfixes?.[version] !== '' &&
        Object.keys(asObj(secfixes?.[version]) ?? {}).length > 0
      ) {
        sink.skip(FEED, `${doc.subject}: ${name} ${version}`, 'fix entry is not a list of ids');
      }
      continue;
    }
    // "0": listed ids never affected this release, so there is nothing to match.
    if (version.trim() === '0') continue;
    for (const raw of lines) {
      const parsed = lineIds(asStr(raw) ?? '');
      if (!parsed) {
        sink.skip(FEED, `${doc.subject}: ${name} ${version}`, `unreadable id ${JSON.stringify(raw)}`);
        continue;
      }
      const adv: Advisory = {
        feed: FEED,
        id: parsed.id,
        aliases: parsed.aliases,
        related: [],
        cvss: [],
        references: [],
        url: `https://security.alpinelinux.org/vuln/${parsed.id}`,
        affected: [
          {
            ecosystem: key,
            scheme: 'Alpine',
            name,
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: version.trim() }] }],
          },
        ],
      };
      sink.advisory(adv);
    }
  }
}

export const alpineSecdbImporter: FeedImporter = {
  id: 'alpine-secdb',
  version: 1,
  description: 'Alpine secdb, JSON or the older YAML, per release and repository (or per package)',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    return o !== undefined && typeof o.distroversion === 'string' && ('packages' in o || 'secfixes' in o);
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const o = asObj(doc.data) ?? {};
    const key = releaseKey(asStr(o.distroversion) ?? '');
    if (key === undefined) {
      sink.skip(FEED, doc.subject, `unknown distroversion ${JSON.stringify(o.distroversion)}`);
      return;
    }
    if ('secfixes' in o) {
      importPackage(doc, sink, key, o, 0);
      return;
    }
    (asArr(o.packages) ?? []).forEach((p, i) => {
      const pkg = asObj(asObj(p)?.pkg);
      if (!pkg) sink.skip(FEED, `${doc.subject}: packages[${i}]`, 'entry has no "pkg" object');
      else importPackage(doc, sink, key, pkg, i);
    });
  },
};
