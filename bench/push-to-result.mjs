// bench push-to-result: the Debian 12 image pushed to a local docker-registry that notifies a
// running `palisade server`; measured from the end of the push to the moment the result is in
// the API (GET /api/v1/images lists the digest as scanned) and the report is published in the
// registry (listReports finds it). Compared with `palisade scan image` of the same image alone
// (whole CLI process, cold cache, as bench scan-debian does). Each round uses a fresh server
// (cold layer cache, new database) and a fresh registry; rounds alternate the two so machine
// noise hits both alike. Target: ratio <= 1.5. Prints figures; never asserts.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, measure, median, root, testkit, vulnDb, work } from './lib.mjs';

const ADMIN = 'pal_bench_admin_' + 'x'.repeat(40);

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4]);
else await main();

/** Child process: a server on 127.0.0.1:0 printing its URL on stdout. */
async function serve(dataDir, db) {
  const { startServer } = await import(join(root, 'packages/server/dist/src/app.js'));
  const { loadConfig } = await import(join(root, 'packages/server/dist/src/config/index.js'));
  const config = loadConfig({
    env: {},
    flags: { host: '127.0.0.1', port: '0', dataDir, db, logLevel: 'warn' },
  });
  const server = await startServer(config, {
    env: { PALISADE_ADMIN_TOKEN: ADMIN },
    logStream: false,
    consoleDir: null,
  });
  process.stdout.write(`${server.url}\n`);
  process.on('SIGTERM', () => {
    server.close({ graceMs: 1000 }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

function startServerProcess(dataDir, db) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', dataDir, db], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 60 s')), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: () =>
            new Promise((res) => {
              child.once('exit', () => res());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

async function api(base, method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, json: await r.json() };
}

/** One push-to-result round: fresh server and registry; seconds from the pushed image to result + report. */
async function pushRound(layout, db, round) {
  const dataDir = join(work, `push-server-${round}`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const server = await startServerProcess(dataDir, db);
  let registry;
  try {
    const port = await testkit.freePort();
    const created = await api(server.url, 'POST', '/api/v1/registries', {
      name: 'bench',
      url: `http://127.0.0.1:${port}`,
      insecure: true,
    });
    if (created.status !== 201) throw new Error(`creating the registry: ${created.status}`);
    registry = await testkit.startRegistry({
      port,
      notifications: {
        url: server.url + created.json.webhook.url,
        headers: { Authorization: `Bearer ${created.json.webhook.token}` },
      },
    });
    const { RegistryClient } = await import(join(root, 'packages/oci/dist/src/index.js'));
    const reg = await import(join(root, 'packages/server/dist/src/registry/index.js'));
    const rc = reg.createReportRegistryClient(new RegistryClient(registry.host, { insecure: true }), {
      baseUrl: registry.url,
    });
    await testkit.pushLayout(layout, '12', registry, 'debian:12');
    const t0 = performance.now();
    let inApi = null;
    let published = null;
    let digest = null;
    const deadline = Date.now() + 300_000;
    while ((inApi === null || published === null) && Date.now() < deadline) {
      if (inApi === null) {
        const r = await api(server.url, 'GET', '/api/v1/images?repository=debian');
        const img = r.json.items?.find((i) => i.scanId !== null);
        if (img) {
          inApi = (performance.now() - t0) / 1000;
          digest = img.digest;
        }
      }
      if (digest !== null && published === null) {
        const l = await reg.listReports(rc, 'debian', digest);
        if (l.reports.length > 0) published = (performance.now() - t0) / 1000;
      }
      if (inApi === null || published === null) await new Promise((r) => setTimeout(r, 20));
    }
    if (inApi === null || published === null) throw new Error('no result within 300 s');
    return { inApi, published, ref: `${registry.host}/debian:12`, registry };
  } catch (err) {
    await registry?.stop();
    throw err;
  } finally {
    await server.stop();
  }
}

async function cliScan(ref, db) {
  const cache = join(work, 'cache-push-cli');
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
  return r.secs;
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const db = vulnDb();
  const deb = testkit.debianImage();
  const layout = join(work, 'debian-layout-push');
  rmSync(layout, { recursive: true, force: true });
  await testkit.writeOciLayoutFromLayerFiles(layout, '12', [deb.layer]);
  const apiTimes = [];
  const pushTimes = [];
  const cliTimes = [];
  for (let i = 0; i < rounds; i++) {
    const r = await pushRound(layout, db, i);
    try {
      apiTimes.push(r.inApi);
      pushTimes.push(r.published);
      // The same image, still in this round's registry, scanned by the CLI alone.
      cliTimes.push(await cliScan(r.ref, db));
    } finally {
      await r.registry.stop();
    }
  }
  const p = median(pushTimes);
  const a = median(apiTimes);
  const c = median(cliTimes);
  console.log(`push → result in the API: ${a.toFixed(3)} s (median of ${rounds})`);
  console.log(`push → result in the API and report published in the registry: ${p.toFixed(3)} s (median of ${rounds})`);
  console.log(`palisade scan image alone (cold, whole CLI process): ${c.toFixed(3)} s (median of ${rounds})`);
  console.log(`push-to-result ratio: ${(p / c).toFixed(2)} x (target <= 1.5)`);
}
