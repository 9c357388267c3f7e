/**
 * Versions the ecosystem's scheme cannot parse. Go main modules built from a checkout have the
 * version "(devel)"; catalogers sometimes emit "" or words like "latest". Before this rule the
 * matcher reported such packages vulnerable: Go "(devel)" to every advisory open to all
 * versions, PyPI/Alpine "latest" to everything with a fix (the lenient schemes sort a word below
 * every release), Debian "" to every open tracker entry. Now: "" and "(devel)" match nothing, and
 * any other unparsable version matches only an advisory that lists that exact string.
 *
 * The records are written here: per ecosystem one advisory open to every version ("introduced
 * 0" alone), one fixed in 2.0, one listing the odd version "nightly" exactly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';
import type { OsInfo, PackageType } from '@palisade/core';
import { importPaths } from '../src/import.js';
import { openVulnDb, type SqliteVulnDb } from '../src/match/matcher.js';
import { versionUse } from '../src/match/known.js';
import { pkg, testSchemes } from './helpers.js';

interface Case {
  type: PackageType;
  /** OSV ecosystem of the records. */
  ecosystem: string;
  name: string;
  os: OsInfo | undefined;
  /** Versions below and at the fix, in the ecosystem's own spelling. */
  vulnerable: string;
  fixed: string;
  /** Versions the scheme cannot place; "nightly" is listed exactly by one advisory. */
  odd: string[];
}

const CASES: Case[] = [
  {
    type: 'golang',
    ecosystem: 'Go',
    name: 'example.com/tool',
    os: undefined,
    vulnerable: 'v1.5.0',
    fixed: 'v2.0.0',
    odd: ['latest', 'main', 'nightly'],
  },
  {
    type: 'pypi',
    ecosystem: 'PyPI',
    name: 'toolpkg',
    os: undefined,
    vulnerable: '1.5',
    fixed: '2.0',
    odd: ['latest', 'unknown', 'nightly'],
  },
  {
    type: 'npm',
    ecosystem: 'npm',
    name: 'toolpkg',
    os: undefined,
    vulnerable: '1.5.0',
    fixed: '2.0.0',
    odd: ['latest', 'next', 'nightly'],
  },
  {
    type: 'deb',
    ecosystem: 'Debian:12',
    name: 'toolpkg',
    os: { family: 'debian', id: 'debian', version: '12' },
    vulnerable: '1.5-1',
    fixed: '2.0-1',
    odd: ['latest', 'nightly'],
  },
  {
    type: 'apk',
    ecosystem: 'Alpine:v3.18',
    name: 'toolpkg',
    os: { family: 'alpine', id: 'alpine', version: '3.18.4' },
    vulnerable: '1.5-r0',
    fixed: '2.0-r0',
    odd: ['latest', 'nightly'],
  },
];

function osvRecords(c: Case, n: number): Array<{ file: string; body: object }> {
  const eco = c.ecosystem;
  const bare = (v: string): string => (c.type === 'golang' ? v.replace(/^v/, '') : v);
  const rangeType = c.type === 'golang' || c.type === 'npm' ? 'SEMVER' : 'ECOSYSTEM';
  const rec = (id: string, affected: object): { file: string; body: object } => ({
    file: `${id}.json`,
    body: {
      schema_version: '1.4.0',
      id,
      modified: '2024-01-01T00:00:00Z',
      aliases: [],
      summary: id,
      affected: [affected],
    },
  });
  return [
    rec(`TEST-OPEN-${n}`, {
      package: { ecosystem: eco, name: c.name },
      ranges: [{ type: rangeType, events: [{ introduced: '0' }] }],
    }),
    rec(`TEST-FIXED-${n}`, {
      package: { ecosystem: eco, name: c.name },
      ranges: [{ type: rangeType, events: [{ introduced: '0' }, { fixed: bare(c.fixed) }] }],
    }),
    rec(`TEST-LISTED-${n}`, { package: { ecosystem: eco, name: c.name }, versions: ['nightly'] }),
  ];
}

let db: SqliteVulnDb;
let testDb: SqliteVulnDb;
let cleanup: () => void;

before(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const dir = join(t.path, 'osv');
  mkdirSync(dir);
  CASES.forEach((c, i) => {
    for (const r of osvRecords(c, i)) writeFileSync(join(dir, r.file), JSON.stringify(r.body));
  });
  const dbPath = join(t.path, 'odd.db');
  await importPaths([dir], dbPath, { now: new Date('2025-03-01T00:00:00Z') });
  db = openVulnDb(dbPath);
  // The same rule holds with comparators supplied by the caller.
  testDb = openVulnDb(dbPath, { schemes: testSchemes });
});

after(() => {
  db.close();
  testDb.close();
  cleanup();
});

function ids(d: SqliteVulnDb, c: Case, version: string): string[] {
  return d.match([pkg(c.type, c.name, version)], c.os).map((m) => m.id);
}

for (const c of CASES) {
  test(`${c.ecosystem}: a parsable version still matches (control)`, () => {
    assert.deepEqual(ids(db, c, c.vulnerable).sort(), [
      'TEST-FIXED-' + CASES.indexOf(c),
      'TEST-OPEN-' + CASES.indexOf(c),
    ]);
    assert.deepEqual(ids(db, c, c.fixed), ['TEST-OPEN-' + CASES.indexOf(c)]);
  });

  test(`${c.ecosystem}: "(devel)" and "" are unknown: no findings at all`, () => {
    for (const d of [db, testDb]) {
      for (const v of ['(devel)', '', '  ']) assert.deepEqual(ids(d, c, v), [], `${JSON.stringify(v)} must not match`);
    }
  });

  test(`${c.ecosystem}: other unparsable versions match only an advisory listing them exactly`, () => {
    const listed = 'TEST-LISTED-' + CASES.indexOf(c);
    for (const d of [db, testDb]) {
      for (const v of c.odd) assert.deepEqual(ids(d, c, v), v === 'nightly' ? [listed] : [], `${JSON.stringify(v)}`);
      // Twice: the memo of version uses must not change the answer.
      assert.deepEqual(ids(d, c, 'latest'), []);
    }
  });
}

test('Go: the main module of a checkout build ("(devel)", also with its "v" prefix rules) never matches', () => {
  const c = CASES[0] as Case;
  assert.deepEqual(ids(db, c, '(devel)'), []);
  assert.deepEqual(ids(db, c, 'v(devel)'), []);
  // A pseudo-version is a real version: it is placed and matches.
  assert.ok(ids(db, c, 'v0.0.0-20240101000000-abcdef123456').includes('TEST-FIXED-0'));
});

test('versionUse: scheme parse plus the shape of a release for schemes that order any string', () => {
  const cmp = (eco: string): ((a: string, b: string) => number) | undefined => testSchemes(eco);
  const use = (eco: string, v: string): string => versionUse(eco, v, cmp(eco));
  assert.equal(use('Go', '1.2.3'), 'ordered');
  assert.equal(use('Go', '(devel)'), 'none');
  assert.equal(use('Go', ''), 'none');
  assert.equal(use('Go', 'latest'), 'exact');
  assert.equal(use('npm', 'latest'), 'exact');
  // PEP 440 orders anything as a "legacy" version; a release starts with a number.
  assert.equal(use('PyPI', 'latest'), 'exact');
  assert.equal(use('PyPI', '0.4.0-p1'), 'ordered', 'a real legacy release keeps its legacy order');
  assert.equal(use('PyPI', 'v1.0'), 'ordered');
  // dpkg, apk and rpm accept any non-empty string; a version starts with a digit (after an epoch).
  assert.equal(use('Debian', 'latest'), 'exact');
  assert.equal(use('Debian', '1:2.3-4'), 'ordered');
  assert.equal(use('Ubuntu', '2.35-0ubuntu3.4'), 'ordered');
  assert.equal(use('Alpine', 'latest'), 'exact');
  assert.equal(use('Alpine', '1.2.3-r0'), 'ordered');
  assert.equal(use('Red Hat', 'latest'), 'exact');
  assert.equal(use('Red Hat', '1:1.0-1.el9'), 'ordered');
  assert.equal(use('Maven', 'LATEST'), 'exact');
  assert.equal(use('Maven', 'r09'), 'ordered', "Guava's old release names");
  assert.equal(use('Packagist', 'dev-master'), 'exact');
  assert.equal(use('Packagist', 'v1.2.3'), 'ordered');
});
