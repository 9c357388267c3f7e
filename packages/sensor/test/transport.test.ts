import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FrameDecoder,
  addCounterDeltas,
  encodeFrame,
  encodeMessage,
  parseCollectorMessage,
  parsePublisherMessage,
  transportItemProblem,
} from '../src/transport.js';
import { TransportClient } from '../src/transport-client.js';
import { serveTransport, type TransportServer } from '../src/transport-server.js';
import { alertFor, execEvent, until } from './publisher-testkit.test.js';

test('frames: any chunking of a stream gives back the same frames', () => {
  const payloads = ['{"a":1}', '', 'x'.repeat(70_000), '{"ü":"€"}'];
  const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
  for (const step of [1, 2, 3, 5, 4096, stream.length]) {
    const d = new FrameDecoder();
    const out: string[] = [];
    for (let i = 0; i < stream.length; i += step)
      for (const f of d.push(stream.subarray(i, i + step))) out.push(f.toString());
    assert.deepEqual(out, payloads, `chunks of ${step}`);
    assert.equal(d.pending, 0);
  }
});

test('frames: a length above the limit stops the stream with an error', () => {
  const d = new FrameDecoder(16);
  assert.deepEqual(
    d.push(encodeFrame('short')).map((f) => f.toString()),
    ['short'],
  );
  assert.deepEqual(d.push(encodeFrame('x'.repeat(17))), []);
  assert.match(d.error ?? '', /frame length 17 exceeds the limit of 16/);
  assert.deepEqual(d.push(encodeFrame('ok')), [], 'nothing after an error');
});

test('messages: valid ones parse, protocol violations name what is wrong', () => {
  const hello = parseCollectorMessage(
    encodeMessage({ t: 'hello', v: 1, session: 's', node: 'n', sensorVersion: 'x' }).subarray(4),
  );
  assert.equal(hello.t, 'hello');
  assert.deepEqual(parsePublisherMessage(Buffer.from('{"t":"ack","seq":3}')), { t: 'ack', seq: 3 });
  assert.throws(() => parseCollectorMessage(Buffer.from('nope')), /not JSON/);
  assert.throws(() => parseCollectorMessage(Buffer.from('[]')), /not a JSON object/);
  assert.throws(() => parseCollectorMessage(Buffer.from('{"t":"items","seq":0,"items":[]}')), /positive "seq"/);
  assert.throws(() => parseCollectorMessage(Buffer.from('{"t":"items","seq":1}')), /"items" array/);
  assert.throws(() => parseCollectorMessage(Buffer.from('{"t":"hello"}')), /valid "session"/);
  assert.throws(() => parseCollectorMessage(Buffer.from('{"t":"bye"}')), /unknown message type "bye"/);
  assert.throws(() => parsePublisherMessage(Buffer.from('{"t":"ack","seq":-1}')), /unexpected message/);
});

test('items: well-formed alerts, events and counters pass; others are named', () => {
  const ev = execEvent(1);
  assert.equal(transportItemProblem({ k: 'event', event: ev }), undefined);
  assert.equal(transportItemProblem({ k: 'alert', alert: alertFor(ev) }), undefined);
  assert.equal(
    transportItemProblem({ k: 'counters', counters: { seen: { a: 1 }, kernelDrops: 0, userDrops: 2, spoolDrops: 0 } }),
    undefined,
  );
  assert.match(transportItemProblem({ k: 'event', event: { id: 1 } }) ?? '', /event without/);
  assert.match(transportItemProblem({ k: 'alert', alert: { id: 'a', ruleId: 'r' } }) ?? '', /without "events"/);
  assert.match(transportItemProblem({ k: 'counters', counters: { seen: { a: -1 } } }) ?? '', /non-count/);
  assert.match(transportItemProblem({ k: 'zzz' }) ?? '', /unknown item kind/);
  assert.match(transportItemProblem(7) ?? '', /not an object/);
});

test('counter deltas add up per type', () => {
  assert.deepEqual(
    addCounterDeltas(
      { seen: { 'process.exec': 2 }, kernelDrops: 1, userDrops: 0, spoolDrops: 3 },
      { seen: { 'process.exec': 1, 'network.connect': 4 }, kernelDrops: 0, userDrops: 5, spoolDrops: 1 },
    ),
    { seen: { 'network.connect': 4, 'process.exec': 3 }, kernelDrops: 1, userDrops: 5, spoolDrops: 4 },
  );
});

interface Received {
  session: string;
  seq: number;
  items: unknown[];
}

/** A publisher end that keeps what it receives in memory, with a lastSeq per session. */
async function memoryServer(socketPath: string, received: Received[], lastSeq = new Map<string, number>()) {
  const server = await serveTransport({
    socketPath,
    lastSeq: (s) => lastSeq.get(s) ?? 0,
    receive: async (session, seq, items) => {
      received.push({ session, seq, items });
      lastSeq.set(session, seq);
    },
  });
  return { server, lastSeq };
}

function eventIds(received: Received[]): string[] {
  return received.flatMap((r) =>
    r.items.flatMap((i) => {
      const it = i as { k: string; event?: { id: string } };
      return it.k === 'event' && it.event ? [it.event.id] : [];
    }),
  );
}

test('transport: items arrive in order and acknowledged; the socket file is mode 0660', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
  const socketPath = join(dir, 'pub.sock');
  const received: Received[] = [];
  const { server } = await memoryServer(socketPath, received);
  const client = new TransportClient({ socketPath, node: 'n1', frameMaxItems: 7 });
  try {
    assert.equal(statSync(socketPath).mode & 0o777, 0o660);
    client.start();
    for (let i = 0; i < 100; i++) assert.equal(client.offer({ k: 'event', event: execEvent(i) }), true);
    client.addCounters({ seen: { 'process.exec': 100 }, kernelDrops: 0, userDrops: 0, spoolDrops: 0 });
    assert.equal(await client.flush(30_000), true);
    assert.deepEqual(
      eventIds(received),
      Array.from({ length: 100 }, (_, i) => `ev-${i}`),
    );
    assert.ok(received.every((r) => r.session === client.session));
    assert.deepEqual(
      received.map((r) => r.seq),
      received.map((_, i) => i + 1),
    );
    const counters = received.flatMap((r) => r.items).filter((i) => (i as { k: string }).k === 'counters');
    assert.equal(counters.length, 1);
    assert.equal(client.stats().bufferedItems, 0);
    assert.equal(client.stats().itemsAcked, 100);
  } finally {
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transport: with the publisher gone the buffer holds up to its bound, drops beyond it are counted, and everything kept is delivered after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
  const socketPath = join(dir, 'pub.sock');
  const logs: string[] = [];
  const client = new TransportClient({
    socketPath,
    node: 'n1',
    maxBufferedItems: 100,
    eventShare: 0.8,
    reconnectInitialMs: 10,
    reconnectMaxMs: 50,
    log: (l) => logs.push(l),
  });
  let server: TransportServer | undefined;
  try {
    client.start();
    let kept = 0;
    for (let i = 0; i < 150; i++) if (client.offer({ k: 'event', event: execEvent(i) })) kept++;
    // Events stop at 80% of the bound; alerts may use the rest.
    assert.equal(kept, 80);
    let alertsKept = 0;
    for (let i = 0; i < 30; i++) if (client.offer({ k: 'alert', alert: alertFor(execEvent(1000 + i)) })) alertsKept++;
    assert.equal(alertsKept, 20);
    assert.equal(client.bufferedItems(), 100);
    assert.deepEqual(client.stats().dropped, { alert: 10, event: 70 });
    assert.equal(client.droppedItems(), 80);
    await until(() => logs.some((l) => l.includes('cannot reach the publisher')), 'outage log line');

    const received: Received[] = [];
    server = (await memoryServer(socketPath, received)).server;
    assert.equal(await client.flush(30_000), true);
    assert.deepEqual(
      eventIds(received),
      Array.from({ length: 80 }, (_, i) => `ev-${i}`),
    );
    assert.equal(received.flatMap((r) => r.items).filter((i) => (i as { k: string }).k === 'alert').length, 20);
    assert.ok(logs.some((l) => l.includes('connected to the publisher')));
  } finally {
    await client.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transport: frames unacknowledged when the publisher dies are resent; those it had stored are not stored twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
  const socketPath = join(dir, 'pub.sock');
  const received: Received[] = [];
  const lastSeq = new Map<string, number>();
  // First publisher: stores frames but never acknowledges them (dies before acking).
  let stored = 0;
  const silent = await serveTransport({
    socketPath,
    lastSeq: (s) => lastSeq.get(s) ?? 0,
    receive: (session, seq, items) => {
      received.push({ session, seq, items });
      lastSeq.set(session, seq);
      stored++;
      return new Promise<void>(() => undefined); // never resolves: no ack
    },
  });
  const client = new TransportClient({
    socketPath,
    node: 'n1',
    frameMaxItems: 5,
    reconnectInitialMs: 10,
    reconnectMaxMs: 50,
  });
  let second: TransportServer | undefined;
  try {
    client.start();
    for (let i = 0; i < 5; i++) client.offer({ k: 'event', event: execEvent(i) });
    await until(() => stored === 1, 'the first frame stored');
    await silent.close();
    for (let i = 5; i < 10; i++) client.offer({ k: 'event', event: execEvent(i) });
    second = (await memoryServer(socketPath, received, lastSeq)).server;
    assert.equal(await client.flush(30_000), true);
    assert.deepEqual(
      eventIds(received),
      Array.from({ length: 10 }, (_, i) => `ev-${i}`),
      'frame 1 once (the welcome told the client it was stored), then the rest',
    );
  } finally {
    await client.close();
    await second?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transport: an oversize item is dropped and counted, never sent', () => {
  const client = new TransportClient({ socketPath: '/nonexistent/x.sock', node: 'n', frameMaxBytes: 2048 });
  const big = execEvent(1);
  big.proc.argv = ['x'.repeat(4096)];
  assert.equal(client.offer({ k: 'event', event: big }), false);
  assert.equal(client.stats().oversize, 1);
  assert.equal(client.bufferedItems(), 0);
});

test('transport server: refuses a path that is not a socket, and a socket another publisher listens on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
  try {
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    const opts = { lastSeq: () => 0, receive: async () => undefined };
    await assert.rejects(serveTransport({ socketPath: file, ...opts }), /exists and is not a socket/);
    const live = join(dir, 'live.sock');
    const first = await serveTransport({ socketPath: live, ...opts });
    await assert.rejects(serveTransport({ socketPath: live, ...opts }), /another publisher is already listening/);
    await first.close();
    // A stale socket file, left behind the way a killed publisher leaves it, is replaced.
    const stalePath = join(dir, 'stale.sock');
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    assert.equal(statSync(stalePath).isSocket(), true);
    const again = await serveTransport({ socketPath: stalePath, ...opts });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('transport server: a protocol violation gets an error message and the connection is closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
  const socketPath = join(dir, 'pub.sock');
  const server = await serveTransport({ socketPath, lastSeq: () => 0, receive: async () => undefined });
  try {
    const reply = await new Promise<string>((resolve) => {
      const s = net.createConnection(socketPath, () => s.write(encodeFrame('{"t":"items","seq":1,"items":[]}')));
      const d = new FrameDecoder();
      let text = '';
      s.on('data', (c: Buffer) => {
        for (const f of d.push(c)) text += f.toString();
      });
      s.on('close', () => resolve(text));
    });
    assert.match(reply, /"t":"error".*items before hello/);
    assert.equal(server.stats().protocolErrors, 1);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A raw connection that records the publisher's messages; `closed` resolves with them. */
function rawConnection(socketPath: string): { sock: net.Socket; messages: string[]; closed: Promise<string[]> } {
  const sock = net.createConnection(socketPath);
  const d = new FrameDecoder();
  const messages: string[] = [];
  sock.on('data', (c: Buffer) => {
    for (const f of d.push(c)) messages.push(f.toString());
  });
  sock.on('error', () => undefined);
  const closed = new Promise<string[]>((resolve) => sock.on('close', () => resolve(messages)));
  return { sock, messages, closed };
}

const hello = (session: string): Buffer =>
  encodeMessage({ t: 'hello', v: 1, session, node: 'n', sensorVersion: 'test' });

test(
  'transport server: the socket never exists with a wider mode, its new directory is 0750',
  { timeout: 30_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
    const socketPath = join(base, 'run', 'pub.sock');
    // The mode the socket file has right when listen() has created it, before anything else runs.
    const modesAtBind: number[] = [];
    const proto = net.Server.prototype as unknown as { listen: (this: net.Server, ...a: unknown[]) => net.Server };
    const listen = proto.listen;
    proto.listen = function (this: net.Server, ...args: unknown[]): net.Server {
      const r = listen.apply(this, args);
      if (args[0] === socketPath) modesAtBind.push(statSync(socketPath).mode & 0o777);
      return r;
    };
    // A permissive process umask: what was created with the default mode shows it.
    const umask = process.umask(0);
    let server: TransportServer | undefined;
    try {
      server = await serveTransport({ socketPath, lastSeq: () => 0, receive: async () => undefined });
      assert.equal(process.umask(0), 0, 'the umask is restored');
      assert.deepEqual(modesAtBind, [0o660], 'created 0660, not 0777 then chmod');
      assert.equal(statSync(socketPath).mode & 0o777, 0o660);
      assert.equal(statSync(join(base, 'run')).mode & 0o777, 0o750);
    } finally {
      proto.listen = listen;
      process.umask(umask);
      await server?.close();
      rmSync(base, { recursive: true, force: true });
    }
  },
);

test(
  'transport server: connections are capped; a silent one is closed at the hello deadline',
  { timeout: 30_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
    const socketPath = join(dir, 'pub.sock');
    const logs: string[] = [];
    const server = await serveTransport({
      socketPath,
      lastSeq: () => 0,
      receive: async () => undefined,
      maxConnections: 2,
      helloTimeoutMs: 300,
      log: (l) => logs.push(l),
    });
    try {
      const a = rawConnection(socketPath);
      const b = rawConnection(socketPath);
      a.sock.write(hello('s-a'));
      await until(() => a.messages.length === 1 && server.stats().openConnections === 2, 'two connections open');
      assert.match(a.messages[0] ?? '', /"t":"welcome"/);
      const refused = await rawConnection(socketPath).closed;
      assert.deepEqual(refused, ['{"t":"error","message":"too many connections (2 open)"}']);
      assert.equal(server.stats().refusedConnections, 1);
      // b never says hello: closed at the deadline, which frees its place.
      assert.deepEqual(await b.closed, ['{"t":"error","message":"no hello within 300 ms"}']);
      assert.equal(server.stats().timedOutConnections, 1);
      await until(() => server.stats().openConnections === 1, 'its place freed');
      const c = rawConnection(socketPath);
      c.sock.write(hello('s-c'));
      await until(() => c.messages.length === 1, 'a new connection is welcome again');
      assert.match(c.messages[0] ?? '', /"t":"welcome"/);
      assert.ok(logs.some((l) => /refusing collector connections: 2 already open/.test(l)));
      a.sock.destroy();
      c.sock.destroy();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'transport server: an idle connection is closed; a busy one is not; a big first frame is refused',
  { timeout: 30_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
    const socketPath = join(dir, 'pub.sock');
    let release: () => void = () => undefined;
    const server = await serveTransport({
      socketPath,
      lastSeq: () => 0,
      // The first frame takes as long as the test wants: the connection is busy, not idle.
      receive: (_s, seq) => (seq === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve()),
      idleTimeoutMs: 200,
    });
    try {
      const idle = rawConnection(socketPath);
      idle.sock.write(hello('s-idle'));
      const closed = await idle.closed;
      assert.equal(closed.length, 2, JSON.stringify(closed));
      assert.match(closed[0] ?? '', /"t":"welcome"/);
      assert.equal(closed[1], '{"t":"error","message":"no traffic for 200 ms"}');

      const busy = rawConnection(socketPath);
      busy.sock.write(Buffer.concat([hello('s-busy'), encodeMessage({ t: 'items', seq: 1, items: [] })]));
      await until(() => busy.messages.length === 1, 'welcome');
      await new Promise((r) => setTimeout(r, 600)); // three idle periods while the frame is stored
      assert.equal(busy.sock.destroyed, false, 'not closed while its frame is being stored');
      release();
      await until(() => busy.messages.some((m) => m === '{"t":"ack","seq":1}'), 'the ack');
      busy.sock.destroy();

      const big = rawConnection(socketPath);
      big.sock.write(encodeFrame(JSON.stringify({ t: 'hello', v: 1, session: 's', node: 'x'.repeat(5000) })));
      const bigClosed = await big.closed;
      assert.match(bigClosed[0] ?? '', /first frame length \d+ exceeds the limit of 4096 bytes/);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'transport server: memory per connection is bounded while the spool does not keep up',
  { timeout: 30_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-tr-'));
    const socketPath = join(dir, 'pub.sock');
    const server = await serveTransport({
      socketPath,
      lastSeq: () => 0,
      receive: () => new Promise<void>(() => undefined), // the spool never finishes
      maxPendingFrames: 1000,
      maxPendingBytes: 256 * 1024,
    });
    try {
      const c = rawConnection(socketPath);
      c.sock.write(hello('s-flood'));
      await until(() => c.messages.length === 1, 'welcome');
      // 64 MiB offered in 32 KiB frames; the server must stop reading long before.
      const item = { k: 'event' as const, event: { ...execEvent(1), id: 'x'.repeat(32 * 1024) } };
      let seq = 0;
      const pump = (): void => {
        while (seq < 2048 && c.sock.write(encodeMessage({ t: 'items', seq: ++seq, items: [item] })));
      };
      c.sock.on('drain', pump);
      pump();
      // The kernel buffers fill once the server pauses: the client's writes stop draining.
      let last = -1;
      await until(() => {
        const now = server.stats().bufferedBytes;
        const stable = now === last && c.sock.writableLength > 0;
        last = now;
        return stable;
      }, 'the server stops reading');
      const held = server.stats().bufferedBytes;
      assert.ok(held > 0 && held <= 256 * 1024 + 64 * 1024 + 33 * 1024, `bounded: ${held} bytes held`);
      assert.ok(seq < 2048, `the client was held back (${seq} frames written)`);
      c.sock.destroy();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
