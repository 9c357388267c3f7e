import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sharedPath } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/cargo-lock/index.js';
import { parseToml, TomlError } from '../../src/catalogers/lang-common/toml.js';
import { lockfile, nv, run } from '../npm/harness.js';

void describe('cargo-lock cataloger', () => {
  void it('parses every cargo fixture; the broken one warns naming the file', () => {
    for (const f of readdirSync(sharedPath('conformance', 'lockfiles', 'cargo'))) {
      const r = run(cataloger, { 'app/Cargo.lock': lockfile('cargo', f) });
      if (f === 'not-toml.txt') assert.match(r.warnings[0] ?? '', /^app\/Cargo\.lock: invalid Cargo\.lock: line 1/);
      else assert.deepEqual(r.warnings, [], f);
    }
    assert.deepEqual(nv(run(cataloger, { 'Cargo.lock': lockfile('cargo', 'two-packages.lock') }).pkgs), [
      'addr2line@0.15.2',
      'syn@1.0.73',
    ]);
    const build = run(cataloger, { 'Cargo.lock': lockfile('cargo', 'package-with-build-string.lock') }).pkgs;
    assert.equal(build[0]?.purl, 'pkg:cargo/wasi@0.10.2%2Bwasi-snapshot-preview1');
  });

  void it('v1 format (no version key, [metadata] checksums), workspace crates skipped, git marked', () => {
    const v1 = [
      '[[package]]',
      'name = "myapp"',
      'version = "0.1.0"',
      'dependencies = [',
      ' "serde 1.0.100 (registry+https://github.com/rust-lang/crates.io-index)",',
      ']',
      '',
      '[[package]]',
      'name = "serde"',
      'version = "1.0.100"',
      'source = "registry+https://github.com/rust-lang/crates.io-index"',
      '',
      '[[package]]',
      'name = "gitdep"',
      'version = "0.2.0"',
      'source = "git+https://github.com/x/gitdep#0123abc"',
      '',
      '[metadata]',
      '"checksum serde 1.0.100 (registry+https://github.com/rust-lang/crates.io-index)" = "f4473e381fb"',
      '',
    ].join('\n');
    const r = run(cataloger, { 'ws/Cargo.lock': v1 });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(nv(r.pkgs), ['gitdep@0.2.0', 'serde@1.0.100']);
    assert.equal(r.pkgs[0]?.metadata?.['source'], 'git');
    assert.equal(r.pkgs[1]?.foundBy, 'cargo-lock');
  });

  void it('warns on an unknown lockfile version and on an empty file', () => {
    const r = run(cataloger, { 'a/Cargo.lock': 'version = 9\n', 'b/Cargo.lock': '' });
    assert.deepEqual(r.pkgs, []);
    assert.match(r.warnings[0] ?? '', /^a\/Cargo\.lock: unsupported Cargo\.lock version 9/);
    assert.match(r.warnings[1] ?? '', /^b\/Cargo\.lock: empty/);
  });
});

void describe('TOML subset reader', () => {
  void it('reads the value kinds lockfiles use', () => {
    const doc = parseToml(
      [
        'a = "x\\ty\\u00e9"  # comment',
        "b = 'C:\\path'",
        'c = 1_000',
        'd = [1, 2,',
        '  3, # inside',
        ']',
        'e = { x = true, "y z" = 2.5 }',
        'f = 2025-01-25T11:30:10.164985+00:00',
        'g = """',
        'multi',
        'line"""',
        '[t.u]',
        'k.l = "v"',
        '[[arr]]',
        'n = 1',
        '[[arr]]',
        'n = 2',
        '[arr.sub]',
        'm = 3',
        '[[arr.items]]',
        'o = 4',
      ].join('\n'),
    );
    assert.deepEqual(doc, {
      a: 'x\tyé',
      b: 'C:\\path',
      c: 1000,
      d: [1, 2, 3],
      e: { x: true, 'y z': 2.5 },
      f: '2025-01-25T11:30:10.164985+00:00',
      g: 'multi\nline',
      t: { u: { k: { l: 'v' } } },
      arr: [{ n: 1 }, { n: 2, sub: { m: 3 }, items: [{ o: 4 }] }],
    });
  });

  void it('reports malformed input with its line', () => {
    assert.throws(
      () => parseToml('a = 1\nb = "open\n'),
      (e: unknown) => e instanceof TomlError && e.line === 2,
    );
    assert.throws(() => parseToml('[[x]\n'), TomlError);
    assert.throws(() => parseToml('a = [1, 2\n'), TomlError);
    assert.throws(() => parseToml('a = nope\n'), TomlError);
  });
});
