/**
 * Licenses of a Debian package from its usr/share/doc/<pkg>/copyright file: the `License:` fields
 * of a machine-readable (DEP-5) file, and references to /usr/share/common-licenses/<name> that
 * free-form files use.
 */

const COMMON_LICENSES = '/usr/share/common-licenses/';

/** Characters a common-licenses file name is made of (GPL-2, Apache-2.0, LGPL-2.1, …). */
function isLicenseNameChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x2b ||
    c === 0x5f
  );
}

function commonLicenseRefs(line: string, out: Set<string>): void {
  let at = line.indexOf(COMMON_LICENSES);
  while (at >= 0) {
    let end = at + COMMON_LICENSES.length;
    while (end < line.length && isLicenseNameChar(line.charCodeAt(end))) end++;
    const name = line.slice(at + COMMON_LICENSES.length, end).replace(/\.+$/, '');
    if (name) out.add(name);
    at = line.indexOf(COMMON_LICENSES, end);
  }
}

/** The lines of a copyright file that name licenses; what `extract` keeps of it. */
export function licenseLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (/^license:/i.test(raw) || raw.includes(COMMON_LICENSES)) out.push(raw.trimEnd());
  }
  return out;
}

/** Sorted, de-duplicated license names of a copyright file (or of its `licenseLines`). */
export function parseCopyrightLicenses(text: string): string[] {
  const found = new Set<string>();
  for (const line of licenseLines(text)) {
    if (/^license:/i.test(line)) {
      // DEP-5: the first line of a License field is the short name (or an "or"/"and" expression).
      const value = line.slice('license:'.length).trim();
      if (value) found.add(value);
    } else {
      commonLicenseRefs(line, found);
    }
  }
  return [...found].sort();
}
