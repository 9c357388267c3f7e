import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PalisadeError, PluginRegistry } from '@palisade/core';
import { compareVersions, schemeFor, versionSchemes, type VersionScheme } from '../../src/versions/index.js';
import { cachedParser } from '../../src/versions/common.js';

function assertInputError(fn: () => unknown, subject: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PalisadeError, `expected a PalisadeError, got ${String(err)}`);
    assert.equal(err.code, 'E_INPUT');
    assert.equal(err.subject, subject);
    assert.match(err.message, message);
    return true;
  });
}

void test('schemeFor maps OSV ecosystems, with and without a release suffix', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['Debian', 'dpkg'],
    ['Debian:12', 'dpkg'],
    ['Ubuntu:22.04:LTS', 'dpkg'],
    ['Alpine:v3.18', 'apk'],
    ['Wolfi', 'apk'],
    ['Chainguard', 'apk'],
    ['Red Hat', 'rpm'],
    ['Rocky Linux:9', 'rpm'],
    ['openSUSE', 'rpm'],
    ['Azure Linux:3', 'rpm'],
    ['npm', 'semver'],
    ['crates.io', 'semver'],
    ['Go', 'go'],
    ['PyPI', 'pep440'],
    ['Maven', 'maven'],
    ['RubyGems', 'rubygems'],
    ['NuGet', 'nuget'],
    ['Packagist', 'composer'],
    ['debian', 'dpkg'],
    ['pypi', 'pep440'],
    ['go', 'go'],
    ['alpine:v3.20', 'apk'],
  ];
  for (const [eco, id] of cases) assert.equal(schemeFor(eco)?.id, id, eco);
  assert.equal(schemeFor('Hackage'), undefined);
  assert.equal(schemeFor(''), undefined);
});

void test('compareVersions orders and rejects an unknown ecosystem by name', () => {
  assert.ok(compareVersions('Debian:12', '1.0-1', '1.0-1~deb12u1') > 0);
  assert.ok(compareVersions('PyPI', '1.0a1', '1.0') < 0);
  assert.equal(compareVersions('Maven', '1.0', '1'), 0);
  assertInputError(() => compareVersions('Nope', '1', '2'), 'Nope', /unknown ecosystem/);
});

void test('every ecosystem belongs to exactly one scheme and ids are unique', () => {
  const seen = new Map<string, string>();
  for (const s of versionSchemes.all()) {
    assert.ok(s.ecosystems.length > 0, s.id);
    for (const e of s.ecosystems) {
      assert.equal(seen.get(e), undefined, `${e} claimed twice`);
      seen.set(e, s.id);
    }
  }
  assert.equal(versionSchemes.all().length, 10);
  const dup = versionSchemes.all()[0] as VersionScheme;
  assert.throws(() => new PluginRegistry<VersionScheme>('x', [dup, dup]), /duplicate plugin id/);
});

void test('every scheme rejects an empty version with E_INPUT naming it', () => {
  for (const s of versionSchemes.all()) {
    assertInputError(() => s.compare('', '1'), '', /empty version/);
    assertInputError(() => s.compare('1', '   '), '   ', /empty version/);
    assert.equal(s.isValid(''), false, s.id);
    assert.equal(s.isValid('1'), true, s.id);
  }
});

void test('unparsable versions are rejected by the schemes that have a grammar', () => {
  const bad: readonly (readonly [string, string, RegExp])[] = [
    ['dpkg', 'a:1.0', /epoch is not a number/],
    ['dpkg', '1:', /nothing after the epoch colon/],
    ['dpkg', '1.0-', /revision is empty/],
    ['dpkg', '1.0 2', /embedded whitespace/],
    ['dpkg', '99999999999:1', /epoch is too big/],
    ['semver', '1.x.3', /MAJOR.MINOR.PATCH/],
    ['semver', '1.2.3-', /bad pre-release/],
    ['semver', '1.2.3-a..b', /bad pre-release/],
    ['semver', '1.2.3+', /bad build/],
    ['semver', 'latest', /MAJOR.MINOR.PATCH/],
    ['go', '1.02.3', /leading zeros/],
    ['go', 'v1.2.3.4', /vMAJOR/],
    ['go', 'v1.2-pre', /shorthand/],
    ['go', 'v1.2.3-01', /bad pre-release/],
    ['rubygems', '1..2', /expected digits/],
    ['rubygems', 'abc', /expected digits/],
    ['nuget', '1.2.3.4.5', /more than 4/],
    ['nuget', '1.a', /must be digits/],
    ['nuget', '1.0-beta..1', /bad pre-release/],
  ];
  for (const [id, v, message] of bad) {
    const s = versionSchemes.require(id);
    assertInputError(() => s.compare(v, '1.0.0'), v, message);
    assertInputError(() => s.compare('1.0.0', v), v, message);
    assert.equal(s.isValid(v), false, `${id} ${v}`);
  }
});

void test('lenient schemes order odd strings instead of failing', () => {
  // PyPI legacy versions sort below every PEP 440 version, as packaging's LegacyVersion did.
  assert.ok(compareVersions('PyPI', 'foo-bar', '0.0.1') < 0);
  assert.ok(compareVersions('PyPI', '0.9-doduo', '0.9-eevee') < 0);
  // Maven, apk, rpm and Composer take any non-empty string.
  assert.ok(compareVersions('Maven', 'abc', '1') < 0);
  assert.ok(compareVersions('Alpine', 'junk!', '1.0') < 0);
  assert.ok(compareVersions('Red Hat', 'xyz', 'xyz.1') < 0);
  assert.ok(compareVersions('Packagist', 'dev-main', '1.0.0') < 0);
});

void test('specific orderings per scheme', () => {
  const cases: readonly (readonly [string, string, string, number])[] = [
    ['Debian', '1.0~rc1-1', '1.0-1', -1],
    ['Debian', '2:1.0', '1:9.9', 1],
    ['Alpine', '1.2.3-r10', '1.2.3-r9', 1],
    ['Alpine', '1.2_rc1', '1.2', -1],
    ['Red Hat', '1:1.0-1.el8', '0:2.0-1.el8', 1],
    ['Red Hat', '1.0~rc1-1', '1.0-1', -1],
    ['Red Hat', '1.0^git1-1', '1.0-1', 1],
    ['npm', '1.0.0-alpha.10', '1.0.0-alpha.9', 1],
    ['Go', 'v1.2.3+incompatible', 'v1.2.3', 0],
    ['Go', '0.0.0-20210101000000-abcdef123456', '0.0.1', -1],
    ['PyPI', '1!0.1', '2.0', 1],
    ['PyPI', '1.0.post1', '1.0', 1],
    ['PyPI', '1.0.dev1', '1.0a1', -1],
    ['PyPI', '1.0+local.1', '1.0', 1],
    ['PyPI', '1.0-1', '1.0.post1', 0],
    ['PyPI', '1.0.ALPHA.1', '1.0a1', 0],
    ['Maven', '1.0-SNAPSHOT', '1.0', -1],
    ['Maven', '1.0-sp1', '1.0', 1],
    ['RubyGems', '1.0.0.pre', '1.0.0', -1],
    ['NuGet', '1.0.0.0', '1.0', 0],
    ['NuGet', '1.0.0-Beta', '1.0.0-beta', 0],
    ['Packagist', 'v2.0.0', '2.0.0', 0],
    ['Packagist', '1.0.0-RC1', '1.0.0', -1],
  ];
  for (const [eco, a, b, want] of cases) {
    assert.equal(Math.sign(compareVersions(eco, a, b)), want, `${eco}: ${a} vs ${b}`);
    assert.equal(Math.sign(compareVersions(eco, b, a)), want === 0 ? 0 : -want, `${eco}: ${b} vs ${a}`);
  }
});

void test('the parse cache is bounded and still answers after it is cleared', () => {
  let parses = 0;
  const parse = cachedParser((v: string) => {
    parses++;
    return v.length;
  }, 3);
  for (const v of ['a', 'bb', 'a', 'ccc']) parse(v);
  assert.equal(parses, 3);
  parse('dddd'); // fourth distinct value: cache is full, cleared, then holds only "dddd"
  assert.equal(parse('a'), 1);
  assert.equal(parses, 5);
});

void test('sorting a shuffled list gives a total order consistent with compare', () => {
  const scheme = versionSchemes.require('dpkg');
  const versions = ['1.0', '1.0-1', '1.0~rc1', '1:0.1', '1.0+b1', '1.0-1~bpo1', '0.9', '1.0a', '1.0.1'];
  const sorted = [...versions].sort((a, b) => scheme.compare(a, b));
  assert.deepEqual(sorted, ['0.9', '1.0~rc1', '1.0', '1.0-1~bpo1', '1.0-1', '1.0a', '1.0+b1', '1.0.1', '1:0.1']);
});
