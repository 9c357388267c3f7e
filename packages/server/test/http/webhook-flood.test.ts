/**
 * A flood of concurrent webhook requests with heavy duplication (the shape of a busy registry
 * retrying and re-pushing): every digest gets its image row and exactly one scan job, whatever
 * the interleaving of the per-request transactions, the registry cache and the recent-digest
 * memory. On both backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DISTRIBUTION_EVENTS_MEDIA_TYPE } from '../../src/registry/index.js';
import { forEachBackend } from '../storage/harness.js';
import { bearer, testApp } from './helpers.js';

const DIGESTS = 20;
const REQUESTS = 200;

function digestOf(i: number): string {
  return 'sha256:' + createHash('sha256').update(`flood-${i}`).digest('hex');
}

/** One envelope: a blob push and two manifest pushes (repeated digests, other repositories). */
function envelope(n: number, host: string): string {
  const event = (id: string, digest: string, repository: string, mediaType: string, kind: 'blobs' | 'manifests') => ({
    id,
    timestamp: '2025-03-01T12:00:00.000Z',
    action: 'push',
    target: {
      mediaType,
      size: 10,
      digest,
      length: 10,
      repository,
      url: `http://${host}/v2/${repository}/${kind}/${digest}`,
      ...(kind === 'manifests' ? { tag: `v${n % 3}` } : {}),
    },
    request: { id: `r${n}`, addr: '127.0.0.1:1', host, method: 'PUT', useragent: 'docker/24.0' },
    actor: {},
    source: { addr: 'flood:5000', instanceID: 'flood' },
  });
  const manifest = 'application/vnd.oci.image.manifest.v1+json';
  return JSON.stringify({
    events: [
      event(`b${n}`, digestOf(1000 + n), 'flood/app', 'application/octet-stream', 'blobs'),
      event(`m${n}`, digestOf(n % DIGESTS), `flood/app${n % 2}`, manifest, 'manifests'),
      event(`m${n}x`, digestOf((n * 7) % DIGESTS), `flood/app${n % 2}`, manifest, 'manifests'),
    ],
  });
}

forEachBackend((h) => {
  test('200 concurrent webhook requests with heavy duplication: one scan job per digest, an image row for each', async () => {
    const s = await (await h.fresh()).open();
    const { app, tokens, logs } = await testApp(s);
    try {
      const host = 'registry.flood.example:5000';
      const created = await app.inject({
        method: 'POST',
        url: '/api/v1/registries',
        headers: bearer(tokens.admin),
        payload: { name: 'flood', url: `http://${host}`, insecure: true },
      });
      assert.equal(created.statusCode, 201);
      const { webhook } = created.json<{ webhook: { url: string; token: string } }>();

      const answers = await Promise.all(
        Array.from({ length: REQUESTS }, (_, n) =>
          app.inject({
            method: 'POST',
            url: webhook.url,
            headers: { 'content-type': DISTRIBUTION_EVENTS_MEDIA_TYPE, authorization: `Bearer ${webhook.token}` },
            payload: envelope(n, host),
          }),
        ),
      );
      let queued = 0;
      for (const a of answers) {
        assert.equal(
          a.statusCode,
          202,
          `${a.body}\n${logs()
            .split('\n')
            .filter((l) => l.includes('"level":50'))
            .slice(0, 1)
            .join('')}`,
        );
        const body = a.json<{ pushes: number; queued: number; deduplicated: number }>();
        assert.equal(body.queued + body.deduplicated, body.pushes);
        queued += body.queued;
      }
      // Each answer said what it queued: together exactly one per digest.
      assert.equal(queued, DIGESTS);

      const jobs = (await s.jobs.list({ kind: 'scan', limit: 500 })).items;
      const perKey = new Map<string, number>();
      for (const j of jobs) perKey.set(j.dedupeKey ?? '', (perKey.get(j.dedupeKey ?? '') ?? 0) + 1);
      assert.equal(jobs.length, DIGESTS, 'one scan job per digest');
      for (let i = 0; i < DIGESTS; i++) {
        const key = [...perKey.keys()].find((k) => k.endsWith(`:${digestOf(i)}`));
        assert.ok(key, `a scan job for digest ${i}`);
        assert.equal(perKey.get(key), 1);
        const rows = await s.images.byDigest(digestOf(i));
        assert.ok(rows.length >= 1, `an image row for digest ${i}`);
        assert.ok(rows.every((r) => r.lastPushedAt !== null));
      }
      assert.equal((await s.scans.list({ limit: 500 })).total, DIGESTS, 'one scan per digest');
      // The blobs were ignored: no image rows for them.
      assert.equal((await s.images.byDigest(digestOf(1000))).length, 0);
    } finally {
      await app.close();
      await s.close();
    }
  });
});
