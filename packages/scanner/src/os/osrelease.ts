/**
 * Parsers for the text files distributions use to say what they are: os-release(5) (shell-like
 * KEY=value assignments), lsb-release (the same syntax) and the one-line "<Name> release <ver>
 * (<codename>)" files of the Red Hat family.
 */

/** Undo one os-release value's quoting: "..." with backslash escapes, '...' literal, or bare. */
export function unquoteValue(raw: string): string {
  const v = raw.trim();
  let out = '';
  let i = 0;
  while (i < v.length) {
    const ch = v[i] as string;
    if (ch === '"') {
      i++;
      while (i < v.length && v[i] !== '"') {
        // Inside double quotes only these are escapes, as in sh; other backslashes stay.
        if (v[i] === '\\' && i + 1 < v.length && '"\\$`'.includes(v[i + 1] as string)) i++;
        out += v[i];
        i++;
      }
      i++;
    } else if (ch === "'") {
      const end = v.indexOf("'", i + 1);
      const stop = end < 0 ? v.length : end;
      out += v.slice(i + 1, stop);
      i = stop + 1;
    } else if (ch === '\\' && i + 1 < v.length) {
      out += v[i + 1];
      i += 2;
    } else if (ch === '#' && (i === 0 || /\s/.test(v[i - 1] as string))) {
      break; // an unquoted " #" starts a comment, as in sh
    } else {
      out += ch;
      i++;
    }
  }
  // Lenient with invalid-but-seen unquoted values holding spaces: keep them, minus trailing blanks.
  return out.trimEnd();
}

/** KEY=value pairs of an os-release or lsb-release file; comments and malformed lines are ignored. */
export function parseKeyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, '');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
    out.set(key, unquoteValue(line.slice(eq + 1)));
  }
  return out;
}

export interface ReleaseLine {
  name: string;
  version: string;
  codename?: string;
}

/**
 * "CentOS Linux release 7.9.2009 (Core)", "Amazon Linux release 2 (Karoo)",
 * "Red Hat Enterprise Linux Server release 7.9 (Maipo)", "Fedora release 38 (Thirty Eight)".
 */
export function parseReleaseLine(text: string): ReleaseLine | undefined {
  const line = text.split(/\r?\n/, 1)[0]?.trim() ?? '';
  const m = /^(.+?)\s+release\s+(\S+)(?:\s+\(([^)]*)\))?/i.exec(line);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const out: ReleaseLine = { name: m[1], version: m[2] };
  if (m[3]) out.codename = m[3];
  return out;
}
