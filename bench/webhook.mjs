// bench webhook: intake of registry push notifications by `palisade server`. A flood of
// distribution envelopes (one manifest push and one blob push each, as docker-registry sends them)
// at a fixed rate (BENCH_RATE, default 1,000/s) for BENCH_SECONDS (default 5), over keep-alive
// connections, with many duplicates (BENCH_DIGESTS distinct digests, default 100). The server runs
// in a second process with embedded storage and a worker that never claims a job (concurrency 0),
// so this measures intake only. Afterwards it checks, through the API and the database file: every
// distinct digest has its image row and exactly one scan and one scan job (no event lost, no
// duplicate scan). Target: >= 2,000 accepted envelopes/s (2x headroom over the 1,000/s requirement).
// Prints figures; never asserts.
//
//   node bench/webhook.mjs [--backend sqlite|postgres]
//
// `--backend postgres` (or BENCH_BACKEND=postgres) runs the server on PostgreSQL
// (BENCH_DATABASE_URL, else PALISADE_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
// in a throwaway schema dropped afterwards. BENCH_PROF=DIR writes a CPU profile of the server
// process (node --cpu-prof) into DIR.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { root, work } from './lib.mjs';

const ADMIN = 'pal_bench_admin_' + 'x'.repeat(40);
const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

const require = createRequire(join(root, 'packages/server/package.json'));

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4], process.argv[5]);
else await main();

function option(name, envName, fallback) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  return process.env[envName] ?? fallback;
}

/** Child process: the server, worker parked, printing its URL on stdout. */
async function serve(dataDir, databaseUrl, schema) {
  const { startServer } = await import(join(root, 'packages/server/dist/src/app.js'));
  const { loadConfig } = await import(join(root, 'packages/server/dist/src/config/index.js'));
  const config = loadConfig({
    env: {},
    flags: {
      host: '127.0.0.1',
      port: '0',
      dataDir,
      db: join(dataDir, 'no-vuln.db'),
      logLevel: 'warn',
      ...(databaseUrl ? { databaseUrl } : {}),
    },
  });
  // Concurrency 0: jobs stay queued, so the scans do not compete with the intake being measured.
  config.worker.concurrency = 0;
  const server = await startServer(config, {
    env: { PALISADE_ADMIN_TOKEN: ADMIN },
    logStream: false,
    consoleDir: null,
    ...(schema ? { storage: { schema } } : {}),
  });
  process.stdout.write(`${server.url}\n`);
  // A normal exit (not death by signal), so --cpu-prof gets to write its profile.
  process.on('SIGTERM', () => {
    server.close({ graceMs: 1000 }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

function startChild(dataDir, databaseUrl, schema, profDir) {
  return new Promise((resolve, reject) => {
    const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
    const args = [...nodeArgs, fileURLToPath(import.meta.url), '--serve', dataDir, databaseUrl ?? '', schema ?? ''];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function request(agent, url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function api(agent, base, method, path, body) {
  const r = await request(
    agent,
    base + path,
    method,
    { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body ? JSON.stringify(body) : undefined,
  );
  return { status: r.status, json: JSON.parse(r.body) };
}

function digestOf(i) {
  return 'sha256:' + createHash('sha256').update(`bench-image-${i}`).digest('hex');
}

function envelope(i, n, host) {
  const digest = digestOf(i);
  const repository = `bench/app${i % 10}`;
  return JSON.stringify({
    events: [
      {
        id: `blob-${n}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/octet-stream',
          size: 1234,
          digest: 'sha256:' + createHash('sha256').update(`layer-${i}`).digest('hex'),
          length: 1234,
          repository,
          url: `http://${host}/v2/${repository}/blobs/sha256:${'0'.repeat(64)}`,
        },
        request: { id: `r${n}`, addr: '127.0.0.1:1', host, method: 'PUT', useragent: 'docker/24.0' },
        actor: {},
        source: { addr: 'bench:5000', instanceID: 'bench' },
      },
      {
        id: `manifest-${n}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          size: 400,
          digest,
          length: 400,
          repository,
          url: `http://${host}/v2/${repository}/manifests/${digest}`,
          tag: `v${n % 5}`,
        },
        request: { id: `r${n}`, addr: '127.0.0.1:1', host, method: 'PUT', useragent: 'docker/24.0' },
        actor: {},
        source: { addr: 'bench:5000', instanceID: 'bench' },
      },
    ],
  });
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main() {
  const rate = Number(process.env.BENCH_RATE ?? 1000);
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const distinct = Number(process.env.BENCH_DIGESTS ?? 100);
  const backend = option('--backend', 'BENCH_BACKEND', 'sqlite');
  if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`--backend sqlite|postgres, not ${backend}`);
  const profDir = process.env.BENCH_PROF;
  const dataDir = join(work, 'webhook-server');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  let pgAdmin;
  let schema;
  let databaseUrl;
  if (backend === 'postgres') {
    databaseUrl =
      process.env.BENCH_DATABASE_URL ??
      process.env.PALISADE_TEST_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/test';
    const pg = require('pg');
    pgAdmin = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    schema = `bench_webhook_${process.pid}_${Date.now().toString(36)}`;
    await pgAdmin.query(`CREATE SCHEMA ${schema}`);
  }
  let child;
  let url;
  try {
    ({ child, url } = await startChild(dataDir, databaseUrl, schema, profDir));
  } catch (err) {
    await dropSchema(pgAdmin, schema);
    throw err;
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const registryHost = '127.0.0.1:5999';
    const created = await api(agent, url, 'POST', '/api/v1/registries', {
      name: 'bench',
      url: `http://${registryHost}`,
      insecure: true,
    });
    if (created.status !== 201) throw new Error(`creating the registry: ${created.status}`);
    const hook = url + created.json.webhook.url;
    const headers = { 'content-type': EVENTS_MEDIA_TYPE, authorization: `Bearer ${created.json.webhook.token}` };

    // Open loop: requests leave on schedule whether or not earlier ones were answered, so a slow
    // server shows up as latency and a shortfall in the accepted rate, not as a politer client.
    const total = rate * seconds;
    const tickMs = 10;
    const perTick = (rate * tickMs) / 1000;
    const latencies = [];
    const statuses = new Map();
    const inflight = [];
    const t0 = performance.now();
    let sent = 0;
    for (let tick = 0; sent < total; tick++) {
      const due = Math.min(total, Math.round((tick + 1) * perTick));
      for (; sent < due; sent++) {
        const n = sent;
        const i = n % distinct;
        const start = performance.now();
        inflight.push(
          request(agent, hook, 'POST', headers, envelope(i, n, registryHost)).then(
            (r) => {
              latencies.push(performance.now() - start);
              statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            },
            (err) =>
              statuses.set(
                `error ${err.code ?? err.message}`,
                (statuses.get(`error ${err.code ?? err.message}`) ?? 0) + 1,
              ),
          ),
        );
      }
      const wait = t0 + (tick + 1) * tickMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);
    const elapsed = (performance.now() - t0) / 1000;
    const accepted = statuses.get(202) ?? 0;

    // Verification: every distinct digest has its image row and exactly one scan (and job).
    const images = await api(agent, url, 'GET', '/api/v1/images?limit=500');
    const imageDigests = new Set(images.json.items.map((i) => i.digest));
    const scans = await api(agent, url, 'GET', '/api/v1/scans?limit=500');
    const scansPerDigest = new Map();
    for (const s of scans.json.items) scansPerDigest.set(s.digest, (scansPerDigest.get(s.digest) ?? 0) + 1);
    const jobsSql = `SELECT dedupe_key AS k, COUNT(*) AS n FROM jobs WHERE kind = 'scan' GROUP BY dedupe_key`;
    let jobs;
    if (pgAdmin) {
      jobs = (await pgAdmin.query(jobsSql.replace('FROM jobs', `FROM ${schema}.jobs`))).rows.map((r) => ({
        k: r.k,
        n: Number(r.n),
      }));
    } else {
      const Database = require('better-sqlite3');
      const db = new Database(join(dataDir, 'palisade.sqlite'), { readonly: true, fileMustExist: true });
      jobs = db.prepare(jobsSql).all();
      db.close();
    }
    let missingImages = 0;
    let missingScans = 0;
    let duplicateScans = 0;
    for (let i = 0; i < distinct; i++) {
      const d = digestOf(i);
      if (!imageDigests.has(d)) missingImages++;
      const n = scansPerDigest.get(d) ?? 0;
      if (n === 0) missingScans++;
      if (n > 1) duplicateScans += n - 1;
    }
    const duplicateJobs = jobs.reduce((sum, j) => sum + Math.max(0, j.n - 1), 0);

    console.log(`backend: ${backend}${schema ? ` (schema ${schema}, dropped afterwards)` : ''}`);
    console.log(
      `sent ${total} envelopes (${total * 2} events: 1 manifest + 1 blob each) at ${rate}/s for ${seconds} s, ${distinct} distinct digests`,
    );
    console.log(`responses: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    console.log(
      `latency: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    console.log(
      `check: image rows ${imageDigests.size}/${distinct} (missing ${missingImages}), scans ${scans.json.total} (missing ${missingScans}, duplicate ${duplicateScans}), scan jobs ${jobs.length} (duplicate ${duplicateJobs})`,
    );
    console.log(
      `no event lost: ${missingImages === 0 && missingScans === 0 ? 'yes' : 'NO'}; no duplicate scan: ${duplicateScans === 0 && duplicateJobs === 0 && jobs.length === distinct ? 'yes' : 'NO'}`,
    );
    // "events" here are envelopes (requests), as in the 1,000/s requirement.
    console.log(`webhook accepted: ${Math.round(accepted / elapsed)} events/s (target >= 2000: 2x headroom over 1000)`);
  } finally {
    agent.destroy();
    await stopChild(child);
    await dropSchema(pgAdmin, schema);
  }
}

async function dropSchema(pgAdmin, schema) {
  if (!pgAdmin) return;
  try {
    if (schema) await pgAdmin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await pgAdmin.end();
  }
}
