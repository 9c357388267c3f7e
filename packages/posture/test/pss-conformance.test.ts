/**
 * The Kubernetes pod-security-admission conformance fixtures, every one: at each level and
 * policy version, a `fail` fixture must produce a finding for that level from the control its
 * file name names (or the restricted control that overrides it), a `pass` fixture none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testkit';
import { fixedClock } from '@palisade/core';
import { scanManifests, type PostureReport } from '../src/index.js';

/** Fixture file-name prefix → the upstream controls that may report it. */
const CONTROLS: Record<string, readonly string[]> = {
  allowprivilegeescalation: ['allowPrivilegeEscalation'],
  apparmorprofile: ['appArmorProfile'],
  capabilities_baseline: ['capabilities_baseline', 'capabilities_restricted'],
  capabilities_restricted: ['capabilities_restricted'],
  hostnamespaces: ['hostNamespaces'],
  hostpathvolumes: ['hostPathVolumes', 'restrictedVolumes'],
  hostports: ['hostPorts'],
  hostprobesandhostlifecycle: ['hostProbesAndHostLifecycle'],
  privileged: ['privileged'],
  procmount: ['procMount', 'procMount_restricted'],
  procmount_restricted: ['procMount_restricted'],
  restrictedvolumes: ['restrictedVolumes'],
  runasnonroot: ['runAsNonRoot'],
  runasuser: ['runAsUser'],
  seccompprofile_baseline: ['seccompProfile_baseline', 'seccompProfile_restricted'],
  seccompprofile_restricted: ['seccompProfile_restricted'],
  selinuxoptions: ['seLinuxOptions'],
  sysctls: ['sysctls'],
  windowshostprocess: ['windowsHostProcess'],
};

function pssScan(file: string, level: 'baseline' | 'restricted', minor: number): PostureReport {
  return scanManifests([{ file, text: readFileSync(file, 'utf8') }], {
    pssLevel: level,
    pssVersion: minor,
    pssOnly: true,
    clock: fixedClock('2025-01-01T00:00:00Z'),
  });
}

test('PSS conformance: every pod-security-admission fixture, every level and version', () => {
  const root = sharedPath('conformance', 'pss');
  let total = 0;
  const failures: string[] = [];
  for (const level of ['baseline', 'restricted'] as const) {
    for (const dir of readdirSync(join(root, level)).sort()) {
      const minor = Number(/^v1\.(\d+)$/.exec(dir)?.[1]);
      assert.ok(Number.isInteger(minor), `unexpected version folder ${dir}`);
      for (const expect of ['pass', 'fail'] as const) {
        for (const name of readdirSync(join(root, level, dir, expect)).sort()) {
          total++;
          const file = join(root, level, dir, expect, name);
          const report = pssScan(file, level, minor);
          assert.equal(report.errors.length, 0, `${file}: ${JSON.stringify(report.errors)}`);
          const found = report.misconfigurations.filter((m) => m.pss !== undefined);
          if (expect === 'pass') {
            if (found.length > 0)
              failures.push(
                `${level}/${dir}/pass/${name}: unexpected ${found.map((m) => `${m.pss?.control} at ${m.path}`).join('; ')}`,
              );
            continue;
          }
          const prefix = name.replace(/\d*\.yaml$/, '');
          const controls = CONTROLS[prefix];
          assert.ok(controls, `no control known for fixture ${name}`);
          const right = found.filter((m) => controls.includes(m.pss?.control ?? ''));
          if (right.length === 0)
            failures.push(
              `${level}/${dir}/fail/${name}: no ${controls.join('|')} finding (got ${found.map((m) => m.pss?.control).join(', ') || 'none'})`,
            );
          for (const m of right) {
            assert.equal(m.pss?.version, `v1.${minor}`);
            assert.ok(m.source?.line !== undefined && m.source.line > 0, `${file}: finding without a line`);
          }
        }
      }
    }
  }
  const passed = total - failures.length;
  console.log(`PSS conformance: ${passed}/${total} fixtures (${((100 * passed) / total).toFixed(2)}%)`);
  assert.deepEqual(failures, []);
  assert.ok(total > 4000, `expected the whole fixture set, read ${total}`);
});
