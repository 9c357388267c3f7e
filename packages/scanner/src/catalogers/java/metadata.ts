/**
 * The text formats inside a Java archive that name it: META-INF/MANIFEST.MF (JAR File
 * Specification: "Name: value" headers, 72-byte lines continued by a leading space, sections
 * split by blank lines), pom.properties (java.util.Properties written by Maven), and the archive's
 * own file name (`commons-lang3-3.12.0.jar`).
 */

/** The main section of a manifest (attribute names as written; lookups are case-insensitive). */
export function parseManifest(text: string): Map<string, string> {
  const main = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      // The main section ends at the first blank line once it has started.
      if (main.size > 0) break;
      continue;
    }
    if (line.startsWith(' ')) {
      if (last !== undefined) main.set(last, (main.get(last) ?? '') + line.slice(1));
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    main.set(last, line.slice(colon + 1).trim());
  }
  return main;
}

/** java.util.Properties, enough of it for what Maven writes (comments, =/:/space, escapes, continuations). */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] ?? '').replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // An odd number of trailing backslashes continues the line.
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + (lines[++i] ?? '').replace(/^[ \t\f]+/, '');
    }
    const m = /^((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$/.exec(line);
    if (m === null) continue;
    out.set(unescapeProperty(m[1] ?? ''), unescapeProperty(m[2] ?? ''));
  }
  return out;
}

function unescapeProperty(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_all, e: string) => {
    if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[e] ?? e;
  });
}

export const ARCHIVE_EXTENSIONS = ['.jar', '.war', '.ear', '.jpi', '.hpi', '.par', '.sar', '.nar', '.kar'];

export function isJavaArchiveName(path: string): boolean {
  const lower = path.toLowerCase();
  return ARCHIVE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * Name and version from an archive file name: the version starts at a "-<digit>" after which
 * no "-<word>-<digit>" follows (so `log4j-1.2-api-2.17.1.jar` is log4j-1.2-api 2.17.1, and
 * `guava-31.1-jre.jar` is guava 31.1-jre). No version when the name has none (`app.jar`).
 */
export function parseArchiveName(fileName: string): { name: string; version?: string } | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  if (stem === '') return undefined;
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    const rest = stem.slice(i + 1);
    if (!/^\d/.test(rest)) continue;
    if (/-[A-Za-z][A-Za-z0-9_]*-\d/.test(rest)) continue;
    return { name: stem.slice(0, i), version: rest };
  }
  return { name: stem };
}

/** Manifest attributes, in order of preference, that often carry a reverse-domain identifier. */
const GROUP_HINTS = [
  'bundle-symbolicname',
  'automatic-module-name',
  'implementation-vendor-id',
  'extension-name',
  'implementation-title',
  'specification-title',
  'main-class',
];
const REVERSE_DOMAIN =
  /^(?:org|com|net|io|edu|gov|javax|jakarta|java|de|fr|uk|ch|nl|me|dev|co|info|biz|eu|at|be|se|no|dk|fi|jp|cn|ru|us|ca|au|in|br|es|it|pl|cz)(?:\.[A-Za-z0-9_-]+)+$/;

/**
 * A group id for an archive that only has a manifest. Like Syft, look for a reverse-domain
 * identifier (Bundle-SymbolicName first) and drop a trailing component that repeats the
 * artifact name: `org.apache.commons.lang3` for `commons-lang3` gives `org.apache.commons`.
 * Main-Class gives its package. Without a hint the artifact name is used, as Syft does.
 */
export function groupIdFromManifest(
  manifest: ReadonlyMap<string, string>,
  artifactId: string,
): { groupId: string; source: string } {
  for (const key of GROUP_HINTS) {
    let v = (manifest.get(key) ?? '').split(';')[0]?.trim() ?? '';
    if (key === 'main-class') v = v.slice(0, Math.max(0, v.lastIndexOf('.')));
    if (!REVERSE_DOMAIN.test(v)) continue;
    const parts = v.split('.');
    const last = (parts[parts.length - 1] ?? '').toLowerCase();
    const artifact = artifactId.toLowerCase();
    const repeats =
      last === artifact ||
      artifact.endsWith(`-${last}`) ||
      artifact.replace(/[-_.]/g, '') === last.replace(/[-_.]/g, '');
    if (repeats && parts.length > 2) parts.pop();
    return { groupId: parts.join('.'), source: `manifest:${key}` };
  }
  return { groupId: artifactId, source: 'artifactId' };
}
