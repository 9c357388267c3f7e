import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPalisadeError } from '@palisade/core';
import { readFileSync } from 'node:fs';
import { sharedPath } from '@palisade/testkit';
import { versionSchemes, type VersionScheme } from '../../src/versions/index.js';
import { opOf, readVectors, type Vector } from './helpers.js';

/**
 * Every vector must hold, with no exceptions. (Maven: the fixtures were generated with
 * maven-artifact 3.8.6, before MNG-7644, plus the POM spec's "1-1 = 1-ga-1"; maven.ts follows
 * them, and differential.test.ts checks the documented differences from 3.8.7/3.9.)
 */
function check(scheme: VersionScheme, file: string, vectors: readonly Vector[]): void {
  const failures: string[] = [];
  for (const v of vectors) {
    let got: string;
    try {
      got = opOf(scheme.compare(v.a, v.b));
      // The reverse must be the mirror image: compare is antisymmetric.
      const back = opOf(scheme.compare(v.b, v.a));
      const mirror = got === '<' ? '>' : got === '>' ? '<' : '=';
      if (back !== mirror) got = `${got} (but reversed gives ${back})`;
    } catch (err) {
      got = `error ${isPalisadeError(err) ? err.describe() : String(err)}`;
    }
    if (got !== v.op) failures.push(`${file}:${v.line}: ${v.a} ${v.op} ${v.b}, got ${got}`);
  }
  assert.deepEqual(failures.slice(0, 30), [], `${failures.length} of ${vectors.length} vectors failed`);
}

const FILES: readonly (readonly [string, string])[] = [
  ['debian-versions.txt', 'dpkg'],
  ['debian-versions-generated.txt', 'dpkg'],
  ['alpine-versions.txt', 'apk'],
  ['alpine-versions-generated.txt', 'apk'],
  ['redhat-versions.txt', 'rpm'],
  ['semver-versions.txt', 'semver'],
  ['pypi-versions.txt', 'pep440'],
  ['pypi-versions-generated.txt', 'pep440'],
  ['maven-versions.txt', 'maven'],
  ['maven-versions-generated.txt', 'maven'],
  ['nuget-versions.txt', 'nuget'],
  ['packagist-versions.txt', 'composer'],
  ['packagist-versions-generated.txt', 'composer'],
  ['rubygems-versions.txt', 'rubygems'],
  ['rubygems-versions-generated.txt', 'rubygems'],
];

for (const [file, id] of FILES) {
  void test(`conformance: ${file} with ${id}`, () => {
    const vectors = readVectors(file);
    assert.ok(vectors.length > 10, `${file} has too few vectors`);
    check(versionSchemes.require(id), file, vectors);
  });
}

void test('conformance: semver vectors that are valid Go versions, with go', () => {
  const go = versionSchemes.require('go');
  const vectors = readVectors('semver-versions.txt').filter((v) => go.isValid(v.a) && go.isValid(v.b));
  // Only the huge numbers and the 5-component one are not Go versions.
  assert.ok(vectors.length >= 80, `only ${vectors.length} Go-valid vectors`);
  check(go, 'semver-versions.txt', vectors);
});

void test('conformance: every scheme parses or cleanly rejects the feed corpus all-versions.txt', () => {
  const lines = readFileSync(sharedPath('conformance', 'versions', 'all-versions.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(lines.length > 2000);
  for (const scheme of versionSchemes.all()) {
    let accepted = 0;
    for (const v of lines) {
      try {
        scheme.compare(v, v);
        accepted++;
        assert.equal(scheme.isValid(v), true, `${scheme.id}: isValid disagrees with compare on ${v}`);
      } catch (err) {
        assert.ok(isPalisadeError(err), `${scheme.id} crashed on ${v}: ${String(err)}`);
        assert.equal(err.code, 'E_INPUT');
        assert.equal(err.subject, v);
        assert.equal(scheme.isValid(v), false);
      }
    }
    // Real feed versions: every scheme must read the great majority of them.
    assert.ok(accepted > lines.length * 0.5, `${scheme.id} accepted only ${accepted}/${lines.length}`);
  }
});
