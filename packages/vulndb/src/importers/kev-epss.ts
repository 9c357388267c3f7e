/**
 * Exploitation data attached to matches by CVE id: the CISA KEV catalog (JSON) and FIRST EPSS
 * scores (CSV, usually gzipped, first line "#model_version:…,score_date:…").
 */
import type { EpssInfo, KevInfo } from '@palisade/core';
import type { ImportSink } from '../model.js';
import { isCve } from '../ids.js';
import type { FeedImporter, SourceDoc } from './types.js';
import { asArr, asObj, asStr, isoDate } from './util.js';

export const kevImporter: FeedImporter = {
  id: 'kev',
  version: 1,
  description: 'CISA Known Exploited Vulnerabilities catalog (JSON)',
  sniff(doc: SourceDoc): boolean {
    const o = asObj(doc.data);
    return o !== undefined && Array.isArray(o.vulnerabilities) && ('catalogVersion' in o || 'dateReleased' in o);
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const o = asObj(doc.data) ?? {};
    const released = isoDate(o.dateReleased);
    if (released) sink.feedDate('kev', released);
    (asArr(o.vulnerabilities) ?? []).forEach((v, i) => {
      const r = asObj(v);
      const cve = asStr(r?.cveID)?.trim();
      const added = asStr(r?.dateAdded)?.trim();
      if (!r || cve === undefined || !isCve(cve) || added === undefined) {
        sink.skip('kev', `${doc.subject}: vulnerabilities[${i}]`, 'missing or invalid cveID/dateAdded');
        return;
      }
      const info: KevInfo = { dateAdded: added };
      const due = asStr(r.dueDate)?.trim();
      const ransom = asStr(r.knownRansomwareCampaignUse)?.trim();
      const action = asStr(r.requiredAction)?.trim();
      if (due) info.dueDate = due;
      if (ransom) info.knownRansomwareCampaignUse = ransom;
      if (action) info.requiredAction = action;
      sink.kev(cve, info);
    });
  },
};

function epssDate(comment: string): string | undefined {
  const m = /score_date:([0-9T:+.\-Z]+)/.exec(comment);
  if (!m) return undefined;
  // "2025-02-20T00:00:00+0000": add the colon ISO wants in the offset.
  return isoDate((m[1] ?? '').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

export const epssImporter: FeedImporter = {
  id: 'epss',
  version: 1,
  description: 'FIRST EPSS scores (CSV, plain or gzipped)',
  sniff(doc: SourceDoc): boolean {
    const head = doc.text.slice(0, 200).trimStart();
    return doc.data === undefined && (head.startsWith('#model_version') || /^cve,epss,percentile/i.test(head));
  },
  import(doc: SourceDoc, sink: ImportSink): void {
    const lines = doc.text.split('\n');
    let date: string | undefined;
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      if (line === '') continue;
      if (line.startsWith('#')) {
        date = epssDate(line) ?? date;
        if (date) sink.feedDate('epss', date);
        continue;
      }
      if (/^cve,/i.test(line)) continue;
      const [cve, s, p] = line.split(',');
      const score = Number(s);
      const percentile = Number(p);
      if (
        cve === undefined ||
        !isCve(cve) ||
        !(score >= 0 && score <= 1) ||
        !(percentile >= 0 && percentile <= 1) ||
        s === '' ||
        p === ''
      ) {
        sink.skip('epss', `${doc.subject}:${i + 1}`, `malformed row ${JSON.stringify(line.slice(0, 80))}`);
        continue;
      }
      const info: EpssInfo = { score, percentile };
      if (date) info.date = date.slice(0, 10);
      sink.epss(cve, info);
    }
  },
};
