import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath } from '@palisade/testkit';
import type { OsInfo, Package } from '@palisade/core';
import { cataloger, parseDpkgStatus } from '../../src/catalogers/dpkg/index.js';
import { parseStanzas } from '../../src/catalogers/dpkg/control.js';
import { fileTreeFrom, mergeLayers } from '../../src/catalogers/filetree.js';
import type { CatalogFile, FileTree, LayerRef } from '../../src/catalogers/types.js';
import { loadRoot } from '../os/load-root.js';

const DEBIAN12: OsInfo = { family: 'debian', id: 'debian', version: '12', codename: 'bookworm' };

function run(files: FileTree, os: OsInfo | null = DEBIAN12): { pkgs: Package[]; warnings: string[] } {
  const warnings: string[] = [];
  const ctx = { files, warn: (m: string) => warnings.push(m), ...(os ? { os } : {}) };
  return { pkgs: cataloger.catalog(ctx), warnings };
}

/** Load a fixture root as a scan would: only wanted files, each passed through extract. */
function fixture(name: string): FileTree {
  const dir = fixturePath('scanner', 'dpkg', name);
  const tree = loadRoot(dir, (f) => cataloger.wants(f));
  const files: Record<string, Buffer> = {};
  for (const f of tree.list()) {
    const reduced = cataloger.extract?.({ path: f.path, size: f.size, mode: f.mode }, f.data);
    if (reduced) files[f.path] = reduced;
  }
  return fileTreeFrom(files);
}

/** name version arch srcname srcversion, the way dpkg-query prints binary:Package & co. */
function asDpkgQueryLine(p: Package): string {
  return `${p.name} ${p.version} ${p.arch ?? ''} ${p.source?.name ?? p.name} ${p.source?.version ?? p.version}`;
}

function stripArchSuffix(line: string): string {
  // binary:Package is "libssl3:amd64" for Multi-Arch: same packages; our name is the bare one.
  const [name = '', ...rest] = line.split(' ');
  const colon = name.indexOf(':');
  return [colon > 0 ? name.slice(0, colon) : name, ...rest].join(' ');
}

void test('differential: this machine’s live /var/lib/dpkg/status against dpkg-query', () => {
  const status = readFileSync('/var/lib/dpkg/status');
  const { pkgs, warnings } = run(fileTreeFrom({ 'var/lib/dpkg/status': status }));
  const fmt = '${binary:Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n';
  const expected = execFileSync('dpkg-query', ['-W', `-f=${fmt}`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(stripArchSuffix)
    .sort();
  const actual = pkgs.map(asDpkgQueryLine).sort();
  assert.deepEqual(warnings, []);
  assert.ok(expected.length > 50, `dpkg-query listed only ${expected.length} packages`);
  assert.deepEqual(actual, expected);
  assert.equal(new Set(pkgs.map((p) => p.id)).size, pkgs.length, 'ids are unique');
});

void test('real status fixture matches the dpkg-query output recorded with it', () => {
  const { pkgs, warnings } = run(fixture('real'));
  assert.deepEqual(warnings, []);
  const expected = readFileSync(fixturePath('scanner', 'dpkg', 'real', 'expected.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(stripArchSuffix)
    .sort();
  assert.deepEqual(pkgs.map(asDpkgQueryLine).sort(), expected);
  assert.deepEqual(
    pkgs.map((p) => p.name),
    ['base-files', 'bash', 'binutils-common', 'bsdutils', 'libssl3', 'tzdata', 'zlib1g'],
    'sorted by name',
  );
});

void test('purls, source packages, metadata, locations', () => {
  const { pkgs } = run(fixture('real'));
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  const bash = byName.get('bash');
  assert.equal(bash?.purl, 'pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2');
  assert.deepEqual(bash?.source, { name: 'bash', version: '5.2.15-2' });
  const zlib = byName.get('zlib1g');
  assert.equal(zlib?.purl, 'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib');
  assert.deepEqual(zlib?.source, { name: 'zlib', version: '1:1.2.13.dfsg-1' });
  assert.equal(zlib?.metadata?.['maintainer'], 'Mark Brown <broonie@debian.org>');
  assert.equal(zlib?.metadata?.['installedSize'], '168');
  const tz = byName.get('tzdata');
  assert.equal(tz?.purl, 'pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12', 'no upstream when same');
  assert.equal(tz?.foundBy, 'dpkg');
  assert.equal(tz?.type, 'deb');
  assert.deepEqual(tz?.locations, [
    { path: 'var/lib/dpkg/status', layerDigest: 'sha256:' + '0'.repeat(64), layerIndex: 0 },
  ]);
});

void test('purl namespace follows the OS; no distro qualifier without an OS', () => {
  const files = fixture('real');
  const ubuntu = run(files, { family: 'ubuntu', id: 'ubuntu', version: '22.04' }).pkgs[0];
  assert.match(ubuntu?.purl ?? '', /^pkg:deb\/ubuntu\/base-files@.*distro=ubuntu-22.04/);
  const none = run(files, null).pkgs[0];
  assert.equal(none?.purl, 'pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64');
});

void test('licenses from copyright files (DEP-5 and common-licenses references), also after extract', () => {
  const { pkgs } = run(fixture('real'));
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  assert.deepEqual(byName.get('zlib1g')?.licenses, ['Zlib']);
  assert.ok(byName.get('base-files')?.licenses?.includes('GPL'), String(byName.get('base-files')?.licenses));
  assert.ok(byName.get('libssl3')?.licenses?.includes('Apache-2.0'));
  // extract keeps only license lines of a copyright file, and the result is the same as from the raw file.
  const path = 'usr/share/doc/zlib1g/copyright';
  const raw = readFileSync(join(fixturePath('scanner', 'dpkg', 'real'), path));
  const reduced = cataloger.extract?.({ path, size: raw.length, mode: 0o644 }, raw);
  assert.ok(reduced && reduced.length < raw.length);
  const status = readFileSync(join(fixturePath('scanner', 'dpkg', 'real'), 'var/lib/dpkg/status'));
  const rawRun = run(fileTreeFrom({ 'var/lib/dpkg/status': status, [path]: raw })).pkgs;
  assert.deepEqual(rawRun.find((p) => p.name === 'zlib1g')?.licenses, ['Zlib']);
});

void test('distroless status.d: one file per package, md5sums ignored', () => {
  const { pkgs, warnings } = run(fixture('distroless'));
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    pkgs.map((p) => `${p.name}@${p.version} ${p.locations[0]?.path}`),
    [
      'base-files@12.4+deb12u11 var/lib/dpkg/status.d/base-files',
      'libssl3@3.0.19-1~deb12u2 var/lib/dpkg/status.d/libssl3',
      'zlib1g@1:1.2.13.dfsg-1 var/lib/dpkg/status.d/zlib1g',
    ],
  );
  assert.equal(pkgs[1]?.source?.name, 'openssl');
});

void test('corrupt status: bad stanzas skipped with warnings naming file and line; states filtered', () => {
  const { pkgs, warnings } = run(fixture('corrupt'));
  assert.deepEqual(
    pkgs.map((p) => `${p.name}@${p.version}`),
    ['held@3.0-1+b1', 'last-no-newline@5-1', 'tzdata@2025b-0+deb12u2', 'zlib1g@1:1.2.13.dfsg-1'],
  );
  assert.deepEqual(pkgs[0]?.source, { name: 'held-src', version: '3.0-1' });
  assert.equal(pkgs[0]?.metadata?.['status'], 'hold ok installed');
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /^var\/lib\/dpkg\/status: line 18: package libfoo-no-version has no Version/);
  assert.match(warnings[1] ?? '', /^var\/lib\/dpkg\/status: line 23: stanza has no Package field/);
  assert.match(warnings[2] ?? '', /^var\/lib\/dpkg\/status: line 31: not a "Field: value" line/);
});

void test('a binary file as status: warnings, no packages, no throw', () => {
  const { pkgs, warnings } = run(fixture('binary'));
  assert.deepEqual(pkgs, []);
  assert.ok(warnings.length > 0);
  assert.ok(warnings.every((w) => w.startsWith('var/lib/dpkg/status: ')));
});

void test('CRLF line endings and a missing final newline parse like the original', () => {
  const text = readFileSync(join(fixturePath('scanner', 'dpkg', 'real'), 'var/lib/dpkg/status'), 'utf8');
  const crlf = text.replace(/\n/g, '\r\n').replace(/(\r\n)+$/, '');
  assert.deepEqual(parseDpkgStatus(crlf), parseDpkgStatus(text));
  assert.equal(parseDpkgStatus(text).entries.length, 7);
});

void test('stanza parser: continuation lines, "." paragraphs, case-insensitive fields', () => {
  const [s] = parseStanzas('package: a\nDescription: short\n long one\n .\n more\nVERSION: 1\n');
  assert.equal(s?.fields.get('description'), 'short\nlong one\n\nmore');
  assert.equal(s?.fields.get('version'), '1');
  const [bad] = parseStanzas(' leading continuation\nPackage: x\n');
  assert.deepEqual(bad?.badLines, [1]);
});

function layer(
  index: number,
  status: string,
): { layer: LayerRef; files: CatalogFile[]; whiteouts: string[]; opaques: string[]; symlinks: Map<string, string> } {
  const ref: LayerRef = { digest: `sha256:${String(index).repeat(64)}`, index };
  const data = Buffer.from(status);
  return {
    layer: ref,
    files: [{ path: 'var/lib/dpkg/status', layer: ref, data, mode: 0o644, size: data.length }],
    whiteouts: [],
    opaques: [],
    symlinks: new Map(),
  };
}

function stanza(name: string, version: string): string {
  return `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n\n`;
}

void test('layer attribution: the earliest layer from which the package stayed present', () => {
  const tree = mergeLayers([
    layer(0, stanza('a', '1') + stanza('b', '1') + stanza('d', '1')),
    layer(1, stanza('a', '1') + stanza('b', '1') + stanza('c', '1')), // d removed
    layer(2, stanza('a', '2') + stanza('b', '1') + stanza('c', '1') + stanza('d', '1')), // a upgraded, d back
  ]);
  const { pkgs } = run(tree);
  const where = Object.fromEntries(pkgs.map((p) => [p.name, p.locations[0]?.layerIndex]));
  assert.deepEqual(where, { a: 2, b: 0, c: 1, d: 2 });
});

void test('multi-arch twins get distinct ids', () => {
  const status =
    'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 2.36-9\n\n' +
    'Package: libc6\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: same\nVersion: 2.36-9\n';
  const { pkgs } = run(fileTreeFrom({ 'var/lib/dpkg/status': status }));
  assert.deepEqual(
    pkgs.map((p) => p.arch),
    ['amd64', 'i386'],
  );
  assert.notEqual(pkgs[0]?.id, pkgs[1]?.id);
});

void test('wants: status, status.d entries and doc copyright files only', () => {
  const w = (path: string): boolean => cataloger.wants({ path, size: 10, mode: 0o644 });
  assert.equal(w('var/lib/dpkg/status'), true);
  assert.equal(w('var/lib/dpkg/status.d/base'), true);
  assert.equal(w('var/lib/dpkg/status.d/base.md5sums'), false);
  assert.equal(w('var/lib/dpkg/status-old'), false);
  assert.equal(w('var/lib/dpkg/status.d/sub/x'), false);
  assert.equal(w('usr/share/doc/zlib1g/copyright'), true);
  assert.equal(w('usr/share/doc/zlib1g/copyright.gz'), false);
  assert.equal(w('usr/share/doc/zlib1g/examples/copyright'), false);
  assert.equal(w('usr/share/doc/copyright'), false);
  assert.equal(w('usr/lib/x86_64-linux-gnu/libz.so.1'), false);
});
