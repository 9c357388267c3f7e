/**
 * End to end over a real socket: `startServer` on 127.0.0.1:0 with embedded storage, a DB
 * imported from real advisories, a small OCI image; POST a scan, poll it, read the results.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { importPaths } from '@palisade/vulndb';
import { sharedPath, tempDir, writeOciLayout, type LayoutResult } from '@palisade/testkit';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
const STATUS = [
  'Package: chromium',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 97.0.4692.99-1~deb11u2',
  'Source: chromium',
  '',
].join('\n');

let dir: { path: string; cleanup: () => void };
let server: RunningServer;
let image: LayoutResult;
let adminToken: string;
let logs = '';

before(async () => {
  dir = tempDir();
  const dataDir = join(dir.path, 'data');
  await importPaths(
    [
      sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
      sharedPath('vulndata', 'samples', 'ghsa-npm'),
    ],
    join(dir.path, 'vuln.db'),
  );
  image = writeOciLayout(join(dir.path, 'layout'), 'v1', [
    {
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: OS_RELEASE },
            { path: 'var/lib/dpkg/status', content: STATUS },
            {
              path: 'app/node_modules/lodash/package.json',
              content: '{"name":"lodash","version":"4.17.20","license":"MIT"}',
            },
          ],
        },
      ],
    },
  ]);
  const config = loadConfig({
    env: {},
    flags: {
      host: '127.0.0.1',
      port: '0',
      dataDir,
      db: join(dir.path, 'vuln.db'),
      logLevel: 'info',
      allowLocalSources: true,
    },
  });
  const { Writable } = await import('node:stream');
  server = await startServer(config, {
    env: {},
    storage: { secretKey: Buffer.alloc(32, 9) },
    worker: { pollMs: 50 },
    logStream: new Writable({
      write(chunk: Buffer, _e, cb) {
        logs += chunk.toString('utf8');
        cb();
      },
    }),
  });
  assert.equal(server.adminToken.kind, 'generated');
  const file = join(dataDir, 'admin-token');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  adminToken = readFileSync(file, 'utf8').trim();
});

after(async () => {
  await server?.close({ graceMs: 5_000 });
  dir?.cleanup();
});

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const r = await fetch(server.url + path, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, json: (await r.json()) as T };
}

interface Scan {
  id: string;
  status: string;
  digest: string | null;
  error: string | null;
}

test('scan an OCI layout through the API and read images, packages and vulnerabilities', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  const ref = `oci:${join(dir.path, 'layout')}:v1`;
  const created = await api<{ scan: Scan; deduplicated: boolean }>('POST', '/api/v1/scans', { reference: ref });
  assert.equal(created.status, 202);
  assert.equal(created.json.deduplicated, false);
  let scan = created.json.scan;
  for (let i = 0; i < 600 && scan.status !== 'succeeded' && scan.status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    scan = (await api<Scan>('GET', `/api/v1/scans/${scan.id}`)).json;
  }
  assert.equal(scan.status, 'succeeded', scan.error ?? '');
  assert.equal(scan.digest, image.digest);

  const images = await api<{
    items: Array<{
      digest: string;
      repository: string;
      tags: string[];
      lastScannedAt: string | null;
      counts: Record<string, number>;
      total: number;
    }>;
    total: number;
  }>('GET', '/api/v1/images?limit=10');
  assert.equal(images.status, 200);
  assert.equal(images.json.total, 1);
  const img = images.json.items[0];
  assert.equal(img?.digest, image.digest);
  assert.deepEqual(img?.tags, ['v1']);
  assert.ok(img?.lastScannedAt);
  assert.ok((img?.total ?? 0) > 0, 'findings counted');

  const detail = await api<{
    packages: Array<{ name: string; type: string }>;
    vulnerabilities: Array<{ vulnerabilityId: string; packageName: string; severity: string }>;
  }>('GET', `/api/v1/images/${image.digest}`);
  assert.equal(detail.status, 200);
  const pkgs = detail.json.packages.map((p) => `${p.type}:${p.name}`);
  assert.ok(pkgs.includes('deb:chromium') && pkgs.includes('npm:lodash'), pkgs.join(' '));
  const vulnPkgs = new Set(detail.json.vulnerabilities.map((v) => v.packageName));
  assert.ok(vulnPkgs.has('chromium'), 'distro findings');
  assert.ok(vulnPkgs.has('lodash'), 'language findings');

  const vulns = await api<{ items: Array<{ id: string; affectedImages: number }>; total: number }>(
    'GET',
    '/api/v1/vulnerabilities?limit=5&sort=severity',
  );
  assert.equal(vulns.status, 200);
  assert.ok(vulns.json.total > 0);
  assert.equal(vulns.json.items[0]?.affectedImages, 1);

  const missing = await api<{ error: { code: string } }>('GET', `/api/v1/images/sha256:${'0'.repeat(64)}`);
  assert.equal(missing.status, 404);

  // Ticks run one after another: this waits for the one start() began, without a timer.
  await server.scheduler?.runOnce();
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^palisade_scan_duration_seconds_count\{outcome="succeeded"\} 1$/m);
  // The queue gauge counts every kind: the scheduler's first tick has run its periodic jobs too.
  const scanJobs = await server.storage.jobs.list({ kind: 'scan', status: 'succeeded' });
  assert.equal(scanJobs.total, 1);
  const gauge = /^palisade_jobs\{state="succeeded"\} (\d+)$/m.exec(metrics);
  assert.ok(gauge && Number(gauge[1]) >= 1);
  assert.match(metrics, /^palisade_scheduler_tasks_total\{kind="rescan-plan",outcome="succeeded"\} \d+$/m);
  assert.match(
    metrics,
    /^palisade_http_requests_total\{method="GET",route="\/api\/v1\/scans\/:id",status="200"\} \d+$/m,
  );
});

test('the admin token is never logged, and the next start reuses it', async () => {
  assert.ok(logs.includes('"msg":"scan succeeded"'), 'the server logs');
  assert.ok(!logs.includes(adminToken), 'no admin token in the logs');
  const r = await fetch(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { items: unknown[] }).items.length, 1);
});
