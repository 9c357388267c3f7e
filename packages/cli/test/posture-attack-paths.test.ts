/**
 * `palisade posture scan --image-vulns FILE`: attack paths in the table and the JSON report,
 * ranked with the file's vulnerability counts; a missing or malformed file is an input error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, tempDir } from '@palisade/testkit';
import { run } from './helpers.js';

const CLUSTER = fixturePath('posture', 'attack-paths', 'cluster.yaml');
const VULNS = fixturePath('posture', 'attack-paths', 'image-vulns.json');

test('posture scan --image-vulns: ranked attack paths in table and JSON', async () => {
  const table = await run(['posture', 'scan', '--image-vulns', VULNS, CLUSTER]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ATTACK PATHS$/m);
  assert.match(
    table.stdout,
    /^#2 CRITICAL 90 {2}Internet-facing Deployment shop\/web \(LoadBalancer :443\) runs image nginx:1\.25 with 3 critical vulnerabilities \(1 in KEV\)/m,
  );
  const json = await run(['posture', 'scan', '-f', 'json', '--image-vulns', VULNS, CLUSTER]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { attackPaths: Array<{ rank: number; score: number }> };
  assert.deepEqual(
    report.attackPaths.map((p) => p.score),
    [90, 90, 56, 32, 25, 14],
  );
  // Without the file the same privileges still make paths, ranked on unknown exploitability.
  const plain = await run(['posture', 'scan', '-f', 'json', CLUSTER]);
  const without = JSON.parse(plain.stdout) as { attackPaths: Array<{ score: number }> };
  assert.deepEqual(
    without.attackPaths.map((p) => p.score),
    [50, 45, 40, 32, 24],
  );
});

test('posture scan --image-vulns: a missing or malformed file exits 2 naming the file', async () => {
  const dir = tempDir();
  try {
    const missing = await run(['posture', 'scan', '--image-vulns', join(dir.path, 'nope.json'), CLUSTER]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.json: cannot read the --image-vulns file: no such file/);
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, '{"nginx:1.25": {"critical": "three", "high": 0}}');
    const malformed = await run(['posture', 'scan', '--image-vulns', bad, CLUSTER]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /bad\.json: "nginx:1\.25"\.critical must be a non-negative integer, got "three"/);
    assert.doesNotMatch(malformed.stderr, /at .*\.js:\d+/, 'no stack trace');
  } finally {
    dir.cleanup();
  }
});
