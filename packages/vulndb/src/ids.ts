/** Parsing of the messy vulnerability ids found in real feeds. */

const CVE_RE = /^CVE-\d{4}-\d{4,}$/;

export function isCve(id: string): boolean {
  return CVE_RE.test(id);
}

// A plausible advisory id: a letter prefix, a dash, then an alphanumeric tail (XSA-207, TALOS-2017-0499).
const TOKEN_RE = /^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+$/;

function normalizeToken(raw: string): string | undefined {
  let t = raw.trim().replace(/[,;:]+$/, '');
  t = t.replace(/\.(patch|diff)$/i, '');
  // "CVE_2019-2426" and lower-case "cve-…" are typos of the CVE form.
  t = t.replace(/^cve[_-]/i, 'CVE-');
  const cve = /^(CVE-\d{4}-\d{4,})(?:-\d+)?$/.exec(t);
  if (cve) return cve[1];
  if (/^CVE-/.test(t)) return undefined; // "CVE-????-?????": a placeholder, not an id
  return TOKEN_RE.test(t) ? t : undefined;
}

/**
 * Ids in a free-text id field such as "CVE-2017-8904 XSA-214", "CVE-2018-16301 (was fixed in
 * libpcap)", "CVE 2018-16859" or "CVE-2019-19451.patch". Parenthesized comments are dropped;
 * the result keeps the order of appearance without duplicates.
 */
export function extractIds(field: string): string[] {
  const text = field.replace(/\([^)]*\)?/g, ' ').replace(/#.*$/, ' ');
  const parts = text.split(/\s+/).filter((p) => p.length > 0);
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i] ?? '';
    const next = parts[i + 1];
    if (/^CVE$/i.test(p) && next !== undefined && /^\d{4}-\d{4,}$/.test(next)) {
      p = `CVE-${next}`;
      i++;
    }
    const id = normalizeToken(p);
    if (id !== undefined && !out.includes(id)) out.push(id);
  }
  return out;
}

/** "UBUNTU-CVE-2023-4911" / "DEBIAN-CVE-…" → the CVE it wraps, else undefined. */
export function wrappedCve(id: string): string | undefined {
  const m = /^(?:[A-Z]+-)?(CVE-\d{4}-\d{4,})$/.exec(id);
  return m ? m[1] : undefined;
}

export function sortedUnique(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}
