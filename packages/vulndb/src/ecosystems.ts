/**
 * Ecosystem keys: where an advisory entry lives and where a package is looked up. A distro key
 * names one exact release stream ("debian:12", "ubuntu:22.04", "alpine:3.18"); a language key
 * names one package registry ("npm", "pypi", "go", …).
 */
import { parsePurl, type OsInfo, type Package, type PackageType } from '@palisade/core';

/** Debian codenames ↔ major versions. `sid` (unstable) has no number and stays "sid". */
export const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
  sid: 'sid',
  unstable: 'sid',
};

/** "bookworm" → "12", "12" → "12", "sid" → "sid"; undefined for an unknown codename. */
export function debianRelease(codenameOrVersion: string): string | undefined {
  const s = codenameOrVersion.trim().toLowerCase();
  if (/^\d+$/.test(s)) return s;
  const major = /^(\d+)\.\d+/.exec(s);
  if (major) return major[1];
  return DEBIAN_CODENAMES[s];
}

/** The OSV ecosystem name of each language package type. */
const LANGUAGE_ECOSYSTEMS: Partial<Record<PackageType, string>> = {
  npm: 'npm',
  pypi: 'PyPI',
  golang: 'Go',
  maven: 'Maven',
  gem: 'RubyGems',
  cargo: 'crates.io',
  nuget: 'NuGet',
  composer: 'Packagist',
};

export interface EcosystemRef {
  /** Matching key, e.g. "debian:12", "ubuntu:pro:22.04", "npm". */
  key: string;
  /** OSV ecosystem name whose version scheme applies ("Debian", "Ubuntu", "Alpine", "npm", …). */
  scheme: string;
}

function alpineKey(release: string): string | undefined {
  const s = release.trim().toLowerCase().replace(/^v/, '');
  if (s === 'edge') return 'alpine:edge';
  const m = /^(\d+)\.(\d+)/.exec(s);
  return m ? `alpine:${m[1]}.${m[2]}` : undefined;
}

function ubuntuKey(parts: string[]): string | undefined {
  // "22.04", "22.04:LTS", "Pro:22.04:LTS", "Pro:FIPS-updates:22.04:LTS": the version is the
  // part that looks like one; everything before it (Pro, FIPS…) names a separate stream.
  const idx = parts.findIndex((p) => /^\d+\.\d+$/.test(p));
  if (idx < 0) return undefined;
  const prefix = parts.slice(0, idx).map((p) => p.toLowerCase());
  return ['ubuntu', ...prefix, parts[idx]].join(':');
}

/** Map an OSV `affected[].package.ecosystem` to its key; undefined when it names no usable stream. */
export function osvEcosystem(ecosystem: string): EcosystemRef | undefined {
  const parts = ecosystem.split(':');
  const base = parts[0] ?? '';
  const rest = parts.slice(1);
  switch (base) {
    case 'Debian': {
      const rel = rest[0] === undefined ? undefined : debianRelease(rest[0]);
      return rel === undefined ? undefined : { key: `debian:${rel}`, scheme: 'Debian' };
    }
    case 'Ubuntu': {
      const key = ubuntuKey(rest);
      return key === undefined ? undefined : { key, scheme: 'Ubuntu' };
    }
    case 'Alpine': {
      const key = rest[0] === undefined ? undefined : alpineKey(rest[0]);
      return key === undefined ? undefined : { key, scheme: 'Alpine' };
    }
    default:
      if (base === '') return undefined;
      // Language ecosystems (and others we do not special-case) keep their own name as key.
      return { key: ecosystem.toLowerCase(), scheme: base };
  }
}

/** PEP 503: lower-case, runs of "-", "_", "." become one "-". */
export function pep503(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Normalize a package name as stored and looked up under an ecosystem key. */
export function normalizeName(key: string, name: string): string {
  switch (key) {
    case 'pypi':
      return pep503(name);
    case 'nuget':
    case 'packagist':
      return name.toLowerCase();
    default:
      return name.trim();
  }
}

/** Version as the feed spells it: Go modules and toolchains carry "v"/"go" prefixes OSV drops. */
export function normalizeVersion(key: string, version: string): string {
  if (key === 'go') return version.replace(/^(v|go)(?=\d)/, '');
  return version;
}

/** The distro key of an OS release for a given OS package type, or undefined (no data). */
export function distroKey(type: PackageType, os: OsInfo | undefined): EcosystemRef | undefined {
  if (os === undefined) return undefined;
  const family = os.family.toLowerCase();
  if (type === 'deb' && family === 'debian') {
    const rel = debianRelease(os.version) ?? (os.codename === undefined ? undefined : debianRelease(os.codename));
    return rel === undefined ? undefined : { key: `debian:${rel}`, scheme: 'Debian' };
  }
  if (type === 'deb' && family === 'ubuntu') {
    const m = /^(\d+\.\d+)/.exec(os.version);
    return m ? { key: `ubuntu:${m[1]}`, scheme: 'Ubuntu' } : undefined;
  }
  if (type === 'apk' && family === 'alpine') {
    const key = /_alpha|_beta|_rc/.test(os.version) ? 'alpine:edge' : alpineKey(os.version);
    return key === undefined ? undefined : { key, scheme: 'Alpine' };
  }
  if (type === 'rpm' && ['rhel', 'centos', 'rocky', 'almalinux', 'redhat'].includes(family)) {
    const m = /^(\d+)/.exec(os.version);
    return m ? { key: `redhat:${m[1]}`, scheme: 'Red Hat' } : undefined;
  }
  return undefined;
}

function languageName(pkg: Package): string {
  // Maven is looked up as "group:artifact" and scoped npm as "@scope/name"; take the
  // namespace from the purl when the cataloger kept it out of `name`.
  if (pkg.type !== 'maven' && pkg.type !== 'npm' && pkg.type !== 'golang' && pkg.type !== 'composer') return pkg.name;
  // Already qualified: skip the purl parse (it showed up in match profiles).
  if (pkg.type === 'maven' ? pkg.name.includes(':') : pkg.name.includes('/')) return pkg.name;
  let ns: string | undefined;
  try {
    ns = parsePurl(pkg.purl).namespace;
  } catch {
    ns = undefined;
  }
  if (ns === undefined || ns === '') return pkg.name;
  if (pkg.type === 'maven') return pkg.name.includes(':') ? pkg.name : `${ns}:${pkg.name}`;
  return pkg.name.includes('/') ? pkg.name : `${ns}/${pkg.name}`;
}

export interface LookupTarget {
  ecosystem: EcosystemRef;
  name: string;
  version: string;
  kind: 'source' | 'binary';
}

/** Where to look a package up: the distro stream for OS packages, the registry for the rest. */
export function lookupTarget(pkg: Package, os: OsInfo | undefined): LookupTarget | undefined {
  if (pkg.type === 'deb' || pkg.type === 'apk' || pkg.type === 'rpm') {
    const eco = distroKey(pkg.type, os);
    if (eco === undefined) return undefined;
    // Distro advisories are written for the source package.
    const src = pkg.source?.name;
    if (src !== undefined && src !== '') {
      return { ecosystem: eco, name: src, version: pkg.source?.version || pkg.version, kind: 'source' };
    }
    return { ecosystem: eco, name: pkg.name, version: pkg.version, kind: 'binary' };
  }
  const scheme = LANGUAGE_ECOSYSTEMS[pkg.type];
  if (scheme === undefined) return undefined;
  const key = scheme.toLowerCase();
  let name = normalizeName(key, languageName(pkg));
  if (key === 'go' && (name === 'go' || name === 'golang.org/toolchain')) name = 'stdlib';
  return { ecosystem: { key, scheme }, name, version: normalizeVersion(key, pkg.version), kind: 'binary' };
}
