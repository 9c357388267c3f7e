/**
 * A 50 MB manifest, generated here, must be scanned in a heap capped at 512 MB: documents,
 * List items (JSON, and one huge YAML List document split by indentation) are parsed one at
 * a time, so memory follows the findings, not the input; every finding points at its line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./large-child.js', import.meta.url));

interface ChildResult {
  bytes: number;
  summary: { objects: number; checked: number; findings: number };
  errors: number;
  privileged: number;
  positionsMatch: boolean;
  firstMismatch: string | null;
  lastLine: number;
}

function runChild(format: 'yaml' | 'yaml-list' | 'json'): ChildResult {
  const out = execFileSync(process.execPath, ['--max-old-space-size=512', CHILD, format], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out) as ChildResult;
}

for (const format of ['yaml', 'yaml-list', 'json'] as const) {
  test(`a 50 MB ${format} manifest is scanned within a 512 MB heap`, () => {
    const r = runChild(format);
    assert.ok(r.bytes >= 50 * 1024 * 1024, `generated ${r.bytes} bytes`);
    assert.equal(r.errors, 0);
    assert.equal(r.summary.checked, r.summary.objects);
    const deployments = Math.ceil(r.summary.objects / 100);
    assert.equal(r.privileged, deployments, 'one privileged finding per Deployment');
    assert.ok(r.positionsMatch, `findings point at their field's line and column (first mismatch ${r.firstMismatch})`);
    assert.ok(r.lastLine > 100_000, 'lines are counted through the whole file');
  });
}
