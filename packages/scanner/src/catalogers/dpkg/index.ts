/**
 * dpkg cataloger: Debian and Ubuntu packages from var/lib/dpkg/status, and distroless images'
 * var/lib/dpkg/status.d/* (one file per package, same syntax). Licenses come from each package's
 * usr/share/doc/<pkg>/copyright.
 */
import { buildPurl, type Package } from '@palisade/core';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta, FileTree } from '../types.js';
import { locationOf, packageId } from '../location.js';
import { resolvePath } from '../filetree.js';
import { distroQualifier, introducingFiles, packageKey, sortPackages, uniqueIds } from '../../os/packages.js';
import { parseStanzas, type Stanza } from './control.js';
import { licenseLines, parseCopyrightLicenses } from './copyright.js';

const ID = 'dpkg';
const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';
const DOC = 'usr/share/doc/';
const COPYRIGHT = '/copyright';

/** The fields of one installed package, as read from a stanza. */
export interface DpkgEntry {
  name: string;
  version: string;
  arch?: string;
  source?: { name: string; version: string };
  maintainer?: string;
  installedSize?: string;
  status?: string;
  line: number;
}

/** "install ok installed" and "hold ok installed" count; config-files, half-installed, … do not. */
function isInstalled(status: string | undefined): boolean {
  if (status === undefined) return true; // distroless status.d stanzas carry no Status field
  const [want, flag, state] = status.split(/\s+/);
  return (want === 'install' || want === 'hold') && flag === 'ok' && state === 'installed';
}

/** Source: "name" or "name (version)"; without a version the source has the binary's version. */
function parseSource(raw: string | undefined, version: string): DpkgEntry['source'] {
  if (!raw) return undefined;
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(raw.trim());
  if (!m || m[1] === undefined) return undefined;
  return { name: m[1], version: m[2]?.trim() || version };
}

type StanzaResult = { entry: DpkgEntry } | { problem: string } | { skip: true };

function readStanza(s: Stanza): StanzaResult {
  if (s.badLines.length > 0) return { problem: `line ${s.badLines[0]}: not a "Field: value" line` };
  const name = s.fields.get('package');
  const version = s.fields.get('version');
  if (!name) return { problem: `line ${s.line}: stanza has no Package field` };
  if (!version) return { problem: `line ${s.line}: package ${name} has no Version field` };
  if (/\s/.test(name) || /\s/.test(version)) return { problem: `line ${s.line}: invalid Package or Version` };
  const status = s.fields.get('status');
  if (!isInstalled(status)) return { skip: true };
  const entry: DpkgEntry = { name, version, line: s.line };
  const arch = s.fields.get('architecture');
  if (arch) entry.arch = arch;
  const source = parseSource(s.fields.get('source'), version);
  if (source) entry.source = source;
  const maintainer = s.fields.get('maintainer');
  if (maintainer) entry.maintainer = maintainer;
  const size = s.fields.get('installed-size');
  if (size) entry.installedSize = size;
  if (status) entry.status = status;
  return { entry };
}

/** Installed packages of one status file; malformed stanzas go to `problems` ("line N: …"). */
export function parseDpkgStatus(text: string): { entries: DpkgEntry[]; problems: string[] } {
  const entries: DpkgEntry[] = [];
  const problems: string[] = [];
  for (const s of parseStanzas(text)) {
    const r = readStanza(s);
    if ('entry' in r) entries.push(r.entry);
    else if ('problem' in r) problems.push(r.problem);
  }
  return { entries, problems };
}

function keysOf(file: CatalogFile): ReadonlySet<string> {
  return new Set(parseDpkgStatus(file.data.toString('utf8')).entries.map((e) => packageKey(e.name, e.version, e.arch)));
}

function licensesOf(tree: FileTree, name: string): string[] {
  const path = `${DOC}${name}${COPYRIGHT}`;
  const file = tree.get(path) ?? tree.get(resolvePath(tree, path));
  return file ? parseCopyrightLicenses(file.data.toString('utf8')) : [];
}

function toPackage(e: DpkgEntry, file: CatalogFile, ctx: CatalogContext): Package {
  const qualifiers: Record<string, string | undefined> = { arch: e.arch, distro: distroQualifier(ctx.os) };
  if (e.source && (e.source.name !== e.name || e.source.version !== e.version)) {
    qualifiers['upstream'] = e.source.version === e.version ? e.source.name : `${e.source.name}@${e.source.version}`;
  }
  const purl = buildPurl({
    type: 'deb',
    namespace: ctx.os?.id || 'debian',
    name: e.name,
    version: e.version,
    qualifiers,
  });
  const locations = [locationOf(file)];
  const pkg: Package = {
    id: packageId({ type: 'deb', name: e.name, version: e.version, locations }),
    name: e.name,
    version: e.version,
    type: 'deb',
    purl,
    locations,
    foundBy: ID,
  };
  if (e.arch) pkg.arch = e.arch;
  if (e.source) pkg.source = { name: e.source.name, version: e.source.version };
  const licenses = licensesOf(ctx.files, e.name);
  if (licenses.length > 0) pkg.licenses = licenses;
  const metadata: Record<string, string> = {};
  if (e.maintainer) metadata['maintainer'] = e.maintainer;
  if (e.installedSize) metadata['installedSize'] = e.installedSize;
  if (e.status && e.status !== 'install ok installed') metadata['status'] = e.status;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

function isStatusFile(path: string): boolean {
  return (
    path === STATUS ||
    (path.startsWith(STATUS_D) && !path.endsWith('.md5sums') && path.indexOf('/', STATUS_D.length) < 0)
  );
}

function catalogStatusFile(top: CatalogFile, ctx: CatalogContext): Package[] {
  const { entries, problems } = parseDpkgStatus(top.data.toString('utf8'));
  for (const p of problems) ctx.warn(`${top.path}: ${p} (stanza skipped)`);
  const introducedBy = introducingFiles(ctx.files.history(top.path), keysOf);
  return entries.map((e) => toPackage(e, introducedBy(packageKey(e.name, e.version, e.arch)) ?? top, ctx));
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['deb'],
  wants(file: FileMeta): boolean {
    const p = file.path;
    if (p.startsWith(DOC)) {
      // usr/share/doc/<pkg>/copyright only: exactly one directory level below doc/.
      return p.endsWith(COPYRIGHT) && p.indexOf('/', DOC.length) === p.length - COPYRIGHT.length;
    }
    return p.startsWith('var/lib/dpkg/status') && isStatusFile(p);
  },
  extract(file: FileMeta, data: Buffer): Buffer | null {
    // Copyright files are kept only for their license lines; status files stay whole.
    if (!file.path.startsWith(DOC)) return data;
    const lines = licenseLines(data.toString('utf8'));
    return Buffer.from(lines.length > 0 ? lines.join('\n') + '\n' : '');
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    for (const file of ctx.files.list()) {
      if (!isStatusFile(file.path)) continue;
      try {
        out.push(...catalogStatusFile(file, ctx));
      } catch (err) {
        ctx.warn(`${file.path}: cannot read dpkg status (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    return uniqueIds(sortPackages(out));
  },
};
