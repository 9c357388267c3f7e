/**
 * The sensor and the server agree on the runtime event shape: every record the real loader
 * captured (packages/sensor/test/fixtures/*.bin, one per event type) is decoded by the sensor's
 * pipeline, run through the built-in rules, and the resulting events and alerts (plus a drift
 * alert, blocked and not) must pass the server's strict ingest validation. A field added on one
 * side only fails here instead of as 400s from a deployed server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { PALISADE_VERSION, type Alert, type RuntimeEvent, type RuntimeIngestBatch } from '@palisade/core';
import { builtinRuleSources, RuleEngine } from '@palisade/rules';
import { RecordPipeline, driftAlert, judgeDrift, parseDriftPolicy } from '@palisade/sensor';
import { validateIngestBatch } from '@palisade/server';
import { fixturePath } from '@palisade/testkit';

const NOT_EVENTS = new Set(['ready', 'counters', 'stream']);

async function fixtureEvents(): Promise<RuntimeEvent[]> {
  const dir = fixturePath('sensor');
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.bin') && !NOT_EVENTS.has(f.slice(0, -4)))
    .sort();
  assert.ok(names.length >= 15, `expected a fixture per event type, found ${names.length}`);
  const p = new RecordPipeline({ node: 'node-1' });
  p.onFrame(readFileSync(fixturePath('sensor', 'ready.bin')));
  for (const n of names) p.onFrame(readFileSync(fixturePath('sensor', n)));
  p.queue.close();
  const out: RuntimeEvent[] = [];
  for await (const e of p.queue) out.push(e);
  assert.equal(p.counters().decodeErrors, 0, p.lastDecodeError ?? '');
  return out;
}

function batch(events: RuntimeEvent[], alerts: Alert[]): RuntimeIngestBatch {
  return {
    batchId: 'contract-1',
    source: 'collector',
    node: 'node-1',
    sensorVersion: PALISADE_VERSION,
    sentAt: new Date(0).toISOString(),
    alerts,
    events,
  };
}

test('every event type the sensor decodes passes the server ingest validation', async () => {
  const events = await fixtureEvents();
  const types = new Set(events.map((e) => e.type));
  assert.ok(types.size >= 14, `event types decoded: ${[...types].sort().join(', ')}`);
  for (const e of events) {
    // One at a time, so a failure names the event type.
    assert.doesNotThrow(() => validateIngestBatch(batch([e], [])), `${e.type} rejected`);
  }
});

test('alerts the built-in rules raise on decoded events, and drift alerts, pass validation', async () => {
  const events = await fixtureEvents();
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  assert.deepEqual(errors, []);
  const alerts = events.flatMap((e) => engine.evaluate(e));
  const drift = events.find((e) => e.type === 'process.exec' && e.proc.exeUpperLayer === true);
  assert.ok(drift, 'the exec-drift fixture decodes with exeUpperLayer');
  const verdict = judgeDrift(drift, parseDriftPolicy('version: 1\nallow: []\n', 'empty'));
  assert.equal(verdict.drift, true);
  alerts.push(driftAlert(drift, verdict, true), driftAlert(drift, verdict, false));
  const checked = validateIngestBatch(batch([], alerts));
  assert.equal(checked.alerts.length, alerts.length);
  assert.equal(checked.alerts.filter((a) => a.blocked === true).length, 1);
});
