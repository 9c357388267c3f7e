// bench match: 5,000 packages matched against a DB holding all of ../shared/vulndata.
// Target ≥ 50,000 packages/s. The packages are drawn (seeded) from the package names the DB
// holds — Alpine 3.11 (OS packages), Go and PyPI, and the other ecosystems present — so every
// lookup finds advisories and evaluates real ranges. Versions: in the "realistic" mix 70% of
// packages are at the highest version their advisories name (as in a maintained image: most
// packages patched) and 30% at a random boundary version; the "adversarial" mix takes every
// version at random from the boundaries (most packages vulnerable to many advisories). Both are
// printed; the realistic one is the figure.
import Database from 'better-sqlite3';
import { vulnDb } from './lib.mjs';
import { openVulnDb, schemeFor } from '../packages/vulndb/dist/src/index.js';
import { buildPurl, stableId } from '../packages/core/dist/src/index.js';

const TYPE_OF = {
  go: 'golang',
  pypi: 'pypi',
  npm: 'npm',
  maven: 'maven',
  rubygems: 'gem',
  'crates.io': 'cargo',
  nuget: 'nuget',
  packagist: 'composer',
};
const OS = { family: 'alpine', id: 'alpine', version: '3.11.6' };

function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

function candidates(path) {
  const sql = new Database(path, { readonly: true });
  const rows = sql.prepare('SELECT ecosystem, name, data FROM affected').all();
  sql.close();
  // One candidate per package (ecosystem + name), with every version its advisories name.
  const byKey = new Map();
  for (const r of rows) {
    const eco = r.ecosystem.toLowerCase();
    const type = eco === 'alpine:3.11' ? 'apk' : TYPE_OF[eco];
    if (!type) continue;
    const d = JSON.parse(r.data);
    const key = `${eco} ${r.name}`;
    let c = byKey.get(key);
    if (!c) byKey.set(key, (c = { type, name: r.name, scheme: d.scheme ?? r.ecosystem, versions: [] }));
    c.versions.push(...(d.versions ?? []));
    for (const range of d.ranges ?? [])
      for (const e of range.events ?? []) for (const v of Object.values(e)) if (v && v !== '0') c.versions.push(v);
  }
  const out = [];
  for (const c of byKey.values()) {
    const scheme = schemeFor(c.scheme);
    const valid = scheme ? c.versions.filter((v) => scheme.isValid(v)) : c.versions;
    if (valid.length === 0) continue;
    const highest = scheme ? valid.reduce((a, b) => (scheme.compare(a, b) >= 0 ? a : b)) : valid[valid.length - 1];
    out.push({ type: c.type, name: c.name, versions: valid, highest });
  }
  return out;
}

function packagesFrom(cands, n, seed, patchedShare) {
  const rand = rng(seed);
  const pkgs = [];
  for (let i = 0; i < n; i++) {
    const c = cands[Math.floor(rand() * cands.length)];
    const version = rand() < patchedShare ? c.highest : c.versions[Math.floor(rand() * c.versions.length)];
    const purl = buildPurl({ type: c.type, name: c.name, version });
    pkgs.push({
      id: stableId(c.type, c.name, version, i),
      name: c.name,
      version,
      type: c.type,
      purl,
      locations: [{ path: `bench/${i}` }],
      foundBy: 'bench',
    });
  }
  return pkgs;
}

function run(db, packages, label) {
  const byType = packages.reduce((m, p) => ((m[p.type] = (m[p.type] ?? 0) + 1), m), {});
  const rounds = 7;
  const times = [];
  let found = 0;
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    found = db.match(packages, OS).length;
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  times.sort((a, b) => a - b);
  const t = times[Math.floor(rounds / 2)];
  console.log(
    `${label}: ${packages.length} packages ${JSON.stringify(byType)} → ${found} vulnerabilities in ${t.toFixed(4)} s (median of ${rounds}): ${Math.round(packages.length / t)} packages/s`,
  );
  return packages.length / t;
}

const dbPath = vulnDb();
const cands = candidates(dbPath);
const db = openVulnDb(dbPath);
const t0 = process.hrtime.bigint();
if (typeof db.preload === 'function') db.preload();
db.match(packagesFrom(cands, 5000, 7, 0), OS); // first use builds the in-memory indexes, once per process
console.log(`index load + first match: ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)} s`);
run(db, packagesFrom(cands, 5000, 42, 0), 'adversarial mix');
const rate = run(db, packagesFrom(cands, 5000, 42, 0.7), 'realistic mix');
console.log(`match throughput: ${Math.round(rate)} packages/s (target >= 50000)`);
db.close();
