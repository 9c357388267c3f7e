/** The batch checker against every recorded event, and the process tree of several events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateIngestBatch, INGEST_BATCH_SCHEMA } from '../../src/runtime/validate.js';
import { buildProcessTree } from '../../src/runtime/process-tree.js';
import { batch, fixtureEvent, fixtures, nodeAlerts } from './helpers.js';

test('every recorded event of the rule library, and the alerts raised on them, pass the ingest checks', () => {
  const events = fixtures().map((f) => f.event);
  const types = new Set(events.map((e) => e.type));
  assert.ok(types.size >= 15, `fixtures cover ${types.size} event types`);
  const b = batch({ batchId: 'all', events, alerts: nodeAlerts(events) });
  assert.ok(b.alerts.length > 50);
  const out = validateIngestBatch(JSON.parse(JSON.stringify(b)));
  assert.equal(out.events.length, events.length);
  assert.equal(out.alerts.length, b.alerts.length);
});

test('the checker takes values as sent: no coercion of numbers, arrays or booleans', () => {
  const ev = fixtureEvent('fx-001');
  const coerced = JSON.parse(JSON.stringify(batch({ batchId: 'c', events: [ev] }))) as {
    events: Array<{ proc: Record<string, unknown>; container: Record<string, unknown> }>;
  };
  const cases: Array<[(b: typeof coerced) => void, string]> = [
    [
      (b) => void ((b.events[0] as { proc: Record<string, unknown> }).proc['argv'] = 'bash'),
      'body.events[0].proc.argv: must be an array',
    ],
    [
      (b) => void ((b.events[0] as { proc: Record<string, unknown> }).proc['uid'] = 0.5),
      'body.events[0].proc.uid: must be an integer',
    ],
    [
      (b) => void ((b.events[0] as { container: Record<string, unknown> }).container['resolved'] = 1),
      'body.events[0].container.resolved: must be a boolean',
    ],
    [
      (b) => void ((b.events[0] as { proc: Record<string, unknown> }).proc['ancestry'] = [{ pid: 1, exe: '/x' }]),
      'body.events[0].proc.ancestry[0].argv: required',
    ],
  ];
  for (const [mutate, message] of cases) {
    const b = structuredClone(coerced);
    mutate(b);
    assert.throws(
      () => validateIngestBatch(b),
      (err: Error & { describe?: () => string }) => (err.describe?.() ?? '').startsWith(message),
      message,
    );
  }
});

test('the published JSON Schema is the checker’s: strict objects, every event type', () => {
  const s = INGEST_BATCH_SCHEMA as {
    additionalProperties: boolean;
    properties: { events: { items: { oneOf: Array<{ properties: { type: { const: string } } }> } } };
  };
  assert.equal(s.additionalProperties, false);
  const types = s.properties.events.items.oneOf.map((v) => v.properties.type.const);
  assert.ok(types.includes('process.exec') && types.includes('k8s.audit'));
  assert.equal(new Set(types).size, types.length);
});

test('the process tree merges the ancestry of several events and marks each acting process', () => {
  const a = fixtureEvent('fx-001');
  const b = fixtureEvent('fx-032');
  assert.ok('proc' in a && 'proc' in b);
  a.proc.ancestry = [
    { pid: 10, exe: '/bin/sh', argv: ['sh'] },
    { pid: 1, exe: '/sbin/init', argv: ['init'] },
  ];
  b.proc.pid = 11;
  b.proc.ancestry = [
    { pid: 10, exe: '/bin/sh', argv: ['sh'] },
    { pid: 1, exe: '/sbin/init', argv: ['init'] },
  ];
  const tree = buildProcessTree([b, a]);
  assert.equal(tree.length, 1);
  const sh = tree[0]?.children[0];
  assert.equal(sh?.pid, 10);
  assert.deepEqual(
    sh?.children.map((c) => [c.pid, c.alerting]),
    [
      [11, true],
      [4242, true],
    ],
  );
  assert.equal(tree[0]?.alerting, false);
  assert.deepEqual(buildProcessTree([fixtureEvent('fx-044')]), [], 'audit events have no process');
});
