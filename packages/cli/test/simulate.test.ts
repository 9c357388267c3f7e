/**
 * `palisade simulate` without containers: the catalogue is consistent with the rule library,
 * bad input is a one-line error, and --list says what this sensor can run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRuntimeEventType } from '@palisade/core';
import { RuleEngine, builtinRuleSources } from '@palisade/rules';
import { SENSOR_EVENT_TYPES } from '@palisade/sensor';
import { tempDir } from '@palisade/testkit';
import { selectScenarios } from '../src/commands/simulate.js';
import { formatReport, latencySummary, type SimulationReport } from '../src/simulate/run.js';
import { SCENARIOS, missingEventTypes, scenarioCommand } from '../src/simulate/scenarios.js';
import { HELPER_IN_CONTAINER } from '../src/simulate/helper.js';
import { run } from './helpers.js';

test('simulate catalogue: unique ids, expected rules exist and need only the listed event types', () => {
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  assert.deepEqual(errors, []);
  const rules = new Map(engine.rules.map((r) => [r.spec.id, r.spec]));
  assert.equal(new Set(SCENARIOS.map((s) => s.id)).size, SCENARIOS.length);
  for (const s of SCENARIOS) {
    assert.match(s.id, /^[a-z0-9-]+$/);
    assert.ok(s.expectedRuleIds.length > 0, s.id);
    assert.ok(s.requires.length > 0 && s.requires.every(isRuntimeEventType), `${s.id}: requires`);
    for (const id of s.expectedRuleIds) {
      const rule = rules.get(id);
      assert.ok(rule, `${s.id}: rule ${id} is in the built-in library`);
      // The rule can fire on one of the event types the scenario declares.
      assert.ok(
        rule.events.some((t) => s.requires.includes(t)),
        `${s.id}: ${id} fires on ${rule.events.join(',')}`,
      );
    }
    // Placeholders only where the simulator fills them in.
    const cmd = scenarioCommand(s, 4242).join(' ');
    assert.doesNotMatch(cmd, /\{(port|helper)\}/, s.id);
    if (s.helper) assert.ok(cmd.includes(HELPER_IN_CONTAINER), `${s.id} uses the helper`);
    else assert.ok(!cmd.includes(HELPER_IN_CONTAINER), `${s.id} does not need the helper`);
    // Only loopback is reachable: host networking only for the simulator's own listener.
    if (s.network === 'host')
      assert.ok(
        s.command.join(' ').includes('127.0.0.1:{port}') || s.command.join(' ').includes('127.0.0.1/{port}'),
        s.id,
      );
  }
  // The sensor produces every event type the catalogue needs: no scenario is skipped for it.
  assert.deepEqual(
    SCENARIOS.filter((s) => missingEventTypes(s, SENSOR_EVENT_TYPES).length > 0).map((s) => s.id),
    [],
  );
});

test('simulate: scenario selection keeps order and names unknown ids', () => {
  assert.deepEqual(
    selectScenarios(['kubelet-contact', 'crypto-miner']).map((s) => s.id),
    ['kubelet-contact', 'crypto-miner'],
  );
  assert.equal(selectScenarios([]).length, SCENARIOS.length);
  assert.throws(() => selectScenarios(['nope']), /unknown scenario \(known: reverse-shell-dev-tcp, /);
});

test('simulate: bad input is a one-line error with exit code 2', async () => {
  const dir = tempDir('palisade-simulate-');
  const empty = join(dir.path, 'empty-token');
  writeFileSync(empty, '\n');
  const token = join(dir.path, 'token');
  writeFileSync(token, 'pal_reader_token\n');
  const cases: [string[], RegExp][] = [
    [['simulate'], /^palisade: simulate: choose one of --local or --server URL\n$/],
    [['simulate', '--local', '--server', 'https://x'], /choose one of --local or --server URL/],
    [['simulate', '--server', 'https://x'], /--server needs --token-file/],
    [['simulate', '--local', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['simulate', '--local', '--scenario', 'nope'], /^palisade: nope: unknown scenario/],
    [['simulate', '--local', '--format', 'xml'], /argument 'xml' is invalid/],
  ];
  if (process.getuid?.() === 0) {
    cases.push(
      [['simulate', '--server', 'https://x', '--token-file', empty], /empty-token: the token file is empty/],
      [
        ['simulate', '--server', 'https://x', '--token-file', join(dir.path, 'missing')],
        /cannot read the token file: ENOENT/,
      ],
      [['simulate', '--server', 'not a url', '--token-file', token], /^palisade: not a url: not a URL\n$/],
      [
        ['simulate', '--local', '--image', 'localhost/palisade-no-such-image:0'],
        /image not in local storage \(simulate never pulls\)/,
      ],
    );
  }
  for (const [argv, expected] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, expected, argv.join(' '));
    assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
  }
  dir.cleanup();
});

test('simulate --list: every scenario with its rules and whether this sensor runs it', async () => {
  const r = await run(['simulate', '--list']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, SCENARIOS.length + 1);
  assert.match(r.stdout, /^crypto-miner\s+PAL-RT-005\s+runs\s+/m);
  assert.match(r.stdout, /^read-shadow\s+PAL-RT-020\s+runs\s+/m);
  assert.doesNotMatch(r.stdout, /skipped: needs/);
});

test('simulate table: one row per expected rule, latency, reason, summary', () => {
  const report: SimulationReport = {
    mode: 'local',
    image: 'img',
    startedAt: '2026-01-01T00:00:00.000Z',
    scenarios: [
      { id: 'a', title: 'A', result: 'detected', expected: [{ ruleId: 'R1', result: 'detected', latencyMs: 3 }] },
      {
        id: 'b',
        title: 'B',
        result: 'missed',
        reason: 'container output: x',
        expected: [{ ruleId: 'R2', result: 'missed' }],
      },
      {
        id: 'c',
        title: 'C',
        result: 'skipped',
        reason: 'not supported',
        expected: [{ ruleId: 'R3', result: 'skipped' }],
      },
    ],
    summary: { detected: 1, missed: 1, skipped: 1, error: 0 },
    latency: { n: 1, p50Ms: 3, p99Ms: 3, maxMs: 3 },
    diagnostics: [],
  };
  assert.equal(
    formatReport(report),
    [
      'SCENARIO  EXPECTED RULE  RESULT    LATENCY  NOTE',
      'a         R1             detected  3 ms',
      'b         R2             missed    -        container output: x',
      'c         R3             skipped   -        not supported',
      '',
      '1 detected, 1 missed, 1 skipped (local, image img)',
      'event to alert: p50 3 ms, p99 3 ms, max 3 ms (1 alerts)',
      '',
    ].join('\n'),
  );
  // In --server mode the latency is to the alert being visible in the API.
  assert.match(
    formatReport({ ...report, mode: 'https://palisade.example' }),
    /^event to alert visible in the API: p50 3 ms, p99 3 ms, max 3 ms \(1 alerts\)$/m,
  );
});

test('simulate latency summary: nearest-rank percentiles, none without detections', () => {
  assert.equal(latencySummary([]), undefined);
  assert.deepEqual(latencySummary([5]), { n: 1, p50Ms: 5, p99Ms: 5, maxMs: 5 });
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  assert.deepEqual(latencySummary(hundred), { n: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  assert.deepEqual(latencySummary([10, 1000, 20]), { n: 3, p50Ms: 20, p99Ms: 1000, maxMs: 1000 });
});
