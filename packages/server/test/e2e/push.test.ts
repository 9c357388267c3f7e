/**
 * The push path end to end, over real sockets: a real docker-registry notifies `palisade server`
 * of a push, the server scans the image with the registry's settings, shows the result in the
 * API, and attaches the report to the image in the registry (referrers tag schema on
 * distribution 2.8) without touching the image's manifest or tags. Then: re-pushes make no
 * second scan, a wrong webhook token or a malformed envelope is refused with nothing queued, and
 * a registry that went away before the pull gives a scan retried and then failed with the reason.
 * Every wait is bounded; nothing asserts on timing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { RegistryClient } from '@palisade/oci';
import { importPaths } from '@palisade/vulndb';
import {
  freePort,
  pushLayout,
  sharedPath,
  startRegistry,
  tempDir,
  writeOciLayout,
  type LayoutResult,
  type TestRegistry,
} from '@palisade/testkit';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import {
  ANY_MANIFEST_ACCEPT,
  DISTRIBUTION_EVENTS_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  PALISADE_USER_AGENT,
  createReportRegistryClient,
  listReports,
  readReport,
} from '../../src/registry/index.js';

const ADMIN = 'pal_e2e_admin_' + 'x'.repeat(40);
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
let logs = '';
const registries: TestRegistry[] = [];

before(async () => {
  dir = tempDir('palisade-push-e2e-');
  await importPaths(
    [
      sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
      sharedPath('vulndata', 'samples', 'ghsa-npm'),
    ],
    join(dir.path, 'vuln.db'),
  );
  const env = { PALISADE_ADMIN_TOKEN: ADMIN };
  const config = loadConfig({
    env: {},
    flags: {
      host: '127.0.0.1',
      port: '0',
      dataDir: join(dir.path, 'data'),
      db: join(dir.path, 'vuln.db'),
      logLevel: 'info',
    },
  });
  server = await startServer(config, {
    env,
    // Short retry backoff, so the "registry gone" scan uses its attempts within the test.
    storage: { secretKey: Buffer.alloc(32, 7), backoff: { baseMs: 50, maxMs: 200 } },
    worker: { pollMs: 50 },
    consoleDir: null,
    logStream: new Writable({
      write(chunk: Buffer, _e, cb) {
        logs += chunk.toString('utf8');
        cb();
      },
    }),
  });
});

after(async () => {
  for (const r of registries) await r.stop();
  await server?.close({ graceMs: 5_000 });
  dir?.cleanup();
});

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const r = await fetch(server.url + path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, json: (await r.json()) as T };
}

/** Poll `check` until it returns a value (not undefined), at most `ms`. */
async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n--- server log tail ---\n${logs.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Created {
  registry: { id: string; publishResults: boolean; readOnly: boolean };
  webhook: { url: string; token: string };
}
interface Scan {
  id: string;
  status: string;
  digest: string | null;
  error: string | null;
  attempts: number;
  publishError?: string | null;
}
interface ImageRow {
  digest: string;
  repository: string;
  tags: string[];
  scanId: string | null;
  total: number;
  lastPushedAt: string | null;
}

async function addRegistry(name: string, port: number): Promise<Created> {
  const r = await api<Created>('POST', '/api/v1/registries', { name, url: `http://127.0.0.1:${port}`, insecure: true });
  assert.equal(r.status, 201);
  assert.match(r.json.webhook.url, new RegExp(`^/api/v1/registries/${r.json.registry.id}/events$`));
  assert.match(r.json.webhook.token, /^pal_wh_/);
  return r.json;
}

function layout(name: string, extra: string): LayoutResult {
  return writeOciLayout(join(dir.path, name), 'v1', [
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
            { path: 'etc/marker', content: extra },
          ],
        },
      ],
    },
  ]);
}

function envelope(repository: string, digest: string, host: string, tag = 'v1'): object {
  return {
    events: [
      {
        id: `ev-${digest.slice(7, 19)}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: OCI_MANIFEST_MEDIA_TYPE,
          size: 400,
          digest,
          length: 400,
          repository,
          url: `http://${host}/v2/${repository}/manifests/${digest}`,
          tag,
        },
        request: { id: 'r1', addr: '127.0.0.1:1', host, method: 'PUT', useragent: 'skopeo/1.9.3' },
        actor: {},
        source: { addr: 'vm:1', instanceID: 'i' },
      },
    ],
  };
}

async function scansOf(digest: string): Promise<Scan[]> {
  const r = await api<{ items: Scan[] }>('GET', `/api/v1/scans?digest=${digest}&limit=50`);
  assert.equal(r.status, 200);
  return r.json.items;
}

let pushed: { digest: string; registry: Created; registryHost: string } | undefined;

test('push → notification → scan → result in the API → report attached in the registry, image untouched', async () => {
  const port = await freePort();
  const created = await addRegistry('local', port);
  assert.equal(created.registry.publishResults, true, 'publishing is on by default');
  const registry = await startRegistry({
    port,
    notifications: {
      url: server.url + created.webhook.url,
      headers: { Authorization: `Bearer ${created.webhook.token}` },
    },
  });
  registries.push(registry);
  const image = layout('app', 'one');
  await pushLayout(image.dir, 'v1', registry, 'demo/app:v1');

  const client = new RegistryClient(registry.host, { insecure: true, userAgent: 'palisade-test' });
  const before = await client.getManifest('demo/app', 'v1', ANY_MANIFEST_ACCEPT);
  assert.equal(before.digest, image.digest);

  // The result shows up in the API without anyone asking for a scan.
  const row = await waitFor('the pushed image with its findings in GET /api/v1/images', 60_000, async () => {
    const r = await api<{ items: ImageRow[] }>('GET', '/api/v1/images?repository=demo/app');
    const img = r.json.items.find((i) => i.digest === image.digest);
    return img && img.scanId !== null && img.total > 0 ? img : undefined;
  });
  assert.deepEqual(row.tags, ['v1']);
  assert.ok(row.lastPushedAt, 'lastPushed recorded from the event');
  const detail = await api<{ vulnerabilities: Array<{ packageName: string }> }>(
    'GET',
    `/api/v1/images/${image.digest}`,
  );
  assert.equal(detail.status, 200);
  const vulnPkgs = new Set(detail.json.vulnerabilities.map((v) => v.packageName));
  assert.ok(vulnPkgs.has('chromium') && vulnPkgs.has('lodash'), [...vulnPkgs].join(' '));

  // The report is attached to the image as a referrer.
  const rc = createReportRegistryClient(
    new RegistryClient(registry.host, { insecure: true, userAgent: PALISADE_USER_AGENT }),
    {
      baseUrl: registry.url,
    },
  );
  const listing = await waitFor('the report in the registry', 30_000, async () => {
    const l = await listReports(rc, 'demo/app', image.digest);
    return l.reports.length > 0 ? l : undefined;
  });
  assert.equal(listing.method, 'tag-schema');
  assert.equal(listing.reports.length, 1);
  const stored = await readReport(rc, 'demo/app', listing.reports[0]?.digest ?? '');
  assert.equal(stored.subject, image.digest);
  assert.equal(stored.report.artifact.digest, image.digest);
  assert.ok(stored.report.vulnerabilities.length > 0);
  assert.match(stored.cyclonedx, /"bomFormat":\s*"CycloneDX"/);

  // The image itself: same manifest bytes at its tag; user tags unchanged (only the referrers tag added).
  const afterManifest = await client.getManifest('demo/app', 'v1', ANY_MANIFEST_ACCEPT);
  assert.equal(afterManifest.digest, before.digest);
  assert.ok(afterManifest.bytes.equals(before.bytes));
  const tags = await client.listTags('demo/app');
  assert.deepEqual(
    tags.filter((t) => !t.startsWith('sha256-')),
    ['v1'],
  );

  const scans = await scansOf(image.digest);
  assert.equal(scans.length, 1);
  const scan = await api<Scan>('GET', `/api/v1/scans/${scans[0]?.id ?? ''}`);
  assert.equal(scan.json.status, 'succeeded');
  assert.equal(scan.json.publishError, null);

  // Push the same image again, under its tag and a new one: the events arrive (the new tag shows)
  // and still one scan of the digest. The report push's own notifications made no scan either.
  await pushLayout(image.dir, 'v1', registry, 'demo/app:v1');
  await pushLayout(image.dir, 'v1', registry, 'demo/app:stable');
  await waitFor('the re-push event (tag "stable")', 30_000, async () => {
    const r = await api<{ items: ImageRow[] }>('GET', '/api/v1/images?repository=demo/app');
    return r.json.items.find((i) => i.digest === image.digest)?.tags.includes('stable') ? true : undefined;
  });
  assert.equal((await scansOf(image.digest)).length, 1, 'one scan per digest');
  const all = await api<{ total: number }>('GET', '/api/v1/scans');
  assert.equal(all.json.total, 1, 'no scan of Palisade’s own report push');
  assert.equal((await listReports(rc, 'demo/app', image.digest)).reports.length, 1);
  pushed = { digest: image.digest, registry: created, registryHost: registry.host };
});

test('a webhook with a wrong or missing token is 401 and queues nothing', async () => {
  const port = await freePort();
  const created = pushed?.registry ?? (await addRegistry('auth-only', port));
  const host = pushed?.registryHost ?? `127.0.0.1:${port}`;
  const digest = `sha256:${'a'.repeat(64)}`;
  const jobsBefore = await server.storage.jobs.counts();
  for (const authorization of [`Bearer pal_wh_${'b'.repeat(43)}`, `Bearer ${ADMIN}`, undefined]) {
    const r = await fetch(server.url + created.webhook.url, {
      method: 'POST',
      headers: {
        'content-type': DISTRIBUTION_EVENTS_MEDIA_TYPE,
        ...(authorization !== undefined ? { authorization } : {}),
      },
      body: JSON.stringify(envelope('demo/other', digest, host)),
    });
    assert.equal(r.status, 401, `authorization ${authorization === undefined ? 'missing' : 'wrong'}`);
    const body = (await r.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'E_AUTH');
  }
  assert.deepEqual(await server.storage.jobs.counts(), jobsBefore);
  assert.equal((await scansOf(digest)).length, 0);
  const images = await api<{ total: number }>('GET', `/api/v1/images?q=${'a'.repeat(64)}`);
  assert.equal(images.json.total, 0);
});

test('a malformed envelope is 400 naming the field; an unknown content type 415; a huge body 413', async () => {
  const port = await freePort();
  const created = pushed?.registry ?? (await addRegistry('malformed', port));
  const send = (body: string, contentType: string): Promise<Response> =>
    fetch(server.url + created.webhook.url, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${created.webhook.token}` },
      body,
    });
  const bad = envelope('demo/app', `sha256:${'c'.repeat(64)}`, '127.0.0.1:1') as {
    events: Array<{ target: Record<string, unknown> }>;
  };
  const target = bad.events[0]?.target;
  if (target) target['digest'] = 'sha256:nothex';
  const r = await send(JSON.stringify(bad), DISTRIBUTION_EVENTS_MEDIA_TYPE);
  assert.equal(r.status, 400);
  const body = (await r.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'E_INPUT');
  assert.match(body.error.message, /events\[0\]\.target\.digest/);

  const notJson = await send('{"events": [', DISTRIBUTION_EVENTS_MEDIA_TYPE);
  assert.equal(notJson.status, 400);
  assert.equal((await send('hello', 'text/plain')).status, 415);
  assert.equal((await send('x'.repeat(1024 * 1024 + 10), DISTRIBUTION_EVENTS_MEDIA_TYPE)).status, 413);
  assert.equal((await scansOf(`sha256:${'c'.repeat(64)}`)).length, 0);
});

test('the registry gone before the worker pulls: the scan is retried, then failed with the reason', async () => {
  const port = await freePort();
  const created = await addRegistry('gone', port);
  const registry = await startRegistry({ port });
  registries.push(registry);
  const image = layout('gone', 'two');
  await pushLayout(image.dir, 'v1', registry, 'demo/gone:v1');
  await registry.stop();

  // The notification the registry would have sent, arriving after it went away.
  const r = await fetch(server.url + created.webhook.url, {
    method: 'POST',
    headers: { 'content-type': DISTRIBUTION_EVENTS_MEDIA_TYPE, authorization: `Bearer ${created.webhook.token}` },
    body: JSON.stringify(envelope('demo/gone', image.digest, registry.host)),
  });
  assert.equal(r.status, 202);
  const accepted = (await r.json()) as { queued: number; pushes: number };
  assert.equal(accepted.pushes, 1);
  assert.equal(accepted.queued, 1);

  const failed = await waitFor('the scan to fail after its retries', 60_000, async () => {
    const s = (await scansOf(image.digest))[0];
    return s?.status === 'failed' ? s : undefined;
  });
  assert.ok(failed.attempts > 1, `retried (attempts ${failed.attempts})`);
  const shown = await api<Scan>('GET', `/api/v1/scans/${failed.id}`);
  assert.equal(shown.status, 200);
  assert.equal(shown.json.status, 'failed');
  assert.ok(shown.json.error && shown.json.error.length > 0, 'the reason is shown');
  assert.match(shown.json.error ?? '', new RegExp(registry.host.replace(/\./g, '\\.')));
});
