import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Package } from '@palisade/core';
import { fixturePath, tempDir } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/gobinary/index.js';
import { readGoBuildInfo } from '../../src/catalogers/gobinary/buildinfo.js';
import { goToolchainSemver, linkerDefinitions, parseModInfo } from '../../src/catalogers/gobinary/modinfo.js';
import { fileTreeFrom } from '../../src/catalogers/filetree.js';
import { goBuild, goVersionM, makeGoProject, type GoProject } from './gobuild.js';
import { syntheticGoElf } from './synthetic-elf.js';

/** Run extract as the scanner does, then catalog the kept forms. */
function scan(files: Record<string, Buffer>): { packages: Package[]; warnings: string[] } {
  const kept: Record<string, Buffer> = {};
  for (const [path, data] of Object.entries(files)) {
    const meta = { path, size: data.length, mode: 0o755 };
    if (!cataloger.wants(meta)) continue;
    const form = cataloger.extract?.(meta, data);
    if (form) kept[path] = form;
  }
  const warnings: string[] = [];
  const packages = cataloger.catalog({ files: fileTreeFrom(kept), warn: (m) => warnings.push(m) });
  return { packages, warnings };
}

function infoOf(bin: string): { goVersion: string; modinfo: string } {
  const r = readGoBuildInfo(readFileSync(bin));
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return (r as { kind: 'ok'; info: { goVersion: string; modinfo: string } }).info;
}

describe('gobinary: real binaries built by the Go toolchain', () => {
  let dir: { path: string; cleanup: () => void };
  let project: GoProject;
  const bins: Record<string, string> = {};

  before(() => {
    dir = tempDir('palisade-go-');
    project = makeGoProject(dir.path);
    bins['amd64'] = goBuild(project, 'app-amd64', {}, ['-ldflags=-X main.version=1.5.2']);
    bins['stripped'] = goBuild(project, 'app-stripped', {}, ['-ldflags=-s -w']);
    bins['386'] = goBuild(project, 'app-386', { GOARCH: '386' });
    bins['arm64'] = goBuild(project, 'app-arm64', { GOARCH: 'arm64' });
    bins['s390x'] = goBuild(project, 'app-s390x', { GOARCH: 's390x' }); // 64-bit big endian
    bins['mips'] = goBuild(project, 'app-mips', { GOARCH: 'mips' }); // 32-bit big endian
  });
  after(() => dir.cleanup());

  for (const name of ['amd64', 'stripped', '386', 'arm64', 's390x', 'mips']) {
    it(`${name}: build info equals what \`go version -m\` prints, line by line`, () => {
      const bin = bins[name] as string;
      const ref = goVersionM(bin);
      const info = infoOf(bin);
      assert.equal(info.goVersion, ref.goVersion);
      assert.deepEqual(
        info.modinfo.split('\n').filter((l) => l.trim() !== ''),
        ref.lines,
      );
      const parsed = parseModInfo(info.modinfo);
      assert.deepEqual(parsed.bad, []);
      const refDeps = ref.lines.filter((l) => l.startsWith('dep\t')).map((l) => l.split('\t').slice(1, 3));
      assert.deepEqual(
        parsed.deps.map((d) => [d.path, d.version]),
        refDeps,
      );
      const refBuild = ref.lines.filter((l) => l.startsWith('build\t')).map((l) => l.slice(6));
      assert.equal(parsed.settings.length, refBuild.length);
    });
  }

  it('reports stdlib, the main module (version from -ldflags), a replaced and a versioned dependency', () => {
    const ref = goVersionM(bins['amd64'] as string);
    const { packages, warnings } = scan({ 'usr/local/bin/app': readFileSync(bins['amd64'] as string) });
    assert.deepEqual(warnings, []);
    const byName = new Map(packages.map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()].sort(), ['example.com/app', 'example.com/lib', 'example.com/other', 'stdlib']);
    const std = byName.get('stdlib');
    assert.equal(std?.version, goToolchainSemver(ref.goVersion));
    assert.equal(std?.purl, `pkg:golang/stdlib@${goToolchainSemver(ref.goVersion)}`);
    const app = byName.get('example.com/app');
    assert.equal(app?.version, 'v1.5.2');
    assert.equal(app?.purl, 'pkg:golang/example.com/app@v1.5.2');
    assert.equal(app?.metadata?.['versionSource'], 'ldflags:main.version');
    assert.equal(app?.metadata?.['build.GOARCH'], 'amd64');
    const lib = byName.get('example.com/lib');
    assert.equal(lib?.version, '(devel)');
    assert.equal(lib?.purl, 'pkg:golang/example.com/lib');
    assert.equal(lib?.metadata?.['replacedBy'], '../lib');
    assert.equal(lib?.metadata?.['originalVersion'], 'v1.2.3');
    const other = byName.get('example.com/other');
    const refOther = ref.lines.find((l) => l.startsWith('dep\texample.com/other\t'))?.split('\t');
    assert.equal(other?.version, refOther?.[2]);
    assert.equal(other?.metadata?.['h1Digest'], refOther?.[3]);
    assert.equal(other?.purl, 'pkg:golang/example.com/other@v1.4.0');
    for (const p of packages) {
      assert.equal(p.foundBy, 'gobinary');
      assert.equal(p.arch, 'amd64');
      assert.equal(p.locations[0]?.path, 'usr/local/bin/app');
      assert.equal(p.metadata?.['mainModule'], 'example.com/app');
    }
    assert.equal(new Set(packages.map((p) => p.id)).size, packages.length);
  });

  it('derives a pseudo-version from the VCS stamp when there is no -ldflags version', () => {
    const app = join(dir.path, 'app');
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        cwd: app,
        encoding: 'utf8',
        env: { ...process.env, GIT_COMMITTER_DATE: '2024-02-03T04:05:06Z', GIT_AUTHOR_DATE: '2024-02-03T04:05:06Z' },
      });
    git('init', '-q', '.');
    git('add', '-A');
    git('commit', '-qm', 'init');
    const rev = git('rev-parse', 'HEAD').trim();
    const bin = goBuild(project, 'app-vcs', { GOFLAGS: '-mod=mod -buildvcs=true' });
    const { packages } = scan({ 'app-vcs': readFileSync(bin) });
    const main = packages.find((p) => p.name === 'example.com/app');
    assert.equal(main?.version, `v0.0.0-20240203040506-${rev.slice(0, 12)}`);
    assert.equal(main?.metadata?.['build.vcs.revision'], rev);
    assert.equal(main?.metadata?.['versionSource'], 'vcs');
  });

  it('warns (and does not throw) on a truncated Go binary', () => {
    const whole = readFileSync(bins['amd64'] as string);
    for (const cut of [0.3, 0.6]) {
      const part = whole.subarray(0, Math.floor(whole.length * cut));
      const { packages, warnings } = scan({ 'bin/cut': part });
      assert.equal(packages.length, 0, `cut at ${cut}`);
      assert.equal(warnings.length, 1, `cut at ${cut}: ${warnings.join('; ')}`);
      assert.match(warnings[0] ?? '', /^bin\/cut: Go binary: .*truncated/);
    }
    // Cut after the build info: the modules are still reported, with a warning.
    const { packages, warnings } = scan({ 'bin/cut': whole.subarray(0, whole.length - 4096) });
    assert.equal(packages.length, 4);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^bin\/cut: Go binary: damaged ELF .*truncated/);
  });

  it('a build info section cut inside the module info is reported, not parsed', () => {
    const whole = Buffer.from(readFileSync(bins['amd64'] as string));
    const r = readGoBuildInfo(whole);
    assert.equal(r.kind, 'ok');
    // Corrupt the inline length of the module info so it runs past the section.
    const at = whole.indexOf(Buffer.from('\xff Go buildinf:', 'latin1'));
    const versionLen = whole[at + 32] ?? 0;
    whole[at + 33 + versionLen] = 0xff;
    whole[at + 34 + versionLen] = 0x7f;
    const { warnings } = scan({ 'bin/bad': whole });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /module info/);
  });
});

describe('gobinary: committed fixture (stripped amd64, -trimpath)', () => {
  it('matches the `go version -m` output recorded when it was built', () => {
    const bin = fixturePath('scanner', 'gobinary', 'app-stripped-amd64');
    const ref = readFileSync(fixturePath('scanner', 'gobinary', 'app-stripped-amd64.go-version-m.txt'), 'utf8').split(
      '\n',
    );
    const info = infoOf(bin);
    assert.equal(`${info.goVersion}`, ref[0]?.slice(ref[0].lastIndexOf(': ') + 2));
    assert.deepEqual(
      info.modinfo.split('\n').filter((l) => l.trim() !== ''),
      ref
        .slice(1)
        .filter((l) => l.trim() !== '')
        .map((l) => l.slice(1)),
    );
    const { packages } = scan({ app: readFileSync(bin) });
    assert.deepEqual(
      packages.map((p) => p.purl),
      [
        'pkg:golang/example.com/app',
        'pkg:golang/example.com/lib',
        'pkg:golang/example.com/other@v1.4.0',
        'pkg:golang/stdlib@v1.19.8',
      ],
    );
  });
});

describe('gobinary: pre-1.18 pointer format and section-less binaries', () => {
  const modinfo =
    'path\texample.com/old\nmod\texample.com/old\tv0.3.0\th1:abc=\ndep\tgolang.org/x/text\tv0.3.7\th1:def=\n';
  for (const [is64, littleEndian] of [
    [true, true],
    [true, false],
    [false, true],
    [false, false],
  ] as const) {
    const label = `${is64 ? 64 : 32}-bit ${littleEndian ? 'LE' : 'BE'}`;
    it(`${label}: follows the pointers through the program headers`, () => {
      const elf = syntheticGoElf({ is64, littleEndian, goVersion: 'go1.16.15', modinfo });
      assert.deepEqual(readGoBuildInfo(elf), { kind: 'ok', info: { goVersion: 'go1.16.15', modinfo } });
    });
    it(`${label}: without section headers, finds the magic in the writable segment`, () => {
      const elf = syntheticGoElf({ is64, littleEndian, goVersion: 'go1.16.15', modinfo, noSections: true });
      assert.deepEqual(readGoBuildInfo(elf), { kind: 'ok', info: { goVersion: 'go1.16.15', modinfo } });
    });
  }

  it('catalogs the old format like the new', () => {
    const elf = syntheticGoElf({ is64: true, littleEndian: true, goVersion: 'go1.16.15', modinfo });
    const { packages } = scan({ old: Buffer.concat([elf, Buffer.alloc(1024)]) });
    assert.deepEqual(
      packages.map((p) => `${p.name}@${p.version}`),
      ['example.com/old@v0.3.0', 'golang.org/x/text@v0.3.7', 'stdlib@v1.16.15'],
    );
  });

  it('a pointer leading outside the file is an error, not a crash', () => {
    const elf = syntheticGoElf({ is64: true, littleEndian: true, goVersion: 'go1.16.15', modinfo });
    const at = elf.indexOf(Buffer.from('\xff Go buildinf:', 'latin1'));
    elf.writeBigUInt64LE(0xdead0000n, at + 16);
    const r = readGoBuildInfo(elf);
    assert.equal(r.kind, 'error');
  });
});

describe('gobinary: files that are not Go binaries', () => {
  it('/bin/ls (a C program) gives nothing', () => {
    assert.deepEqual(readGoBuildInfo(readFileSync('/bin/ls')), { kind: 'none' });
    assert.deepEqual(scan({ 'bin/ls': readFileSync('/bin/ls') }), { packages: [], warnings: [] });
  });

  it('random bytes, an ELF magic followed by junk, and an empty ELF give no crash', () => {
    const junk = Buffer.concat([Buffer.from('\x7fELF\x02\x01', 'latin1'), randomBytes(4096)]);
    for (const data of [randomBytes(8192), junk, Buffer.from('\x7fELF'), Buffer.alloc(2048)]) {
      const r = readGoBuildInfo(data);
      assert.notEqual(r.kind, 'ok');
      assert.doesNotThrow(() => scan({ f: data }));
    }
  });

  it('wants only executables between 1 KiB and 512 MiB', () => {
    assert.equal(cataloger.wants({ path: 'usr/bin/x', size: 4096, mode: 0o755 }), true);
    assert.equal(cataloger.wants({ path: 'usr/bin/x', size: 4096, mode: 0o100 }), true);
    assert.equal(cataloger.wants({ path: 'usr/bin/x', size: 4096, mode: 0o644 }), false);
    assert.equal(cataloger.wants({ path: 'usr/bin/x', size: 100, mode: 0o755 }), false);
    assert.equal(cataloger.wants({ path: 'usr/bin/x', size: 600 * 1024 * 1024, mode: 0o755 }), false);
  });

  it('an unreadable kept form becomes a warning naming the file', () => {
    const warnings: string[] = [];
    cataloger.catalog({ files: fileTreeFrom({ 'opt/x': 'not json' }), warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, ['opt/x: Go binary: unreadable extracted Go build info']);
  });
});

describe('gobinary: module info text', () => {
  it('unquotes Go-quoted build settings', () => {
    const info = parseModInfo(
      'build\t-ldflags="-s -w -X \\"main.v=1.0\\""\nbuild\t"we=ird"=x\nbuild\t-tags=a,b\nbuild\tbad\n',
    );
    assert.deepEqual(info.settings, [
      ['-ldflags', '-s -w -X "main.v=1.0"'],
      ['we=ird', 'x'],
      ['-tags', 'a,b'],
    ]);
    assert.deepEqual(info.bad, ['build\tbad']);
  });

  it('reads -X definitions with quoting', () => {
    assert.deepEqual(linkerDefinitions(`-s -w -X main.version=1.2.3 -X 'github.com/a/b/v.Version=v2.0.0' -X=x.y=z`), [
      ['main.version', '1.2.3'],
      ['github.com/a/b/v.Version', 'v2.0.0'],
      ['x.y', 'z'],
    ]);
  });

  it('turns toolchain versions into the semver OSV uses for stdlib', () => {
    assert.equal(goToolchainSemver('go1.21.3'), 'v1.21.3');
    assert.equal(goToolchainSemver('go1.20'), 'v1.20.0');
    assert.equal(goToolchainSemver('go1.21rc2'), 'v1.21.0-rc.2');
    assert.equal(goToolchainSemver('go1.22.0 X:boringcrypto'), 'v1.22.0');
    assert.equal(goToolchainSemver('devel go1.23-abcdef'), undefined);
  });

  it('keeps the module a replacement points to, with the original in metadata', () => {
    const text =
      'path\tx.io/m\nmod\tx.io/m\tv1.0.0\th1:m=\ndep\tgithub.com/a/b\tv1.0.0\th1:old=\n=>\tgithub.com/fork/b\tv1.0.1\th1:new=\n';
    const { packages } = scan({
      m: syntheticGoElf({ is64: true, littleEndian: true, goVersion: 'go1.17', modinfo: text }),
    });
    const fork = packages.find((p) => p.name === 'github.com/fork/b');
    assert.equal(fork?.version, 'v1.0.1');
    assert.equal(fork?.purl, 'pkg:golang/github.com/fork/b@v1.0.1');
    assert.equal(fork?.metadata?.['originalPath'], 'github.com/a/b');
    assert.equal(fork?.metadata?.['originalVersion'], 'v1.0.0');
    assert.equal(fork?.metadata?.['h1Digest'], 'h1:new=');
  });
});
