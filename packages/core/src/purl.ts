/**
 * Package URLs (https://github.com/package-url/purl-spec): building them with the
 * spec's percent-encoding, so every package carries a purl other tools can read.
 */

export interface PurlParts {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string | undefined>;
  subpath?: string;
}

// The spec leaves these unencoded in each component; everything else is percent-encoded.
function encodeComponent(s: string, keepSlash = false): string {
  let out = encodeURIComponent(s).replace(/%3A/gi, ':');
  if (keepSlash) out = out.replace(/%2F/gi, '/');
  return out;
}

export function buildPurl(p: PurlParts): string {
  let s = `pkg:${p.type.toLowerCase()}/`;
  if (p.namespace) {
    s += p.namespace
      .split('/')
      .filter((seg) => seg.length > 0)
      .map((seg) => encodeComponent(seg))
      .join('/');
    s += '/';
  }
  s += encodeComponent(p.name);
  if (p.version !== undefined && p.version !== '') s += `@${encodeComponent(p.version)}`;
  const q = Object.entries(p.qualifiers ?? {})
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (q.length > 0) s += '?' + q.map(([k, v]) => `${k}=${encodeComponent(v, true)}`).join('&');
  if (p.subpath)
    s +=
      '#' +
      p.subpath
        .split('/')
        .filter(Boolean)
        .map((seg) => encodeComponent(seg))
        .join('/');
  return s;
}

export function parsePurl(purl: string): PurlParts {
  if (!purl.startsWith('pkg:')) throw new Error(`not a purl: ${purl}`);
  let rest = purl.slice(4).replace(/^\/+/, '');
  let subpath: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    subpath = decodeURIComponent(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  let qualifiers: Record<string, string> | undefined;
  const qm = rest.indexOf('?');
  if (qm >= 0) {
    qualifiers = {};
    for (const kv of rest.slice(qm + 1).split('&')) {
      const eq = kv.indexOf('=');
      if (eq > 0) qualifiers[kv.slice(0, eq)] = decodeURIComponent(kv.slice(eq + 1));
    }
    rest = rest.slice(0, qm);
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    version = decodeURIComponent(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const segs = rest.split('/');
  const type = (segs.shift() ?? '').toLowerCase();
  const name = decodeURIComponent(segs.pop() ?? '');
  const namespace = segs.length > 0 ? segs.map((s) => decodeURIComponent(s)).join('/') : undefined;
  const out: PurlParts = { type, name };
  if (namespace !== undefined) out.namespace = namespace;
  if (version !== undefined) out.version = version;
  if (qualifiers !== undefined) out.qualifiers = qualifiers;
  if (subpath !== undefined) out.subpath = subpath;
  return out;
}
