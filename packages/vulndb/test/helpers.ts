/** Shared helpers of the vulndb tests. */
import type { OsInfo, Package, PackageType } from '@palisade/core';
import { buildPurl, stableId } from '@palisade/core';
import { schemeFor } from '../src/versions/index.js';
import { apkScheme } from '../src/versions/apk.js';
import { composerScheme } from '../src/versions/composer.js';
import { dpkgScheme } from '../src/versions/dpkg.js';
import { goScheme } from '../src/versions/golang.js';
import { mavenScheme } from '../src/versions/maven.js';
import { nugetScheme } from '../src/versions/nuget.js';
import { pep440Scheme } from '../src/versions/pep440.js';
import { rpmScheme } from '../src/versions/rpm.js';
import { rubygemsScheme } from '../src/versions/rubygems.js';
import { semverScheme } from '../src/versions/semver.js';
import type { VersionScheme } from '../src/versions/types.js';

const ALL: VersionScheme[] = [
  apkScheme,
  composerScheme,
  dpkgScheme,
  goScheme,
  mavenScheme,
  nugetScheme,
  pep440Scheme,
  rpmScheme,
  rubygemsScheme,
  semverScheme,
];

/** The registered schemes; falls back to the scheme modules directly while the registry is a stub. */
export function testSchemes(eco: string): ((a: string, b: string) => number) | undefined {
  const s =
    schemeFor(eco) ?? ALL.find((x) => x.ecosystems.includes(eco)) ?? (eco === 'SEMVER' ? semverScheme : undefined);
  return s === undefined ? undefined : (a, b) => s.compare(a, b);
}

export function pkg(type: PackageType, name: string, version: string, extra: Partial<Package> = {}): Package {
  let namespace: string | undefined;
  let short = name;
  if (type === 'maven' && name.includes(':')) [namespace, short] = name.split(':') as [string, string];
  if (type === 'golang' && name.includes('/')) {
    namespace = name.slice(0, name.lastIndexOf('/'));
    short = name.slice(name.lastIndexOf('/') + 1);
  }
  return {
    id: stableId(type, name, version),
    name: type === 'maven' ? short : name,
    version,
    type,
    purl: buildPurl({ type, ...(namespace ? { namespace } : {}), name: short, version }),
    locations: [{ path: 'x' }],
    foundBy: 'test',
    ...extra,
  };
}

export const DEBIAN_12: OsInfo = { family: 'debian', id: 'debian', version: '12', codename: 'bookworm' };
export const DEBIAN_11: OsInfo = { family: 'debian', id: 'debian', version: '11', codename: 'bullseye' };
export const UBUNTU_2204: OsInfo = { family: 'ubuntu', id: 'ubuntu', version: '22.04' };
export const ALPINE_310: OsInfo = { family: 'alpine', id: 'alpine', version: '3.10.9' };
