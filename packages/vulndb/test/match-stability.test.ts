/**
 * Matching results must not change when the matcher is optimised. All of ../shared/vulndata is
 * imported, a seeded set of packages is drawn from the names and boundary versions the DB holds
 * (every ecosystem and distro stream, binary and source packages, several OS releases), and
 * the exact JSON of the results (key order included) is compared with a committed golden file.
 *
 * The golden holds digests, not the results (those are megabytes): a whole-output digest plus
 * one per chunk of matches, so a failure says where the output first differs. Regenerate it only
 * on purpose, with the code whose results are the reference:
 *   UPDATE_GOLDEN=1 node --test packages/vulndb/dist/test/match-stability.test.js
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { fixturePath, sharedPath, tempDir } from '@palisade/testkit';
import type { OsInfo, Package, PackageType, VulnerabilityMatch } from '@palisade/core';
import { importPaths } from '../src/import.js';
import { openVulnDb, type SqliteVulnDb } from '../src/match/matcher.js';
import { normalizeVersion } from '../src/ecosystems.js';
import { schemeFor } from '../src/versions/index.js';
import { pkg } from './helpers.js';

const GOLDEN = fixturePath('vulndb', 'golden', 'match-stability.json');
const PACKAGES = 4000;
const CHUNK = 250;

interface Candidate {
  key: string;
  type: PackageType;
  name: string;
  versions: string[];
  highest: string;
}

interface Golden {
  packages: number;
  matches: number;
  sha256: string;
  chunks: Array<{ first: string; sha256: string }>;
}

const LANGUAGE_TYPES: Readonly<Record<string, PackageType>> = {
  go: 'golang',
  pypi: 'pypi',
  npm: 'npm',
  maven: 'maven',
  rubygems: 'gem',
  'crates.io': 'cargo',
  nuget: 'nuget',
  packagist: 'composer',
};

/** The OS a distro key is matched under, with the package type of that distro. */
function distroOf(key: string): { os: OsInfo; type: PackageType } | undefined {
  const [distro, rel] = key.split(':');
  if (rel === undefined) return undefined;
  if (distro === 'alpine') return { os: { family: 'alpine', id: 'alpine', version: `${rel}.1` }, type: 'apk' };
  if (distro === 'debian')
    return { os: { family: 'debian', id: 'debian', version: rel === 'sid' ? 'sid' : rel }, type: 'deb' };
  if (distro === 'ubuntu' && /^\d+\.\d+$/.test(rel))
    return { os: { family: 'ubuntu', id: 'ubuntu', version: rel }, type: 'deb' };
  if (distro === 'redhat') return { os: { family: 'rhel', id: 'rhel', version: `${rel}.0` }, type: 'rpm' };
  return undefined;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

interface StoredRanges {
  scheme?: string;
  versions?: string[];
  ranges?: Array<{ events?: Array<Record<string, string>> }>;
}

/** One candidate per (key, name) with every valid version its entries name, in row order. */
function candidates(dbPath: string): Candidate[] {
  const sql = new Database(dbPath, { readonly: true });
  const rows = sql.prepare('SELECT ecosystem, name, data FROM affected ORDER BY rowid').all() as Array<{
    ecosystem: string;
    name: string;
    data: string;
  }>;
  sql.close();
  const byKey = new Map<string, Candidate & { scheme: string }>();
  for (const r of rows) {
    const type = LANGUAGE_TYPES[r.ecosystem] ?? distroOf(r.ecosystem)?.type;
    if (type === undefined) continue;
    const d = JSON.parse(r.data) as StoredRanges;
    const id = `${r.ecosystem} ${r.name}`;
    let c = byKey.get(id);
    if (c === undefined)
      byKey.set(
        id,
        (c = { key: r.ecosystem, type, name: r.name, versions: [], highest: '', scheme: d.scheme ?? r.ecosystem }),
      );
    c.versions.push(...(d.versions ?? []));
    for (const range of d.ranges ?? [])
      for (const e of range.events ?? []) for (const v of Object.values(e)) if (v && v !== '0') c.versions.push(v);
  }
  const out: Candidate[] = [];
  for (const c of byKey.values()) {
    const scheme = schemeFor(c.scheme);
    if (scheme === undefined) continue;
    const valid = [...new Set(c.versions)].filter((v) => scheme.isValid(v));
    if (valid.length === 0) continue;
    const highest = valid.reduce((a, b) => (scheme.compare(a, b) >= 0 ? a : b));
    out.push({ key: c.key, type: c.type, name: c.name, versions: valid, highest });
  }
  return out;
}

/** A seeded inventory: mostly boundary versions, some patched, some source packages, Go "v" prefixes. */
function draw(cands: readonly Candidate[], n: number, seed: number): Map<string, Package[]> {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const batches = new Map<string, Package[]>();
  for (let i = 0; i < n; i++) {
    const c = pick(cands);
    let version = rand() < 0.3 ? c.highest : pick(c.versions);
    if (c.type === 'golang' && normalizeVersion('go', `v${version}`) === version && rand() < 0.5)
      version = `v${version}`;
    const batch = LANGUAGE_TYPES[c.key] !== undefined ? 'language' : c.key;
    let p = pkg(c.type, c.name, version);
    if (batch !== 'language' && rand() < 0.3)
      p = pkg(c.type, `lib${c.name}-bin`, version, { source: { name: c.name, version } });
    p = { ...p, id: `${p.id}-${i}` };
    const list = batches.get(batch);
    if (list) list.push(p);
    else batches.set(batch, [p]);
  }
  return batches;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Digest of the exact JSON of each match (key order included), chunked. */
function digest(matches: readonly VulnerabilityMatch[], packages: number): Golden {
  const lines = matches.map((m) => JSON.stringify(m));
  const chunks: Golden['chunks'] = [];
  for (let i = 0; i < lines.length; i += CHUNK) {
    const m = matches[i] as VulnerabilityMatch;
    chunks.push({
      first: `${m.package.name}@${m.package.version} ${m.id}`,
      sha256: sha256(lines.slice(i, i + CHUNK).join('\n')),
    });
  }
  return { packages, matches: matches.length, sha256: sha256(lines.join('\n')), chunks };
}

let db: SqliteVulnDb;
let dbPath: string;
let cleanup: () => void;

before(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  dbPath = join(t.path, 'all.db');
  await importPaths([sharedPath('vulndata')], dbPath, { now: new Date('2025-03-01T00:00:00Z') });
  db = openVulnDb(dbPath);
});

after(() => {
  db.close();
  cleanup();
});

test('match results over all of ../shared/vulndata are identical to the golden digest', () => {
  const batches = draw(candidates(dbPath), PACKAGES, 20240607);
  const all: VulnerabilityMatch[] = [];
  for (const [batch, packages] of [...batches].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    all.push(...db.match(packages, batch === 'language' ? undefined : distroOf(batch)?.os));
  }
  // A second, reversed call must give the same answer: no state leaks between calls.
  const language = batches.get('language') ?? [];
  assert.deepEqual(db.match([...language].reverse(), undefined), db.match(language, undefined));
  const got = digest(all, PACKAGES);
  assert.ok(got.matches > 5000, `the draw should find many matches, found ${got.matches}`);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(GOLDEN)) {
    assert.equal(
      process.env['UPDATE_GOLDEN'],
      '1',
      `golden file missing: ${GOLDEN} (run with UPDATE_GOLDEN=1 on the reference code)`,
    );
    mkdirSync(dirname(GOLDEN), { recursive: true });
    writeFileSync(GOLDEN, `${JSON.stringify(got, null, 1)}\n`);
    return;
  }
  const want = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
  const firstDiff = want.chunks.findIndex((c, i) => got.chunks[i]?.sha256 !== c.sha256);
  const where =
    firstDiff < 0
      ? 'no chunk differs'
      : `first differing chunk #${firstDiff} starts at ${want.chunks[firstDiff]?.first} (now ${got.chunks[firstDiff]?.first})`;
  assert.equal(got.matches, want.matches, `match count changed; ${where}`);
  assert.equal(got.sha256, want.sha256, `match output changed; ${where}`);
});
