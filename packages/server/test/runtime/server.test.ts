/**
 * `palisade server` wiring: a real server over HTTP, a cluster registered in its storage, that
 * cluster's ingest token sending a batch, the alert readable with an API token, metrics counting
 * it; with NATS_URL, the same through JetStream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'nats';
import { tempDir } from '@palisade/testkit';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { batch, fixtureEvent } from './helpers.js';

const NATS_URL = process.env['NATS_TEST_URL'] ?? 'nats://127.0.0.1:4222';
const KEY = Buffer.alloc(32, 5);
const ADMIN = 'runtime-test-admin-token-0123456789abcdef';

async function post(s: RunningServer, token: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${s.url}/api/v1/ingest/runtime`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

async function alerts(s: RunningServer): Promise<Array<{ ruleId: string }>> {
  const r = await fetch(`${s.url}/api/v1/alerts`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.status, 200);
  return ((await r.json()) as { items: Array<{ ruleId: string }> }).items;
}

async function run(env: Record<string, string>, nats?: { stream: string; subject: string }): Promise<void> {
  const d = tempDir('palisade-rt-server-');
  const fullEnv = { PALISADE_ADMIN_TOKEN: ADMIN, ...env };
  const config = loadConfig({ env: fullEnv, flags: { port: '0', dataDir: join(d.path, 'data') } });
  const s = await startServer(config, {
    env: fullEnv,
    logStream: false,
    storage: { secretKey: KEY },
    consoleDir: null,
    ...(nats ? { runtime: { nats } } : {}),
  });
  try {
    assert.equal(s.runtime.mode, nats ? 'nats' : 'direct');
    const { ingestToken } = await s.storage.clusters.create({ name: 'prod' });
    const b = batch({ batchId: 'srv-1', events: [fixtureEvent('fx-001')] });
    const first = await post(s, ingestToken, b);
    assert.equal(first.status, nats ? 202 : 200, JSON.stringify(first.json));
    assert.equal((await post(s, 'pal_in_not-a-token-not-a-token', b)).status, 401);
    let found: Array<{ ruleId: string }> = [];
    for (let i = 0; i < 400 && found.length === 0; i++) {
      found = await alerts(s);
      if (found.length === 0) await sleep(25);
    }
    assert.ok(found.some((a) => a.ruleId === 'PAL-RT-001'));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /palisade_runtime_batches_total\{outcome="stored"\} 1/);
    assert.match(metrics, /palisade_runtime_alerts_total [1-9]/);
  } finally {
    await s.close();
    d.cleanup();
  }
}

test('a started server stores what a registered cluster sends, without NATS', async () => {
  await run({});
});

test('a started server with NATS_URL queues batches on JetStream and stores them', async () => {
  const tag = randomBytes(5).toString('hex');
  const stream = `PALISADE_RUNTIME_TEST_${tag}`;
  try {
    await run({ NATS_URL }, { stream, subject: `palisade.test.${tag}.batches` });
  } finally {
    const nc = await connect({ servers: NATS_URL });
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
});
