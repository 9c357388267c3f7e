import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PalisadeError, type RuntimeIngestBatch } from '@palisade/core';
import { IngestError, createIngestClient } from '../src/ingest-client.js';
import { matchesNoProxy, proxyForUrl } from '../src/ingest-client-proxy.js';
import {
  alertFor,
  execEvent,
  makeCa,
  startConnectProxy,
  startIngestServer,
  type TestCa,
  type TestIngestServer,
} from './publisher-testkit.test.js';

test('NO_PROXY: hosts, domains, wildcards, ports, IPs and CIDRs', () => {
  const cases: [string, number, string, boolean][] = [
    ['palisade.example.com', 443, '', false],
    ['palisade.example.com', 443, '*', true],
    ['palisade.example.com', 443, 'example.com', true],
    ['example.com', 443, 'example.com', true],
    ['notexample.com', 443, 'example.com', false],
    ['palisade.example.com', 443, '.example.com', true],
    ['example.com', 443, '.example.com', false],
    ['a.b.example.com', 443, '*.example.com', true],
    ['PALISADE.Example.COM.', 443, 'palisade.example.com', true],
    ['palisade.example.com', 443, 'other.org, palisade.example.com', true],
    ['palisade.example.com', 443, 'other.org palisade.example.com', true],
    ['palisade.example.com', 443, 'palisade.example.com:8443', false],
    ['palisade.example.com', 8443, 'palisade.example.com:8443', true],
    ['10.1.2.3', 443, '10.1.2.3', true],
    ['10.1.2.4', 443, '10.1.2.3', false],
    ['10.1.2.3', 443, '10.0.0.0/8', true],
    ['11.1.2.3', 443, '10.0.0.0/8', false],
    ['[::1]', 443, '::1', true],
    ['::1', 443, '[::1]', true],
    ['::1', 8443, '[::1]:8443', true],
    ['::1', 443, '[::1]:8443', false],
    ['fd00::5', 443, 'fd00::/8', true],
    ['fe80::5', 443, 'fd00::/8', false],
    ['palisade.example.com', 443, '10.0.0.0/8', false],
    ['localhost', 443, ',, ,localhost,', true],
  ];
  for (const [host, port, noProxy, want] of cases)
    assert.equal(matchesNoProxy(host, port, noProxy), want, `${host}:${port} vs NO_PROXY="${noProxy}"`);
});

test('proxy selection: lower case first, empty means unset, NO_PROXY wins, bad values are named', () => {
  const target = new URL('https://palisade.example.com/api');
  assert.equal(proxyForUrl(target, {}), undefined);
  assert.equal(proxyForUrl(target, { HTTPS_PROXY: '' }), undefined);
  assert.equal(proxyForUrl(target, { HTTPS_PROXY: 'http://p:3128' })?.host, 'p:3128');
  assert.equal(proxyForUrl(target, { https_proxy: 'http://low:1', HTTPS_PROXY: 'http://up:2' })?.host, 'low:1');
  assert.equal(proxyForUrl(target, { https_proxy: '', HTTPS_PROXY: 'http://up:2' })?.host, 'up:2');
  assert.equal(proxyForUrl(target, { HTTPS_PROXY: 'p:3128' })?.protocol, 'http:', 'scheme-less means http');
  assert.equal(proxyForUrl(target, { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '.example.com' }), undefined);
  assert.equal(proxyForUrl(target, { HTTPS_PROXY: 'http://p:3128', no_proxy: 'example.com' }), undefined);
  assert.throws(() => proxyForUrl(target, { HTTPS_PROXY: 'socks5://p:1080' }), /socks5: is not supported/);
});

/** Asserts fn throws a PalisadeError whose one-line description (subject: message) matches. */
function throwsDescribed(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PalisadeError, 'a PalisadeError');
    assert.match(e.describe(), re);
    return true;
  });
}

test('client: bad configuration is refused with the input named', () => {
  throwsDescribed(() => createIngestClient({ url: 'not a url', token: 't' }), /^not a url: is not a valid URL/);
  throwsDescribed(
    () => createIngestClient({ url: 'http://x', token: 't' }),
    /^http:\/\/x: the server URL must be https/,
  );
  throwsDescribed(
    () => createIngestClient({ url: 'https://u:p@x', token: 't' }),
    /^x: the server URL must not carry credentials/,
  );
  throwsDescribed(
    () => createIngestClient({ url: 'https://x', token: 't', caFile: '/nonexistent/ca.crt' }),
    /^\/nonexistent\/ca\.crt: cannot read the CA file: ENOENT/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'palisade-ca-bad-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), 'hello');
    throwsDescribed(
      () => createIngestClient({ url: 'https://x', token: 't', caFile: join(dir, 'ca.crt') }),
      /ca\.crt: CA file holds no PEM certificate/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

let ca: TestCa;
let srv: TestIngestServer;
const TOKEN = 'secret-token-abc123';

before(async () => {
  ca = makeCa();
  srv = await startIngestServer(ca, TOKEN);
});
after(async () => {
  await srv.close();
  ca.cleanup();
});

function batch(id: string, n = 3): RuntimeIngestBatch {
  const events = Array.from({ length: n }, (_, i) => execEvent(i));
  return {
    batchId: id,
    source: 'collector',
    node: 'node-a',
    sensorVersion: 'test',
    sentAt: new Date(0).toISOString(),
    alerts: [alertFor(events[0] as ReturnType<typeof execEvent>)],
    events,
  };
}

const fast = { backoffInitialMs: 5, backoffMaxMs: 20, timeoutMs: 10_000 };

test('client: HTTPS with the custom CA, gzip body, bearer token; a resend of the same batch is a duplicate', async () => {
  srv.mode = { kind: 'ok' };
  const client = createIngestClient({ url: srv.url, token: TOKEN, caFile: ca.caFile, env: {}, ...fast });
  assert.equal(client.endpoint, `${srv.url}/api/v1/ingest/runtime`);
  assert.equal(client.proxy, undefined);
  const res = await client.send(batch('direct-1'));
  assert.deepEqual(res, { batchId: 'direct-1', accepted: true, alerts: 1, events: 3, duplicates: 0 });
  const last = srv.received.at(-1);
  assert.equal(last?.gzip, true);
  assert.equal(last?.authorization, `Bearer ${TOKEN}`);
  assert.deepEqual(last?.batch, batch('direct-1'));
  assert.equal((await client.send(batch('direct-1'))).accepted, false);
});

test('client: without the CA the server certificate is refused (and retried as a network error)', async () => {
  srv.mode = { kind: 'ok' };
  const client = createIngestClient({ url: srv.url, token: TOKEN, env: {}, maxAttempts: 2, ...fast });
  await assert.rejects(client.send(batch('no-ca')), (e: unknown) => {
    assert.ok(e instanceof IngestError);
    assert.equal(e.kind, 'retryable');
    assert.match(e.message, /SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify|self.signed/i);
    return true;
  });
  assert.equal(client.stats().retries, 1);
});

test('client: through an HTTP CONNECT proxy from HTTPS_PROXY; NO_PROXY bypasses it', async () => {
  srv.mode = { kind: 'ok' };
  const proxy = await startConnectProxy();
  try {
    const viaProxy = createIngestClient({
      url: srv.url,
      token: TOKEN,
      caFile: ca.caFile,
      env: { HTTPS_PROXY: proxy.url },
      ...fast,
    });
    assert.equal(viaProxy.proxy, proxy.url);
    const before = srv.stored.length;
    await viaProxy.send(batch('proxied-1'));
    await viaProxy.send(batch('proxied-2'));
    assert.equal(proxy.tunnels, 2);
    assert.deepEqual(proxy.targets, [`127.0.0.1:${srv.port}`, `127.0.0.1:${srv.port}`]);
    assert.deepEqual(
      srv.stored.slice(before).map((b) => b.batchId),
      ['proxied-1', 'proxied-2'],
    );

    const bypass = createIngestClient({
      url: srv.url,
      token: TOKEN,
      caFile: ca.caFile,
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.0/8' },
      ...fast,
    });
    assert.equal(bypass.proxy, undefined);
    await bypass.send(batch('bypass-1'));
    assert.equal(proxy.tunnels, 2, 'no new tunnel');
    assert.equal(srv.stored.at(-1)?.batchId, 'bypass-1');
  } finally {
    await proxy.close();
  }
});

/** A server certificate from the test CA valid only for DNS:localhost (no IP address). */
function localhostOnlyCert(testCa: TestCa): TestCa {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: testCa.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  writeFileSync(join(testCa.dir, 'dns-only.ext'), 'subjectAltName=DNS:localhost\n');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'dns.key', '-out', 'dns.csr', '-subj', '/CN=localhost');
  run(
    'x509',
    '-req',
    '-in',
    'dns.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'dns.crt',
    '-days',
    '2',
    '-extfile',
    'dns-only.ext',
  );
  return {
    ...testCa,
    key: readFileSync(join(testCa.dir, 'dns.key'), 'utf8'),
    cert: readFileSync(join(testCa.dir, 'dns.crt'), 'utf8'),
  };
}

test('client: through a proxy the certificate is still checked against the server, not the proxy', async () => {
  // The certificate names only "localhost"; the server URL is its IP address, so the name
  // check must fail — directly, and also when the proxy's own host name is "localhost".
  const dnsOnly = await startIngestServer(localhostOnlyCert(ca), TOKEN);
  const proxy = await startConnectProxy();
  try {
    const refusedAltName = (e: unknown): boolean => {
      assert.ok(e instanceof IngestError, String(e));
      assert.equal(e.kind, 'retryable');
      assert.match(e.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
      return true;
    };
    const direct = createIngestClient({ url: dnsOnly.url, token: TOKEN, caFile: ca.caFile, env: {}, maxAttempts: 1 });
    await assert.rejects(direct.send(batch('dns-only-direct')), refusedAltName);

    const proxyByName = proxy.url.replace('127.0.0.1', 'localhost');
    const viaProxy = createIngestClient({
      url: dnsOnly.url,
      token: TOKEN,
      caFile: ca.caFile,
      env: { HTTPS_PROXY: proxyByName },
      maxAttempts: 1,
    });
    assert.equal(viaProxy.proxy, proxyByName);
    await assert.rejects(viaProxy.send(batch('dns-only-proxied')), refusedAltName);
    assert.equal(proxy.tunnels, 1, 'the tunnel was made: the refusal is the certificate check');
    assert.equal(dnsOnly.requests, 0, 'no request, so the token was never sent');
    assert.equal(dnsOnly.received.length, 0);
  } finally {
    await proxy.close();
    await dnsOnly.close();
  }
});

test('client: 503 and 429 (Retry-After) are retried with the same body; success follows', async () => {
  const client = createIngestClient({
    url: srv.url,
    token: TOKEN,
    caFile: ca.caFile,
    env: {},
    maxAttempts: 5,
    ...fast,
  });
  srv.mode = { kind: 'status', status: 503, times: 2 };
  const r1 = await client.send(batch('retry-503'));
  assert.equal(r1.accepted, true);
  srv.mode = { kind: 'status', status: 429, headers: { 'Retry-After': '0' }, times: 1 };
  const r2 = await client.send(batch('retry-429'));
  assert.equal(r2.accepted, true);
  const st = client.stats();
  assert.equal(st.retries, 3);
  assert.equal(st.byStatus['503'], 2);
  assert.equal(st.byStatus['429'], 1);
  assert.equal(st.byStatus['200'], 2);
});

test('client: retryable failures end in a retryable error after maxAttempts', async () => {
  const client = createIngestClient({
    url: srv.url,
    token: TOKEN,
    caFile: ca.caFile,
    env: {},
    maxAttempts: 3,
    ...fast,
  });
  srv.mode = { kind: 'status', status: 502 };
  try {
    await assert.rejects(
      client.send(batch('always-502')),
      (e: unknown) => e instanceof IngestError && e.kind === 'retryable' && /502/.test(e.message),
    );
    assert.equal(client.stats().requests, 3);
  } finally {
    srv.mode = { kind: 'ok' };
  }
});

test('client: 400, 413 and 401 are not retried; the token never shows in the error', async () => {
  const client = createIngestClient({
    url: srv.url,
    token: TOKEN,
    caFile: ca.caFile,
    env: {},
    maxAttempts: 5,
    ...fast,
  });
  const expectKind = async (status: number, kind: string): Promise<void> => {
    srv.mode = { kind: 'status', status };
    const before = srv.requests;
    await assert.rejects(client.send(batch(`s-${status}`)), (e: unknown) => {
      assert.ok(e instanceof IngestError);
      assert.equal(e.kind, kind);
      assert.equal(e.status, status);
      assert.match(e.message, new RegExp(`test says ${status}`));
      assert.ok(!e.describe().includes(TOKEN));
      return true;
    });
    assert.equal(srv.requests - before, 1, `${status} sent once`);
  };
  try {
    await expectKind(400, 'rejected');
    await expectKind(413, 'too-large');
    await expectKind(401, 'unauthorized');
    await expectKind(403, 'unauthorized');
  } finally {
    srv.mode = { kind: 'ok' };
  }
  // A wrong token is refused by the real check too.
  const wrong = createIngestClient({ url: srv.url, token: 'wrong', caFile: ca.caFile, env: {}, ...fast });
  await assert.rejects(
    wrong.send(batch('wrong-token')),
    (e: unknown) => e instanceof IngestError && e.kind === 'unauthorized',
  );
  assert.notEqual(wrong.tokenFingerprint(), client.tokenFingerprint());
  assert.ok(!wrong.tokenFingerprint().includes('wrong'));
});

test('client: a server that refuses connections is a retryable network error', async () => {
  await srv.down();
  try {
    const client = createIngestClient({
      url: srv.url,
      token: TOKEN,
      caFile: ca.caFile,
      env: {},
      maxAttempts: 2,
      ...fast,
    });
    await assert.rejects(
      client.send(batch('down')),
      (e: unknown) => e instanceof IngestError && e.kind === 'retryable' && /ECONNREFUSED/.test(e.message),
    );
    assert.equal(client.stats().networkErrors, 2);
  } finally {
    await srv.up();
  }
});

test('client: an aborted send stops at once with kind "aborted"', async () => {
  await srv.down();
  try {
    const client = createIngestClient({
      url: srv.url,
      token: TOKEN,
      caFile: ca.caFile,
      env: {},
      maxAttempts: 100,
      backoffInitialMs: 60_000,
    });
    const ctl = new AbortController();
    const p = client.send(batch('abort'), { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await assert.rejects(p, (e: unknown) => e instanceof IngestError && e.kind === 'aborted');
  } finally {
    await srv.up();
  }
});
