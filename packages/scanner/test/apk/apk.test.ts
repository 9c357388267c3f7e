import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import type { OsInfo, Package } from '@palisade/core';
import { cataloger, parseApkInstalled, reduceApkDb, splitApkLicense } from '../../src/catalogers/apk/index.js';
import { fileTreeFrom, mergeLayers } from '../../src/catalogers/filetree.js';
import type { FileTree, LayerRef } from '../../src/catalogers/types.js';

const ALPINE: OsInfo = { family: 'alpine', id: 'alpine', version: '3.14.2' };
const DB = 'lib/apk/db/installed';

function readFixture(name: string): Buffer {
  return readFileSync(fixturePath('scanner', 'apk', name, 'lib', 'apk', 'db', 'installed'));
}

/** As a scan would keep it: through extract. */
function treeOf(name: string): FileTree {
  const raw = readFixture(name);
  const kept = cataloger.extract?.({ path: DB, size: raw.length, mode: 0o644 }, raw) ?? raw;
  return fileTreeFrom({ [DB]: kept });
}

function run(files: FileTree, os: OsInfo | null = ALPINE): { pkgs: Package[]; warnings: string[] } {
  const warnings: string[] = [];
  const pkgs = cataloger.catalog({ files, warn: (m) => warnings.push(m), ...(os ? { os } : {}) });
  return { pkgs, warnings };
}

void test('real Alpine 3.14 database: every package, sorted, with origin and arch', () => {
  const { pkgs, warnings } = run(treeOf('alpine314'));
  assert.deepEqual(warnings, []);
  assert.deepEqual(
    pkgs.map((p) => `${p.name} ${p.version} ${p.arch} ${p.source?.name}`),
    [
      'alpine-keys 2.3-r1 armv7 alpine-keys',
      'apk-tools 2.12.6-r0 armv7 apk-tools',
      'ca-certificates-bundle 20191127-r5 armv7 ca-certificates',
      'libc-utils 0.7.2-r3 armv7 libc-dev',
      'libcrypto1.1 1.1.1k-r0 armv7 openssl',
      'libssl1.1 1.1.1k-r0 armv7 openssl',
      'musl 1.2.2-r3 armv7 musl',
      'musl-utils 1.2.2-r3 armv7 musl',
      'scanelf 1.3.2-r0 armv7 pax-utils',
      'zlib 1.2.11-r3 armv7 zlib',
    ],
  );
  assert.ok(pkgs.every((p) => p.foundBy === 'apk' && p.type === 'apk' && p.locations[0]?.path === DB));
});

void test('purls: namespace from the OS, distro qualifier, upstream only when origin differs', () => {
  const { pkgs } = run(treeOf('alpine314'));
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  assert.equal(
    byName.get('libcrypto1.1')?.purl,
    'pkg:apk/alpine/libcrypto1.1@1.1.1k-r0?arch=armv7&distro=alpine-3.14.2&upstream=openssl',
  );
  assert.equal(byName.get('zlib')?.purl, 'pkg:apk/alpine/zlib@1.2.11-r3?arch=armv7&distro=alpine-3.14.2');
  const wolfi = run(treeOf('alpine314'), { family: 'wolfi', id: 'wolfi', version: '20230201' }).pkgs[0];
  assert.equal(wolfi?.purl, 'pkg:apk/wolfi/alpine-keys@2.3-r1?arch=armv7&distro=wolfi-20230201');
  const none = run(treeOf('alpine314'), null).pkgs[0];
  assert.equal(none?.purl, 'pkg:apk/alpine/alpine-keys@2.3-r1?arch=armv7');
});

void test('licenses and metadata', () => {
  const { pkgs } = run(treeOf('alpine314'));
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  assert.deepEqual(byName.get('ca-certificates-bundle')?.licenses, ['MPL-2.0 AND MIT']);
  assert.deepEqual(byName.get('musl-utils')?.licenses, ['BSD', 'GPL2+', 'MIT']);
  assert.deepEqual(byName.get('musl')?.metadata, {
    maintainer: 'Timo Teräs <timo.teras@iki.fi>',
    buildTime: '1620570927',
    commit: '1e9cba35059e3bb4635f12ee7e10dfe687df31ad',
    installedSize: '516096',
  });
  assert.deepEqual(splitApkLicense('ISC AND (BSD-3-Clause OR MIT)'), ['ISC AND (BSD-3-Clause OR MIT)']);
});

void test('extract shrinks the database but keeps line numbers and the parse', () => {
  const raw = readFixture('alpine314');
  const reduced = reduceApkDb(raw);
  assert.ok(reduced.length < raw.length * 0.7, `${reduced.length} vs ${raw.length}`);
  assert.equal(reduced.toString().split('\n').length, raw.toString().split('\n').length);
  assert.deepEqual(parseApkInstalled(reduced.toString()), parseApkInstalled(raw.toString()));
  assert.deepEqual(run(fileTreeFrom({ [DB]: raw })).pkgs, run(treeOf('alpine314')).pkgs);
});

void test('corrupt database: bad stanzas skipped, warnings name the file and line', () => {
  const { pkgs, warnings } = run(treeOf('corrupt'));
  assert.deepEqual(
    pkgs.map((p) => p.name),
    ['apk-tools', 'zlib'],
  );
  assert.deepEqual(warnings, [
    `${DB}: line 14: package scanelf has no V: (version) field (package skipped)`,
    `${DB}: line 20: package has no P: (name) field (package skipped)`,
    `${DB}: line 26: not an "X:value" line (package skipped)`,
  ]);
});

void test('binary garbage: warnings, nothing found, no throw', () => {
  const { pkgs, warnings } = run(treeOf('binary'));
  assert.deepEqual(pkgs, []);
  assert.ok(warnings.length > 0 && warnings.every((w) => w.startsWith(`${DB}: line `)));
});

void test('CRLF and a missing final newline', () => {
  const text = 'P:a\r\nV:1-r0\r\nA:x86_64\r\n\r\nP:b\r\nV:2-r0\r\nA:x86_64';
  const { entries, problems } = parseApkInstalled(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    entries.map((e) => `${e.name}@${e.version}/${e.arch}`),
    ['a@1-r0/x86_64', 'b@2-r0/x86_64'],
  );
});

void test('layer attribution across rewrites of the database', () => {
  const mk = (index: number, body: string): Parameters<typeof mergeLayers>[0][number] => {
    const layer: LayerRef = { digest: `sha256:${String(index).repeat(64)}`, index };
    const data = Buffer.from(body);
    return {
      layer,
      files: [{ path: DB, layer, data, mode: 0o644, size: data.length }],
      whiteouts: [],
      opaques: [],
      symlinks: new Map(),
    };
  };
  const tree = mergeLayers([
    mk(0, 'P:musl\nV:1.2.4-r1\nA:x86_64\n\nP:busybox\nV:1.36.1-r2\nA:x86_64\n'),
    mk(1, 'P:musl\nV:1.2.4-r2\nA:x86_64\n\nP:busybox\nV:1.36.1-r2\nA:x86_64\n\nP:curl\nV:8.4.0-r0\nA:x86_64\n'),
    mk(
      2,
      'P:musl\nV:1.2.4-r2\nA:x86_64\n\nP:busybox\nV:1.36.1-r2\nA:x86_64\n\nP:curl\nV:8.4.0-r0\nA:x86_64\n\nP:jq\nV:1.7-r0\nA:x86_64\n',
    ),
  ]);
  const { pkgs } = run(tree);
  assert.deepEqual(Object.fromEntries(pkgs.map((p) => [p.name, p.locations[0]?.layerIndex])), {
    busybox: 0,
    curl: 1,
    jq: 2,
    musl: 1,
  });
});

void test('usr-merged layout: usr/lib/apk/db/installed', () => {
  const { pkgs } = run(fileTreeFrom({ 'usr/lib/apk/db/installed': readFixture('alpine314') }));
  assert.equal(pkgs.length, 10);
  assert.equal(pkgs[0]?.locations[0]?.path, 'usr/lib/apk/db/installed');
});

void test('wants: only the installed database', () => {
  const w = (path: string): boolean => cataloger.wants({ path, size: 10, mode: 0o644 });
  assert.equal(w(DB), true);
  assert.equal(w('lib/apk/db/installed.new'), false);
  assert.equal(w('lib/apk/db/scripts.tar'), false);
  assert.equal(w('usr/lib/apk/db/installed'), true, 'usr-merged layout (Wolfi)');
  assert.equal(w('x/lib/apk/db/installed'), false);
});
