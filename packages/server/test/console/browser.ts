/**
 * What the console's end-to-end tests share: building the console, Debian's Chromium driven by
 * playwright-core with every request outside 127.0.0.1 aborted, waiting for table rows and
 * keeping screenshots under packages/server/test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '@palisade/testkit';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = repoRoot();
export const CONSOLE_DIR = join(ROOT, 'packages', 'console');
export const ARTIFACTS = join(ROOT, 'packages', 'server', 'test-artifacts', 'console');

/** Build the console (so a test never drives stale files) into `outDir` (default packages/console/dist). */
export function buildConsole(outDir?: string): void {
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--logLevel',
      'warn',
      ...(outDir ? ['--outDir', outDir, '--emptyOutDir'] : []),
    ],
    { cwd: CONSOLE_DIR, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests aborted because they left 127.0.0.1. */
  blocked: string[];
  /** Uncaught errors of the page. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(profileDir: string): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required (apt-get install chromium)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const blocked: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    blocked.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, blocked, pageErrors, close: () => context.close() };
}

/** Wait until the table with this test id has a row count `ok` accepts (locators only: the CSP forbids eval). */
export async function waitRows(page: Page, testId: string, ok: (n: number) => boolean): Promise<void> {
  const loc = page.getByTestId(testId).locator('tbody tr');
  for (let i = 0; i < 300; i++) {
    if (ok(await loc.count())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${testId}: the row count never matched (last ${await loc.count()})`);
}

/** Keep the full page as ARTIFACTS/<name>.png once fonts and the last paint settled. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate('document.fonts.ready.then(() => true)');
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
