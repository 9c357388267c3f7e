/**
 * A real PostgreSQL restart under load: the test runs its own throwaway cluster (initdb as the
 * postgres user, on a free loopback port) so restarting it cannot disturb the shared server other
 * tests use. While clients keep issuing queries, job claims and token checks, the cluster is
 * restarted; afterwards the same Storage instance (no reopen, no server restart) must work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@palisade/testkit';
import { openStorage, type Storage } from '../../src/storage/index.js';

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort().pop();
  if (!version) throw new Error(`no PostgreSQL server binaries under ${root}`);
  return join(root, version, 'bin');
}

function asPostgres(cmd: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', join(pgBin(), cmd), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 60_000,
  });
}

let dir: string;
let port: number;
let storage: Storage;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  port = await freePort();
  asPostgres('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  start();
  storage = await openStorage({
    databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    secretKey: Buffer.alloc(32, 7),
    poolSize: 4,
  });
});

after(async () => {
  await storage?.close();
  if (existsSync(join(dir, 'data', 'postmaster.pid'))) {
    asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }
  rmSync(dir, { recursive: true, force: true });
});

function start(): void {
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
}

/** One unit of the load: a token check, an enqueue and a claim. */
async function work(i: number): Promise<void> {
  await storage.tokens.list();
  await storage.jobs.enqueue({ kind: 'load', payload: { i }, dedupeKey: `load:${i}` });
  const job = await storage.jobs.claim('w1', { kinds: ['load'], leaseMs: 30_000 });
  if (job) await storage.jobs.complete(job.id, 'w1');
}

test('the storage recovers from a real PostgreSQL restart under load, without being reopened', async () => {
  const { token } = await storage.tokens.create({ name: 'before', role: 'reader' });
  // Load in the background: failures while the server is down are expected and counted.
  let stop = false;
  let ok = 0;
  let failed = 0;
  const load = (async (): Promise<void> => {
    for (let i = 0; i < 5000 && !stop; i++) {
      try {
        await work(i);
        ok++;
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  while (ok < 20) await new Promise((r) => setTimeout(r, 10));
  asPostgres('pg_ctl', [
    '-D',
    join(dir, 'data'),
    '-m',
    'fast',
    '-w',
    '-t',
    '30',
    'restart',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
  ]);
  const okAtRestart = ok;
  // After the restart the same instance must work again within a bounded number of tries.
  let recovered = false;
  for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
    try {
      await work(100_000 + attempt);
      recovered = true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(recovered, 'storage works again after the restart');
  while (ok < okAtRestart + 20) await new Promise((r) => setTimeout(r, 10));
  stop = true;
  await load;
  // Data written before the restart survived, and tokens still verify.
  assert.equal((await storage.tokens.verify(token))?.name, 'before');
  const created = await storage.tokens.create({ name: 'after', role: 'reader' });
  assert.equal((await storage.tokens.verify(created.token))?.name, 'after');
  assert.ok(ok > okAtRestart, `the load went on after the restart (${ok} ok, ${failed} failed)`);
});
