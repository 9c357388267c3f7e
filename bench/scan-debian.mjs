// bench scan-debian: cold scan (no layer cache) of a Debian 12 image served by a local
// docker-registry, against the floor `gzip -dc layer | tar -t` of the same layer on this machine.
// Target: ratio ≤ 1.2, peak memory ≤ 300 MB. Runs alternate so machine noise hits both alike.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { cli, debianInRegistry, measure, median, vulnDb, work } from './lib.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const db = vulnDb();
const { deb, registry, ref } = await debianInRegistry();
try {
  const cache = join(work, 'cache-cold');
  const floor = [];
  const scan = [];
  const peaks = [];
  for (let i = 0; i < rounds; i++) {
    floor.push((await measure('sh', ['-c', `gzip -dc "${deb.layer}" | tar -t > /dev/null`])).secs);
    rmSync(cache, { recursive: true, force: true });
    const r = await measure(process.execPath, [
      cli,
      'scan',
      'image',
      ref,
      '--insecure',
      '--no-cache',
      '--cache-dir',
      cache,
      '--db',
      db,
      '--format',
      'json',
      '--output',
      '/dev/null',
    ]);
    scan.push(r.secs);
    peaks.push(r.peakMb);
  }
  const f = median(floor);
  const s = median(scan);
  console.log(`floor (gzip -dc | tar -t): ${f.toFixed(3)} s (median of ${rounds})`);
  console.log(`palisade scan (cold, whole CLI process): ${s.toFixed(3)} s (median of ${rounds})`);
  console.log(`scan-debian ratio: ${(s / f).toFixed(2)}x (target <= 1.2)`);
  console.log(`scan-debian peak memory: ${Math.max(...peaks).toFixed(0)} MB (target <= 300)`);
} finally {
  await registry.stop();
}
