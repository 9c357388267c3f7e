/**
 * CVSS base scores from vectors (v2 and v3.x, per the FIRST specifications). v4 vectors are kept
 * without a score: their scoring needs the full macro-vector table, which we do not need to rank.
 */
import { severityFromCvssScore, type CvssScore, type Severity } from '@palisade/core';

function metrics(vector: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of vector.replace(/^\(|\)$/g, '').split('/')) {
    const i = part.indexOf(':');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}

function pick(table: Record<string, number>, value: string | undefined): number | undefined {
  return value === undefined ? undefined : table[value];
}

// v3.1 Roundup: defined on integers to avoid floating-point surprises (spec, Appendix A).
function roundUp31(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

function roundUp30(x: number): number {
  return Math.ceil(x * 10) / 10;
}

/** CVSS v3.0/v3.1 base score, or undefined when a base metric is missing or invalid. */
export function cvss3BaseScore(vector: string): number | undefined {
  const m = metrics(vector);
  const version = m.get('CVSS');
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const changed = scope === 'C';
  const av = pick({ N: 0.85, A: 0.62, L: 0.55, P: 0.2 }, m.get('AV'));
  const ac = pick({ L: 0.77, H: 0.44 }, m.get('AC'));
  const pr = pick(changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 }, m.get('PR'));
  const ui = pick({ N: 0.85, R: 0.62 }, m.get('UI'));
  const cia = { H: 0.56, L: 0.22, N: 0 };
  const c = pick(cia, m.get('C'));
  const i = pick(cia, m.get('I'));
  const a = pick(cia, m.get('A'));
  if (av === undefined || ac === undefined || pr === undefined || ui === undefined) return undefined;
  if (c === undefined || i === undefined || a === undefined) return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  if (impact <= 0) return 0;
  const exploitability = 8.22 * av * ac * pr * ui;
  const raw = changed ? Math.min(1.08 * (impact + exploitability), 10) : Math.min(impact + exploitability, 10);
  return version === '3.0' ? roundUp30(raw) : roundUp31(raw);
}

/** CVSS v2 base score, or undefined when a base metric is missing or invalid. */
export function cvss2BaseScore(vector: string): number | undefined {
  const m = metrics(vector.replace(/^CVSS:2\.0\//, ''));
  const av = pick({ L: 0.395, A: 0.646, N: 1.0 }, m.get('AV'));
  const ac = pick({ H: 0.35, M: 0.61, L: 0.71 }, m.get('AC'));
  const au = pick({ M: 0.45, S: 0.56, N: 0.704 }, m.get('Au'));
  const cia = { N: 0, P: 0.275, C: 0.66 };
  const c = pick(cia, m.get('C'));
  const i = pick(cia, m.get('I'));
  const a = pick(cia, m.get('A'));
  if (av === undefined || ac === undefined || au === undefined) return undefined;
  if (c === undefined || i === undefined || a === undefined) return undefined;
  const impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a));
  const exploitability = 20 * av * ac * au;
  const f = impact === 0 ? 0 : 1.176;
  const score = (0.6 * impact + 0.4 * exploitability - 1.5) * f;
  return Math.round(score * 10) / 10;
}

/** Parse a vector into a CvssScore (with a computed score for v2/v3), or undefined if unrecognized. */
export function parseCvss(vector: string, source: string): CvssScore | undefined {
  const v = vector.trim();
  const m = /^CVSS:(3\.[01]|4\.0)\//.exec(v);
  if (m) {
    const version = m[1] ?? '';
    const out: CvssScore = { version, vector: v, source };
    if (version.startsWith('3')) {
      const score = cvss3BaseScore(v);
      if (score === undefined) return undefined;
      out.score = score;
    }
    return out;
  }
  if (/(^|\/|\()AV:[LAN]\/AC:[HML]\/Au:[MSN]\//.test(v)) {
    const score = cvss2BaseScore(v);
    if (score === undefined) return undefined;
    return { version: '2.0', vector: v.replace(/^\(|\)$/g, ''), score, source };
  }
  return undefined;
}

export function severityFromCvss2(score: number): Severity {
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return score > 0 ? 'low' : 'negligible';
}

/** Severity from the best CVSS we have: v3.x first, then v2; undefined when neither scores. */
export function severityFromCvssList(list: readonly CvssScore[]): { severity: Severity; source: string } | undefined {
  const v3 = list.filter((c) => c.version.startsWith('3') && c.score !== undefined);
  const best3 = v3.sort((a, b) => (b.score ?? 0) - (a.score ?? 0))[0];
  if (best3?.score !== undefined) return { severity: severityFromCvssScore(best3.score), source: best3.source };
  const v2 = list.filter((c) => c.version === '2.0' && c.score !== undefined);
  const best2 = v2.sort((a, b) => (b.score ?? 0) - (a.score ?? 0))[0];
  if (best2?.score !== undefined) return { severity: severityFromCvss2(best2.score), source: best2.source };
  return undefined;
}
