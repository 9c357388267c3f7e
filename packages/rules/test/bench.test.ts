import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleEngine, benchmarkEvents, builtinRuleSources } from '../src/index.js';

test('benchmarkEvents is deterministic per seed and mixes event types', () => {
  const a = benchmarkEvents(5000, 7);
  const b = benchmarkEvents(5000, 7);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
  assert.notDeepEqual(JSON.stringify(benchmarkEvents(50, 8)), JSON.stringify(benchmarkEvents(50, 7)));
  const types = new Map<string, number>();
  for (const e of a) types.set(e.type, (types.get(e.type) ?? 0) + 1);
  for (const t of ['file.open', 'network.connect', 'process.exec', 'process.exit', 'k8s.audit']) {
    assert.ok((types.get(t) ?? 0) > 50, `${t}: ${types.get(t) ?? 0}`);
  }
  assert.equal(new Set(a.map((e) => e.id)).size, a.length);
});

test('the built-in library runs over the benchmark stream with no evaluation errors', () => {
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  assert.deepEqual(errors, []);
  let alerts = 0;
  for (const ev of benchmarkEvents(40_000, 3)) alerts += engine.evaluate(ev).length;
  assert.equal(engine.errorCount(), 0);
  // About 1 event in 2,000 is an attack; each fires at least one rule.
  assert.ok(alerts >= 5 && alerts < 200, `alerts: ${alerts}`);
});
