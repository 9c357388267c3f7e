// bench rules: the whole built-in rule library over 1,000,000 recorded-like events on one core
// (pin with `taskset -c 0` for the figure). Target ≥ 500,000 events/s.
import { RuleEngine, benchmarkEvents, builtinRuleSources } from '../packages/rules/dist/src/index.js';

const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
if (errors.length > 0) console.log(`rule load errors: ${errors.length}`);
const events = benchmarkEvents(1_000_000, 42);
const rounds = 5;
const rates = [];
let alerts = 0;
for (let r = 0; r < rounds; r++) {
  alerts = 0;
  const t0 = process.hrtime.bigint();
  for (const e of events) alerts += engine.evaluate(e).length;
  rates.push(events.length / (Number(process.hrtime.bigint() - t0) / 1e9));
}
rates.sort((a, b) => a - b);
console.log(`rules: ${events.length} events, ${alerts} alerts per pass, evaluation errors ${engine.errorCount()}`);
console.log(
  `rules throughput: ${Math.round(rates[Math.floor(rounds / 2)])} events/s (median of ${rounds}; target >= 500000)`,
);
