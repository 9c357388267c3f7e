/**
 * rpm cataloger: packages of Red Hat family images (RHEL/UBI, Fedora, CentOS, Rocky, Alma,
 * Oracle, Amazon Linux, SUSE, Azure Linux, …) from the SQLite rpmdb, at var/lib/rpm/rpmdb.sqlite
 * or usr/lib/sysimage/rpm/rpmdb.sqlite. The Berkeley DB rpmdb of older images (CentOS 7, Amazon
 * Linux 2) is recognised but not read: it is reported as a warning so the gap is visible.
 */
import { buildPurl, type OsInfo, type Package } from '@palisade/core';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { locationOf, packageId } from '../location.js';
import { distroQualifier, introducingFiles, packageKey, sortPackages, uniqueIds } from '../../os/packages.js';
import { encodeReduced, readRpmdb, readSqliteRpmdb, type RpmEntry } from './rpmdb.js';

export { parseRpmHeader, RpmHeaderError, TAG } from './header.js';
export { readSqliteRpmdb, type RpmEntry, type RpmDbContents } from './rpmdb.js';

const ID = 'rpm';
const SQLITE_PATHS: readonly string[] = ['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite'];
const BDB_PATHS: readonly string[] = ['var/lib/rpm/Packages', 'usr/lib/sysimage/rpm/Packages'];
const BDB_MARKER = Buffer.from('PALISADE-RPMDB-BDB\n');

/** purl namespace per os-release ID, as the purl spec's rpm examples and other scanners use. */
const NAMESPACE_BY_OS: Readonly<Record<string, string>> = {
  rhel: 'redhat',
  centos: 'centos',
  fedora: 'fedora',
  amzn: 'amazon',
  rocky: 'rocky',
  almalinux: 'almalinux',
  ol: 'oracle',
  sles: 'suse',
  opensuse: 'opensuse',
  mariner: 'mariner',
  azurelinux: 'azurelinux',
  photon: 'photon',
};

const NAMESPACE_BY_VENDOR: ReadonlyArray<readonly [RegExp, string]> = [
  [/red hat/i, 'redhat'],
  [/fedora/i, 'fedora'],
  [/amazon/i, 'amazon'],
  [/rocky/i, 'rocky'],
  [/alma/i, 'almalinux'],
  [/centos/i, 'centos'],
  [/oracle/i, 'oracle'],
  [/suse/i, 'suse'],
];

function namespaceOf(os: OsInfo | undefined, vendor: string | undefined): string | undefined {
  if (os) return NAMESPACE_BY_OS[os.family] ?? NAMESPACE_BY_OS[os.id] ?? os.id;
  return vendor ? NAMESPACE_BY_VENDOR.find(([re]) => re.test(vendor))?.[1] : undefined;
}

/** "name-version-release.src.rpm" → its parts (name may itself contain dashes). */
export function parseSourceRpm(srpm: string): { name: string; version: string; release: string } | undefined {
  const base = srpm.replace(/\.(no)?src\.rpm$/, '');
  if (base === srpm) return undefined;
  const r = base.lastIndexOf('-');
  const v = r > 0 ? base.lastIndexOf('-', r - 1) : -1;
  if (v <= 0) return undefined;
  return { name: base.slice(0, v), version: base.slice(v + 1, r), release: base.slice(r + 1) };
}

/** "[epoch:]version-release"; epoch 0 is left out, as rpm compares it equal to no epoch. */
export function rpmVersionString(e: Pick<RpmEntry, 'epoch' | 'version' | 'release'>): string {
  const vr = `${e.version}-${e.release}`;
  return e.epoch ? `${e.epoch}:${vr}` : vr;
}

function metadataOf(e: RpmEntry): Record<string, string> {
  const m: Record<string, string> = { release: e.release };
  if (e.epoch !== undefined) m['epoch'] = String(e.epoch);
  if (e.vendor) m['vendor'] = e.vendor;
  if (e.sourceRpm) m['sourceRpm'] = e.sourceRpm;
  if (e.modularityLabel) m['modularityLabel'] = e.modularityLabel;
  return m;
}

function toPackage(e: RpmEntry, file: CatalogFile, os: OsInfo | undefined): Package {
  const version = rpmVersionString(e);
  const purl = buildPurl({
    type: 'rpm',
    namespace: namespaceOf(os, e.vendor),
    name: e.name,
    version: `${e.version}-${e.release}`,
    qualifiers: {
      arch: e.arch,
      epoch: e.epoch ? String(e.epoch) : undefined,
      distro: distroQualifier(os),
      upstream: e.sourceRpm,
    },
  });
  const locations = [locationOf(file)];
  const pkg: Package = {
    id: packageId({ type: 'rpm', name: e.name, version, locations }),
    name: e.name,
    version,
    type: 'rpm',
    purl,
    locations,
    foundBy: ID,
    metadata: metadataOf(e),
  };
  if (e.arch) pkg.arch = e.arch;
  const src = e.sourceRpm ? parseSourceRpm(e.sourceRpm) : undefined;
  // A source rpm is built with the epoch of its binaries; its file name just does not show it.
  if (src)
    pkg.source = {
      name: src.name,
      version: rpmVersionString({ epoch: e.epoch, version: src.version, release: src.release }),
    };
  if (e.license) pkg.licenses = [e.license];
  return pkg;
}

function keysOf(file: CatalogFile): ReadonlySet<string> {
  return new Set(readRpmdb(file.data).entries.map((e) => packageKey(e.name, rpmVersionString(e), e.arch)));
}

function catalogDb(top: CatalogFile, ctx: CatalogContext): Package[] {
  const { entries, problems } = readRpmdb(top.data);
  for (const p of problems) ctx.warn(`${top.path}: ${p} (skipped)`);
  const introducedBy = introducingFiles(ctx.files.history(top.path), keysOf);
  return entries.map((e) => toPackage(e, introducedBy(packageKey(e.name, rpmVersionString(e), e.arch)) ?? top, ctx.os));
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['rpm'],
  wants(file: FileMeta): boolean {
    const p = file.path;
    return p === SQLITE_PATHS[0] || p === SQLITE_PATHS[1] || p === BDB_PATHS[0] || p === BDB_PATHS[1];
  },
  extract(file: FileMeta, data: Buffer): Buffer | null {
    // The rpmdb can be tens of MB; only the decoded package list is kept and cached.
    if (BDB_PATHS.includes(file.path)) return BDB_MARKER;
    try {
      return encodeReduced(readSqliteRpmdb(data));
    } catch (err) {
      return encodeReduced({
        entries: [],
        problems: [`cannot read rpmdb (${err instanceof Error ? err.message : String(err)})`],
      });
    }
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    for (const path of SQLITE_PATHS) {
      const top = ctx.files.get(path);
      if (!top) continue;
      try {
        out.push(...catalogDb(top, ctx));
      } catch (err) {
        ctx.warn(`${path}: cannot read rpmdb (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    for (const path of BDB_PATHS) {
      // Only when no SQLite rpmdb sits beside it (dnf may leave the old file after a migration).
      if (ctx.files.get(path) && !SQLITE_PATHS.some((p) => ctx.files.get(p))) {
        ctx.warn(`${path}: Berkeley DB rpmdb is not supported yet; its rpm packages are not listed`);
      }
    }
    return uniqueIds(sortPackages(out));
  },
};
