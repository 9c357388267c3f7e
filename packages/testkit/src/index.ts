/**
 * Helpers for Palisade's own tests: where the repository and ../shared are, temp dirs,
 * free ports. Never imported by production code.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

/** The repository root: the nearest ancestor of this file holding `.ci/` or the workspace package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 12; i++) {
    if (existsSync(join(dir, 'tsconfig.base.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error('testkit: cannot find the repository root (tsconfig.base.json)');
}

/**
 * A path under ../shared (conformance data, real advisories). Throws with the path named when
 * it is missing: a test that needs shared data must fail, not skip, without it.
 */
export function sharedPath(...rel: string[]): string {
  const p = resolve(repoRoot(), '..', 'shared', ...rel);
  if (!existsSync(p)) throw new Error(`shared test data not found: ${p} (CI puts ../shared beside the checkout)`);
  return p;
}

/** A path to a fixture of a package: packages/<pkg>/test/fixtures/<rel>. */
export function fixturePath(pkg: string, ...rel: string[]): string {
  return join(repoRoot(), 'packages', pkg, 'test', 'fixtures', ...rel);
}

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'palisade-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}
export * from './image.js';
export * from './debian.js';
export * from './registry.js';
