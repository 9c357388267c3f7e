/**
 * OS detection: which distribution an image is, from os-release(5) and the older release files
 * (alpine-release, debian_version, redhat-release, system-release, lsb-release, …). The family is
 * what vulnerability matching keys on; the version is the one the distro's advisories use.
 */
import type { OsInfo } from '@palisade/core';
import type { FileMeta, FileTree, OsDetector } from '../catalogers/types.js';
import { resolvePath } from '../catalogers/filetree.js';
import { parseKeyValues, parseReleaseLine, type ReleaseLine } from './osrelease.js';

export { parseKeyValues, parseReleaseLine, unquoteValue } from './osrelease.js';

const OS_RELEASE = ['etc/os-release', 'usr/lib/os-release'] as const;

// Red Hat family one-liners, most specific first: system-release and redhat-release are often
// symlinks to (or copies of) the distro's own file.
const RH_RELEASE_FILES = [
  'etc/centos-release',
  'etc/rocky-release',
  'etc/almalinux-release',
  'etc/oracle-release',
  'etc/fedora-release',
  'etc/system-release',
  'etc/redhat-release',
] as const;

const WANTED: ReadonlySet<string> = new Set<string>([
  ...OS_RELEASE,
  ...RH_RELEASE_FILES,
  'etc/alpine-release',
  'etc/debian_version',
  'etc/lsb-release',
]);

/** Release files are a few hundred bytes; anything far larger is not one. */
const MAX_RELEASE_FILE = 64 * 1024;

/** os-release ID → matching family. IDs not listed fall back to ID_LIKE, then to the ID itself. */
const FAMILY_BY_ID: Readonly<Record<string, string>> = {
  debian: 'debian',
  ubuntu: 'ubuntu',
  alpine: 'alpine',
  rhel: 'rhel',
  centos: 'centos',
  rocky: 'rocky',
  almalinux: 'almalinux',
  ol: 'ol',
  fedora: 'fedora',
  amzn: 'amzn',
  sles: 'sles',
  sled: 'sles',
  sles_sap: 'sles',
  'sle-micro': 'sles',
  opensuse: 'opensuse',
  'opensuse-leap': 'opensuse',
  'opensuse-tumbleweed': 'opensuse',
  'opensuse-leap-micro': 'opensuse',
  wolfi: 'wolfi',
  chainguard: 'chainguard',
  photon: 'photon',
  azurelinux: 'azurelinux',
  mariner: 'mariner',
};

function readText(tree: FileTree, path: string): string | undefined {
  const file = tree.get(path) ?? tree.get(resolvePath(tree, path));
  if (!file || file.data.length > MAX_RELEASE_FILE) return undefined;
  return file.data.toString('utf8');
}

function firstLine(text: string | undefined): string | undefined {
  const line = text?.split(/\r?\n/, 1)[0]?.trim();
  return line ? line : undefined;
}

function familyOf(id: string, idLike: string | undefined): string {
  const direct = FAMILY_BY_ID[id];
  if (direct) return direct;
  for (const like of (idLike ?? '').split(/\s+/)) {
    const f = FAMILY_BY_ID[like.toLowerCase()];
    if (f) return f;
  }
  return id;
}

/** Debian's own file: "12.11" (a point release: matching uses the major) or "trixie/sid". */
function debianVersion(tree: FileTree): string | undefined {
  const v = firstLine(readText(tree, 'etc/debian_version'));
  if (!v) return undefined;
  return /^\d+(\.\d+)*$/.test(v) ? v.split('.')[0] : v;
}

function codenameFromVersion(version: string | undefined): string | undefined {
  const m = version ? /\(([^)]+)\)/.exec(version) : null;
  return m?.[1]?.split(/[\s,]/)[0]?.toLowerCase() || undefined;
}

function fromOsRelease(tree: FileTree, kv: Map<string, string>): OsInfo | undefined {
  const id = kv.get('ID')?.trim().toLowerCase();
  if (!id) return undefined;
  const family = familyOf(id, kv.get('ID_LIKE'));
  let version = kv.get('VERSION_ID')?.trim() ?? '';
  // alpine-release carries the full point release (3.18.4) even where os-release is shorter.
  if (family === 'alpine') version = firstLine(readText(tree, 'etc/alpine-release')) ?? version;
  // Debian testing/sid has no VERSION_ID: debian_version says e.g. "trixie/sid".
  if (family === 'debian' && version === '') version = debianVersion(tree) ?? '';
  const info: OsInfo = { family, id, version };
  // Old Debian/Ubuntu releases have no VERSION_CODENAME, only VERSION="8 (jessie)". Elsewhere
  // the parenthesis is not a codename (Fedora's "42 (Container Image)").
  const fromVersion = family === 'debian' || family === 'ubuntu' ? codenameFromVersion(kv.get('VERSION')) : undefined;
  const codename = kv.get('VERSION_CODENAME') || kv.get('UBUNTU_CODENAME') || fromVersion;
  if (codename) info.codename = codename;
  const pretty = kv.get('PRETTY_NAME') || kv.get('NAME');
  if (pretty) info.prettyName = pretty;
  return info;
}

const RH_NAME_TO_ID: ReadonlyArray<readonly [RegExp, string]> = [
  [/centos/i, 'centos'],
  [/rocky/i, 'rocky'],
  [/alma/i, 'almalinux'],
  [/oracle/i, 'ol'],
  [/fedora/i, 'fedora'],
  [/amazon/i, 'amzn'],
  [/red hat|redhat/i, 'rhel'],
];

function fromRedHatRelease(tree: FileTree): OsInfo | undefined {
  for (const path of RH_RELEASE_FILES) {
    const text = readText(tree, path);
    const rel: ReleaseLine | undefined = text ? parseReleaseLine(text) : undefined;
    if (!rel) continue;
    const id = RH_NAME_TO_ID.find(([re]) => re.test(rel.name))?.[1];
    if (!id) continue;
    const info: OsInfo = { family: id, id, version: rel.version };
    const pretty = firstLine(text);
    if (pretty) info.prettyName = pretty;
    if (rel.codename) info.codename = rel.codename.toLowerCase();
    return info;
  }
  return undefined;
}

function fromLsbRelease(tree: FileTree): OsInfo | undefined {
  const text = readText(tree, 'etc/lsb-release');
  if (!text) return undefined;
  const kv = parseKeyValues(text);
  const id = kv.get('DISTRIB_ID')?.trim().toLowerCase();
  if (!id) return undefined;
  const info: OsInfo = { family: familyOf(id, undefined), id, version: kv.get('DISTRIB_RELEASE')?.trim() ?? '' };
  const codename = kv.get('DISTRIB_CODENAME');
  if (codename) info.codename = codename;
  const pretty = kv.get('DISTRIB_DESCRIPTION');
  if (pretty) info.prettyName = pretty;
  return info;
}

function fromLegacyFiles(tree: FileTree): OsInfo | undefined {
  const alpine = firstLine(readText(tree, 'etc/alpine-release'));
  if (alpine) return { family: 'alpine', id: 'alpine', version: alpine };
  const rh = fromRedHatRelease(tree);
  if (rh) return rh;
  // lsb-release before debian_version: Ubuntu ships both, and its debian_version names Debian.
  const lsb = fromLsbRelease(tree);
  if (lsb) return lsb;
  const deb = debianVersion(tree);
  if (deb) return { family: 'debian', id: 'debian', version: deb };
  return undefined;
}

/** Detect the OS of a file tree holding (some of) the release files. */
export function detectOs(tree: FileTree): OsInfo | undefined {
  for (const path of OS_RELEASE) {
    const text = readText(tree, path);
    if (text === undefined) continue;
    const info = fromOsRelease(tree, parseKeyValues(text));
    if (info) return info;
  }
  return fromLegacyFiles(tree);
}

export const osDetector: OsDetector = {
  id: 'os-release',
  version: 1,
  wants(file: FileMeta): boolean {
    return file.size <= MAX_RELEASE_FILE && WANTED.has(file.path);
  },
  detect(files: FileTree): OsInfo | undefined {
    try {
      return detectOs(files);
    } catch {
      // Detection is best effort: an unreadable release file means "unknown OS", not a failed scan.
      return undefined;
    }
  },
};
