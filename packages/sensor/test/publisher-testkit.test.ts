/**
 * Test parts for the publisher and ingest client tests: a real HTTPS runtime-ingest server
 * (certificate from a CA made with `openssl` here), an HTTP CONNECT proxy that counts its
 * tunnels, and small helpers. Its own test checks the server the other tests rely on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import type { Alert, ProcessExecEvent, RuntimeIngestBatch, RuntimeIngestResult } from '@palisade/core';

export interface TestCa {
  dir: string;
  caFile: string;
  key: string;
  cert: string;
  cleanup(): void;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export function makeCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-ca-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=palisade test CA',
  );
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  const ext = join(dir, 'san.ext');
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`]);
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ReceivedBatch {
  batch: RuntimeIngestBatch;
  gzip: boolean;
  authorization: string;
  accepted: boolean;
}

/** What the server answers: normal processing, or a fixed status (with optional headers). */
export type ServerMode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; times?: number }
  /** Stores the batch, then hangs up without answering (a response lost on the way back). */
  | { kind: 'lose-response'; times: number };

export interface TestIngestServer {
  readonly port: number;
  readonly url: string;
  /** Every request that reached the handler, accepted or not, in order. */
  readonly received: ReceivedBatch[];
  /** Batches stored (first time their id was seen), in order. */
  readonly stored: RuntimeIngestBatch[];
  requests: number;
  mode: ServerMode;
  token: string;
  /** Stops listening (connections are refused) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  /** Resolves once `pred` holds over the stored batches, or rejects after timeoutMs. */
  waitFor(pred: (stored: RuntimeIngestBatch[]) => boolean, timeoutMs?: number): Promise<void>;
}

export async function startIngestServer(ca: TestCa, token: string, port = 0): Promise<TestIngestServer> {
  const seen = new Set<string>();
  const waiters: (() => void)[] = [];
  const state: TestIngestServer = {
    port: 0,
    url: '',
    received: [],
    stored: [],
    requests: 0,
    mode: { kind: 'ok' },
    token,
    down: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    up: async () => {
      await new Promise<void>((resolve) => server.listen(state.port, '127.0.0.1', resolve));
    },
    close: async () => {
      if (server.listening) await state.down();
    },
    waitFor: (pred, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): boolean => {
          if (!pred(state.stored)) return false;
          clearTimeout(t);
          resolve();
          return true;
        };
        const t = setTimeout(() => reject(new Error(`ingest server: condition not met in ${timeoutMs} ms`)), timeoutMs);
        if (check()) return;
        const loop = (): void => {
          if (!check()) waiters.push(loop);
        };
        waiters.push(loop);
      }),
  };
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/api/v1/ingest/runtime') return reply(404, { error: 'not found' });
      const mode = state.mode;
      if (mode.kind === 'status') {
        if (mode.times !== undefined && --mode.times <= 0) state.mode = { kind: 'ok' };
        return reply(mode.status, { error: { message: `test says ${mode.status}` } }, mode.headers);
      }
      const authorization = req.headers.authorization ?? '';
      if (authorization !== `Bearer ${state.token}`) return reply(401, { error: { message: 'bad token' } });
      const raw = Buffer.concat(chunks);
      const gz = req.headers['content-encoding'] === 'gzip';
      let batch: RuntimeIngestBatch;
      try {
        batch = JSON.parse((gz ? zlib.gunzipSync(raw) : raw).toString('utf8')) as RuntimeIngestBatch;
      } catch {
        return reply(400, { error: { message: 'unreadable body' } });
      }
      const accepted = !seen.has(batch.batchId);
      state.received.push({ batch, gzip: gz && raw[0] === 0x1f && raw[1] === 0x8b, authorization, accepted });
      if (accepted) {
        seen.add(batch.batchId);
        state.stored.push(batch);
      }
      const result: RuntimeIngestResult = {
        batchId: batch.batchId,
        accepted,
        alerts: batch.alerts.length,
        events: batch.events.length,
        duplicates: accepted ? 0 : batch.alerts.length + batch.events.length,
      };
      if (mode.kind === 'lose-response') {
        if (--mode.times <= 0) state.mode = { kind: 'ok' };
        req.socket.destroy();
      } else reply(200, result);
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  Object.assign(state, { port: addr.port, url: `https://127.0.0.1:${addr.port}` });
  return state;
}

export interface TestProxy {
  readonly url: string;
  tunnels: number;
  /** Targets asked for, as host:port. */
  targets: string[];
  close(): Promise<void>;
}

/** An HTTP proxy that only does CONNECT, only to 127.0.0.1, and counts tunnels. */
export async function startConnectProxy(): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const p: TestProxy = { url: '', tunnels: 0, targets: [], close: async () => undefined };
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    const target = req.url ?? '';
    p.targets.push(target);
    const m = /^127\.0\.0\.1:(\d+)$/.exec(target);
    if (!m) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[1]), '127.0.0.1', () => {
      p.tunnels++;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  return Object.assign(p, {
    url: `http://127.0.0.1:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** A process.exec event with a recognisable id and argv. */
export function execEvent(n: number, exe = '/bin/true'): ProcessExecEvent {
  return {
    id: `ev-${n}`,
    type: 'process.exec',
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n)).toISOString(),
    node: 'node-a',
    proc: {
      pid: 1000 + n,
      ppid: 1,
      uid: 0,
      gid: 0,
      exe,
      name: exe.slice(exe.lastIndexOf('/') + 1),
      argv: [exe, String(n)],
      cwd: '',
      tty: 0,
      ancestry: [],
    },
  };
}

/** A minimal alert over one event. */
export function alertFor(ev: ProcessExecEvent, ruleId = 'test-rule'): Alert {
  return {
    id: `al-${ev.id}`,
    ruleId,
    severity: 'high',
    title: 'test alert',
    output: `exec ${ev.proc.exe}`,
    fields: { 'proc.exe': ev.proc.exe },
    mitre: [],
    tags: [],
    events: [ev],
    time: ev.time,
  };
}

/** Polls `cond` every 10 ms until it holds; throws after timeoutMs (no timing assertion). */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Imported by other test files: run this file's own test only when it is the file being run.
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain)
  test('test ingest server: stores a gzip batch with the right token once, refuses a wrong token', async () => {
    const ca = makeCa();
    const srv = await startIngestServer(ca, 'tok-1');
    try {
      const batch: RuntimeIngestBatch = {
        batchId: 'b1',
        source: 'collector',
        node: 'n',
        sensorVersion: 'v',
        sentAt: new Date(0).toISOString(),
        alerts: [],
        events: [execEvent(1)],
      };
      const post = (token: string): Promise<{ status: number; body: string }> =>
        new Promise((resolve, reject) => {
          const body = zlib.gzipSync(JSON.stringify(batch));
          const req = https.request(
            `${srv.url}/api/v1/ingest/runtime`,
            {
              method: 'POST',
              ca: readFileSync(ca.caFile),
              headers: { Authorization: `Bearer ${token}`, 'Content-Encoding': 'gzip' },
            },
            (res) => {
              let s = '';
              res.on('data', (c: Buffer) => (s += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: s }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      assert.equal((await post('wrong')).status, 401);
      const first = await post('tok-1');
      assert.equal(first.status, 200);
      assert.equal((JSON.parse(first.body) as RuntimeIngestResult).accepted, true);
      assert.equal((JSON.parse((await post('tok-1')).body) as RuntimeIngestResult).accepted, false);
      assert.equal(srv.stored.length, 1);
      assert.equal(srv.received[0]?.gzip, true);
    } finally {
      await srv.close();
      ca.cleanup();
    }
  });
