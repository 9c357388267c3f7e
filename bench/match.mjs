// bench match: 5,000 packages matched against a DB holding all of ../shared/vulndata.
// Target ≥ 50,000 packages/s. Packages are drawn (seeded) from names the DB knows, with versions
// around their advisories' boundaries, plus Debian packages, so most lookups hit real ranges.
import { vulnDb } from './lib.mjs';
import { openVulnDb, benchmarkPackages } from '../packages/vulndb/dist/src/index.js';

const db = openVulnDb(vulnDb());
const { packages, os } = benchmarkPackages(db, 5000, 42);
db.match(packages, os); // warm the per-ecosystem indexes once, as a long-lived server would be
const rounds = 7;
const times = [];
let found = 0;
for (let i = 0; i < rounds; i++) {
  const t0 = process.hrtime.bigint();
  found = db.match(packages, os).length;
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
times.sort((a, b) => a - b);
const t = times[Math.floor(rounds / 2)];
console.log(`match: ${packages.length} packages, ${found} vulnerabilities, ${t.toFixed(4)} s (median of ${rounds})`);
console.log(`match throughput: ${Math.round(packages.length / t)} packages/s (target >= 50000)`);
db.close();
