import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sharedPath, tempDir } from '@palisade/testkit';
import { PalisadeError } from '@palisade/core';
import { updateDb } from '../src/update/update.js';
import { downloadFile, type Progress } from '../src/update/download.js';
import { feedUrl, type FeedSource } from '../src/update/feeds.js';
import { openVulnDb } from '../src/match/matcher.js';

const KEV = readFileSync(sharedPath('vulndata', 'samples', 'kev-epss', 'vunnel-kev-valid-catalog-1.json'));
const EPSS = readFileSync(sharedPath('vulndata', 'samples', 'kev-epss', 'vunnel-epss-example-1.csv'));

interface Served {
  base: string;
  server: Server;
  ranges: string[];
}

/** Serves /kev.json (drops the connection half-way on the first request) and /epss.csv; /gone → 404, /broken → 500. */
async function serve(): Promise<Served> {
  const port = await freePort();
  const ranges: string[] = [];
  let drops = 1;
  const server = createServer((req, res) => {
    const body = req.url === '/kev.json' ? KEV : req.url === '/epss.csv' ? EPSS : undefined;
    if (req.url === '/broken') return res.writeHead(500).end('oops');
    if (!body) return res.writeHead(404).end('not found');
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const headers = { 'content-length': String(body.length - start), etag: '"v1"' };
    if (m) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    else res.writeHead(200, headers);
    if (req.url === '/kev.json' && drops > 0) {
      drops--;
      res.write(body.subarray(start, start + 1000));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${port}`, server, ranges };
}

const SOURCES: FeedSource[] = [
  { id: 'kev', url: 'https://example.invalid/kev.json', path: 'kev.json' },
  { id: 'epss', url: 'https://example.invalid/epss.csv', path: 'epss.csv' },
];

test('update: resumes a dropped download with a Range request, verifies size, imports', async () => {
  const s = await serve();
  const t = tempDir();
  try {
    const progress: Progress[] = [];
    const dbPath = join(t.path, 'vuln.db');
    const sum = await updateDb(dbPath, {
      sources: SOURCES,
      baseUrl: s.base,
      onProgress: (p) => progress.push(p),
      env: {},
    });
    assert.deepEqual(readFileSync(join(t.path, 'downloads', 'kev.json')), KEV);
    assert.ok(s.ranges.includes('bytes=1000-'), `resumed with a range: ${JSON.stringify(s.ranges)}`);
    assert.ok(!existsSync(join(t.path, 'downloads', 'kev.json.part')));
    const last = progress.filter((p) => p.feed === 'kev').at(-1);
    assert.deepEqual(last, { feed: 'kev', received: KEV.length, total: KEV.length });
    assert.deepEqual(
      sum.downloaded.map((d) => d.url),
      [`${s.base}/kev.json`, `${s.base}/epss.csv`],
    );
    const db = openVulnDb(dbPath);
    assert.deepEqual(
      db.status().feeds.map((f) => [f.id, f.records]),
      [
        ['epss', 5],
        ['kev', 3],
      ],
    );
    db.close();
  } finally {
    t.cleanup();
    s.server.close();
  }
});

test('download: 404 and 500 are clear errors naming the feed URL; no DB is written', async () => {
  const s = await serve();
  const t = tempDir();
  try {
    const gone = `${s.base}/gone`;
    await assert.rejects(
      downloadFile(gone, join(t.path, 'x'), { feed: 'kev' }),
      (e: unknown) =>
        e instanceof PalisadeError &&
        e.code === 'E_NOT_FOUND' &&
        e.subject === gone &&
        /feed "kev".*HTTP 404/.test(e.message),
    );
    const dbPath = join(t.path, 'vuln.db');
    await assert.rejects(
      updateDb(dbPath, { sources: SOURCES, urls: { epss: `${s.base}/broken` }, baseUrl: s.base, env: {} }),
      (e: unknown) => e instanceof PalisadeError && e.subject === `${s.base}/broken` && /HTTP 500/.test(e.message),
    );
    assert.ok(!existsSync(dbPath));
  } finally {
    t.cleanup();
    s.server.close();
  }
});

test('feed URL overrides: per-feed option, per-feed env, base option, base env, default', () => {
  const f: FeedSource = { id: 'osv-crates.io', url: 'https://up/x.zip', path: 'osv/crates.io/all.zip' };
  assert.equal(feedUrl(f, { env: {} }), 'https://up/x.zip');
  assert.equal(feedUrl(f, { env: { PALISADE_FEED_BASE_URL: 'http://m/' } }), 'http://m/osv/crates.io/all.zip');
  assert.equal(
    feedUrl(f, { baseUrl: 'http://o', env: { PALISADE_FEED_BASE_URL: 'http://m' } }),
    'http://o/osv/crates.io/all.zip',
  );
  assert.equal(
    feedUrl(f, { baseUrl: 'http://o', env: { PALISADE_FEED_URL_OSV_CRATES_IO: 'http://e/c.zip' } }),
    'http://e/c.zip',
  );
  assert.equal(
    feedUrl(f, { urls: { 'osv-crates.io': 'http://u/c.zip' }, env: { PALISADE_FEED_URL_OSV_CRATES_IO: 'http://e' } }),
    'http://u/c.zip',
  );
});
