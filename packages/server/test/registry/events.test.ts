import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, pushLayout, startRegistry, tempDir, writeOciLayout } from '@palisade/testkit';
import {
  DISTRIBUTION_EVENTS_MEDIA_TYPE,
  parseRegistryEvents,
  webhookTokenMatches,
  type ParsedEvents,
} from '../../src/registry/index.js';
import { generateToken, hashToken } from '../../src/secrets/index.js';
import { startNotifyListener } from './notify-listener.js';

interface Captured {
  contentType: string;
  body: { events: unknown[] };
}

function captured(name: string): Captured[] {
  return JSON.parse(readFileSync(fixturePath('server', 'registry', name), 'utf8')) as Captured[];
}

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(fixturePath('server', 'registry', name), 'utf8')) as unknown;
}

/** Every captured event of a fixture in one envelope (a batching sender, or a retry storm). */
function oneEnvelope(...names: string[]): { events: unknown[] } {
  return { events: names.flatMap((n) => captured(n).flatMap((r) => r.body.events)) };
}

function parseAll(reqs: readonly Captured[]): ParsedEvents[] {
  return reqs.map((r) => parseRegistryEvents(r.body, r.contentType));
}

const APP_DIGEST = 'sha256:cef721c1b86cef83d679d70244854ea930b1d77b20fd30724471f41b81e3912b';

function assertInputError(fn: () => unknown, message: string | RegExp, code = 'E_INPUT'): void {
  assert.throws(fn, (err: unknown) => {
    const e = err as { code?: string; message?: string };
    assert.equal(e.code, code, `code of ${String(e.message)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message ?? '', message);
    return true;
  });
}

test('a real skopeo push: the manifest push counts, blob pushes are ignored', () => {
  const reqs = captured('distribution-push.json');
  assert.ok(reqs.every((r) => r.contentType === DISTRIBUTION_EVENTS_MEDIA_TYPE));
  const parsed = parseAll(reqs);
  const pushes = parsed.flatMap((p) => p.pushes);
  assert.deepEqual(
    pushes.map((p) => ({ repository: p.repository, digest: p.digest, tag: p.tag, kind: p.kind })),
    [{ repository: 'demo/app', digest: APP_DIGEST, tag: 'v1', kind: 'manifest' }],
  );
  assert.equal(pushes[0]?.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(
    parsed.reduce((n, p) => n + p.ignored.blob, 0),
    2,
    'the layer and the config',
  );
});

test('pulls (manifest and blobs) and blob HEADs of a re-push are ignored', () => {
  const pull = parseAll(captured('distribution-pull.json'));
  assert.deepEqual(
    pull.flatMap((p) => p.pushes),
    [],
  );
  assert.equal(
    pull.reduce((n, p) => n + p.ignored.pull, 0),
    3,
  );
  const again = parseAll(captured('distribution-push-again.json'));
  assert.deepEqual(
    again.flatMap((p) => p.pushes.map((x) => x.digest)),
    [APP_DIGEST],
  );
});

test('duplicate events of one push in one envelope give one digest', () => {
  const envelope = oneEnvelope('distribution-push.json', 'distribution-push-again.json', 'distribution-pull.json');
  // A sender that retries repeats the very same events, ids included.
  envelope.events.push(...envelope.events);
  const parsed = parseRegistryEvents(envelope, DISTRIBUTION_EVENTS_MEDIA_TYPE);
  assert.equal(parsed.total, 18);
  assert.equal(parsed.pushes.length, 1);
  const push = parsed.pushes[0];
  assert.equal(push?.digest, APP_DIGEST);
  assert.equal(push?.eventIds.length, 2, 'the two distinct manifest push events, each once');
});

test('a multi-platform push reports the index and both platform manifests', () => {
  const pushes = parseAll(captured('distribution-push-multiarch.json')).flatMap((p) => p.pushes);
  assert.deepEqual(
    pushes.map((p) => p.kind),
    ['manifest', 'manifest', 'index'],
  );
  assert.equal(pushes[2]?.tag, 'v2');
  assert.equal(new Set(pushes.map((p) => p.digest)).size, 3);
});

test("Palisade's own pushes, referrers indexes, signatures and artifacts are ignored", () => {
  const base = captured('distribution-push.json')[2]?.body.events[0] as Record<string, unknown>;
  const target = base['target'] as Record<string, unknown>;
  const request = base['request'] as Record<string, unknown>;
  const variant = (t: Record<string, unknown>, r: Record<string, unknown> = {}): unknown => ({
    ...base,
    target: { ...target, ...t },
    request: { ...request, ...r },
  });
  const hex = APP_DIGEST.slice('sha256:'.length);
  const envelope = {
    events: [
      variant({}, { useragent: 'palisade/0.1.0' }),
      variant({}, { useragent: 'palisade' }),
      variant({ tag: `sha256-${hex}`, mediaType: 'application/vnd.oci.image.index.v1+json' }),
      variant({ tag: `sha256-${hex}.sig` }),
      variant({ artifactType: 'application/vnd.palisade.vulnerability-report.v1+json' }),
      variant({ artifactType: 'application/vnd.cncf.helm.config.v1+json' }),
      variant({ mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }),
    ],
  };
  const parsed = parseRegistryEvents(envelope, DISTRIBUTION_EVENTS_MEDIA_TYPE);
  assert.deepEqual(parsed.pushes, []);
  assert.equal(parsed.ignored.own, 3);
  assert.equal(parsed.ignored.attachment, 2);
  assert.equal(parsed.ignored['not-an-image'], 2);
  // A proxy that rewrote the content type to application/json, or a raw body, still parses.
  const raw = JSON.stringify(captured('distribution-push.json')[2]?.body);
  assert.equal(parseRegistryEvents(raw, 'application/json').pushes.length, 1);
  assert.equal(
    parseRegistryEvents(Buffer.from(raw), `${DISTRIBUTION_EVENTS_MEDIA_TYPE}; charset=utf-8`).pushes.length,
    1,
  );
});

test('Harbor webhooks: PUSH_ARTIFACT counts, pulls and scan results do not, CloudEvents too', () => {
  const push = parseRegistryEvents(fixture('harbor-push-artifact.json'), 'application/json');
  assert.equal(push.format, 'harbor');
  assert.deepEqual(push.pushes, [
    {
      repository: 'test-webhook/debian',
      digest: 'sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8',
      tag: 'latest',
      kind: 'unknown',
      eventIds: [],
    },
  ]);
  const pull = parseRegistryEvents(fixture('harbor-pull-artifact.json'), 'application/json');
  assert.deepEqual(pull.pushes, []);
  assert.equal(pull.ignored.pull, 1);
  assert.deepEqual(parseRegistryEvents(fixture('harbor-scanning-completed.json'), 'application/json').pushes, []);

  const ce = parseRegistryEvents(fixture('harbor-cloudevents-push.json'), 'application/cloudevents+json');
  assert.equal(ce.format, 'harbor-cloudevents');
  assert.equal(ce.pushes.length, 1);
  assert.equal(ce.pushes[0]?.repository, 'harbor/alpine');
  assert.equal(ce.pushes[0]?.tag, undefined, 'Harbor writes the digest as the tag of a push by digest');
  const own = parseRegistryEvents(fixture('harbor-cloudevents-push.json'), 'application/json', {
    ownOperators: ['robot$palisade'],
  });
  assert.deepEqual(own.pushes, []);
  assert.equal(own.ignored.own, 1);

  // Several resources, repeated: one push per digest.
  const doc = fixture('harbor-push-artifact.json') as { event_data: { resources: unknown[] } };
  const r = doc.event_data.resources[0] as Record<string, unknown>;
  doc.event_data.resources = [r, { ...r, tag: 'v1' }, r];
  const merged = parseRegistryEvents(doc, 'application/json');
  assert.equal(merged.total, 3);
  assert.equal(merged.pushes.length, 1);
});

test('malformed envelopes are E_INPUT errors naming the field', () => {
  const good = captured('distribution-push.json').flatMap((r) => r.body.events);
  const manifestEvent = good[2] as Record<string, unknown>;
  const target = manifestEvent['target'] as Record<string, unknown>;
  const withEvent = (e: unknown): unknown => ({ events: [good[0], good[1], e] });
  const ct = DISTRIBUTION_EVENTS_MEDIA_TYPE;

  assertInputError(() => parseRegistryEvents('{"events": [', ct), 'body: not valid JSON');
  assertInputError(() => parseRegistryEvents([], ct), 'body: not an object (got an array)');
  assertInputError(() => parseRegistryEvents({ events: {} }, ct), 'events: not an array (got an object)');
  assertInputError(() => parseRegistryEvents({}, ct), 'events: not an array (got nothing)');
  assertInputError(() => parseRegistryEvents(withEvent('push'), ct), 'events[2]: not an object (got a string)');
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, action: 7 }), ct),
    'events[2].action: not a string (got a number)',
  );
  const noTarget = Object.fromEntries(Object.entries(manifestEvent).filter(([k]) => k !== 'target'));
  assertInputError(() => parseRegistryEvents(withEvent(noTarget), ct), 'events[2].target: not an object (got nothing)');
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, target: { ...target, digest: 'sha256:abc' } }), ct),
    'events[2].target.digest: not a digest',
  );
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, target: { ...target, digest: 12 } }), ct),
    'events[2].target.digest: not a digest (got a number)',
  );
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, target: { ...target, repository: '../../v2/x' } }), ct),
    'events[2].target.repository: not a repository name',
  );
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, target: { ...target, tag: 'a b' } }), ct),
    'events[2].target.tag: not a tag',
  );
  assertInputError(
    () => parseRegistryEvents(withEvent({ ...manifestEvent, target: { ...target, mediaType: 5 } }), ct),
    'events[2].target.mediaType: not a string (got a number)',
  );
  assertInputError(
    () => parseRegistryEvents({ events: Array.from({ length: 20_000 }, () => manifestEvent) }, ct),
    'events: 20000 events, over the limit of 10000',
    'E_TOO_LARGE',
  );
  assertInputError(() => parseRegistryEvents({ hello: 1 }, 'application/json'), /^body: neither/);
  assertInputError(
    () => parseRegistryEvents({ events: [] }, 'text/html'),
    /content type "text\/html"/,
    'E_UNSUPPORTED',
  );

  const harbor = fixture('harbor-push-artifact.json') as Record<string, unknown>;
  const data = harbor['event_data'] as Record<string, unknown>;
  assertInputError(
    () =>
      parseRegistryEvents({ ...harbor, event_data: { ...data, resources: [{ digest: 'nope' }] } }, 'application/json'),
    'event_data.resources[0].digest: not a digest',
  );
  assertInputError(
    () => parseRegistryEvents({ ...harbor, event_data: { ...data, repository: null } }, 'application/json'),
    'event_data.repository: not an object (got null)',
  );
  assertInputError(
    () => parseRegistryEvents({ ...harbor, event_data: { ...data, resources: 'x' } }, 'application/json'),
    'event_data.resources: not an array (got a string)',
  );
  assertInputError(
    () => parseRegistryEvents({ ...harbor, type: 1 }, 'application/json'),
    'type: not a string (got a number)',
  );
});

test('a flood of 1,000 envelopes with repeats gives each digest exactly once', () => {
  const template = captured('distribution-push.json')[2]?.body.events[0] as Record<string, unknown>;
  const target = template['target'] as Record<string, unknown>;
  const digests = Array.from({ length: 250 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
  const seen = new Set<string>();
  let pushes = 0;
  for (let i = 0; i < 1000; i++) {
    const digest = digests[i % digests.length] ?? '';
    const body = JSON.stringify({ events: [{ ...template, id: `e${i}`, target: { ...target, digest } }] });
    for (const p of parseRegistryEvents(body, DISTRIBUTION_EVENTS_MEDIA_TYPE).pushes) {
      pushes++;
      seen.add(p.digest);
    }
  }
  // The parser keeps nothing between envelopes: one push per envelope, the queue dedupes by digest.
  assert.equal(pushes, 1000);
  assert.equal(seen.size, 250);
});

test('webhook tokens: Bearer, Token or bare; anything else is refused', () => {
  const token = generateToken('wh');
  const stored = hashToken(token);
  assert.equal(webhookTokenMatches(`Bearer ${token}`, stored), true);
  assert.equal(webhookTokenMatches(`bearer ${token}`, stored), true);
  assert.equal(webhookTokenMatches(`Token ${token}`, stored), true);
  assert.equal(webhookTokenMatches(token, stored), true);
  assert.equal(webhookTokenMatches(undefined, stored), false);
  assert.equal(webhookTokenMatches('', stored), false);
  assert.equal(webhookTokenMatches('Bearer ', stored), false);
  assert.equal(webhookTokenMatches(`Bearer ${token}x`, stored), false);
  assert.equal(webhookTokenMatches(`Basic ${token}`, stored), false);
  assert.equal(webhookTokenMatches([`Bearer ${token}`, `Bearer ${token}`], stored), false);
  assert.equal(webhookTokenMatches(`Bearer ${token}`, 'not-hex'), false);
});

test('live: the real registry notifies a push and the parser finds exactly its manifest', async () => {
  const listener = await startNotifyListener();
  const registry = await startRegistry({ notifications: { url: listener.url } });
  const tmp = tempDir('palisade-events-');
  try {
    const layout = join(tmp.path, 'layout');
    const built = writeOciLayout(layout, 'v1', [{ layers: [{ files: [{ path: 'etc/live', content: 'live\n' }] }] }]);
    await pushLayout(layout, 'v1', registry, 'live/app:v1');
    const isManifestPush = (body: string): boolean => /"action":\s*"push"/.test(body) && body.includes('/manifests/');
    await listener.waitFor((got) => got.some((r) => isManifestPush(r.body)), 20_000);
    const pushes = listener.received.flatMap((r) => parseRegistryEvents(r.body, r.contentType).pushes);
    assert.deepEqual(
      pushes.map((p) => `${p.repository}@${p.digest}:${p.tag ?? ''}`),
      [`live/app@${built.digest}:v1`],
    );
  } finally {
    await registry.stop();
    await listener.close();
    tmp.cleanup();
  }
});
