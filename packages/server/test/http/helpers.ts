/** An app on a given Storage, with one token per role and a log capture. */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '@palisade/core';
import { createApp } from '../../src/http/app.js';
import type { Storage } from '../../src/storage/index.js';
import { createScanQueue } from '../../src/worker/queue.js';
import type { VulnDbState } from '../../src/worker/vulndb.js';

export interface TestApp {
  app: FastifyInstance;
  tokens: { admin: string; operator: string; reader: string };
  /** Everything the app logged. */
  logs: () => string;
}

export async function testApp(
  storage: Storage,
  opts: { bodyLimit?: number; vulnDb?: VulnDbState; consoleDir?: string } = {},
): Promise<TestApp> {
  let logged = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged += chunk.toString('utf8');
      cb();
    },
  });
  const app = createApp({
    storage,
    clock: systemClock,
    scanQueue: createScanQueue(storage, { allowLocalSources: true }),
    vulnDbStatus: () =>
      opts.vulnDb ?? { loaded: true, path: '/x/vuln.db', builtAt: '2025-01-01T00:00:00.000Z', error: null },
    logger: { level: 'info', stream },
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.consoleDir !== undefined ? { consoleDir: opts.consoleDir } : {}),
  });
  await app.ready();
  const admin = (await storage.tokens.create({ name: 'a', role: 'admin' })).token;
  const operator = (await storage.tokens.create({ name: 'o', role: 'operator' })).token;
  const reader = (await storage.tokens.create({ name: 'r', role: 'reader' })).token;
  return { app, tokens: { admin, operator, reader }, logs: () => logged };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
