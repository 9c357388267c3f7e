// bench scan-warm: the Debian 12 image scanned again with the layer cache warm. Target ≤ 0.2 s.
// Prints the scan itself (in-process, resolve + cache + catalog + match) and the whole CLI run.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { cli, debianInRegistry, measure, median, vulnDb, work } from './lib.mjs';
import { FsLayerCache, scanImage } from '../packages/scanner/dist/src/index.js';
import { openVulnDb } from '../packages/vulndb/dist/src/index.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const dbPath = vulnDb();
const { registry, ref } = await debianInRegistry();
try {
  const cacheDir = join(work, 'cache-warm');
  rmSync(cacheDir, { recursive: true, force: true });
  const db = openVulnDb(dbPath);
  const opts = { source: { insecure: true }, cache: new FsLayerCache(cacheDir), db };
  await scanImage(ref, opts); // fills the cache
  const inProcess = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const r = await scanImage(ref, opts);
    inProcess.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.packages.length === 0) throw new Error('warm scan found no packages');
  }
  db.close();
  const cliRuns = [];
  for (let i = 0; i < 3; i++) {
    cliRuns.push(
      (
        await measure(process.execPath, [
          cli,
          'scan',
          'image',
          ref,
          '--insecure',
          '--cache-dir',
          cacheDir,
          '--db',
          dbPath,
          '--format',
          'json',
          '--output',
          '/dev/null',
        ])
      ).secs,
    );
  }
  console.log(`scan-warm (in-process scan): ${median(inProcess).toFixed(3)} s (median of ${rounds}; target <= 0.2)`);
  console.log(`scan-warm (whole CLI process incl. Node start): ${median(cliRuns).toFixed(3)} s (median of 3)`);
} finally {
  await registry.stop();
}
