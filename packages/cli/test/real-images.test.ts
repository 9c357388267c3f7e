/**
 * Palisade against a REAL image and the REAL tools: a debootstrap Debian 12 root filesystem,
 * pushed to a real registry (docker-registry + skopeo), saved by podman as docker-archive and
 * oci-archive, and read as an OCI layout and as a directory. The inventory must equal what
 * dpkg-query reads from the same root filesystem, the same on every source; the matches must
 * equal what an independent reading of the Debian tracker records implies (versions compared
 * with dpkg itself); a warm layer cache must change nothing but createdAt.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  debianImage,
  pushLayout,
  sharedPath,
  startRegistry,
  tempDir,
  writeOciLayoutFromLayerFiles,
  type DebianImage,
  type LayoutResult,
  type TestRegistry,
} from '@palisade/testkit';
import type { Package, ScanReport, VulnerabilityMatch } from '@palisade/core';
import { FsLayerCache, scanImage, type ScanProgress } from '@palisade/scanner';
import { run, type RunResult } from './helpers.js';

/** One installed package as dpkg-query reports it. */
interface DpkgRow {
  name: string;
  version: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
}

const TAG = '12';
const STEP_TIMEOUT = 120_000;

let tmp: { path: string; cleanup: () => void };
let debian: DebianImage;
let layout: LayoutResult;
let layoutDir: string;
let layerDigest: string;
let registry: TestRegistry;
let registryRef: string;
let dbPath: string;
let dpkgRows: DpkgRow[];

before(
  async () => {
    tmp = tempDir('palisade-real-images-');
    // Cached in ~/.cache/palisade-test after the first build (debootstrap, ~40 s).
    debian = debianImage();
    dpkgRows = dpkgQuery(debian.rootfs);
    layoutDir = join(tmp.path, 'layout');
    layout = await writeOciLayoutFromLayerFiles(layoutDir, TAG, [debian.layer]);
    const digest = layout.images[0]?.layers[0]?.digest;
    assert.ok(digest, 'the layout has one layer');
    layerDigest = digest;
    registry = await startRegistry({ auth: 'none' });
    await pushLayout(layoutDir, TAG, registry, `debian:${TAG}`);
    registryRef = `${registry.host}/debian:${TAG}`;
    dbPath = join(tmp.path, 'vuln.db');
    const imp = await run(['db', 'import', '--db', dbPath, ...debianFeeds()]);
    assert.equal(imp.code, 0, imp.stderr);
  },
  { timeout: 20 * 60 * 1000 },
);

after(async () => {
  await registry?.stop();
  tmp?.cleanup();
});

/** The Debian feeds of ../shared/vulndata/samples that name bookworm packages. */
function debianFeeds(): string[] {
  return [
    sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
    sharedPath('vulndata', 'samples', 'vuln-list-debian-CVE'),
    sharedPath('vulndata', 'samples', 'vuln-list-debian-distributions.json'),
  ];
}

/** The distro's own view of the installed packages. */
function dpkgQuery(rootfs: string): DpkgRow[] {
  const out = execFileSync(
    'dpkg-query',
    [
      `--admindir=${join(rootfs, 'var/lib/dpkg')}`,
      '-W',
      '-f=${binary:Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n',
    ],
    { encoding: 'utf8' },
  );
  const rows = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line): DpkgRow => {
      const [binary, version, arch, sourceName, sourceVersion] = line.split(' ');
      assert.ok(binary && version && arch && sourceName && sourceVersion, `dpkg-query line: ${line}`);
      // binary:Package carries the multi-arch qualifier (libc6:amd64); the package name does not.
      const name = binary.endsWith(`:${arch}`) ? binary.slice(0, -arch.length - 1) : binary;
      return { name, version, arch, sourceName, sourceVersion };
    });
  assert.ok(rows.length > 50, `a minbase system has many packages, dpkg-query gave ${rows.length}`);
  return rows;
}

function rowKey(r: DpkgRow): string {
  return `${r.name} ${r.version} ${r.arch} ${r.sourceName} ${r.sourceVersion}`;
}

/** A deb package in dpkg-query's terms; no `source` means the source is the binary package itself. */
function packageKey(p: Package): string {
  return `${p.name} ${p.version} ${p.arch ?? '?'} ${p.source?.name ?? p.name} ${p.source?.version ?? p.version}`;
}

function debs(report: ScanReport): Package[] {
  return report.packages.filter((p) => p.type === 'deb');
}

function inventory(report: ScanReport): string[] {
  return debs(report).map(packageKey).sort();
}

function expectedInventory(): string[] {
  return dpkgRows.map(rowKey).sort();
}

function parseReport(r: RunResult, what: string): ScanReport {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanReport;
}

function assertBookworm(report: ScanReport, what: string): void {
  const os = report.artifact.os;
  assert.ok(os, `${what}: OS detected`);
  assert.equal(os.family, 'debian', what);
  assert.equal(os.id, 'debian', what);
  assert.equal(os.version, '12', what);
  assert.equal(os.codename, 'bookworm', what);
}

/** Equal inventories, with the first differences named when they are not. */
function assertSameInventory(actual: string[], expected: string[], what: string): void {
  const missing = expected.filter((k) => !actual.includes(k));
  const extra = actual.filter((k) => !expected.includes(k));
  assert.deepEqual(
    { missing: missing.slice(0, 10), extra: extra.slice(0, 10) },
    { missing: [], extra: [] },
    `${what}: inventory differs from dpkg-query`,
  );
  assert.deepEqual(actual, expected, `${what}: inventory (duplicates?)`);
}

/** `pkg:deb/debian/<name>@<version>?arch=<arch>&distro=debian-12[&upstream=…]`, parsed strictly. */
function assertDebPurl(p: Package): void {
  const m = /^pkg:deb\/debian\/([^@?#]+)@([^?#]+)\?([^#]+)$/.exec(p.purl);
  assert.ok(m, `purl shape: ${p.purl}`);
  const [, name, version, query] = m;
  assert.equal(decodeURIComponent(name ?? ''), p.name, p.purl);
  assert.equal(decodeURIComponent(version ?? ''), p.version, p.purl);
  const q = new URLSearchParams(query);
  assert.equal(q.get('arch'), p.arch, `arch qualifier of ${p.purl}`);
  assert.equal(q.get('distro'), 'debian-12', `distro qualifier of ${p.purl}`);
  // The purl spec asks for qualifier keys in lexical order.
  const keys = [...q.keys()];
  assert.deepEqual(keys, [...keys].sort(), `qualifier order of ${p.purl}`);
}

function sbom(ref: string, cacheDir: string, ...extra: string[]): Promise<RunResult> {
  return run(['sbom', ref, '--format', 'json', '--cache-dir', cacheDir, ...extra]);
}

test(
  'registry: the deb inventory equals dpkg-query, OS is Debian 12, locations name the layer, purls are well-formed',
  { timeout: STEP_TIMEOUT },
  async () => {
    const report = parseReport(await sbom(registryRef, join(tmp.path, 'cache-1'), '--insecure'), registryRef);
    assertBookworm(report, registryRef);
    assert.equal(report.artifact.kind, 'registry');
    assert.equal(report.artifact.digest, layout.digest, 'the pushed manifest digest');
    assert.deepEqual(
      report.artifact.layers.map((l) => l.digest),
      [layerDigest],
    );
    assertSameInventory(inventory(report), expectedInventory(), registryRef);
    for (const p of debs(report)) {
      assert.equal(p.locations.length, 1, `${p.name}: one location`);
      assert.equal(p.locations[0]?.path, 'var/lib/dpkg/status', p.name);
      assert.equal(p.locations[0]?.layerDigest, layerDigest, `${p.name}: location names the layer`);
      assertDebPurl(p);
    }
    const ids = report.packages.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'package ids are unique');
  },
);

/** An isolated podman (its own storage under the temp dir), so the host's image store is untouched. */
function podman(args: string[]): void {
  const root = join(tmp.path, 'podman');
  const r = spawnSync(
    'podman',
    [
      '--root',
      join(root, 'root'),
      '--runroot',
      join(root, 'run'),
      '--tmpdir',
      join(root, 'tmp'),
      '--storage-driver',
      'vfs',
      '--runtime',
      '/usr/sbin/runc',
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, `podman ${args[0] ?? ''}: ${r.stderr || String(r.error)}`);
}

test(
  'oci layout, podman docker-archive and oci-archive, and the root directory give the same inventory',
  { timeout: 4 * STEP_TIMEOUT },
  async () => {
    const expected = expectedInventory();
    const image = 'localhost/palisade-test/debian:12';
    podman(['import', '-q', debian.layer, image]);
    const dockerArchive = join(tmp.path, 'debian-docker.tar');
    const ociArchive = join(tmp.path, 'debian-oci.tar');
    podman(['save', '-q', '--format', 'docker-archive', '-o', dockerArchive, image]);
    podman(['save', '-q', '--format', 'oci-archive', '-o', ociArchive, image]);

    // Docker Hub serves Docker schema 2 manifests: the same image pushed that way, and pulled by digest.
    await pushLayout(layoutDir, TAG, registry, `debian-v2s2:${TAG}`, { format: 'v2s2' });
    const cases: Array<{ ref: string; kind: ScanReport['artifact']['kind'] }> = [
      { ref: `${registry.host}/debian-v2s2:${TAG}`, kind: 'registry' },
      { ref: `${registry.host}/debian@${layout.digest}`, kind: 'registry' },
      { ref: `oci:${layoutDir}:${TAG}`, kind: 'oci-layout' },
      { ref: `archive:${dockerArchive}`, kind: 'archive' },
      { ref: `archive:${ociArchive}`, kind: 'archive' },
    ];
    for (const { ref, kind } of cases) {
      // --no-cache: each source must really read its own layer bytes.
      const report = parseReport(await sbom(ref, join(tmp.path, 'cache-2'), '--no-cache', '--insecure'), ref);
      assertBookworm(report, ref);
      assert.equal(report.artifact.kind, kind, ref);
      assertSameInventory(inventory(report), expected, ref);
      const layers = report.artifact.layers.map((l) => l.digest);
      assert.equal(layers.length, 1, `${ref}: one layer`);
      // The registry and the OCI layout hold the very blob that was built: its digest is known.
      if (kind !== 'archive') assert.deepEqual(layers, [layerDigest], ref);
      for (const p of debs(report)) {
        assert.equal(p.locations[0]?.layerDigest, layers[0], `${ref}: ${p.name} names the layer`);
        assert.equal(p.locations[0]?.layerIndex, 0, `${ref}: ${p.name} layer index`);
      }
    }
    const dirRef = `dir:${debian.rootfs}`;
    const dir = parseReport(await sbom(dirRef, join(tmp.path, 'cache-2'), '--no-cache'), dirRef);
    assertBookworm(dir, dirRef);
    assert.equal(dir.artifact.kind, 'dir');
    assertSameInventory(inventory(dir), expected, dirRef);
    for (const p of debs(dir)) {
      assert.equal(p.locations[0]?.path, 'var/lib/dpkg/status', `${dirRef}: ${p.name}`);
      // core/inventory.ts: "layerDigest is absent for a root filesystem directory".
      assert.equal(p.locations[0]?.layerDigest, undefined, `${dirRef}: ${p.name} has no layer digest`);
    }
  },
);

function tool(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr || String(r.error)}`);
}

test(
  'umoci, two layers: packages purged by dpkg in the second layer are gone, the rest keep the layer that brought them',
  { timeout: 3 * STEP_TIMEOUT },
  async () => {
    const dir = join(tmp.path, 'umoci');
    const lay = join(dir, 'layout');
    const first = join(dir, 'bundle-1');
    const second = join(dir, 'bundle-2');
    tool('umoci', ['init', '--layout', lay]);
    tool('umoci', ['new', '--image', `${lay}:base`]);
    tool('umoci', ['unpack', '--image', `${lay}:base`, first]);
    tool('cp', ['-a', `${debian.rootfs}/.`, join(first, 'rootfs')]);
    tool('umoci', ['repack', '--image', `${lay}:base`, first]);
    tool('umoci', ['unpack', '--image', `${lay}:base`, second]);
    // A real removal: dpkg rewrites its status file and umoci turns deleted files into whiteouts.
    const purged = ['e2fsprogs', 'logsave'];
    tool('dpkg', ['--root', join(second, 'rootfs'), '--purge', '--force-depends', ...purged]);
    tool('umoci', ['repack', '--image', `${lay}:${TAG}`, second]);
    const after = dpkgQuery(join(second, 'rootfs'));
    assert.deepEqual(
      after.filter((r) => purged.includes(r.name)),
      [],
      'dpkg purged them',
    );

    const ref = `oci:${lay}:${TAG}`;
    const report = parseReport(await sbom(ref, join(tmp.path, 'cache-2'), '--no-cache'), ref);
    assertBookworm(report, ref);
    const layers = report.artifact.layers.map((l) => l.digest);
    assert.equal(layers.length, 2, `${ref}: two layers`);
    assertSameInventory(inventory(report), after.map(rowKey).sort(), ref);
    for (const p of debs(report)) {
      assert.equal(p.locations[0]?.layerDigest, layers[0], `${p.name} came with the first layer`);
      assert.equal(p.locations[0]?.layerIndex, 0, `${p.name} layer index`);
    }
    assert.deepEqual(report.warnings, [], `${ref}: warnings`);
  },
);

/** dpkg's own ordering: true when a < b. */
function dpkgLessThan(a: string, b: string): boolean {
  const r = spawnSync('dpkg', ['--compare-versions', a, 'lt', b], { timeout: 10_000 });
  assert.ok(r.status === 0 || r.status === 1, `dpkg --compare-versions ${a} lt ${b}: ${String(r.error)}`);
  return r.status === 0;
}

/** A verdict for one source package of bookworm: vulnerable with these fixed versions, or not. */
type Verdict = { vulnerable: false } | { vulnerable: true; fixed: string[] };

/** Kinds the tracker uses for "still vulnerable in this release" without a fixed version. */
const OPEN_KINDS = new Set(['unfixed', 'no-dsa', 'postponed', 'ignored', 'end-of-life', 'undetermined']);

interface CveListAnnotation {
  Type: string;
  Package?: string;
  Release?: string;
  Kind?: string;
  Version?: string;
}

/**
 * vuln-list-debian (data/CVE/list): a `[bookworm]` line overrides the unstable line; without
 * one, bookworm follows unstable (fixed in V means vulnerable below V).
 */
function cveListVerdict(annotations: CveListAnnotation[], source: string, version: string): Verdict | undefined {
  const forPkg = annotations.filter((a) => a.Type === 'package' && a.Package === source);
  const line = forPkg.find((a) => a.Release === 'bookworm') ?? forPkg.find((a) => a.Release === undefined);
  if (!line) return undefined;
  if (line.Kind === 'fixed' && line.Version) {
    return dpkgLessThan(version, line.Version) ? { vulnerable: true, fixed: [line.Version] } : { vulnerable: false };
  }
  if (line.Kind !== undefined && OPEN_KINDS.has(line.Kind)) return { vulnerable: true, fixed: [] };
  return { vulnerable: false };
}

interface TrackerRelease {
  status?: string;
  fixed_version?: string;
}

/** The security tracker JSON: releases.bookworm.status open → vulnerable; resolved at V → below V. */
function trackerVerdict(release: TrackerRelease | undefined, version: string): Verdict | undefined {
  if (!release) return undefined;
  if (release.status === 'resolved') {
    const fixed = release.fixed_version;
    // Fixed version "0" means the release never had the vulnerable code.
    if (!fixed || fixed === '0') return { vulnerable: false };
    return dpkgLessThan(version, fixed) ? { vulnerable: true, fixed: [fixed] } : { vulnerable: false };
  }
  return { vulnerable: true, fixed: [] };
}

/** `<CVE> <binary package> fixed=<versions>` for every match the records imply. */
function expectedMatches(): string[] {
  const out = new Set<string>();
  const add = (id: string, row: DpkgRow, v: Verdict | undefined): void => {
    if (v?.vulnerable) out.add(`${id} ${row.name} fixed=${v.fixed.join(',')}`);
  };
  const cveDir = sharedPath('vulndata', 'samples', 'vuln-list-debian-CVE');
  for (const file of readdirSync(cveDir).filter((f) => f.endsWith('.json'))) {
    const rec = JSON.parse(readFileSync(join(cveDir, file), 'utf8')) as {
      Header: { ID: string };
      Annotations: CveListAnnotation[];
    };
    for (const row of dpkgRows)
      add(rec.Header.ID, row, cveListVerdict(rec.Annotations, row.sourceName, row.sourceVersion));
  }
  const tracker = JSON.parse(
    readFileSync(sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'), 'utf8'),
  ) as Record<string, Record<string, { releases: Record<string, TrackerRelease> }>>;
  for (const row of dpkgRows) {
    for (const [id, cve] of Object.entries(tracker[row.sourceName] ?? {})) {
      add(id, row, trackerVerdict(cve.releases['bookworm'], row.sourceVersion));
    }
  }
  return [...out].sort();
}

function matchKey(v: VulnerabilityMatch): string {
  return `${v.id} ${v.package.name} fixed=${v.fixedVersions.join(',')}`;
}

test(
  'scan image with the imported Debian feeds finds exactly what the records imply for the dpkg versions',
  { timeout: STEP_TIMEOUT },
  async () => {
    const expected = expectedMatches();
    // The sample records name several bookworm packages: an empty expectation would prove nothing.
    assert.ok(expected.length >= 10, `expected matches: ${expected.join('; ')}`);
    const r = await run([
      'scan',
      'image',
      registryRef,
      '--insecure',
      '--db',
      dbPath,
      '--format',
      'json',
      '--cache-dir',
      join(tmp.path, 'cache-1'),
    ]);
    const report = parseReport(r, registryRef);
    assertBookworm(report, registryRef);
    const debVulns = report.vulnerabilities.filter((v) => v.package.type === 'deb');
    const actual = debVulns.map(matchKey).sort();
    assert.equal(new Set(actual).size, actual.length, `duplicate matches: ${actual.join('; ')}`);
    assert.deepEqual(actual, expected);
    const versions = new Map(dpkgRows.map((row) => [row.name, row.version]));
    for (const v of debVulns) {
      assert.equal(v.installedVersion, versions.get(v.package.name), `${v.id} ${v.package.name}: installed version`);
      assert.equal(v.status === 'fixed', v.fixedVersions.length > 0, `${v.id} ${v.package.name}: status ${v.status}`);
    }
  },
);

/** Report without the one field that must differ between two scans. */
function withoutCreatedAt(report: ScanReport): Omit<ScanReport, 'createdAt'> {
  const rest: Partial<ScanReport> = { ...report };
  delete rest.createdAt;
  return rest as Omit<ScanReport, 'createdAt'>;
}

test(
  'a warm layer cache reads no layer and gives the same report except createdAt',
  { timeout: STEP_TIMEOUT },
  async () => {
    const cacheDir = join(tmp.path, 'cache-warm');
    const argv = [
      'scan',
      'image',
      registryRef,
      '--insecure',
      '--db',
      dbPath,
      '--format',
      'json',
      '--cache-dir',
      cacheDir,
    ];
    const cold = parseReport(await run(argv), 'cold scan');
    assert.ok(cold.packages.length > 50);

    // The CLI cannot tell what it read; the library can, through onProgress.
    const events: ScanProgress[] = [];
    await scanImage(registryRef, {
      source: { insecure: true, tempDir: join(cacheDir, 'tmp') },
      cache: new FsLayerCache(cacheDir),
      onProgress: (p) => events.push(p),
    });
    const layerEvents = events.filter((e): e is Extract<ScanProgress, { phase: 'layer' }> => e.phase === 'layer');
    assert.ok(layerEvents.length > 0, 'layer progress was reported');
    assert.deepEqual(
      layerEvents.filter((e) => !e.cached).map((e) => e.digest),
      [],
      'no layer was read on the warm scan',
    );

    const warm = parseReport(await run(argv), 'warm scan');
    assert.notEqual(warm.createdAt, '');
    assert.deepEqual(withoutCreatedAt(warm), withoutCreatedAt(cold));
  },
);

/** name@version pairs, sorted, from dpkg-query. */
function expectedNameVersions(): string[] {
  return dpkgRows.map((r) => `${r.name}@${r.version}`).sort();
}

test(
  'CycloneDX and SPDX SBOMs list exactly the dpkg packages, with the same purls',
  { timeout: STEP_TIMEOUT },
  async () => {
    const cache = join(tmp.path, 'cache-1');
    const json = parseReport(await sbom(registryRef, cache, '--insecure'), 'json');
    const purls = debs(json)
      .map((p) => p.purl)
      .sort();

    const cdx = await run(['sbom', registryRef, '--insecure', '--format', 'cyclonedx', '--cache-dir', cache]);
    assert.equal(cdx.code, 0, cdx.stderr);
    const bom = JSON.parse(cdx.stdout) as { components?: Array<{ name: string; version?: string; purl?: string }> };
    const debComponents = (bom.components ?? []).filter((c) => c.purl?.startsWith('pkg:deb/'));
    assert.deepEqual(
      debComponents.map((c) => `${c.name}@${c.version ?? ''}`).sort(),
      expectedNameVersions(),
      'CycloneDX components',
    );
    assert.deepEqual(debComponents.map((c) => c.purl ?? '').sort(), purls, 'CycloneDX purls');

    const spdx = await run(['sbom', registryRef, '--insecure', '--format', 'spdx', '--cache-dir', cache]);
    assert.equal(spdx.code, 0, spdx.stderr);
    const doc = JSON.parse(spdx.stdout) as {
      packages?: Array<{
        name: string;
        versionInfo?: string;
        externalRefs?: Array<{ referenceType: string; referenceLocator: string }>;
      }>;
    };
    const debPackages = (doc.packages ?? []).filter((p) =>
      (p.externalRefs ?? []).some((r) => r.referenceType === 'purl' && r.referenceLocator.startsWith('pkg:deb/')),
    );
    assert.deepEqual(
      debPackages.map((p) => `${p.name}@${p.versionInfo ?? ''}`).sort(),
      expectedNameVersions(),
      'SPDX packages',
    );
    const spdxPurls = debPackages.flatMap((p) =>
      (p.externalRefs ?? []).filter((r) => r.referenceType === 'purl').map((r) => r.referenceLocator),
    );
    assert.deepEqual(spdxPurls.sort(), purls, 'SPDX purls');
  },
);
