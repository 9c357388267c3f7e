/**
 * Realistic reports for the writer tests: an image with OS and language packages, findings with
 * every CVSS version, KEV and EPSS data, VEX-suppressed findings, and unicode everywhere a user's
 * data can carry it. Built by hand (not by a scan) so the writers are tested on their own.
 */
import {
  buildPurl,
  stableId,
  type CvssScore,
  type Package,
  type PackageType,
  type ScanReport,
  type VulnerabilityMatch,
} from '@palisade/core';

export const IMAGE_DIGEST = 'sha256:4f7e3c1b2a5d6e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b';
const LAYERS = [
  'sha256:1111111111111111111111111111111111111111111111111111111111111111',
  'sha256:2222222222222222222222222222222222222222222222222222222222222222',
  'sha256:3333333333333333333333333333333333333333333333333333333333333333',
];

interface PkgSpec {
  type: PackageType;
  name: string;
  version: string;
  namespace?: string;
  qualifiers?: Record<string, string>;
  path: string;
  layer: number;
  licenses?: string[];
  source?: string;
}

function pkg(s: PkgSpec): Package {
  const p: Package = {
    id: stableId(s.type, s.namespace, s.name, s.version, s.path),
    // Names as catalogers spell them: maven group:artifact, npm @scope/name, distro packages bare.
    name:
      s.type === 'maven'
        ? `${s.namespace}:${s.name}`
        : s.type === 'npm' && s.namespace
          ? `${s.namespace}/${s.name}`
          : s.name,
    version: s.version,
    type: s.type,
    purl: buildPurl({
      type: s.type,
      namespace: s.namespace,
      name: s.name,
      version: s.version,
      qualifiers: s.qualifiers,
    }),
    locations: [{ path: s.path, layerDigest: LAYERS[s.layer], layerIndex: s.layer }],
    foundBy: `${s.type}-cataloger`,
  };
  if (s.licenses) p.licenses = s.licenses;
  if (s.source) p.source = { name: s.source, version: s.version };
  return p;
}

const DEB = { distro: 'debian-12', arch: 'amd64' };
export const PACKAGES: Package[] = [
  pkg({
    type: 'deb',
    namespace: 'debian',
    name: 'openssl',
    version: '3.0.11-1~deb12u2',
    qualifiers: DEB,
    path: 'var/lib/dpkg/status',
    layer: 0,
    licenses: ['Apache-2.0'],
  }),
  pkg({
    type: 'deb',
    namespace: 'debian',
    name: 'libc6',
    version: '2.36-9+deb12u1',
    qualifiers: DEB,
    path: 'var/lib/dpkg/status',
    layer: 0,
    licenses: ['LGPL-2.1-or-later', 'GPL-2+'],
    source: 'glibc',
  }),
  pkg({
    type: 'deb',
    namespace: 'debian',
    name: 'zlib1g',
    version: '1:1.2.13.dfsg-1',
    qualifiers: DEB,
    path: 'var/lib/dpkg/status',
    layer: 0,
    licenses: ['Zlib'],
  }),
  pkg({
    type: 'maven',
    namespace: 'org.apache.logging.log4j',
    name: 'log4j-core',
    version: '2.14.1',
    path: 'app/lib/log4j-core-2.14.1.jar',
    layer: 2,
    licenses: ['Apache-2.0'],
  }),
  pkg({
    type: 'npm',
    name: 'lodash',
    version: '4.17.20',
    path: 'app/node_modules/lodash/package.json',
    layer: 2,
    licenses: ['MIT'],
  }),
  pkg({
    type: 'npm',
    namespace: '@équipe',
    name: 'ünicode-lib',
    version: '1.0.0-β.2',
    path: 'app/node_modules/@équipe/ünicode lib/package.json',
    layer: 2,
    licenses: ['Apache 2.0', 'GPL 2+'],
  }),
  pkg({
    type: 'pypi',
    name: 'requests',
    version: '2.28.1',
    path: 'usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA',
    layer: 1,
    licenses: ['Apache 2.0'],
  }),
  pkg({ type: 'golang', name: 'stdlib', version: 'go1.21.3', path: 'usr/local/bin/server', layer: 2 }),
  pkg({
    type: 'cargo',
    name: 'regex',
    version: '1.9.6',
    path: 'usr/local/bin/indexer',
    layer: 2,
    licenses: ['MIT OR Apache-2.0'],
  }),
];

function byName(name: string): Package {
  const p = PACKAGES.find((x) => x.name === name || x.name.endsWith(`/${name}`) || x.name.endsWith(`:${name}`));
  if (!p) throw new Error(`sample: no package ${name}`);
  return p;
}

const nvd = (version: string, vector: string, score: number): CvssScore => ({ version, vector, score, source: 'nvd' });

function match(
  pkgName: string,
  m: Omit<VulnerabilityMatch, 'package' | 'installedVersion' | 'references'> & { references?: string[] },
): VulnerabilityMatch {
  const p = byName(pkgName);
  return {
    ...m,
    package: { id: p.id, name: p.name, version: p.version, type: p.type, purl: p.purl },
    installedVersion: p.version,
    references: m.references ?? [],
  };
}

export const VULNERABILITIES: VulnerabilityMatch[] = [
  match('log4j-core', {
    id: 'CVE-2021-44228',
    aliases: ['GHSA-jfh8-c2jp-5v3q'],
    fixedVersions: ['2.15.0'],
    status: 'fixed',
    severity: 'critical',
    severitySource: 'ghsa',
    cvss: [
      nvd('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10.0),
      nvd('2.0', 'AV:N/AC:M/Au:N/C:C/I:C/A:C', 9.3),
    ],
    title: 'Remote code injection in Log4j',
    description:
      'Apache Log4j2 JNDI features do not protect against attacker controlled LDAP and other JNDI related endpoints.',
    dataSource: { feed: 'ghsa', id: 'GHSA-jfh8-c2jp-5v3q', url: 'https://github.com/advisories/GHSA-jfh8-c2jp-5v3q' },
    references: [
      'https://nvd.nist.gov/vuln/detail/CVE-2021-44228',
      'https://logging.apache.org/log4j/2.x/security.html',
    ],
    published: '2021-12-10T00:00:00Z',
    modified: '2024-02-01T12:00:00Z',
    kev: {
      dateAdded: '2021-12-10',
      dueDate: '2021-12-24',
      knownRansomwareCampaignUse: 'Known',
      requiredAction: 'Apply updates per vendor instructions.',
    },
    epss: { score: 0.97565, percentile: 0.99996, date: '2024-05-31' },
  }),
  match('openssl', {
    id: 'CVE-2024-5535',
    aliases: [],
    fixedVersions: ['3.0.14-1~deb12u1'],
    status: 'fixed',
    severity: 'high',
    severitySource: 'debian',
    cvss: [nvd('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H', 9.1)],
    title: 'SSL_select_next_proto buffer overread',
    dataSource: {
      feed: 'debian',
      id: 'CVE-2024-5535',
      url: 'https://security-tracker.debian.org/tracker/CVE-2024-5535',
    },
    epss: { score: 0.00044, percentile: 0.1204 },
  }),
  match('openssl', {
    id: 'CVE-2023-2650',
    aliases: [],
    fixedVersions: ['3.0.11-1~deb12u3'],
    status: 'fixed',
    severity: 'low',
    severitySource: 'debian',
    cvss: [nvd('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 6.5)],
    title: 'Possible DoS translating ASN.1 object identifiers',
    dataSource: {
      feed: 'debian',
      id: 'CVE-2023-2650',
      url: 'https://security-tracker.debian.org/tracker/CVE-2023-2650',
    },
    suppressed: { by: 'vex/backports.openvex.json', status: 'fixed', statement: 'Patched in our rebuild of openssl.' },
  }),
  match('libc6', {
    id: 'CVE-2023-4911',
    aliases: [],
    fixedVersions: ['2.36-9+deb12u3'],
    status: 'fixed',
    severity: 'high',
    severitySource: 'debian',
    cvss: [nvd('3.1', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8)],
    title: 'Looney Tunables: buffer overflow in ld.so GLIBC_TUNABLES handling',
    dataSource: { feed: 'debian', id: 'CVE-2023-4911' },
    matchedOn: { name: 'glibc', kind: 'source' },
    references: [
      'https://www.qualys.com/2023/10/03/cve-2023-4911/looney-tunables-local-privilege-escalation-glibc-ld-so.txt',
    ],
    kev: { dateAdded: '2023-11-21', dueDate: '2023-12-12' },
  }),
  match('libc6', {
    id: 'CVE-2019-1010022',
    aliases: [],
    fixedVersions: [],
    status: 'will-not-fix',
    severity: 'negligible',
    severitySource: 'debian',
    cvss: [
      nvd('2.0', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', 7.5),
      nvd('3.0', 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8),
    ],
    title: 'Stack guard protection bypass',
    dataSource: { feed: 'debian', id: 'CVE-2019-1010022' },
    matchedOn: { name: 'glibc', kind: 'source' },
  }),
  match('lodash', {
    id: 'CVE-2021-23337',
    aliases: ['GHSA-35jh-r3h4-6jhm'],
    fixedVersions: ['4.17.21'],
    status: 'fixed',
    severity: 'high',
    severitySource: 'ghsa',
    cvss: [
      nvd('3.1', 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', 7.2),
      {
        version: '4.0',
        vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
        score: 8.6,
        source: 'ghsa',
      },
    ],
    title: 'Command Injection in lodash',
    description: 'Lodash versions prior to 4.17.21 are vulnerable to Command Injection via the template function.',
    dataSource: { feed: 'ghsa', id: 'GHSA-35jh-r3h4-6jhm', url: 'https://github.com/advisories/GHSA-35jh-r3h4-6jhm' },
  }),
  match('ünicode-lib', {
    id: 'CVE-2024-99999',
    aliases: ['GHSA-aaaa-bbbb-cccc'],
    fixedVersions: [],
    status: 'affected',
    severity: 'medium',
    severitySource: 'ghsa',
    cvss: [
      {
        version: '4.0',
        vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N',
        score: 6.9,
        source: 'ghsa',
      },
    ],
    title:
      'Prototype pollution in ünicode-lib — 日本語のタイトル, a title long enough that the table has to cut it somewhere',
    dataSource: { feed: 'ghsa', id: 'GHSA-aaaa-bbbb-cccc', url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc' },
    suppressed: {
      by: 'vex/app.openvex.json',
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      statement: 'Le code vulnérable n’est jamais appelé.',
    },
  }),
  match('requests', {
    id: 'CVE-2023-32681',
    aliases: ['GHSA-j8r2-6x86-q33q', 'PYSEC-2023-74'],
    fixedVersions: ['2.31.0'],
    status: 'fixed',
    severity: 'medium',
    severitySource: 'ghsa',
    cvss: [nvd('3.1', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N', 6.1)],
    title: 'Unintended leak of Proxy-Authorization header in requests',
    dataSource: { feed: 'ghsa', id: 'GHSA-j8r2-6x86-q33q', url: 'https://github.com/advisories/GHSA-j8r2-6x86-q33q' },
    epss: { score: 0.0027, percentile: 0.6613, date: '2024-05-31' },
  }),
  match('stdlib', {
    id: 'CVE-2023-45288',
    aliases: ['GO-2024-2687'],
    fixedVersions: ['1.21.9', '1.22.2'],
    status: 'fixed',
    severity: 'unknown',
    severitySource: 'go',
    cvss: [],
    dataSource: { feed: 'go', id: 'GO-2024-2687', url: 'https://pkg.go.dev/vuln/GO-2024-2687' },
  }),
];

export function sampleReport(): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: '0.1.0' },
    createdAt: '2024-06-01T12:34:56.789Z',
    artifact: {
      name: 'registry.example.com/team/web-api:1.4.2',
      kind: 'registry',
      digest: IMAGE_DIGEST,
      configDigest: 'sha256:9999999999999999999999999999999999999999999999999999999999999999',
      repoTags: ['registry.example.com/team/web-api:1.4.2'],
      platform: { os: 'linux', architecture: 'amd64' },
      os: {
        family: 'debian',
        id: 'debian',
        version: '12',
        codename: 'bookworm',
        prettyName: 'Debian GNU/Linux 12 (bookworm)',
      },
      layers: LAYERS.map((digest, i) => ({ digest, size: 1000 * (i + 1), createdBy: `RUN step ${i}` })),
    },
    packages: structuredClone(PACKAGES),
    vulnerabilities: structuredClone(VULNERABILITIES),
    db: {
      schemaVersion: 1,
      builtAt: '2024-06-01T00:00:00Z',
      feeds: [{ id: 'debian', updatedAt: '2024-05-31T23:00:00Z', records: 41230 }],
    },
    warnings: ['database is 1 day old'],
  };
}

/** The same image for `palisade sbom`: inventory only. */
export function inventoryReport(): ScanReport {
  const r: ScanReport = { ...sampleReport(), vulnerabilities: [], warnings: [] };
  delete r.db; // never matched against a DB
  return r;
}

/** A directory with nothing in it: no OS, no digest, no packages. */
export function emptyReport(): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: '0.1.0' },
    createdAt: '2024-06-01T00:00:00Z',
    artifact: { name: 'dir:./empty', kind: 'dir', layers: [] },
    packages: [],
    vulnerabilities: [],
    warnings: [],
  };
}
