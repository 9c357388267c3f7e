/**
 * Review findings on the JetStream path, against the NATS server on this machine
 * (NATS_TEST_URL, default nats://127.0.0.1:4222), each test with a stream, subjects and durable of
 * its own, deleted afterwards: poison messages are dead-lettered instead of retried forever, a
 * message is checked as strictly as an HTTP body (inflated size, envelope, batch, cluster), a
 * batch that keeps failing is given up after maxDeliver deliveries, the consume loop comes back
 * when its consumer is deleted under it, and NATS_URL credentials are used (a second NATS server,
 * started here with a user and password).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { AckPolicy, connect, type Msg, type NatsConnection } from 'nats';
import { tempDir } from '@palisade/testkit';
import { createRuntimePipeline, type NatsPipelineOptions, type RuntimePipeline } from '../../src/runtime/pipeline.js';
import { decodeEnvelope, natsConnectOptions, openJetStream } from '../../src/runtime/nats.js';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { TestClock } from '../storage/harness.js';
import { batch, builtinEngine, fixtureEvent } from './helpers.js';

const NATS_URL = process.env['NATS_TEST_URL'] ?? 'nats://127.0.0.1:4222';

function natsNames(): NatsPipelineOptions & { deadSubject: string } {
  const tag = randomBytes(5).toString('hex');
  return {
    url: NATS_URL,
    stream: `PALISADE_RUNTIME_TEST_${tag}`,
    subject: `palisade.test.${tag}.batches`,
    deadSubject: `palisade.test.${tag}.dead`,
    durable: 'palisade-detect-store',
    name: `palisade-test-${tag}`,
    maxBytes: 256 * 1024 * 1024,
    retryDelayMs: 50,
    restartDelayMs: 100,
  };
}

/** Poll until `check` is true; bounded by time and count. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 4000; i++) {
    if (await check()) return;
    if (Date.now() > deadline) break;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

interface Fixture {
  storage: Storage;
  pipeline: RuntimePipeline;
  names: ReturnType<typeof natsNames>;
  nc: NatsConnection;
  dead: Msg[];
  prod: string;
  close(): Promise<void>;
}

async function fixture(over: Partial<NatsPipelineOptions> = {}, wrap?: (s: Storage) => Storage): Promise<Fixture> {
  const names = { ...natsNames(), ...over };
  const dir = tempDir('palisade-rt-nats-hard-');
  const storage = await openStorage({ dataDir: dir.path, secretKey: Buffer.alloc(32, 7) });
  const prod = (await storage.clusters.create({ name: 'prod' })).cluster.id;
  const nc = await connect({ servers: NATS_URL });
  const dead: Msg[] = [];
  // Subscribed before anything is published: dead letters are core NATS messages.
  nc.subscribe(names.deadSubject, { callback: (_err, m) => void dead.push(m) });
  await nc.flush();
  const pipeline = createRuntimePipeline({
    storage: wrap ? wrap(storage) : storage,
    engine: builtinEngine(),
    clock: new TestClock(),
    nats: names,
  });
  await pipeline.start();
  return {
    storage,
    pipeline,
    names,
    nc,
    dead,
    prod,
    async close() {
      await pipeline.close();
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(names.stream ?? '').catch(() => undefined);
      await nc.close();
      await storage.close();
      dir.cleanup();
    },
  };
}

function envelope(clusterId: string, b: unknown): Buffer {
  return gzipSync(
    JSON.stringify({
      v: 1,
      clusterId,
      clusterName: 'prod',
      receivedAt: '2026-03-01T10:05:00.000Z',
      part: 1,
      parts: 1,
      batch: b,
    }),
  );
}

test('poison messages are dead-lettered at once with the reason, and the consumer goes on', async () => {
  const f = await fixture();
  try {
    const js = f.nc.jetstream();
    const deepAudit = (() => {
      const ev = fixtureEvent('fx-044');
      if (ev.type === 'k8s.audit') ev.audit.requestObject = '__DEEP__';
      const text = JSON.stringify({
        v: 1,
        clusterId: f.prod,
        clusterName: 'prod',
        receivedAt: '2026-03-01T10:05:00.000Z',
        part: 1,
        parts: 1,
        batch: batch({ batchId: 'deep', events: [ev] }),
      });
      return gzipSync(text.replace('"__DEEP__"', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)));
    })();
    const poison: Array<[string, Uint8Array, RegExp]> = [
      ['not gzip', Buffer.from('{"v":1}'), /^NATS message: not gzip$/],
      ['invalid batch', envelope(f.prod, { ...batch({ batchId: 'bad' }), extra: 1 }), /^batch\.extra: unknown field$/],
      // 20 MiB of spaces in about 20 KiB: inflating stops at INGEST_LIMITS.maxBytes plus the envelope's room.
      [
        'gzip bomb',
        gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20), { level: 9 }),
        /^NATS message: larger than 16842752 bytes once decompressed$/,
      ],
      [
        'unknown cluster',
        envelope('no-such-cluster', batch({ batchId: 'ghost', events: [fixtureEvent('fx-001')] })),
        /^clusterId no-such-cluster: no such cluster/,
      ],
      ['deep audit body', deepAudit, /^batch\.events\[0\]\.audit\.requestObject(\.a)+: nested deeper than 64 levels$/],
    ];
    for (const [, data] of poison) await js.publish(f.names.subject ?? '', data);
    await until('every poison message dead-lettered', () => f.dead.length >= poison.length);
    for (const [name, data, reason] of poison) {
      const d = f.dead.find((m) => Buffer.from(m.data).equals(Buffer.from(data)));
      assert.ok(d, `${name}: dead-lettered with its original bytes`);
      assert.match(d.headers?.get('Palisade-Reason') ?? '', reason, name);
      assert.equal(d.headers?.get('Palisade-Deliveries'), '1', `${name}: not retried`);
      assert.equal(d.headers?.get('Palisade-Stream'), f.names.stream);
    }
    // Nothing of them was stored, and a good batch behind them goes through.
    assert.equal((await f.storage.alerts.list({})).total, 0);
    await f.pipeline.submit(
      { clusterId: f.prod, clusterName: 'prod' },
      batch({ batchId: 'good', events: [fixtureEvent('fx-001')] }),
    );
    await until('the good batch stored', async () => (await f.storage.alerts.list({})).total === 1);
    const transport = f.pipeline.transport();
    assert.ok(transport);
    await until('the consumer to drain', async () => (await transport.backlog()) === 0);
    assert.equal(f.pipeline.stats().deadLettered, poison.length);
  } finally {
    await f.close();
  }
});

test('a batch that keeps failing is retried at most maxDeliver times with a growing delay, then dead-lettered', async () => {
  let failing = true;
  const attempts: number[] = [];
  const f = await fixture({ maxDeliver: 3 }, (s) => ({
    ...s,
    alerts: {
      ...s.alerts,
      ingest: (input) => {
        if (!failing) return s.alerts.ingest(input);
        attempts.push(Date.now());
        // What the database driver throws when the connection drops: transient, so retried.
        return Promise.reject(new Error('Connection terminated unexpectedly'));
      },
    },
  }));
  try {
    const cluster = { clusterId: f.prod, clusterName: 'prod' };
    await f.pipeline.submit(cluster, batch({ batchId: 'stuck', events: [fixtureEvent('fx-001')] }));
    await until('the batch dead-lettered', () => f.dead.length === 1);
    assert.equal(attempts.length, 3, 'delivered maxDeliver times');
    const [d] = f.dead;
    assert.equal(d?.headers?.get('Palisade-Deliveries'), '3');
    assert.equal(d?.headers?.get('Palisade-Batch'), 'stuck');
    assert.equal(d?.headers?.get('Palisade-Cluster'), f.prod);
    assert.equal(d?.headers?.get('Palisade-Reason'), 'Connection terminated unexpectedly');
    assert.equal(f.pipeline.stats().deadLettered, 1);

    // The database is back: the next batch is stored; nothing is stuck in front of it.
    failing = false;
    await f.pipeline.submit(cluster, batch({ batchId: 'after', events: [fixtureEvent('fx-001')] }));
    await until('the next batch stored', async () => (await f.storage.alerts.list({})).total === 1);
    const transport = f.pipeline.transport();
    assert.ok(transport);
    await until('the consumer to drain', async () => (await transport.backlog()) === 0);
    assert.equal(f.dead.length, 1);
  } finally {
    await f.close();
  }
});

test('the consume loop restarts when its consumer is deleted under it', async () => {
  const f = await fixture();
  try {
    const cluster = { clusterId: f.prod, clusterName: 'prod' };
    await f.pipeline.submit(cluster, batch({ batchId: 'before', events: [fixtureEvent('fx-001')] }));
    await until('the first batch stored', async () => (await f.storage.alerts.list({})).total === 1);
    const jsm = await f.nc.jetstreamManager();
    await jsm.consumers.delete(f.names.stream ?? '', f.names.durable ?? '');
    await f.pipeline.submit(
      cluster,
      batch({ batchId: 'after', events: [{ ...fixtureEvent('fx-001'), id: 'fx-001-again' }] }),
    );
    await until('the batch sent after the deletion stored', async () => (await f.storage.alerts.list({})).total === 2);
    const info = await jsm.consumers.info(f.names.stream ?? '', f.names.durable ?? '');
    assert.equal(info.config.max_deliver, 10, 'the consumer was created again, with a finite max_deliver');
  } finally {
    await f.close();
  }
});

test('a consumer left with unlimited deliveries by an older version is brought to a finite max_deliver', async () => {
  const names = natsNames();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.add({ name: names.stream ?? '', subjects: [names.subject ?? ''] });
    await jsm.consumers.add(names.stream ?? '', {
      durable_name: names.durable ?? '',
      ack_policy: AckPolicy.Explicit,
      max_deliver: -1,
    });
    const t = await openJetStream(names);
    await t.close();
    const info = await jsm.consumers.info(names.stream ?? '', names.durable ?? '');
    assert.equal(info.config.max_deliver, 10);
  } finally {
    await jsm.streams.delete(names.stream ?? '').catch(() => undefined);
    await nc.close();
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A NATS server of its own on a loopback port, with JetStream and a user and password. */
async function natsWithPassword(user: string, pass: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = tempDir('palisade-nats-auth-');
  const port = await freePort();
  const child: ChildProcess = spawn(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir.path, 'js'), '--user', user, '--pass', pass],
    { stdio: 'ignore' },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
    dir.cleanup();
  };
  // Ready when it accepts a login.
  for (let i = 0; i < 200; i++) {
    try {
      const nc = await connect({ servers: `127.0.0.1:${port}`, user, pass, timeout: 500 });
      await nc.close();
      return { url: `127.0.0.1:${port}`, stop };
    } catch {
      if (child.exitCode !== null) break;
      await sleep(50);
    }
  }
  await stop();
  throw new Error('nats-server with a password did not start');
}

test('NATS_URL credentials (user:password@) are used, and a wrong password fails naming NATS_URL without echoing it', async () => {
  const server = await natsWithPassword('palisade', 's3cret/with:chars');
  try {
    const host = server.url;
    const ok = await openJetStream({
      url: `nats://palisade:${encodeURIComponent('s3cret/with:chars')}@${host}`,
      stream: 'PALISADE_AUTH_TEST',
      subject: 'palisade.auth.batches',
    });
    try {
      const out = await ok.publish(
        { clusterId: 'c-1', clusterName: 'prod' },
        batch({ batchId: 'auth-1' }),
        '2026-03-01T10:05:00.000Z',
      );
      assert.deepEqual(out, { duplicate: false, parts: 1 });
      await ok.deleteStream();
    } finally {
      await ok.close();
    }
    for (const url of [`nats://palisade:wrong-password@${host}`, `nats://${host}`]) {
      await assert.rejects(
        openJetStream({ url, stream: 'PALISADE_AUTH_TEST' }),
        (err: Error & { code?: string; subject?: string }) => {
          assert.equal(err.subject, 'NATS_URL');
          assert.equal(err.code, 'E_AUTH', err.message);
          assert.ok(!err.message.includes('wrong-password'), err.message);
          return true;
        },
      );
    }
  } finally {
    await server.stop();
  }
});

test('NATS_URL credentials are taken out of the server list; a token, mixed credentials and a missing creds file', () => {
  const pw = natsConnectOptions('nats://palisade:p%40ss@nats-a:4222, nats://palisade:p%40ss@nats-b:4222');
  assert.deepEqual(pw, { servers: ['nats://nats-a:4222', 'nats://nats-b:4222'], user: 'palisade', pass: 'p@ss' });
  assert.deepEqual(natsConnectOptions('nats://s3cr3t-token@nats:4222'), {
    servers: ['nats://nats:4222'],
    token: 's3cr3t-token',
  });
  assert.deepEqual(natsConnectOptions('127.0.0.1:4222'), { servers: ['127.0.0.1:4222'] });
  for (const [url, creds, message] of [
    ['nats://a:one@n1:4222,nats://a:two@n2:4222', undefined, 'the servers carry different credentials'],
    ['nats://a:one@n1:4222', '/etc/nats/palisade.creds', 'give credentials in NATS_URL or a credentials file'],
    ['nats://n1:4222', '/nonexistent/palisade.creds', 'cannot read the NATS credentials file'],
  ] as const) {
    assert.throws(
      () => natsConnectOptions(url, creds),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'E_CONFIG');
        assert.ok(err.message.startsWith(message), err.message);
        assert.ok(!err.message.includes('one') && !err.message.includes('two'), 'no password in the message');
        return true;
      },
    );
  }
});

test('a part whose id does not carry its part number is refused; a well-formed part passes the batch checks', async () => {
  const part = (id: string): Buffer =>
    gzipSync(
      JSON.stringify({
        v: 1,
        clusterId: 'c-1',
        clusterName: 'prod',
        receivedAt: '2026-03-01T10:05:00.000Z',
        part: 2,
        parts: 3,
        batch: batch({ batchId: id }),
      }),
    );
  assert.equal((await decodeEnvelope(part('node-a-7:2/3'))).batch.batchId, 'node-a-7:2/3');
  await assert.rejects(decodeEnvelope(part('node-a-7:1/3')), /a part's id must end with :2\/3/);
  await assert.rejects(decodeEnvelope(part('bad id:2/3')), (err: Error & { subject?: string }) => {
    assert.equal(err.subject, 'batch.batchId');
    return true;
  });
});
