// Shared helpers of the benchmarks: the Debian 12 test image in a real local registry, timing,
// and peak memory of a child process. Benchmarks print figures; they never assert.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as testkit from '../packages/testkit/dist/src/index.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const work = join(root, 'bench', '.work');
export const cli = join(root, 'packages', 'cli', 'bin', 'palisade.js');
export { testkit };

/** The Debian 12 image pushed to a fresh local docker-registry. Call stop() at the end. */
export async function debianInRegistry() {
  const deb = testkit.debianImage();
  const layout = join(work, 'debian-layout');
  rmSync(layout, { recursive: true, force: true });
  await testkit.writeOciLayoutFromLayerFiles(layout, '12', [deb.layer]);
  const registry = await testkit.startRegistry({ auth: 'none' });
  await testkit.pushLayout(layout, '12', registry, 'debian:12');
  return { deb, registry, ref: `${registry.host}/debian:12` };
}

/** Build the vulnerability DB from all of ../shared/vulndata (cached in bench/.work). */
export function vulnDb() {
  const db = join(work, 'vulndata.db');
  mkdirSync(work, { recursive: true });
  execFileSync(process.execPath, [cli, 'db', 'import', '--db', db, join(root, '..', 'shared', 'vulndata')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return db;
}

/** Run a command; resolve with wall seconds and peak RSS (MB) from GNU time. */
export function measure(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const lines = err.trim().split('\n');
      const kb = Number(lines[lines.length - 1]);
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      else resolve({ secs, peakMb: kb / 1024 });
    });
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
