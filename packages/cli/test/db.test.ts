/**
 * `palisade db update|import|status` through the CLI, with the feeds served by a local mirror
 * on 127.0.0.1 holding real sample files from ../shared/vulndata.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

function mirror(files: Record<string, string>): Promise<{ url: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const file = files[(req.url ?? '').replace(/^\//, '')];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({ url: `http://127.0.0.1:${port}`, server, hits });
    });
  });
}

test('db update downloads the chosen feeds from a mirror and builds the DB; status lists them', async () => {
  const d = tempDir();
  const m = await mirror({
    'debian/tracker.json': sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
    'kev/known_exploited_vulnerabilities.json': sharedPath(
      'vulndata',
      'samples',
      'kev-epss',
      'vunnel-kev-valid-catalog-1.json',
    ),
  });
  try {
    const db = join(d.path, 'vuln.db');
    const r = await run([
      'db',
      'update',
      '--db',
      db,
      '--download-dir',
      join(d.path, 'dl'),
      '--feeds',
      'debian-tracker,kev',
      '--feed-base-url',
      m.url,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(m.hits.sort(), ['/debian/tracker.json', '/kev/known_exploited_vulnerabilities.json']);
    assert.match(r.stdout, /debian-tracker/);
    const s = await run(['db', 'status', '--db', db]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /schema \d+/);
    assert.match(s.stdout, /kev/);
  } finally {
    m.server.close();
    d.cleanup();
  }
});

test('db update names an unknown feed and a feed the mirror does not have', async () => {
  const d = tempDir();
  const m = await mirror({});
  try {
    const unknown = await run(['db', 'update', '--db', join(d.path, 'x.db'), '--feeds', 'debian-tracker,nonsense']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--feeds: unknown feed "nonsense"/);
    const missing = await run([
      'db',
      'update',
      '--db',
      join(d.path, 'x.db'),
      '--download-dir',
      join(d.path, 'dl'),
      '--feeds',
      'kev',
      '--feed-base-url',
      m.url,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /kev/);
    assert.match(missing.stderr, /404/);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  } finally {
    m.server.close();
    d.cleanup();
  }
});
