/** Recorded events (the rule library's fixtures), batches made of them, and an app with runtime ingest. */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Alert, Clock, RuntimeEvent, RuntimeIngestBatch } from '@palisade/core';
import { createApp } from '../../src/http/app.js';
import { createClusterIngestAuthenticator } from '../../src/runtime/auth.js';
import { loadRuntimeEngine } from '../../src/runtime/engine.js';
import { createRuntimePipeline, type NatsPipelineOptions, type RuntimePipeline } from '../../src/runtime/pipeline.js';
import type { IngestRateLimitOptions } from '../../src/runtime/rate-limit.js';
import type { Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';

interface FixtureLine {
  rule: string;
  fires: boolean;
  event: RuntimeEvent;
}

const FIXTURES = join(
  dirname(createRequire(import.meta.url).resolve('@palisade/rules/package.json')),
  'test',
  'fixtures',
  'builtin-events.jsonl',
);

let cached: FixtureLine[] | undefined;

/** Every recorded fixture event with the rule it was recorded for and whether it fires. */
export function fixtures(): FixtureLine[] {
  cached ??= readFileSync(FIXTURES, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FixtureLine);
  return structuredClone(cached);
}

/** The recorded event with this id (a fresh copy). */
export function fixtureEvent(id: string): RuntimeEvent {
  const f = fixtures().find((l) => l.event.id === id);
  if (!f) throw new Error(`no fixture event ${id}`);
  return f.event;
}

/** A copy of a recorded event under a new id and time (as the sensor would record the same act again). */
export function again(id: string, newId: string, time: string): RuntimeEvent {
  return { ...fixtureEvent(id), id: newId, time };
}

export function batch(over: Partial<RuntimeIngestBatch> & { batchId: string }): RuntimeIngestBatch {
  return {
    source: 'collector',
    node: 'node-a',
    sensorVersion: '0.1.0',
    sentAt: '2026-03-01T10:05:00.000Z',
    alerts: [],
    events: [],
    ...over,
  };
}

let engine: ReturnType<typeof loadRuntimeEngine> | undefined;

/** The built-in rule library, loaded once per test file. */
export function builtinEngine(): ReturnType<typeof loadRuntimeEngine>['engine'] {
  engine ??= loadRuntimeEngine();
  if (engine.errors.length > 0) throw new Error(engine.errors.map((e) => e.describe()).join('\n'));
  return engine.engine;
}

/** Alerts the node would have raised on these events (the same engine, on the node's side). */
export function nodeAlerts(events: readonly RuntimeEvent[]): Alert[] {
  return events.flatMap((e) => builtinEngine().evaluate(e));
}

export interface RuntimeTestApp {
  app: FastifyInstance;
  pipeline: RuntimePipeline;
  /** Ingest token of cluster `prod` and of cluster `dev`. */
  ingest: { prod: string; dev: string };
  clusters: { prod: string; dev: string };
  reader: string;
  admin: string;
  close(): Promise<void>;
}

export async function runtimeApp(
  storage: Storage,
  opts: {
    clock: Clock;
    nats?: NatsPipelineOptions;
    groupWindowMs?: number;
    pipeline?: boolean;
    rateLimit?: IngestRateLimitOptions | null;
    maxNodesPerCluster?: number;
  } = {
    clock: { now: () => new Date() },
  },
): Promise<RuntimeTestApp> {
  const pipeline = createRuntimePipeline({
    storage,
    engine: builtinEngine(),
    clock: opts.clock,
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.groupWindowMs !== undefined ? { groupWindowMs: opts.groupWindowMs } : {}),
    ...(opts.rateLimit !== undefined ? { rateLimit: opts.rateLimit } : {}),
    ...(opts.maxNodesPerCluster !== undefined ? { maxNodesPerCluster: opts.maxNodesPerCluster } : {}),
  });
  await pipeline.start();
  const app = createApp({
    storage,
    clock: opts.clock,
    scanQueue: createScanQueue(storage, { allowLocalSources: false }),
    vulnDbStatus: () => ({ loaded: true, path: '/x', builtAt: null, error: null }),
    logger: false,
    ...(opts.pipeline === false ? {} : { runtime: pipeline }),
    ingestAuth: createClusterIngestAuthenticator(storage.clusters),
  });
  await app.ready();
  const prod = await storage.clusters.create({ name: 'prod' });
  const dev = await storage.clusters.create({ name: 'dev' });
  const reader = (await storage.tokens.create({ name: 'r', role: 'reader' })).token;
  const admin = (await storage.tokens.create({ name: 'a', role: 'admin' })).token;
  return {
    app,
    pipeline,
    ingest: { prod: prod.ingestToken, dev: dev.ingestToken },
    clusters: { prod: prod.cluster.id, dev: dev.cluster.id },
    reader,
    admin,
    async close() {
      await app.close();
      await pipeline.close();
    },
  };
}

export function auth(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
