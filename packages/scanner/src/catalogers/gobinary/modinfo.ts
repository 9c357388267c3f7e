/**
 * The module info text of a Go binary (what `go version -m` prints, as runtime/debug.BuildInfo
 * writes it): tab-separated lines "path", "mod" (main module), "dep", "=>" (replacement of the
 * line before) and "build" (key=value, Go-quoted when they hold spaces, quotes or '=').
 */

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  /** The module that replaced this one (a `replace` directive). */
  replace?: GoModule;
}

export interface GoModInfo {
  /** Main package path ("command-line-arguments" for `go build file.go`). */
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  /** Build settings in order (-compiler, -ldflags, CGO_ENABLED, GOOS, GOARCH, vcs.*). */
  settings: Array<[string, string]>;
  /** Lines that could not be understood (for a warning). */
  bad: string[];
}

export function parseModInfo(text: string): GoModInfo {
  const info: GoModInfo = { deps: [], settings: [], bad: [] };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const word = tab < 0 ? line : line.slice(0, tab);
    const rest = tab < 0 ? '' : line.slice(tab + 1);
    switch (word) {
      case 'path':
        info.path = rest;
        break;
      case 'mod':
        last = info.main = toModule(rest);
        break;
      case 'dep':
        last = toModule(rest);
        info.deps.push(last);
        break;
      case '=>':
        if (last === undefined) info.bad.push(line);
        else last.replace = toModule(rest);
        last = undefined;
        break;
      case 'build': {
        const setting = parseSetting(rest);
        if (setting === undefined) info.bad.push(line);
        else info.settings.push(setting);
        break;
      }
      default:
        // "go" lines (BuildInfo.String) and future words: nothing to catalog.
        break;
    }
  }
  return info;
}

function toModule(fields: string): GoModule {
  const [path = '', version = '', sum = ''] = fields.split('\t');
  const m: GoModule = { path, version };
  if (sum !== '') m.sum = sum;
  return m;
}

function parseSetting(s: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (s.startsWith('"')) {
    const q = readQuoted(s, 0);
    if (q === undefined || s[q.end] !== '=') return undefined;
    key = q.value;
    rest = s.slice(q.end + 1);
  } else {
    const eq = s.indexOf('=');
    if (eq <= 0) return undefined;
    key = s.slice(0, eq);
    rest = s.slice(eq + 1);
  }
  if (!rest.startsWith('"')) return [key, rest];
  const v = readQuoted(rest, 0);
  return v === undefined || v.end !== rest.length ? undefined : [key, v.value];
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** A Go double-quoted string literal (strconv.Quote output) starting at `start`. */
export function readQuoted(s: string, start: number): { value: string; end: number } | undefined {
  const bytes: number[] = [];
  const push = (str: string): void => {
    for (const b of Buffer.from(str, 'utf8')) bytes.push(b);
  };
  let i = start + 1;
  while (i < s.length) {
    const c = s[i] ?? '';
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c !== '\\') {
      push(c);
      i++;
      continue;
    }
    const e = s[i + 1] ?? '';
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      push(simple);
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i + 2, i + 2 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) return undefined;
      const code = parseInt(hex, 16);
      // \x is a raw byte; \u and \U are code points.
      if (e === 'x') bytes.push(code);
      else if (code <= 0x10ffff) push(String.fromCodePoint(code));
      else return undefined;
      i += 2 + n;
    } else if (/[0-7]/.test(e)) {
      const oct = s.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct)) return undefined;
      bytes.push(parseInt(oct, 8) & 0xff);
      i += 4;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The first value of a build setting. */
export function setting(info: GoModInfo, key: string): string | undefined {
  return info.settings.find(([k]) => k === key)?.[1];
}

/**
 * The Go toolchain version in the semver form module versions use: "go1.21.3" → "v1.21.3",
 * "go1.20" → "v1.20.0", "go1.21rc2" → "v1.21.0-rc.2" (the form OSV's Go data uses for
 * `stdlib`, minus the "v" the matcher strips). Undefined for development toolchains.
 */
export function goToolchainSemver(goVersion: string): string | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$/.exec(goVersion.split(' ')[0] ?? '');
  if (m === null) return undefined;
  const [, major, minor, patch, pre, preNum] = m;
  let v = `v${major}.${minor}.${patch ?? '0'}`;
  if (pre !== undefined) v += `-${pre}.${preNum}`;
  return v;
}

const SEMVERISH = /^v?\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.\-+]*)?$/;

/**
 * A version for a main module built from a checkout (version "(devel)"): first a semver-looking
 * `-X …version=` linker flag (how most projects stamp releases), then a pseudo-version from the
 * VCS stamp, as `go` itself computes for untagged commits.
 */
export function mainVersionFromSettings(info: GoModInfo): { version: string; source: string } | undefined {
  const ldflags = setting(info, '-ldflags');
  if (ldflags !== undefined) {
    for (const [key, value] of linkerDefinitions(ldflags)) {
      const name = key.slice(key.lastIndexOf('.') + 1);
      if (/version$/i.test(name) && SEMVERISH.test(value)) {
        return { version: value.startsWith('v') ? value : `v${value}`, source: `ldflags:${key}` };
      }
    }
  }
  const rev = setting(info, 'vcs.revision');
  const time = setting(info, 'vcs.time');
  if (rev !== undefined && time !== undefined && /^[0-9a-f]{12,}$/.test(rev)) {
    const stamp = time.replace(/[-:TZ]/g, '').slice(0, 14);
    if (/^\d{14}$/.test(stamp)) return { version: `v0.0.0-${stamp}-${rev.slice(0, 12)}`, source: 'vcs' };
  }
  return undefined;
}

/** The `-X importpath.name=value` definitions of an -ldflags string (shell-like quoting). */
export function linkerDefinitions(ldflags: string): Array<[string, string]> {
  const words = splitWords(ldflags);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    let def: string | undefined;
    if (w === '-X' || w === '--X') def = words[++i];
    else if (/^--?X=/.test(w)) def = w.slice(w.indexOf('=') + 1);
    const eq = def?.indexOf('=') ?? -1;
    if (def !== undefined && eq > 0) out.push([def.slice(0, eq), def.slice(eq + 1)]);
  }
  return out;
}

function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let inWord = false;
  for (const c of s) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
