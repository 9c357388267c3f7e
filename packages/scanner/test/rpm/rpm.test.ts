import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fixturePath, tempDir } from '@palisade/testkit';
import type { OsInfo, Package } from '@palisade/core';
import { cataloger, parseRpmHeader, parseSourceRpm, rpmVersionString, TAG } from '../../src/catalogers/rpm/index.js';
import { encodeReduced, type RpmEntry } from '../../src/catalogers/rpm/rpmdb.js';
import { fileTreeFrom, mergeLayers, type LayerFiles } from '../../src/catalogers/filetree.js';
import type { FileTree, LayerRef } from '../../src/catalogers/types.js';

const SQLITE = 'var/lib/rpm/rpmdb.sqlite';
const RHEL9: OsInfo = { family: 'rhel', id: 'rhel', version: '9.4' };

function fixtureDb(name: string): Buffer {
  return readFileSync(fixturePath('scanner', 'rpm', name, 'var', 'lib', 'rpm', 'rpmdb.sqlite'));
}

function kept(path: string, raw: Buffer): Buffer {
  return cataloger.extract?.({ path, size: raw.length, mode: 0o644 }, raw) ?? raw;
}

function run(files: FileTree, os: OsInfo | null = RHEL9): { pkgs: Package[]; warnings: string[] } {
  const warnings: string[] = [];
  const pkgs = cataloger.catalog({ files, warn: (m) => warnings.push(m), ...(os ? { os } : {}) });
  return { pkgs, warnings };
}

/** The fixture as a scan keeps it (through extract). */
function treeOf(name: string, path = SQLITE): FileTree {
  return fileTreeFrom({ [path]: kept(path, fixtureDb(name)) });
}

/** NAME EPOCHNUM VERSION RELEASE ARCH SOURCERPM, as the rpm query below prints them. */
function asRpmQueryLine(p: Package): string {
  const m = p.metadata ?? {};
  const vr = p.version.replace(/^\d+:/, '');
  const release = m['release'] ?? '';
  const version = vr.slice(0, vr.length - release.length - 1);
  return `${p.name} ${m['epoch'] ?? '0'} ${version} ${release} ${p.arch} ${m['sourceRpm'] ?? '(none)'}`;
}

void test('differential: the committed rpmdb against `rpm -qa` run live on it', () => {
  const tmp = tempDir();
  try {
    // rpm writes lock/shm files beside the database: query a copy, never the fixture itself.
    copyFileSync(
      join(fixturePath('scanner', 'rpm', 'real', 'var', 'lib', 'rpm'), 'rpmdb.sqlite'),
      join(tmp.path, 'rpmdb.sqlite'),
    );
    const fmt = '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM}\\n';
    let out: string;
    try {
      out = execFileSync('rpm', ['-qa', '--dbpath', tmp.path, '--define', '_db_backend sqlite', '--qf', fmt], {
        encoding: 'utf8',
      });
    } catch (err) {
      throw new Error(`this test needs the rpm tool (Debian: apt-get install rpm): ${(err as Error).message}`);
    }
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    assert.ok(
      lines.some((l) => l.startsWith('gpg-pubkey ')),
      'the fixture holds an imported key',
    );
    const expected = lines.filter((l) => !l.startsWith('gpg-pubkey ')).sort();
    const { pkgs, warnings } = run(treeOf('real'));
    assert.deepEqual(warnings, []);
    assert.equal(expected.length, 4);
    assert.deepEqual(pkgs.map(asRpmQueryLine).sort(), expected);
  } finally {
    tmp.cleanup();
  }
});

void test('the committed rpmdb matches the rpm -qa output recorded when it was made', () => {
  const recorded = readFileSync(fixturePath('scanner', 'rpm', 'real', 'expected.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('gpg-pubkey '))
    .sort();
  assert.deepEqual(run(treeOf('real')).pkgs.map(asRpmQueryLine).sort(), recorded);
});

void test('packages: versions with epoch, purls, source rpm, licenses, metadata', () => {
  const { pkgs } = run(treeOf('real'));
  assert.deepEqual(
    pkgs.map((p) => `${p.name} ${p.version} ${p.arch}`),
    [
      'hello 2:1.4.2-3.pal1 x86_64',
      'hello-libs 2:1.4.2-3.pal1 x86_64',
      'palisade-data 2024.1-1 noarch',
      'zeroepoch 0.9~rc1-0.2.el9 x86_64',
    ],
  );
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  const libs = byName.get('hello-libs');
  assert.equal(
    libs?.purl,
    'pkg:rpm/redhat/hello-libs@1.4.2-3.pal1?arch=x86_64&distro=rhel-9.4&epoch=2&upstream=hello-1.4.2-3.pal1.src.rpm',
  );
  assert.deepEqual(libs?.source, { name: 'hello', version: '2:1.4.2-3.pal1' });
  assert.deepEqual(libs?.licenses, ['MIT AND BSD-3-Clause']);
  assert.equal(byName.get('hello')?.metadata?.['modularityLabel'], 'hello:1.4:8090020231019152822:a75119d5');
  assert.equal(byName.get('hello')?.metadata?.['vendor'], 'Palisade Test Vendor');
  const zero = byName.get('zeroepoch');
  assert.equal(zero?.metadata?.['epoch'], '0', 'an explicit Epoch: 0 is recorded');
  assert.equal(
    zero?.purl,
    'pkg:rpm/redhat/zeroepoch@0.9~rc1-0.2.el9?arch=x86_64&distro=rhel-9.4&upstream=zeroepoch-0.9~rc1-0.2.el9.src.rpm',
  );
  const data = byName.get('palisade-data');
  assert.equal(data?.metadata?.['epoch'], undefined);
  assert.deepEqual(data?.licenses, ['GPL-2.0-or-later AND CC0-1.0']);
  assert.ok(pkgs.every((p) => p.type === 'rpm' && p.foundBy === 'rpm' && p.locations[0]?.path === SQLITE));
});

void test('purl namespace per OS; vendor decides when the OS is unknown', () => {
  const ns = (os: OsInfo | null): string | undefined => run(treeOf('real'), os).pkgs[0]?.purl.split('/')[1];
  assert.equal(ns({ family: 'amzn', id: 'amzn', version: '2023' }), 'amazon');
  assert.equal(ns({ family: 'fedora', id: 'fedora', version: '42' }), 'fedora');
  assert.equal(ns({ family: 'ol', id: 'ol', version: '9' }), 'oracle');
  assert.equal(ns({ family: 'rocky', id: 'rocky', version: '9.3' }), 'rocky');
  // No OS and a vendor that names no distro: no namespace at all.
  assert.match(
    run(treeOf('real'), null).pkgs[0]?.purl ?? '',
    /^pkg:rpm\/hello@1\.4\.2-3\.pal1\?arch=x86_64&epoch=2&upstream=/,
  );
});

void test('usr/lib/sysimage/rpm/rpmdb.sqlite (Fedora, RHEL 9, AL2023 layout)', () => {
  const path = 'usr/lib/sysimage/rpm/rpmdb.sqlite';
  const { pkgs, warnings } = run(treeOf('real', path));
  assert.deepEqual(warnings, []);
  assert.equal(pkgs.length, 4);
  assert.equal(pkgs[0]?.locations[0]?.path, path);
});

void test('raw SQLite bytes (no extract) give the same packages as the reduced form', () => {
  const raw = fixtureDb('real');
  const reduced = kept(SQLITE, raw);
  assert.ok(reduced.length < raw.length / 10, `${reduced.length} vs ${raw.length}`);
  assert.deepEqual(run(fileTreeFrom({ [SQLITE]: raw })).pkgs, run(treeOf('real')).pkgs);
});

void test('a database in WAL mode (as rpm leaves it) is read from memory', () => {
  const tmp = tempDir();
  try {
    const file = join(tmp.path, 'rpmdb.sqlite');
    copyFileSync(join(fixturePath('scanner', 'rpm', 'real', 'var', 'lib', 'rpm'), 'rpmdb.sqlite'), file);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.close();
    const wal = readFileSync(file);
    assert.equal(wal[18], 2, 'header says WAL');
    const { pkgs, warnings } = run(fileTreeFrom({ [SQLITE]: wal }));
    assert.deepEqual(warnings, []);
    assert.equal(pkgs.length, 4);
  } finally {
    tmp.cleanup();
  }
});

void test('damaged blobs: the bad packages are skipped with warnings; magic-prefixed headers are read', () => {
  const { pkgs, warnings } = run(treeOf('damaged'));
  assert.deepEqual(
    pkgs.map((p) => p.name),
    ['hello', 'zeroepoch'],
  );
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(
    warnings[0] ?? '',
    /^var\/lib\/rpm\/rpmdb\.sqlite: package hnum 2: corrupt header \(absurd index entry count 16777216\)/,
  );
  assert.match(
    warnings[1] ?? '',
    /^var\/lib\/rpm\/rpmdb\.sqlite: package hnum 4: corrupt header \(header claims \d+ bytes/,
  );
});

void test('not SQLite, or SQLite without a Packages table: one warning, no packages', () => {
  const a = run(treeOf('not-sqlite'));
  assert.deepEqual(a.pkgs, []);
  assert.deepEqual(a.warnings, [`${SQLITE}: not an SQLite database (skipped)`]);
  const b = run(treeOf('no-packages-table'));
  assert.deepEqual(b.pkgs, []);
  assert.equal(b.warnings.length, 1);
  assert.match(
    b.warnings[0] ?? '',
    /^var\/lib\/rpm\/rpmdb\.sqlite: cannot read the Packages table \(no such table: Packages\)/,
  );
});

void test('Berkeley DB rpmdb: recognised and reported, not read', () => {
  const path = 'var/lib/rpm/Packages';
  const { pkgs, warnings } = run(fileTreeFrom({ [path]: kept(path, Buffer.alloc(4096)) }));
  assert.deepEqual(pkgs, []);
  assert.deepEqual(warnings, [`${path}: Berkeley DB rpmdb is not supported yet; its rpm packages are not listed`]);
});

function entry(name: string, version: string): RpmEntry {
  return { name, version, release: '1.el9', arch: 'x86_64' };
}

function layerOf(index: number, entries: RpmEntry[]): LayerFiles {
  const ref: LayerRef = { digest: `sha256:${String(index).repeat(64)}`, index };
  const data = encodeReduced({ entries, problems: [] });
  return {
    layer: ref,
    files: [{ path: SQLITE, layer: ref, data, mode: 0o644, size: data.length }],
    whiteouts: [],
    opaques: [],
    symlinks: new Map(),
  };
}

void test('layer attribution: unchanged packages keep the layer that first installed them', () => {
  const tree = mergeLayers([
    layerOf(0, [entry('bash', '5.1.8'), entry('openssl', '3.0.7')]),
    layerOf(1, [entry('bash', '5.1.8'), entry('openssl', '3.0.7'), entry('curl', '7.76.1')]),
    layerOf(2, [entry('bash', '5.1.8'), entry('openssl', '3.0.9'), entry('curl', '7.76.1')]),
  ]);
  const { pkgs } = run(tree);
  assert.deepEqual(Object.fromEntries(pkgs.map((p) => [p.name, p.locations[0]?.layerIndex])), {
    bash: 0,
    curl: 1,
    openssl: 2,
  });
});

void test('multilib twins (same name and version, two arches) get distinct ids', () => {
  const tree = fileTreeFrom({
    [SQLITE]: encodeReduced({
      entries: [{ ...entry('glibc', '2.34'), arch: 'i686' }, entry('glibc', '2.34')],
      problems: [],
    }),
  });
  const { pkgs } = run(tree);
  assert.deepEqual(
    pkgs.map((p) => p.arch),
    ['i686', 'x86_64'],
  );
  assert.notEqual(pkgs[0]?.id, pkgs[1]?.id);
});

/** A minimal header blob: entries of [tag, type, offset, count] over a data store. */
function header(entries: Array<[number, number, number, number]>, store: Buffer, magic = false): Buffer {
  const head = Buffer.alloc(8 + entries.length * 16);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(store.length, 4);
  entries.forEach(([tag, type, off, count], i) => {
    head.writeUInt32BE(tag, 8 + i * 16);
    head.writeUInt32BE(type, 12 + i * 16);
    head.writeInt32BE(off, 16 + i * 16);
    head.writeUInt32BE(count, 20 + i * 16);
  });
  const blob = Buffer.concat([head, store]);
  return magic ? Buffer.concat([Buffer.from('8eade80100000000', 'hex'), blob]) : blob;
}

void test('header reader: strings, INT32, i18n strings, with and without magic', () => {
  const store = Buffer.concat([
    Buffer.from('foo\0'),
    Buffer.from('1.0\0'),
    Buffer.from([0, 0, 0, 7]),
    Buffer.from('MIT\0'),
  ]);
  const entries: Array<[number, number, number, number]> = [
    [TAG.NAME, 6, 0, 1],
    [TAG.VERSION, 6, 4, 1],
    [TAG.EPOCH, 4, 8, 1],
    [TAG.LICENSE, 9, 12, 1],
  ];
  for (const magic of [false, true]) {
    const tags = parseRpmHeader(header(entries, store, magic));
    assert.equal(tags.get(TAG.NAME), 'foo');
    assert.equal(tags.get(TAG.VERSION), '1.0');
    assert.equal(tags.get(TAG.EPOCH), 7);
    assert.equal(tags.get(TAG.LICENSE), 'MIT');
  }
});

void test('header reader: rejects corrupt headers with a reason', () => {
  const store = Buffer.from('foo\0');
  assert.throws(() => parseRpmHeader(Buffer.alloc(4)), /only 4 bytes/);
  assert.throws(() => parseRpmHeader(header([], store)), /absurd index entry count 0/);
  const huge = header([[TAG.NAME, 6, 0, 1]], store);
  huge.writeUInt32BE(0x7fffffff, 4);
  assert.throws(() => parseRpmHeader(huge), /absurd data size/);
  assert.throws(() => parseRpmHeader(header([[TAG.NAME, 6, 0, 1]], store).subarray(0, 20)), /header claims/);
  assert.throws(() => parseRpmHeader(header([[TAG.NAME, 6, 99, 1]], store)), /offset 99 outside/);
  assert.throws(() => parseRpmHeader(header([[TAG.NAME, 6, -5, 1]], store)), /offset -5 outside/);
  assert.throws(() => parseRpmHeader(header([[TAG.NAME, 6, 0, 1]], Buffer.from('foo'))), /runs past/);
  assert.throws(() => parseRpmHeader(header([[TAG.EPOCH, 4, 2, 1]], store)), /INT32 runs past/);
});

void test('source rpm names and version strings', () => {
  assert.deepEqual(parseSourceRpm('python3-pip-21.3.1-1.el9.src.rpm'), {
    name: 'python3-pip',
    version: '21.3.1',
    release: '1.el9',
  });
  assert.deepEqual(parseSourceRpm('kernel-5.14.0-362.8.1.el9_3.nosrc.rpm'), {
    name: 'kernel',
    version: '5.14.0',
    release: '362.8.1.el9_3',
  });
  assert.equal(parseSourceRpm('not-a-source-rpm'), undefined);
  assert.equal(parseSourceRpm('x.src.rpm'), undefined);
  assert.equal(rpmVersionString({ epoch: 1, version: '3.0.7', release: '27.el9' }), '1:3.0.7-27.el9');
  assert.equal(rpmVersionString({ epoch: 0, version: '3.0.7', release: '27.el9' }), '3.0.7-27.el9');
});

void test('wants: the rpmdb files only', () => {
  const w = (path: string): boolean => cataloger.wants({ path, size: 10, mode: 0o644 });
  assert.equal(w('var/lib/rpm/rpmdb.sqlite'), true);
  assert.equal(w('usr/lib/sysimage/rpm/rpmdb.sqlite'), true);
  assert.equal(w('var/lib/rpm/Packages'), true);
  assert.equal(w('var/lib/rpm/rpmdb.sqlite-shm'), false);
  assert.equal(w('var/lib/rpm/Name'), false);
  assert.equal(w('root/var/lib/rpm/rpmdb.sqlite'), false);
});
