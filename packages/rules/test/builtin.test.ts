import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RuntimeEvent } from '@palisade/core';
import { RuleEngine, builtinRuleSources } from '../src/index.js';

interface Fixture {
  rule: string;
  fires: boolean;
  event: RuntimeEvent;
}

// Compiled tests run from dist/test/, the fixtures stay in test/fixtures/.
const fixturesFile = fileURLToPath(new URL('../../test/fixtures/builtin-events.jsonl', import.meta.url));
const fixtures: Fixture[] = readFileSync(fixturesFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Fixture);

const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());

test('the built-in library loads without errors and has at least 15 rules', () => {
  assert.deepEqual(
    errors.map((e) => e.describe()),
    [],
  );
  assert.ok(engine.rules.length >= 15, `only ${engine.rules.length} rules`);
  for (const r of engine.rules) {
    assert.ok(
      r.spec.mitre.length > 0 && r.spec.description.length > 20,
      `${r.spec.id} needs MITRE refs and a description`,
    );
  }
});

test('every built-in rule has a firing and a non-firing recorded event', () => {
  for (const r of engine.rules) {
    const mine = fixtures.filter((f) => f.rule === r.spec.id);
    assert.ok(
      mine.some((f) => f.fires),
      `${r.spec.id}: no event that fires it`,
    );
    assert.ok(
      mine.some((f) => !f.fires),
      `${r.spec.id}: no event that must not fire it`,
    );
  }
});

for (const f of fixtures) {
  test(`${f.rule} ${f.fires ? 'fires on' : 'stays quiet on'} ${f.event.id} (${f.event.type})`, () => {
    const before = engine.stats(f.rule)?.errors ?? 0;
    const alerts = engine.evaluate(f.event);
    const hit = alerts.find((a) => a.ruleId === f.rule);
    assert.equal(Boolean(hit), f.fires, alerts.map((a) => a.ruleId).join(','));
    // A recorded event must be decided by the condition, not by an evaluation error.
    assert.equal(engine.stats(f.rule)?.errors, before, engine.stats(f.rule)?.lastError);
    if (hit) {
      assert.ok(
        !hit.output.includes('<NA>') || !f.event.container,
        `${f.rule}: output has missing fields: ${hit.output}`,
      );
      assert.deepEqual(hit.events, [f.event]);
    }
  });
}

test('an alert carries MITRE refs, severity, output fields and a deterministic id', () => {
  const f = fixtures.find((x) => x.rule === 'PAL-RT-030' && x.fires) as Fixture;
  const a = engine.evaluate(f.event).find((x) => x.ruleId === 'PAL-RT-030');
  assert.ok(a);
  assert.equal(a.severity, 'high');
  assert.deepEqual(a.mitre, [{ tactic: 'credential-access', tacticId: 'TA0006', technique: 'T1552.005' }]);
  assert.equal(a.fields['net.dstAddr'], '169.254.169.254');
  assert.match(
    a.output,
    /dst=169\.254\.169\.254:80 by=\/usr\/bin\/curl container=web image=docker\.io\/library\/nginx:1\.27 ns=shop/,
  );
  assert.equal(a.time, f.event.time);
  const again = engine.evaluate(f.event).find((x) => x.ruleId === 'PAL-RT-030');
  assert.equal(again?.id, a.id);
});
