/**
 * The console end to end: a real server (embedded storage in a temp dir, a known admin token),
 * a vulnerability DB imported from real advisories in ../shared/vulndata, a real OCI image
 * scanned through POST /api/v1/scans, and the built console driven by playwright-core in
 * Debian's Chromium. Every page is kept as a PNG under packages/server/test-artifacts/console/.
 *
 * The browser never leaves 127.0.0.1: every other request is aborted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import type { Page } from 'playwright-core';
import { sharedPath, tempDir, writeOciLayout, type LayoutResult } from '@palisade/testkit';
import { importPaths } from '@palisade/vulndb';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { CONSOLE_DIR, buildConsole, launchBrowser, screenshot, waitRows, type Browser } from './browser.js';

const ADMIN_TOKEN = 'pal_console_e2e_admin_token_0123456789abcdef';
const DIST = join(CONSOLE_DIR, 'dist');

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
const STATUS = [
  'Package: chromium',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 97.0.4692.99-1~deb11u2',
  'Source: chromium',
  '',
  'Package: base-files',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 12.4+deb12u5',
  '',
].join('\n');

let dir: { path: string; cleanup: () => void };
let server: RunningServer;
let proxy: Server | undefined;
let base: string;
let browser: Browser;
let page: Page;
let app: LayoutResult;

async function api<T>(
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

interface Scan {
  id: string;
  status: string;
  error: string | null;
  digest: string | null;
}

/** Queue a scan and wait for it to finish (succeeded or failed). */
async function scan(reference: string): Promise<Scan> {
  const created = await api<{ scan: Scan }>('/api/v1/scans', { method: 'POST', body: { reference } });
  assert.ok(created.status === 202 || created.status === 200, JSON.stringify(created.body));
  for (let i = 0; i < 600; i++) {
    const s = await api<Scan>(`/api/v1/scans/${created.body.scan.id}`);
    if (s.body.status === 'succeeded' || s.body.status === 'failed') return s.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`scan of ${reference} did not finish`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/**
 * Until the server serves the console itself: the built files, index.html for every other
 * path (client-side routes), and /api/*, /openapi.json forwarded to the server.
 */
async function startConsoleProxy(target: string): Promise<string> {
  const t = new URL(target);
  proxy = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path.startsWith('/api/') || path === '/openapi.json' || path === '/healthz') {
      const fwd = httpRequest(
        {
          host: t.hostname,
          port: t.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: t.host },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      fwd.on('error', () => {
        res.writeHead(502).end();
      });
      req.pipe(fwd);
      return;
    }
    let file = normalize(join(DIST, decodeURIComponent(path)));
    if (!file.startsWith(DIST + sep) || !existsSync(file) || !statSync(file).isFile()) file = join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => proxy?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

const rows = (testId: string, ok: (n: number) => boolean): Promise<void> => waitRows(page, testId, ok);
const shot = (name: string): Promise<void> => screenshot(page, name);

before(async () => {
  buildConsole();

  dir = tempDir('palisade-console-');
  const db = join(dir.path, 'vuln.db');
  await importPaths(
    [
      sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
      sharedPath('vulndata', 'samples', 'ghsa-npm'),
      sharedPath('vulndata', 'samples', 'kev-epss'),
    ],
    db,
  );
  app = writeOciLayout(join(dir.path, 'images', 'payments-api'), 'v1', [
    {
      layers: [
        {
          files: [
            { path: 'etc', type: 'dir' },
            { path: 'etc/os-release', content: OS_RELEASE },
            { path: 'var/lib/dpkg/status', content: STATUS },
          ],
        },
        {
          files: [
            {
              path: 'app/node_modules/lodash/package.json',
              content: '{"name":"lodash","version":"4.17.20","license":"MIT"}',
            },
            {
              path: 'app/node_modules/minimist/package.json',
              content: '{"name":"minimist","version":"1.2.5","license":"MIT"}',
            },
          ],
        },
      ],
      history: ['ADD rootfs.tar /', 'COPY node_modules /app/node_modules'],
    },
  ]);
  writeOciLayout(join(dir.path, 'images', 'static-site'), 'v2', [
    {
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: OS_RELEASE },
            { path: 'srv/index.html', content: '<h1>hi</h1>' },
          ],
        },
      ],
    },
  ]);

  const env = { PALISADE_ADMIN_TOKEN: ADMIN_TOKEN };
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
  server = await startServer(config, { env, logStream: false });

  const ok = await scan(`oci:${join(dir.path, 'images', 'payments-api')}:v1`);
  assert.equal(ok.status, 'succeeded', ok.error ?? '');
  const clean = await scan(`oci:${join(dir.path, 'images', 'static-site')}:v2`);
  assert.equal(clean.status, 'succeeded', clean.error ?? '');
  const bad = await scan(`oci:${join(dir.path, 'images', 'missing')}:v1`);
  assert.equal(bad.status, 'failed');
  await server.storage.trends.snapshot();

  // The server serves the console at / once its static route exists; until then, a proxy does.
  const home = await fetch(server.url + '/').catch(() => undefined);
  const html = home?.ok ? await home.text() : '';
  base = html.includes('id="root"') ? server.url : await startConsoleProxy(server.url);

  browser = await launchBrowser(join(dir.path, 'chromium-profile'));
  page = browser.page;
});

after(async () => {
  await browser?.close();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await server?.close();
  dir?.cleanup();
});

test('a wrong token stays on the sign-in page with an error', async () => {
  await page.goto(base + '/');
  await page.getByLabel('API token').waitFor();
  await shot('01-sign-in');
  await page.getByLabel('API token').fill('pal_this_is_not_a_real_token_at_all_000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const err = page.getByTestId('signin-error');
  await err.waitFor();
  assert.match((await err.textContent()) ?? '', /not accepted/);
  await shot('02-sign-in-wrong-token');
});

test('sign in and see the overview numbers', async () => {
  await page.getByLabel('API token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const images = page.getByTestId('stat-images');
  await images.waitFor();
  assert.equal(await images.textContent(), '2');
  // The payments image's worst finding is critical or high (chromium in bookworm, lodash).
  const list = await api<{ items: Array<{ worst: string | null; fixable: number }>; total: number }>('/api/v1/images');
  const critHigh = list.body.items.filter((i) => i.worst === 'critical' || i.worst === 'high').length;
  assert.equal(await page.getByTestId('stat-critical-high').textContent(), String(critHigh));
  const fixable = list.body.items.reduce((a, i) => a + i.fixable, 0);
  assert.ok(fixable > 0);
  assert.equal(await page.getByTestId('stat-fixable').textContent(), String(fixable));
  await page.getByTestId('trend-chart').waitFor();
  await page.getByTestId('images-by-severity').waitFor();
  assert.equal(await page.evaluate("sessionStorage.getItem('palisade.token')"), ADMIN_TOKEN);
  await shot('03-overview');
});

test('the image list searches on the server', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Images' }).click();
  const table = page.getByTestId('images-table');
  await table.waitFor();
  await rows('images-table', (n) => n === 2);
  await shot('04-images');
  await page.getByLabel('Search images').fill('payments');
  await page.waitForURL(/q=payments/);
  await rows('images-table', (n) => n === 1);
  assert.match((await table.locator('tbody tr').first().textContent()) ?? '', /payments-api/);
  await shot('05-images-search');
});

test('the image page shows fix versions and the layer that brought each package', async () => {
  await page
    .getByTestId('images-table')
    .getByRole('link', { name: /payments-api/ })
    .click();
  const findings = page.getByTestId('findings-table');
  await findings.waitFor();
  assert.ok(decodeURIComponent(page.url()).endsWith(`/images/${app.digest}`), page.url());
  const layers = app.images[0]?.layers ?? [];
  const short = (d: string | undefined): string => (d ?? '').slice(0, 'sha256:'.length + 10);

  const chromiumRow = findings.locator('tbody tr', { hasText: 'CVE-2022-0456' });
  await chromiumRow.waitFor();
  const chromiumText = (await chromiumRow.textContent()) ?? '';
  assert.match(chromiumText, /chromium/);
  assert.match(chromiumText, /98\.0\.4758\.80-1/, 'the fix version');
  assert.ok(chromiumText.includes(short(layers[0]?.digest)), `layer 1 digest in: ${chromiumText}`);

  const lodashRow = findings.locator('tbody tr', { hasText: 'CVE-2021-23337' });
  const lodashText = (await lodashRow.textContent()) ?? '';
  assert.match(lodashText, /lodash/);
  assert.match(lodashText, /4\.17\.21/);
  assert.ok(lodashText.includes(short(layers[1]?.digest)), `layer 2 digest in: ${lodashText}`);
  const nvd = lodashRow.getByRole('link', { name: /NVD/ });
  assert.equal(await nvd.getAttribute('href'), 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337');
  await shot('06-image-vulnerabilities');

  await page.getByRole('tab', { name: /Packages/ }).click();
  const pkgs = page.getByTestId('packages-table');
  await pkgs.waitFor();
  const lodashPkg = (await pkgs.locator('tbody tr', { hasText: 'lodash' }).textContent()) ?? '';
  assert.ok(lodashPkg.includes(short(layers[1]?.digest)), lodashPkg);
  await shot('07-image-packages');
  await page.getByRole('tab', { name: /Layers/ }).click();
  await page.getByTestId('layers-list').waitFor();
  await shot('08-image-layers');
  await page.getByRole('tab', { name: /Vulnerabilities/ }).click();
});

test('the vulnerability page lists the image it affects', async () => {
  await page.getByTestId('findings-table').getByRole('link', { name: 'CVE-2021-23337', exact: true }).click();
  const affected = page.getByTestId('affected-images-table');
  await affected.waitFor();
  const row = affected.locator('tbody tr', { hasText: 'payments-api' });
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /lodash.*4\.17\.20.*4\.17\.21/s);
  await shot('09-vulnerability');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Vulnerabilities' }).click();
  await page.getByTestId('vulnerabilities-table').waitFor();
  await rows('vulnerabilities-table', (n) => n > 0);
  await shot('10-vulnerabilities');
});

test('scan history shows each scan with its status and the reason of a failure', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scans' }).click();
  const table = page.getByTestId('scans-table');
  await table.waitFor();
  await rows('scans-table', (n) => n === 3);
  const failed = table.locator('tbody tr', { hasText: 'Failed' });
  assert.equal(await failed.count(), 1);
  assert.ok(((await failed.getByTestId('scan-error').textContent()) ?? '').length > 0);
  assert.equal(await table.locator('tbody tr', { hasText: 'Succeeded' }).count(), 2);
  await shot('11-scans');
});

test('settings: a new API token and a registry webhook token are shown once', async () => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByTestId('tokens-table').waitFor();
  await page.getByLabel('Name', { exact: true }).first().waitFor();

  const tokenForm = page.getByRole('form', { name: 'Create API token' });
  await tokenForm.getByLabel('Name').fill('ci-pipeline');
  await tokenForm.getByLabel('Role').selectOption('reader');
  await tokenForm.getByRole('button', { name: 'Create token' }).click();
  const plain = page.getByTestId('new-token');
  await plain.waitFor();
  const token = ((await plain.textContent()) ?? '').trim();
  assert.ok(token.length >= 20, token);
  // The plaintext works against the API, with the role it was given.
  assert.equal((await api('/api/v1/images', { token })).status, 200);
  assert.equal((await api('/api/v1/tokens', { token })).status, 403);
  await page.getByTestId('tokens-table').locator('tbody tr', { hasText: 'ci-pipeline' }).waitFor();

  await page.getByRole('button', { name: 'Add registry' }).click();
  const regForm = page.getByRole('form', { name: 'Add registry' });
  await regForm.getByLabel('Name', { exact: true }).fill('prod-registry');
  await regForm.getByLabel('URL', { exact: true }).fill('https://registry.example.test');
  await regForm.getByRole('button', { name: 'Add registry' }).click();
  await page.getByTestId('webhook-token').waitFor();
  const hookUrl = (await page.getByTestId('webhook-url').textContent()) ?? '';
  assert.match(hookUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/registries\/.+\/events$/);
  assert.ok(((await page.getByTestId('webhook-token').textContent()) ?? '').length >= 20);
  await page.getByTestId('registries-table').locator('tbody tr', { hasText: 'prod-registry' }).waitFor();
  await shot('12-settings-secrets-once');

  // Shown once: after a reload neither secret is on the page.
  await page.reload();
  await page.getByTestId('tokens-table').locator('tbody tr', { hasText: 'ci-pipeline' }).waitFor();
  assert.equal(await page.getByTestId('new-token').count(), 0);
  assert.equal(await page.getByTestId('webhook-token').count(), 0);
  assert.equal(await page.getByText(token).count(), 0);
  await shot('13-settings');

  // Revoke it from the list (two clicks: revoke, confirm); the API then refuses it.
  const row = page.getByTestId('tokens-table').locator('tbody tr', { hasText: 'ci-pipeline' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke now?' }).click();
  await page.getByTestId('tokens-table').locator('tbody tr', { hasText: 'ci-pipeline' }).waitFor({ state: 'detached' });
  assert.equal((await api('/api/v1/images', { token })).status, 401);
});

test('a token the server rejects mid-session sends the user back to sign-in with a message', async () => {
  await page.evaluate("sessionStorage.setItem('palisade.token', 'pal_revoked_or_bogus_token_value_0000000000')");
  await page.goto(base + '/images');
  await page.getByLabel('API token').waitFor();
  await page.getByText(/session ended/i).waitFor();
  assert.equal(await page.evaluate("sessionStorage.getItem('palisade.token')"), null);
  await shot('14-session-ended');
});

test('nothing was loaded from outside 127.0.0.1 and no page threw', () => {
  assert.deepEqual(browser.blocked, []);
  assert.deepEqual(browser.pageErrors, []);
});
