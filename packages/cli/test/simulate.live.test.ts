/**
 * `palisade simulate --local` end to end: real podman containers (runc), the real eBPF sensor,
 * the real built-in rules. Every scenario whose event types the sensor produces must raise its
 * expected alert on its own container; the others are reported as skipped. Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SENSOR_EVENT_TYPES } from '@palisade/sensor';
import { debianImage, repoRoot, tempDir } from '@palisade/testkit';
import { SCENARIOS, missingEventTypes } from '../src/simulate/scenarios.js';
import type { SimulationReport } from '../src/simulate/run.js';
import { run } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
// Only a non-root developer machine skips; CI runs as root and must never skip these.
const SKIP = (isRoot || process.env.CI) && hasPodman ? false : 'needs root and podman';
const IMAGE = 'localhost/palisade-sensor-test:latest';
const BASE = ['simulate', '--local', '--image', IMAGE, '--oci-runtime', '/usr/sbin/runc', '--format', 'json'];

let prepared = false;
function prepare(): void {
  if (prepared) return;
  execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0) {
    execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  prepared = true;
}

test(
  'simulate --local: every scenario the sensor supports raises its expected alert on its container',
  { skip: SKIP, timeout: 900_000 },
  async () => {
    prepare();
    const r = await run(BASE);
    const report = JSON.parse(r.stdout) as SimulationReport;
    const supported = SCENARIOS.filter((s) => missingEventTypes(s, SENSOR_EVENT_TYPES).length === 0);
    // Every scenario runs: the sensor produces file, ptrace, mount, namespace, memfd, cred and bpf events.
    assert.equal(supported.length, SCENARIOS.length, 'scenarios this sensor cannot run');
    assert.equal(report.scenarios.length, SCENARIOS.length);
    for (const s of report.scenarios) {
      const def = SCENARIOS.find((x) => x.id === s.id);
      assert.ok(def, s.id);
      if (supported.includes(def)) {
        assert.equal(s.result, 'detected', `${s.id}: ${s.reason ?? ''}`);
        assert.match(s.containerId ?? '', /^[0-9a-f]{64}$/);
        assert.deepEqual(
          s.expected.map((e) => e.ruleId),
          def.expectedRuleIds,
        );
        for (const e of s.expected) {
          assert.equal(e.result, 'detected', `${s.id} ${e.ruleId}`);
          assert.ok(typeof e.latencyMs === 'number' && e.latencyMs >= 0);
        }
      } else {
        assert.equal(s.result, 'skipped', s.id);
        assert.match(s.reason ?? '', /^not supported by this sensor \(needs /);
      }
    }
    // Each scenario ran in its own container.
    const ids = report.scenarios.flatMap((s) => (s.containerId ? [s.containerId] : []));
    assert.equal(new Set(ids).size, supported.length);
    assert.deepEqual(report.summary, {
      detected: supported.length,
      missed: 0,
      skipped: SCENARIOS.length - supported.length,
      error: 0,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(report.diagnostics.some((l) => l.startsWith('sensor counters')));
    assert.equal(
      report.latency?.n,
      SCENARIOS.reduce((n, s) => n + s.expectedRuleIds.length, 0),
    );
    assert.ok(!report.diagnostics.some((l) => /dropped-in-kernel=[1-9]/.test(l)), report.diagnostics.join('\n'));
  },
);

test(
  'simulate --local: a disabled rule is reported as missed, exit code 1, and the table says so',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    prepare();
    const dir = tempDir('palisade-simulate-');
    const rules = join(dir.path, 'disable.yaml');
    writeFileSync(rules, 'rules:\n  - id: PAL-RT-005\n    override: true\n    enabled: false\n');
    const r = await run([
      'simulate',
      '--local',
      '--image',
      IMAGE,
      '--oci-runtime',
      '/usr/sbin/runc',
      '--rules',
      rules,
      '--scenario',
      'crypto-miner',
      '--scenario',
      'exec-from-tmp',
      '--timeout',
      '1',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^crypto-miner\s+PAL-RT-005\s+missed\s+-/m);
    assert.match(r.stdout, /^exec-from-tmp\s+PAL-RT-007\s+detected\s+\d+ ms/m);
    assert.match(r.stdout, /1 detected, 1 missed, 0 skipped \(local, image /);
    dir.cleanup();
  },
);
