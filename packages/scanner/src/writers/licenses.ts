/**
 * License strings found in packages are free-form ("GPL-2+", "MIT", "Apache 2.0", "BSD-3-Clause OR MIT").
 * SBOM formats want SPDX identifiers and expressions, and their schemas reject unknown ids, so each
 * string is classified here: a known SPDX id, an SPDX expression of known ids, or free text.
 */

// The SPDX ids most often seen in container images. Deliberately a curated subset: an id outside it
// is written as a name / LicenseRef, which is always valid, rather than guessed.
const KNOWN_SPDX_IDS = new Set([
  '0BSD',
  'AFL-2.1',
  'AGPL-3.0-only',
  'AGPL-3.0-or-later',
  'Apache-1.1',
  'Apache-2.0',
  'Artistic-1.0',
  'Artistic-1.0-Perl',
  'Artistic-2.0',
  'BSD-1-Clause',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'BSD-4-Clause',
  'BSL-1.0',
  'CC-BY-3.0',
  'CC-BY-4.0',
  'CC-BY-SA-4.0',
  'CC0-1.0',
  'CDDL-1.0',
  'CDDL-1.1',
  'EPL-1.0',
  'EPL-2.0',
  'FTL',
  'GFDL-1.3-only',
  'GFDL-1.3-or-later',
  'GPL-1.0-or-later',
  'GPL-2.0-only',
  'GPL-2.0-or-later',
  'GPL-3.0-only',
  'GPL-3.0-or-later',
  'HPND',
  'ICU',
  'IJG',
  'ISC',
  'LGPL-2.0-only',
  'LGPL-2.0-or-later',
  'LGPL-2.1-only',
  'LGPL-2.1-or-later',
  'LGPL-3.0-only',
  'LGPL-3.0-or-later',
  'Libpng',
  'MIT',
  'MIT-0',
  'MPL-1.1',
  'MPL-2.0',
  'OpenSSL',
  'PHP-3.01',
  'PostgreSQL',
  'PSF-2.0',
  'Python-2.0',
  'Ruby',
  'Sleepycat',
  'Unicode-DFS-2016',
  'Unlicense',
  'W3C',
  'WTFPL',
  'X11',
  'Zlib',
  'ZPL-2.1',
]);
const BY_LOWER = new Map([...KNOWN_SPDX_IDS].map((id) => [id.toLowerCase(), id]));
const EXCEPTIONS = new Set(['Classpath-exception-2.0', 'GCC-exception-3.1', 'LLVM-exception', 'OpenSSL-exception']);

export type LicenseKind =
  { kind: 'id'; id: string } | { kind: 'expression'; expression: string } | { kind: 'text'; text: string };

/** Canonical SPDX id for a string, or undefined when it is not one we know. */
export function spdxId(s: string): string | undefined {
  return BY_LOWER.get(s.trim().toLowerCase());
}

/** Classify one license string. */
export function classifyLicense(raw: string): LicenseKind {
  const s = raw.trim();
  const id = spdxId(s);
  if (id) return { kind: 'id', id };
  const expr = spdxExpression(s);
  if (expr) return { kind: 'expression', expression: expr };
  return { kind: 'text', text: s };
}

/** "MIT OR Apache-2.0", "(MIT AND Zlib)", "GPL-2.0-only WITH Classpath-exception-2.0" with known ids only. */
function spdxExpression(s: string): string | undefined {
  if (!/\s(AND|OR|WITH)\s/i.test(s)) return undefined;
  const tokens = s
    .replace(/([()])/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
  const out: string[] = [];
  let afterWith = false;
  for (const t of tokens) {
    const upper = t.toUpperCase();
    if (upper === 'AND' || upper === 'OR' || upper === 'WITH') {
      out.push(upper);
      afterWith = upper === 'WITH';
    } else if (t === '(' || t === ')') {
      out.push(t);
    } else if (afterWith) {
      if (!EXCEPTIONS.has(t)) return undefined;
      out.push(t);
      afterWith = false;
    } else {
      const id = spdxId(t);
      if (!id) return undefined;
      out.push(id);
    }
  }
  return out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
}

/** A LicenseRef id for free text: "LicenseRef-" + the text reduced to the characters SPDX allows. */
export function licenseRef(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `LicenseRef-${slug || 'unknown'}`;
}
