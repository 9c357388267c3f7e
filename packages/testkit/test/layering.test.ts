/**
 * Dependencies between packages point one way (docs/architecture.md):
 * core ← oci, vulndb, kube, rules ← scanner, posture, sensor, admission ← server ← cli.
 * This test fails on any import, in source or package.json, that goes against that direction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../src/index.js';

const ALLOWED: Record<string, string[]> = {
  core: [],
  testkit: ['core'],
  oci: ['core'],
  vulndb: ['core'],
  kube: ['core'],
  rules: ['core'],
  // The second tier may use any of the first (docs/architecture.md), never each other.
  scanner: ['core', 'oci', 'vulndb', 'kube', 'rules'],
  posture: ['core', 'oci', 'vulndb', 'kube', 'rules'],
  sensor: ['core', 'oci', 'vulndb', 'kube', 'rules'],
  admission: ['core', 'posture', 'scanner', 'vulndb', 'oci', 'kube', 'rules'],
  server: ['core', 'oci', 'vulndb', 'kube', 'rules', 'scanner', 'posture', 'sensor', 'admission'],
  cli: ['core', 'oci', 'vulndb', 'kube', 'rules', 'scanner', 'posture', 'sensor', 'admission', 'server'],
};

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('package imports follow the layering', () => {
  const root = repoRoot();
  const pkgs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
  const violations: string[] = [];
  for (const pkg of pkgs) {
    const allowed = ALLOWED[pkg];
    if (pkg === 'console') continue; // talks to the server over HTTP only, and imports no workspace package
    assert.ok(allowed, `packages/${pkg} is not in the layering table of this test; add it`);
    for (const file of tsFiles(join(root, 'packages', pkg, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](@palisade\/[a-z-]+|palisade)['"]/g)) {
        const dep = m[1] === 'palisade' ? 'cli' : (m[1] ?? '').slice('@palisade/'.length);
        if (dep !== pkg && !allowed.includes(dep)) violations.push(`${file}: imports ${dep}`);
      }
      for (const m of text.matchAll(/from\s*['"]\.\.\/\.\.\/\.\.\/([a-z-]+)\//g)) {
        violations.push(`${file}: reaches into packages/${m[1]} by relative path`);
      }
    }
    const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      if (!dep.startsWith('@palisade/')) continue;
      const d = dep.slice('@palisade/'.length);
      if (!allowed.includes(d)) violations.push(`packages/${pkg}/package.json: depends on ${d}`);
    }
  }
  assert.deepEqual(violations, []);
});
