import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Package } from '@palisade/core';
import { fixturePath, tempDir } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/rust-audit/index.js';
import { fileTreeFrom } from '../../src/catalogers/filetree.js';

function scan(files: Record<string, Buffer>): { packages: Package[]; warnings: string[] } {
  const kept: Record<string, Buffer> = {};
  for (const [path, data] of Object.entries(files)) {
    const meta = { path, size: data.length, mode: 0o755 };
    if (!cataloger.wants(meta)) continue;
    const form = cataloger.extract?.(meta, data);
    if (form) kept[path] = form;
  }
  const warnings: string[] = [];
  return { packages: cataloger.catalog({ files: fileTreeFrom(kept), warn: (m) => warnings.push(m) }), warnings };
}

interface AuditEntry {
  name: string;
  version: string;
  source: string;
  kind?: string;
  root?: boolean;
}

const fixture = (name: string): string => fixturePath('scanner', 'rust-audit', name);

describe('rust-audit: binaries with a .dep-v0 section', () => {
  let dir: { path: string; cleanup: () => void };
  let hello: string;

  /** A real ELF (cc) with the given bytes added as .dep-v0 by objcopy. */
  function withSection(name: string, section: Buffer): Buffer {
    const data = join(dir.path, `${name}.zlib`);
    const out = join(dir.path, name);
    writeFileSync(data, section);
    execFileSync('objcopy', [
      '--add-section',
      `.dep-v0=${data}`,
      '--set-section-flags',
      '.dep-v0=noload,readonly',
      hello,
      out,
    ]);
    return readFileSync(out);
  }

  before(() => {
    dir = tempDir('palisade-rust-');
    hello = join(dir.path, 'hello');
    execFileSync('cc', ['-O2', '-o', hello, fixture('hello.c')]);
  });
  after(() => dir.cleanup());

  it('reports every crate of the embedded tree, root and build kind in metadata', () => {
    const json = readFileSync(fixture('deps.json'));
    const bin = withSection('app', deflateSync(json));
    const { packages, warnings } = scan({ 'usr/bin/app': bin });
    assert.deepEqual(warnings, []);
    const expected = (JSON.parse(json.toString('utf8')) as { packages: AuditEntry[] }).packages;
    assert.deepEqual(
      packages.map((p) => p.purl),
      expected.map((e) => `pkg:cargo/${e.name}@${e.version}`).sort(),
    );
    for (const e of expected) {
      const p = packages.find((x) => x.name === e.name);
      assert.equal(p?.version, e.version);
      assert.equal(p?.metadata?.['source'], e.source);
      assert.equal(p?.metadata?.['root'], e.root === true ? 'true' : undefined);
      assert.equal(p?.metadata?.['kind'], e.kind === 'build' ? 'build' : undefined);
      assert.equal(p?.foundBy, 'rust-audit');
      assert.equal(p?.type, 'cargo');
      assert.deepEqual(
        p?.locations.map((l) => l.path),
        ['usr/bin/app'],
      );
    }
  });

  it('reads the committed fixture (cc + objcopy, see the fixture README) the same way', () => {
    const { packages, warnings } = scan({ hello: readFileSync(fixture('hello-auditable')) });
    assert.deepEqual(warnings, []);
    assert.equal(packages.length, 6);
    assert.equal(packages.find((p) => p.metadata?.['root'] === 'true')?.name, 'hello-audit');
    assert.equal(packages.find((p) => p.name === 'autocfg')?.metadata?.['kind'], 'build');
  });

  it('keeps only the small crate list, not the binary', () => {
    const bin = readFileSync(fixture('hello-auditable'));
    const form = cataloger.extract?.({ path: 'x', size: bin.length, mode: 0o755 }, bin);
    assert.ok(form !== null && form !== undefined);
    assert.ok(form.length < 1024);
  });

  it('a binary without the section gives nothing', () => {
    assert.deepEqual(scan({ 'bin/ls': readFileSync('/bin/ls'), hello: readFileSync(hello) }), {
      packages: [],
      warnings: [],
    });
  });

  it('bad zlib data is a warning naming the file', () => {
    const { packages, warnings } = scan({
      'opt/bad-zlib': withSection('bad-zlib', Buffer.from('this is not zlib data at all')),
    });
    assert.equal(packages.length, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^opt\/bad-zlib: cargo-auditable data: \.dep-v0: cannot inflate/);
  });

  it('bad JSON is a warning naming the file', () => {
    const { packages, warnings } = scan({
      'opt/bad-json': withSection('bad-json', deflateSync('{"packages":[{"name":')),
    });
    assert.equal(packages.length, 0);
    assert.match(warnings[0] ?? '', /^opt\/bad-json: cargo-auditable data: \.dep-v0: invalid JSON/);
  });

  it('JSON without a packages array, and malformed entries, are reported; good entries kept', () => {
    const noList = scan({ a: withSection('no-list', deflateSync('{"format":1}')) });
    assert.match(noList.warnings[0] ?? '', /no "packages" array/);
    const mixed = JSON.stringify({
      packages: [
        { name: 'ok', version: '1.0.0', source: 'crates.io' },
        { name: 'nover', source: 'crates.io' },
        7,
        { name: 'k', version: '1.0.0', source: 'x', kind: 'dev' },
      ],
    });
    const r = scan({ b: withSection('mixed', deflateSync(mixed)) });
    assert.deepEqual(
      r.packages.map((p) => p.purl),
      ['pkg:cargo/ok@1.0.0'],
    );
    assert.equal(r.warnings.length, 3);
    assert.match(r.warnings[0] ?? '', /^b: cargo-auditable data: skipped packages\[1\]: "nover" has no "version"/);
  });

  it('a zlib bomb is cut off, not inflated', () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const { packages, warnings } = scan({ bomb: withSection('bomb', bomb) });
    assert.equal(packages.length, 0);
    assert.match(warnings[0] ?? '', /cannot inflate/);
  });

  it('a section pointing past the end of the file (truncated or corrupt) warns', () => {
    const bin = Buffer.from(withSection('cut', deflateSync(readFileSync(fixture('deps.json')))));
    const path = join(dir.path, 'cut');
    const shoff = Number(
      /Start of section headers:\s+(\d+)/.exec(execFileSync('readelf', ['-h', path], { encoding: 'utf8' }))?.[1],
    );
    const index = Number(
      /\[\s*(\d+)\]\s+\.dep-v0/.exec(execFileSync('readelf', ['-SW', path], { encoding: 'utf8' }))?.[1],
    );
    assert.ok(shoff > 0 && index > 0);
    // sh_offset of an ELF64 section header is at byte 24 of its 64-byte entry.
    bin.writeBigUInt64LE(BigInt(bin.length + 100), shoff + index * 64 + 24);
    const { packages, warnings } = scan({ 'opt/cut': bin });
    assert.equal(packages.length, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^opt\/cut: cargo-auditable data: section \.dep-v0 .*beyond the end of the file/);
  });

  it('truncated and random files never throw', () => {
    const bin = readFileSync(fixture('hello-auditable'));
    for (const n of [3, 60, 2000, bin.length - 100])
      assert.doesNotThrow(() => scan({ f: Buffer.concat([bin.subarray(0, n), Buffer.alloc(1024)]) }));
    assert.doesNotThrow(() =>
      scan({ r: Buffer.concat([Buffer.from('\x7fELF\x02\x01', 'latin1'), Buffer.alloc(4000, 0xff)]) }),
    );
  });
});
