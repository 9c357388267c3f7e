/**
 * The console's cluster and runtime-alert pages end to end: a real server (embedded storage, its
 * scheduler ticking fast), a recorded Kubernetes API served over HTTPS (../clusters/fake-cluster),
 * a real OCI image scanned so an inventory digest and an alert's digest lead to its page, runtime
 * batches of recorded sensor events posted with the cluster's ingest token, and the built console
 * driven in Debian's Chromium. Screenshots go to packages/server/test-artifacts/console/rt-*.png.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { RuntimeEvent, RuntimeIngestBatch } from '@palisade/core';
import { sharedPath, tempDir, writeOciLayout } from '@palisade/testkit';
import { importPaths } from '@palisade/vulndb';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { cleanupCertificates, objectNamed, startFakeCluster, type FakeCluster } from '../clusters/fake-cluster.js';
import { fixtureEvent, nodeAlerts } from '../runtime/helpers.js';
import { buildConsole, launchBrowser, screenshot, waitRows, type Browser } from './browser.js';

const ADMIN_TOKEN = 'pal_runtime_console_e2e_admin_0123456789abcdef';
const OS_RELEASE = 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';

type Json = Record<string, unknown>;

let dir: { path: string; cleanup: () => void };
let server: RunningServer;
let fake: FakeCluster;
let browser: Browser;
let page: Page;
let imageDigest: string;
let clusterId = '';
let ingestToken = '';

async function api<T = Json>(
  path: string,
  init: { method?: string; body?: unknown; token?: string } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(server.url + path, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const rows = (testId: string, ok: (n: number) => boolean): Promise<void> => waitRows(page, testId, ok);
const shot = (name: string): Promise<void> => screenshot(page, `rt-${name}`);

/** Poll `fn` until it returns a value (bounded: 30 s). */
async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Recorded events re-timed into the previous 10-minute grouping window (so three of them form one
 * group), in the scanned image, with a deeper ancestry than the fixture's: the container shim
 * started a shell that started the process that acted.
 */
function recordedEvents(): RuntimeEvent[] {
  const windowStart = Math.floor(Date.now() / 600_000) * 600_000 - 600_000;
  const at = (s: number): string => new Date(windowStart + s * 1000).toISOString();
  const shell = { pid: 4240, exe: '/bin/sh', argv: ['sh', '-c', 'curl -s http://169.254.169.254/latest/meta-data/'] };
  const shim = { pid: 4200, exe: '/usr/bin/containerd-shim-runc-v2', argv: ['containerd-shim-runc-v2'] };
  const retime = (id: string, newId: string, s: number): RuntimeEvent => {
    const e = { ...fixtureEvent(id), id: newId, time: at(s) };
    if ('proc' in e) e.proc = { ...e.proc, ppid: shell.pid, ancestry: [shell, shim] };
    if (e.container) e.container = { ...e.container, imageDigest };
    return e;
  };
  return [
    // Cloud metadata contacted (high), three times in one window: one group of 3.
    retime('fx-032', 'rt-meta-1', 60),
    retime('fx-032', 'rt-meta-2', 120),
    retime('fx-032', 'rt-meta-3', 180),
    // A reverse shell (critical) and a shell history truncated (medium).
    retime('fx-003', 'rt-revshell-1', 200),
    retime('fx-029', 'rt-history-1', 240),
  ];
}

async function ingest(batch: RuntimeIngestBatch): Promise<Json> {
  const res = await fetch(server.url + '/api/v1/ingest/runtime', {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  const body = (await res.json()) as Json;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

before(async () => {
  dir = tempDir('palisade-rt-console-');
  const consoleDist = join(dir.path, 'console-dist');
  // Its own build directory: the other console test may be rebuilding packages/console/dist meanwhile.
  buildConsole(consoleDist);

  const db = join(dir.path, 'vuln.db');
  await importPaths([sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json')], db);
  const layout = writeOciLayout(join(dir.path, 'images', 'node-exporter'), 'v1', [
    { layers: [{ files: [{ path: 'etc/os-release', content: OS_RELEASE }] }] },
  ]);
  imageDigest = layout.digest;

  fake = await startFakeCluster();
  // The monitoring pod runs the scanned image: its inventory row links to the image page.
  const exporter = objectNamed(fake.objects, 'Pod', 'node-exporter-9tq7z');
  const statuses = (exporter['status'] as Json)['containerStatuses'] as Json[];
  (statuses[0] as Json)['imageID'] = `quay.io/prometheus/node-exporter@${imageDigest}`;

  const config = loadConfig({
    env: {},
    flags: {
      port: '0',
      host: '127.0.0.1',
      dataDir: join(dir.path, 'data'),
      db,
      allowLocalSources: true,
      logLevel: 'silent',
    },
  });
  server = await startServer(config, {
    env: { PALISADE_ADMIN_TOKEN: ADMIN_TOKEN },
    logStream: false,
    consoleDir: consoleDist,
    // Snapshots asked for from the console run at the next tick.
    scheduler: { tickMs: 300 },
    clusters: { requestTimeoutMs: 3000 },
  });
  const scan = await api<{ scan: { id: string } }>('/api/v1/scans', {
    method: 'POST',
    body: { reference: `oci:${join(dir.path, 'images', 'node-exporter')}:v1` },
  });
  assert.ok(scan.status === 202 || scan.status === 200, JSON.stringify(scan.body));
  await until('the scan', async () => {
    const s = await api<{ status: string; error: string | null }>(`/api/v1/scans/${scan.body.scan.id}`);
    if (s.body.status === 'failed') throw new Error(`scan failed: ${s.body.error ?? ''}`);
    return s.body.status === 'succeeded' ? true : undefined;
  });

  browser = await launchBrowser(join(dir.path, 'chromium-profile'));
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await server?.close();
  await fake?.close();
  cleanupCertificates();
  dir?.cleanup();
});

test('sign in; no cluster yet', async () => {
  await page.goto(server.url + '/clusters');
  await page.getByLabel('API token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Clusters', level: 1 }).waitFor();
  await page.getByText('No clusters yet').waitFor();
});

test('register a cluster with a pasted kubeconfig: the ingest token is shown once', async () => {
  await page.getByRole('button', { name: 'Register cluster' }).click();
  const form = page.getByRole('form', { name: 'Register cluster' });
  // A bad name is refused before it reaches the server.
  await form.getByLabel('Name', { exact: true }).fill('-bad');
  await form.getByRole('button', { name: 'Register' }).click();
  await form
    .getByRole('alert')
    .getByText(/Name: up to 63/)
    .waitFor();
  // A context the kubeconfig does not have: the server's 400 names the field.
  await form.getByLabel('Name', { exact: true }).fill('prod-eu');
  await form.getByLabel(/^Kubeconfig/).fill(fake.kubeconfig());
  await form.getByLabel(/^Context/).fill('no-such-context');
  await form.getByRole('button', { name: 'Register' }).click();
  await form
    .getByRole('alert')
    .getByText(/body\.kubeconfig: .*no-such-context/)
    .waitFor();
  await form.getByLabel(/^Context/).fill('');
  await form.getByRole('button', { name: 'Register' }).click();

  const secret = page.getByTestId('ingest-token');
  await secret.waitFor();
  ingestToken = ((await secret.textContent()) ?? '').trim();
  assert.match(ingestToken, /^pal_in_/);
  await page
    .getByTestId('cluster-created')
    .getByText(/only this once/)
    .waitFor();
  const row = page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'prod-eu' });
  await row.getByText('Pending').waitFor();
  await shot('01-cluster-registered');

  const list = await api<{ items: Array<{ id: string; name: string }> }>('/api/v1/clusters');
  clusterId = list.body.items.find((c) => c.name === 'prod-eu')?.id ?? '';
  assert.ok(clusterId);
  // Shown once: gone after a reload.
  await page.reload();
  await page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'prod-eu' }).waitFor();
  assert.equal(await page.getByText(ingestToken).count(), 0);
});

test('snapshot from the list: status, object count and findings by severity', async () => {
  const row = page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'prod-eu' });
  await row.getByRole('button', { name: 'Snapshot now' }).click();
  await page
    .getByTestId('clusters-message')
    .getByText(/queued/)
    .waitFor();
  // The list refreshes until the snapshot ran; then the figures of the inventory come.
  await row.locator('[data-status="ok"]').waitFor({ timeout: 30_000 });
  await row.getByRole('cell', { name: '29', exact: true }).waitFor();
  const findings = await api<{ total: number }>(`/api/v1/clusters/${clusterId}/findings?severity=high&limit=1`);
  assert.ok(findings.body.total > 0);
  const bar = row.locator('.sevbar');
  await bar.waitFor();
  assert.match((await bar.getAttribute('aria-label')) ?? '', new RegExp(`${findings.body.total} high`));
  await shot('02-clusters');
});

test('the inventory: counts by kind, filters, pod containers with image digests linking to a scanned image', async () => {
  await page.getByTestId('clusters-table').getByRole('link', { name: 'prod-eu' }).click();
  await page.getByRole('heading', { name: /prod-eu/, level: 1 }).waitFor();
  const kinds = page.getByTestId('kind-counts');
  await kinds.getByRole('button', { name: /^Pod 5$/ }).waitFor();
  await rows('inventory-table', (n) => n === 29);

  await kinds.getByRole('button', { name: /^Pod 5$/ }).click();
  await page.waitForURL(/kind=Pod/);
  await rows('inventory-table', (n) => n === 5);
  await page.getByLabel('Filter by namespace').fill('shop');
  await page.waitForURL(/namespace=shop/);
  await rows('inventory-table', (n) => n === 3);
  const web = page.getByTestId('inventory-table').locator('tbody tr', { hasText: 'web-7c9d5b8f6d-2xkqp' });
  const webText = (await web.textContent()) ?? '';
  assert.match(webText, /nginx:1\.27/);
  assert.match(webText, /sha256:28402db69fec/);
  // nginx was never scanned here: its digest is not a link.
  assert.equal(await web.getByRole('link').count(), 0);
  await shot('03-inventory-pods');

  await page.getByLabel('Filter by namespace').fill('monitoring');
  await page.waitForURL(/namespace=monitoring/);
  await rows('inventory-table', (n) => n === 1);
  const link = page.getByTestId('inventory-table').getByRole('link', { name: imageDigest.slice(0, 19) });
  await link.waitFor();
  assert.equal(await link.getAttribute('href'), `/images/${encodeURIComponent(imageDigest)}`);
  await link.click();
  await page.waitForURL(/\/images\/sha256/);
  await page.getByRole('tab', { name: /Vulnerabilities/ }).waitFor();
  await page.goBack();
  await rows('inventory-table', (n) => n === 1);
});

test('findings: severity, check and namespace filters; resource, field path and frameworks', async () => {
  await page.getByRole('tab', { name: 'Findings' }).click();
  await page.waitForURL(/tab=findings/);
  const all = await api<{ total: number; items: Array<{ checkId: string; path: string }> }>(
    `/api/v1/clusters/${clusterId}/findings?limit=500`,
  );
  await rows('cluster-findings-table', (n) => n === Math.min(50, all.body.total));
  await page.getByRole('group', { name: 'Filter by severity' }).getByRole('button', { name: 'High' }).click();
  await page.waitForURL(/severity=high/);
  const high = await api<{ total: number }>(`/api/v1/clusters/${clusterId}/findings?severity=high&limit=1`);
  await rows('cluster-findings-table', (n) => n === Math.min(50, high.body.total));
  const sevs = await page.getByTestId('cluster-findings-table').locator('tbody tr .sev').allTextContents();
  assert.ok(sevs.length > 0 && sevs.every((s) => s === 'High'), sevs.join(','));

  const first = all.body.items[0];
  assert.ok(first);
  await page.getByRole('group', { name: 'Filter by severity' }).getByRole('button', { name: 'High' }).click();
  await page.getByLabel('Filter by check').fill(first.checkId);
  await page.waitForURL(new RegExp(`check=${first.checkId}`));
  const byCheck = all.body.items.filter((f) => f.checkId === first.checkId).length;
  await rows('cluster-findings-table', (n) => n === byCheck);
  const text = (await page.getByTestId('cluster-findings-table').locator('tbody tr').first().textContent()) ?? '';
  assert.ok(text.includes(first.checkId));
  if (first.path) assert.ok(text.includes(first.path), `${first.path} in ${text}`);
  await shot('04-findings');
});

test('changes: a second snapshot after a pod is deleted records it as removed', async () => {
  fake.objects = fake.objects.filter((o) => !(o['kind'] === 'Pod' && (o['metadata'] as Json)['name'] === 'debug'));
  await page.getByRole('button', { name: 'Snapshot now' }).click();
  const taken = await until('the second snapshot', async () => {
    const s = await api<{ total: number }>(`/api/v1/clusters/${clusterId}/snapshots`);
    return s.body.total >= 2 ? s.body.total : undefined;
  });
  await page.getByRole('tab', { name: 'Changes' }).click();
  // The scheduler may also have taken one of its own since registration: as many rows as the API has.
  await rows('snapshots-table', (n) => n >= taken);
  await rows('changes-table', (n) => n >= 1);
  const removed = page.getByTestId('changes-table').locator('tbody tr', { hasText: 'debug' });
  assert.match((await removed.textContent()) ?? '', /removed.*Pod.*shop\/debug/s);
  await shot('05-changes');
});

test('attack paths: ranked, each with its one-sentence explanation and its chain of steps', async () => {
  const paths = await api<{ total: number; items: Array<{ explanation: string; steps: Array<{ label: string }> }> }>(
    `/api/v1/clusters/${clusterId}/attack-paths?limit=20`,
  );
  // The tab is there exactly when the server answers the route.
  const tab = page.getByRole('tab', { name: /Attack paths/ });
  if (paths.status !== 200) {
    assert.equal(await tab.count(), 0);
    return;
  }
  await tab.click();
  await page.waitForURL(/tab=attack-paths/);
  if (paths.body.total === 0) {
    await page.getByText('No attack paths').waitFor();
    return;
  }
  const list = page.getByTestId('attack-paths');
  await list.waitFor();
  assert.equal(await list.locator(':scope > li').count(), Math.min(20, paths.body.total));
  const top = paths.body.items[0];
  assert.ok(top);
  const first = list.locator(':scope > li').first();
  assert.match((await first.textContent()) ?? '', /#1/);
  assert.equal((await first.locator('.path-why').textContent())?.trim(), top.explanation);
  const steps = await first.locator('ol.chain > li').allTextContents();
  assert.equal(steps.length, top.steps.length);
  top.steps.forEach((st, i) => assert.ok(steps[i]?.includes(st.label), `${st.label} in ${steps[i]}`));
  await shot('06-attack-paths');
});

test('runtime batches posted with the ingest token appear as alert groups with counts', async () => {
  const events = recordedEvents();
  const alerts = nodeAlerts(events);
  assert.equal(alerts.length, 5, alerts.map((a) => a.ruleId).join(','));
  const sentAt = new Date().toISOString();
  const stored = await ingest({
    batchId: 'rt-console-1',
    source: 'collector',
    node: 'node-a',
    sensorVersion: '0.1.0',
    sentAt,
    alerts,
    events: [],
    counters: { seen: { 'process.exec': 120, 'network.connect': 40 }, kernelDrops: 7, userDrops: 0, spoolDrops: 0 },
  });
  assert.equal(stored['alerts'], 5);
  await ingest({
    batchId: 'rt-console-2',
    source: 'collector',
    node: 'node-b',
    sensorVersion: '0.1.0',
    sentAt,
    alerts: [],
    events: [],
    counters: { seen: { 'process.exec': 10 }, kernelDrops: 0, userDrops: 0, spoolDrops: 0 },
  });

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await page.getByRole('heading', { name: 'Runtime alerts' }).waitFor();
  await rows('alert-groups-table', (n) => n === 3);
  const meta = page.getByTestId('alert-groups-table').locator('tbody tr', { hasText: 'Cloud metadata' });
  const metaText = (await meta.textContent()) ?? '';
  assert.match(metaText, /High/);
  assert.match(metaText, /shop\/Deployment\/web/);
  assert.match(metaText, /prod-eu/);
  assert.equal((await meta.locator('.count').textContent())?.trim(), '3');

  // Sensors: node-a's kernel drops stand out; node-b has none.
  const a = page.getByTestId('sensors-table').locator('tbody tr', { hasText: 'node-a' });
  assert.equal((await a.locator('.drop').textContent())?.trim(), '⚠ 7');
  const b = page.getByTestId('sensors-table').locator('tbody tr', { hasText: 'node-b' });
  assert.equal(await b.locator('.drop').count(), 0);
  await shot('07-alert-groups');
});

test('alert filters live in the URL: a filtered view can be linked', async () => {
  const chips = page.getByRole('group', { name: 'Filter by severity' });
  await chips.getByRole('button', { name: 'Critical' }).click();
  await page.waitForURL(/severity=critical/);
  await rows('alert-groups-table', (n) => n === 1);
  assert.match((await page.getByTestId('alert-groups-table').textContent()) ?? '', /PAL-RT-002/);
  await chips.getByRole('button', { name: 'Critical' }).click();
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: 'Last hour' }).click();
  await page.waitForURL(/range=1h/);
  await page.getByLabel('Filter by rule id').fill('PAL-RT-030');
  await page.waitForURL(/rule=PAL-RT-030/);
  await rows('alert-groups-table', (n) => n === 1);
  await page.getByRole('group', { name: 'View' }).getByRole('button', { name: 'Every alert' }).click();
  await page.waitForURL(/view=alerts/);
  await rows('alerts-table', (n) => n === 3);

  // The same URL opened afresh shows the same filtered view.
  const url = page.url();
  await page.goto('about:blank');
  await page.goto(url);
  await rows('alerts-table', (n) => n === 3);
  assert.equal(await page.getByLabel('Filter by rule id').inputValue(), 'PAL-RT-030');
  // A namespace no alert is in empties it; a cluster filter keeps it.
  await page.getByLabel('Filter by namespace').fill('kube-system');
  await page.waitForURL(/namespace=kube-system/);
  await rows('alerts-table', (n) => n === 0);
  await page.getByText('No alert matches these filters').waitFor();
  await page.getByLabel('Filter by namespace').fill('shop');
  await page.waitForURL(/namespace=shop/);
  await page.getByLabel('Filter by cluster').selectOption({ label: 'prod-eu' });
  await page.waitForURL(new RegExp(`cluster=${clusterId}`));
  await rows('alerts-table', (n) => n === 3);
  await shot('08-alerts-filtered');
});

test('an alert: context, MITRE, the process tree with the right nesting, the raw events', async () => {
  // Newest first: the third metadata call.
  const first = page.getByTestId('alerts-table').locator('tbody tr').first();
  await first.getByRole('link').first().click();
  await page.getByRole('heading', { name: /Cloud metadata service contacted/, level: 1 }).waitFor();
  assert.match((await page.getByTestId('alert-output').textContent()) ?? '', /169\.254\.169\.254/);
  const ctx = page.getByTestId('alert-context');
  const ctxText = (await ctx.textContent()) ?? '';
  assert.match(ctxText, /prod-eu/);
  assert.match(ctxText, /node-a/);
  assert.match(ctxText, /web-6b7d9-xk2p/);
  assert.match(ctxText, /shop\/Deployment\/web/);
  assert.match(ctxText, /docker\.io\/library\/nginx:1\.27/);
  assert.equal(
    (await page.getByTestId('alert-peer').textContent())?.replace(/\s+/g, ''),
    'outbound169.254.169.254:80/tcp',
  );
  // The alert's image digest is the scanned image: a link to its page.
  assert.equal(
    await ctx.getByRole('link', { name: /vulnerabilities/ }).getAttribute('href'),
    `/images/${encodeURIComponent(imageDigest)}`,
  );
  await page.getByRole('link', { name: /T1552\.005/ }).waitFor();
  assert.match((await page.locator('ul.mitre').textContent()) ?? '', /Credential access\s*TA0006/);

  // shim (4200) > sh (4240) > curl (4242, the alerting process), nested in that order.
  const tree = page.getByTestId('process-tree');
  const chain = tree.locator(
    ':scope > ul > li[data-pid="4200"] > ul > li[data-pid="4240"] > ul > li[data-pid="4242"][data-alerting="true"]',
  );
  assert.equal(await chain.count(), 1);
  assert.equal(await tree.locator('li[data-alerting="true"]').count(), 1);
  assert.equal(await tree.getByText('⚠ alerting process').count(), 1);
  assert.match((await chain.locator('> .proc').textContent()) ?? '', /\/usr\/bin\/curl/);
  assert.match(
    (await tree.locator('li[data-pid="4240"] > .proc').textContent()) ?? '',
    /sh -c 'curl -s http:\/\/169\.254\.169\.254\/latest\/meta-data\/'/,
  );

  // The raw event, collapsed until asked for.
  const raw = page.getByTestId('raw-event');
  assert.equal(await raw.isVisible(), false);
  await page.locator('details.rawevent summary').first().click();
  await raw.waitFor();
  const json = JSON.parse((await raw.textContent()) ?? '{}') as Json;
  assert.equal(json['id'], 'rt-meta-3');
  assert.equal((json['net'] as Json)['dstAddr'], '169.254.169.254');
  await shot('09-alert');
});

test('an expired credential shows on the clusters list, plainly', async () => {
  const reg = await api<{ cluster: { id: string } }>('/api/v1/clusters', {
    method: 'POST',
    body: { name: 'legacy', kubeconfig: fake.kubeconfig('a-token-the-api-server-revoked') },
  });
  assert.equal(reg.status, 201);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
  const row = page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'legacy' });
  await row.getByRole('button', { name: 'Snapshot now' }).click();
  await row.locator('[data-status="auth_expired"]').waitFor({ timeout: 30_000 });
  const problem = (await row.getByTestId('cluster-problem').textContent()) ?? '';
  assert.match(problem, /credentials expired or revoked \(401\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  assert.match(problem, /HTTP 401/);
  assert.ok(!problem.includes('a-token-the-api-server-revoked'));
  assert.match((await row.textContent()) ?? '', /Credentials expired/);
  // The healthy cluster is untouched.
  await page
    .getByTestId('clusters-table')
    .locator('tbody tr', { hasText: 'prod-eu' })
    .locator('[data-status="ok"]')
    .waitFor();
  await shot('10-clusters-auth-expired');

  // Delete asks first.
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: /Delete “legacy”/ }).click();
  await page.getByTestId('clusters-table').locator('tbody tr', { hasText: 'legacy' }).waitFor({ state: 'detached' });
  assert.equal((await api(`/api/v1/clusters/${reg.body.cluster.id}`)).status, 404);
});

test('nothing was loaded from outside 127.0.0.1 and no page threw', () => {
  assert.deepEqual(browser.blocked, []);
  assert.deepEqual(browser.pageErrors, []);
});
