/**
 * Misbehaving registries, played by small servers on 127.0.0.1: server errors (retried, then
 * E_REGISTRY), silence (E_TIMEOUT), bodies that stall or break (E_TIMEOUT / E_NETWORK), bytes
 * that do not match their digest (E_DIGEST), oversized and legacy manifests, redirects to
 * another host (Authorization dropped) and Link pagination.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { fixturePath, freePort } from '@palisade/testkit';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/client.js';
import { IMAGE_ACCEPT, MediaType } from '../../src/registry/mediatypes.js';
import { RegistrySource } from '../../src/sources/registry.js';
import { startFake, startSilent, type FakeServer } from './fake.js';
import { rejectsWith } from './util.js';

const TIMEOUT_MS = 400;
const sha = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');
const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha('{}'), size: 2 },
    layers: [],
  }),
);

function clientFor(server: { host: string }, extra: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient(server.host, { insecure: true, timeoutMs: TIMEOUT_MS, retryBaseMs: 10, ...extra });
}

/** Run `body` with a fake server and a client for it, closing both afterwards. */
async function withFake(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  body: (client: RegistryClient, server: FakeServer) => Promise<void>,
  extra: RegistryClientOptions = {},
): Promise<void> {
  const server = await startFake(handler);
  const client = clientFor(server, extra);
  try {
    await body(client, server);
  } finally {
    client.close();
    await server.close();
  }
}

function sendManifest(res: http.ServerResponse, bytes: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': MediaType.ociManifest, 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}

void test('HTTP 500 is retried a bounded number of times, then E_REGISTRY with status and the registry message', async () => {
  await withFake(
    (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'storage backend exploded' }] }));
    },
    async (client, server) => {
      await rejectsWith(
        client.getManifest('a/b', 'v1', IMAGE_ACCEPT),
        'E_REGISTRY',
        'HTTP 500',
        'storage backend exploded',
        `${server.host}/a/b:v1`,
      );
      assert.equal(server.seen.length, 3);
    },
  );
});

void test('HTTP 429 then success: the retry succeeds', async () => {
  let n = 0;
  await withFake(
    (_req, res) => {
      if (n++ === 0) {
        res.writeHead(429, { 'retry-after': '0' });
        res.end();
        return;
      }
      sendManifest(res, MANIFEST);
    },
    async (client, server) => {
      const m = await client.getManifest('a/b', 'v1', IMAGE_ACCEPT);
      assert.equal(m.digest, sha(MANIFEST));
      assert.equal(m.mediaType, MediaType.ociManifest);
      assert.equal(server.seen.length, 2);
    },
  );
});

void test('a server that accepts and never answers is E_TIMEOUT naming host and what was fetched', async () => {
  const silent = await startSilent();
  const client = clientFor(silent);
  try {
    await rejectsWith(
      client.getManifest('a/b', 'v1', IMAGE_ACCEPT),
      'E_TIMEOUT',
      silent.host,
      'manifest v1',
      `within ${TIMEOUT_MS} ms`,
    );
  } finally {
    client.close();
    await silent.close();
  }
});

const DIGEST = 'sha256:' + 'c'.repeat(64);

async function drain(stream: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) n += c.length;
  return n;
}

void test('a blob that stalls half way is E_TIMEOUT; one whose connection closes half way is E_NETWORK', async () => {
  await withFake(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(500, 1));
      if (req.url?.includes('close')) setImmediate(() => res.socket?.destroy());
    },
    async (client, server) => {
      const stalled = await client.getBlob('a/stall', DIGEST);
      await rejectsWith(drain(stalled), 'E_TIMEOUT', server.host, `blob ${DIGEST}`, 'after 500 of 1000 bytes');
      const closed = await client.getBlob('a/close', DIGEST, { subject: 'layer 3 of a/close:v1' });
      await rejectsWith(drain(closed), 'E_NETWORK', 'layer 3 of a/close:v1', server.host, 'after 500 of 1000 bytes');
    },
  );
});

void test('a slow reader is not mistaken for a stalled server (backpressure pauses the stall timer)', async () => {
  const big = Buffer.alloc(4 * 1024 * 1024, 7);
  await withFake(
    (_req, res) => {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    },
    async (client) => {
      const stream = await client.getBlob('a/big', DIGEST);
      let total = 0;
      let first = true;
      for await (const c of stream as AsyncIterable<Buffer>) {
        total += c.length;
        if (first) await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
        first = false;
      }
      assert.equal(total, big.length);
    },
  );
});

void test('manifest bytes that do not match the requested digest (or Docker-Content-Digest) are E_DIGEST', async () => {
  const wanted = sha('something else');
  await withFake(
    (req, res) => sendManifest(res, MANIFEST, req.url?.endsWith('/v1') ? { 'docker-content-digest': wanted } : {}),
    async (client, server) => {
      await rejectsWith(
        client.getManifest('a/b', wanted, IMAGE_ACCEPT),
        'E_DIGEST',
        `${server.host}/a/b@${wanted}`,
        sha(MANIFEST),
      );
      await rejectsWith(client.getManifest('a/b', 'v1', IMAGE_ACCEPT), 'E_DIGEST', 'Docker-Content-Digest');
      assert.equal((await client.getManifest('a/b', sha(MANIFEST), IMAGE_ACCEPT)).digest, sha(MANIFEST));
    },
  );
});

void test('a config blob that does not match its digest is E_DIGEST when resolving', async () => {
  await withFake(
    (req, res) => {
      if (req.url?.includes('/manifests/')) return sendManifest(res, MANIFEST);
      res.writeHead(200, { 'content-length': '3' });
      res.end('{ }');
    },
    async (_client, server) => {
      const src = new RegistrySource(`${server.host}/a/b:v1`, { insecure: true, timeoutMs: TIMEOUT_MS });
      try {
        await rejectsWith(src.resolve(), 'E_DIGEST', `${server.host}/a/b:v1`, sha('{}'));
      } finally {
        await src.close();
      }
    },
  );
});

void test('oversized manifests are E_TOO_LARGE, declared or streamed', async () => {
  await withFake(
    (req, res) => {
      if (req.url?.endsWith('declared')) {
        res.writeHead(200, { 'content-type': MediaType.ociManifest, 'content-length': String(5 * 1024 * 1024) });
        res.write('{');
        return;
      }
      res.writeHead(200, { 'content-type': MediaType.ociManifest });
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024, 0x20));
      res.end();
    },
    async (client) => {
      await rejectsWith(client.getManifest('a/b', 'declared', IMAGE_ACCEPT), 'E_TOO_LARGE', 'manifest');
      const small = clientFor({ host: client.host }, { maxManifestBytes: 4096 });
      try {
        await rejectsWith(small.getManifest('a/b', 'streamed', IMAGE_ACCEPT), 'E_TOO_LARGE', '4096');
      } finally {
        small.close();
      }
    },
  );
});

void test('a Docker schema 1 manifest is E_UNSUPPORTED with a clear message', async () => {
  const bytes = readFileSync(fixturePath('oci', 'registry', 'schema1-manifest.json'));
  await withFake(
    (_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.dockerSchema1Signed });
      res.end(bytes);
    },
    async (_client, server) => {
      const src = new RegistrySource(`${server.host}/legacy/app:old`, { insecure: true, timeoutMs: TIMEOUT_MS });
      try {
        await rejectsWith(src.resolve(), 'E_UNSUPPORTED', `${server.host}/legacy/app:old`, 'schema 1');
      } finally {
        await src.close();
      }
    },
  );
});

void test('blob redirects are followed; Authorization is dropped when the host changes', async () => {
  const blob = Buffer.from('layer bytes');
  const storage = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': String(blob.length) });
    res.end(blob);
  });
  const creds = { username: 'u', password: 'p' };
  const expected = `Basic ${Buffer.from('u:p').toString('base64')}`;
  try {
    await withFake(
      (req, res) => {
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
          return res.end();
        }
        if (req.url?.includes('/same/')) {
          res.writeHead(307, { location: '/storage/same' });
          return res.end();
        }
        if (req.url?.startsWith('/storage/')) return void res.end(blob);
        // "localhost" is another host than "127.0.0.1", as a storage bucket would be.
        res.writeHead(307, { location: `http://localhost:${storage.port}/bucket/blob?sig=x` });
        res.end();
      },
      async (client, server) => {
        const got = Buffer.concat(await (await client.getBlob('a/b', DIGEST)).toArray());
        assert.ok(got.equals(blob));
        assert.equal(storage.seen.length, 1);
        assert.equal(storage.seen[0]?.authorization, undefined, 'no credentials sent to the storage host');
        const same = Buffer.concat(await (await client.getBlob('a/same', DIGEST)).toArray());
        assert.ok(same.equals(blob));
        assert.equal(server.seen.at(-1)?.url, '/storage/same');
        assert.equal(server.seen.at(-1)?.authorization, expected, 'credentials kept on the same host');
      },
      { credentials: creds },
    );
  } finally {
    await storage.close();
  }
});

void test('tag lists follow Link rel="next" and stop on a self-link', async () => {
  await withFake(
    (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const last = url.searchParams.get('last');
      const page = last === null ? ['a', 'b'] : last === 'b' ? ['c', 'd'] : ['e'];
      const next =
        last === null ? '/v2/r/tags/list?n=2&last=b' : last === 'b' ? '/v2/r/tags/list?n=2&last=d' : (req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json', link: `<${next}>; rel="next"` });
      res.end(JSON.stringify({ name: 'r', tags: page }));
    },
    async (client, server) => {
      assert.deepEqual(await client.listTags('r', { pageSize: 2 }), ['a', 'b', 'c', 'd', 'e']);
      assert.equal(server.seen.length, 3);
    },
  );
});

void test('a refused connection is E_NETWORK naming the registry', async () => {
  const port = await freePort();
  const client = clientFor({ host: `127.0.0.1:${port}` }, { insecure: false });
  try {
    await rejectsWith(
      client.getManifest('a/b', 'v1', IMAGE_ACCEPT),
      'E_NETWORK',
      `127.0.0.1:${port}`,
      'connection refused',
    );
  } finally {
    client.close();
  }
});
