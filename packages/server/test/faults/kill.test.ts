/**
 * A real crash: `palisade server` runs as a child process, a scan is left hanging on a layer
 * download, the process is SIGKILLed (no shutdown hook runs, the job stays `running` with its
 * lease), and a new process on the same data directory must reclaim the job once the lease
 * expires and finish it: one scan record, succeeded. Everything binds 127.0.0.1; every child is
 * killed and every socket closed at the end, whatever failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { buildImage, repoRoot, sharedPath, tempDir, type BuiltImage } from '@palisade/testkit';
import { importPaths } from '@palisade/vulndb';
import { PG_URL } from '../storage/harness.js';

const ADMIN = 'kill-test-admin-token-0123456789abcdefgh';
const CLI = join(repoRoot(), 'packages', 'cli', 'bin', 'palisade.js');
// Short, so the restarted server reclaims the dead one's job within seconds (1s is the minimum).
const LEASE = '2s';
const REPO = 'test/stall';

interface StallingRegistry {
  url: string;
  host: string;
  /** GETs of the layer blob received so far (each new process pulls it again). */
  layerGets(): number;
  /** Serve the layer: to every request still held open and to all later ones. */
  release(): void;
  close(): Promise<void>;
}

/**
 * Just enough of the distribution API for one pull: /v2/, the manifest, the config blob; the
 * layer blob's GETs are held open (no status line) until release(), so the scan stays inside
 * its download for as long as the test needs.
 */
async function startStallingRegistry(image: BuiltImage): Promise<StallingRegistry> {
  const layer = image.layers[0];
  assert.ok(layer);
  const held: http.ServerResponse[] = [];
  let released = false;
  let layerGets = 0;
  const send = (res: http.ServerResponse, body: Buffer, type: string, digest: string, head: boolean): void => {
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'docker-content-digest': digest });
    res.end(head ? undefined : body);
  };
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const head = req.method === 'HEAD';
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (m?.[1] === REPO && m[2] === 'manifests' && (m[3] === 'latest' || m[3] === image.manifest.digest)) {
      send(res, image.manifest.data, image.manifest.mediaType, image.manifest.digest, head);
      return;
    }
    if (m?.[1] === REPO && m[2] === 'blobs' && m[3] === image.config.digest) {
      send(res, image.config.data, 'application/octet-stream', image.config.digest, head);
      return;
    }
    if (m?.[1] === REPO && m[2] === 'blobs' && m[3] === layer.digest) {
      if (!head) layerGets++;
      if (head || released) send(res, layer.data, 'application/octet-stream', layer.digest, head);
      else held.push(res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not found' }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    layerGets: () => layerGets,
    release() {
      released = true;
      // The killed process's connection is gone (its response destroyed): only live ones get it.
      for (const res of held.splice(0))
        if (!res.destroyed) send(res, layer.data, 'application/octet-stream', layer.digest, false);
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
}

/** Poll `check` every 50 ms until it returns a value, failing (with `what` and the logs) at the deadline. */
async function waitFor<T>(
  what: string,
  ms: number,
  check: () => Promise<T | undefined> | T | undefined,
  logs: () => string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what} after ${ms} ms; output:\n${logs()}`);
    await sleep(50);
  }
}

function startChild(dataDir: string, extraEnv: Record<string, string>, children: ChildProcess[]): Promise<Child> {
  const env: Record<string, string | undefined> = { ...process.env };
  // The child's database is what this test says, never one from the outer environment.
  delete env['PALISADE_DATABASE_URL'];
  delete env['DATABASE_URL'];
  const proc = spawn(process.execPath, [CLI, 'server', '--port', '0', '--data-dir', dataDir, '--allow-local-sources'], {
    env: { ...env, PALISADE_ADMIN_TOKEN: ADMIN, PALISADE_WORKER_LEASE: LEASE, PALISADE_HOST: '127.0.0.1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const output = (): string => out;
  return waitFor(
    'the server to listen',
    30_000,
    () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        assert.fail(`the server exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${out}`);
      return /palisade server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    },
    output,
  ).then((url) => ({ proc, url, output }));
}

/** SIGKILL (when still alive) and wait for the exit, bounded. */
async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  // Unref'd: a bound on the wait, not something that keeps the test process alive after the exit.
  await Promise.race([exited, sleep(10_000, undefined, { ref: false })]);
}

async function api<T>(
  base: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; json: T }> {
  const r = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: r.status, json: (await r.json()) as T };
}

interface Scan {
  id: string;
  status: string;
  digest: string | null;
  error: string | null;
  attempts: number;
}

async function killAndReclaim(backend: 'sqlite' | 'postgres'): Promise<void> {
  const dir = tempDir('palisade-kill-');
  const children: ChildProcess[] = [];
  const image = buildImage({
    layers: [{ files: [{ path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }] }],
  });
  const registry = await startStallingRegistry(image);
  let dbCleanup: (() => Promise<void>) | undefined;
  try {
    const dataDir = join(dir.path, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    await importPaths(
      [sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json')],
      join(dataDir, 'vuln.db'),
    );
    const extraEnv: Record<string, string> = {};
    if (backend === 'postgres') {
      // The CLI has no schema option: a database of its own, dropped at the end.
      const name = `palisade_kill_${process.pid}_${Date.now().toString(36)}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const u = new URL(PG_URL);
      u.pathname = `/${name}`;
      extraEnv['PALISADE_DATABASE_URL'] = u.href;
      dbCleanup = async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await c.end();
        }
      };
    }

    const first = await startChild(dataDir, extraEnv, children);
    // Registered so the worker may talk plain HTTP to it (insecure) and never writes to it.
    const reg = await api<unknown>(first.url, '/api/v1/registries', {
      method: 'POST',
      body: { name: 'stall', url: registry.url, insecure: true, readOnly: true, publishResults: false },
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const created = await api<{ scan: Scan }>(first.url, '/api/v1/scans', {
      method: 'POST',
      body: { reference: `${registry.host}/${REPO}:latest` },
    });
    assert.equal(created.status, 202, JSON.stringify(created.json));
    const scanId = created.json.scan.id;

    // Running, and inside the held layer download: the kill lands mid-scan, not before or after.
    await waitFor(
      'the scan to be running with its layer download held',
      30_000,
      async () => {
        const s = (await api<Scan>(first.url, `/api/v1/scans/${scanId}`)).json;
        assert.notEqual(s.status, 'failed', `scan failed before the kill: ${s.error ?? ''}`);
        return s.status === 'running' && registry.layerGets() >= 1 ? s : undefined;
      },
      first.output,
    );
    await kill(first.proc);
    assert.equal(first.proc.signalCode, 'SIGKILL');

    const second = await startChild(dataDir, extraEnv, children);
    registry.release();
    const done = await waitFor(
      'the reclaimed scan to finish',
      60_000,
      async () => {
        const s = (await api<Scan>(second.url, `/api/v1/scans/${scanId}`)).json;
        return s.status === 'succeeded' || s.status === 'failed' ? s : undefined;
      },
      second.output,
    );
    assert.equal(done.status, 'succeeded', `${done.error ?? ''}\n${second.output()}`);
    assert.equal(done.error, null);
    assert.equal(done.digest, image.manifest.digest);
    // The layer was pulled again: the new process ran the job the dead one held.
    assert.ok(registry.layerGets() >= 2, `layer GETs: ${registry.layerGets()}`);
    const list = await api<{ items: Scan[] }>(second.url, '/api/v1/scans');
    assert.deepEqual(
      list.json.items.map((s) => s.id),
      [scanId],
      'exactly one scan record',
    );
    assert.match(second.output(), /requeued jobs whose worker stopped without finishing them/);
  } finally {
    for (const c of children) await kill(c);
    await registry.close();
    await dbCleanup?.().catch(() => undefined);
    dir.cleanup();
  }
}

test(
  "sqlite: a SIGKILLed server's running scan is reclaimed after its lease and succeeds on restart",
  { timeout: 150_000 },
  async () => {
    await killAndReclaim('sqlite');
  },
);

test(
  "postgres: a SIGKILLed server's running scan is reclaimed after its lease and succeeds on restart",
  { timeout: 150_000 },
  async () => {
    await killAndReclaim('postgres');
  },
);
