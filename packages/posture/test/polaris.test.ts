/**
 * Polaris' own check fixtures: for each Polaris check Palisade covers, every `failure*`
 * fixture must produce a finding from the Palisade check mapped to it, every `success*` (and
 * `mutated*`, Polaris' auto-fixed output) none. Polaris checks left out are listed with why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testkit';
import { scanManifests } from '../src/index.js';

/**
 * Polaris check → the Palisade check that covers it. Under restricted (the default) upstream's
 * restricted controls replace some baseline ones, so those list both.
 */
export const POLARIS_MAP: Record<string, string | readonly string[]> = {
  automountServiceAccountToken: 'workload-automount-sa-token',
  cpuLimitsMissing: 'workload-cpu-limits',
  cpuRequestsMissing: 'workload-cpu-requests',
  memoryLimitsMissing: 'workload-memory-limits',
  memoryRequestsMissing: 'workload-memory-requests',
  dangerousCapabilities: 'workload-dangerous-capabilities',
  insecureCapabilities: 'workload-capabilities-not-dropped',
  hostIPCSet: 'pss-host-namespaces',
  hostNetworkSet: 'pss-host-namespaces',
  hostPIDSet: 'pss-host-namespaces',
  hostPathSet: ['pss-host-path-volumes', 'pss-restricted-volumes'],
  hostPortSet: 'pss-host-ports',
  hostProcess: 'pss-windows-host-process',
  livenessProbeMissing: 'workload-liveness-probe',
  readinessProbeMissing: 'workload-readiness-probe',
  notReadOnlyRootFilesystem: 'workload-read-only-root-fs',
  privilegeEscalationAllowed: 'pss-allow-privilege-escalation',
  procMount: ['pss-proc-mount', 'pss-proc-mount-restricted'],
  runAsPrivileged: 'pss-privileged',
  runAsRootAllowed: 'pss-run-as-non-root',
  sensitiveContainerEnvVar: 'workload-secrets-in-env',
  tagNotSpecified: 'workload-image-tag-latest',
};

/** Polaris checks not covered, and why (also in docs/posture.md). */
export const POLARIS_NOT_COVERED: Record<string, string> = {
  clusterrolePodExecAttach: 'RBAC analysis is not implemented yet',
  clusterrolebindingClusterAdmin: 'RBAC analysis is not implemented yet',
  clusterrolebindingPodExecAttach: 'RBAC analysis is not implemented yet',
  rolePodExecAttach: 'RBAC analysis is not implemented yet',
  rolebindingClusterAdminClusterRole: 'RBAC analysis is not implemented yet',
  rolebindingClusterAdminRole: 'RBAC analysis is not implemented yet',
  rolebindingClusterRolePodExecAttach: 'RBAC analysis is not implemented yet',
  rolebindingRolePodExecAttach: 'RBAC analysis is not implemented yet',
  missingNetworkPolicy: 'cross-object network policy coverage is not implemented yet',
  sensitiveConfigmapContent: 'secret detection in ConfigMap data is not implemented yet',
  tlsSettingsMissing: 'Ingress checks are not implemented yet',
  linuxHardening:
    'a composite "any one of seccomp/SELinux/AppArmor/drop ALL" rule; Palisade reports each control on its own (pss-seccomp-restricted, pss-selinux, pss-apparmor, pss-capabilities-restricted)',
  pullPolicyNotAlways: 'not a security control by itself; Palisade flags mutable tags and missing digests instead',
  deploymentMissingReplicas: 'reliability, not security posture',
  hpaMaxAvailability: 'reliability, not security posture',
  hpaMinAvailability: 'reliability, not security posture',
  missingPodDisruptionBudget: 'reliability, not security posture',
  pdbDisruptionsIsZero: 'reliability, not security posture',
  pdbMinAvailableGreaterThanHPAMinReplicas: 'reliability, not security posture',
  topologySpreadConstraint: 'reliability, not security posture',
  priorityClassNotSet: 'reliability, not security posture',
  nakedPod: 'reliability, not security posture',
  oneController: 'reliability, not security posture',
  metadataAndInstanceMismatched: 'labelling convention, not security posture',
  resourceRange:
    'needs per-cluster thresholds (Polaris configuration); Palisade checks presence of requests and limits',
};

test('polaris: every fixture of every covered check', () => {
  const root = sharedPath('conformance', 'posture', 'polaris');
  const dirs = readdirSync(root).sort();
  for (const d of dirs)
    assert.ok(
      POLARIS_MAP[d] !== undefined || POLARIS_NOT_COVERED[d] !== undefined,
      `polaris check ${d} is neither mapped nor listed`,
    );
  let total = 0;
  const failures: string[] = [];
  for (const [polaris, mapped] of Object.entries(POLARIS_MAP).sort()) {
    const ids: readonly string[] = typeof mapped === 'string' ? [mapped] : mapped;
    const checkId = ids.join('|');
    for (const name of readdirSync(join(root, polaris)).sort()) {
      const file = join(root, polaris, name);
      const expectFinding = name.startsWith('failure');
      total++;
      const report = scanManifests([{ file, text: readFileSync(file, 'utf8') }]);
      assert.equal(report.errors.length, 0, `${file}: ${JSON.stringify(report.errors)}`);
      const hits = report.misconfigurations.filter((m) => ids.includes(m.checkId));
      if (expectFinding && hits.length === 0) failures.push(`${polaris}/${name}: expected a ${checkId} finding`);
      if (!expectFinding && hits.length > 0)
        failures.push(`${polaris}/${name}: unexpected ${checkId} at ${hits.map((h) => h.path).join(', ')}`);
    }
  }
  const passed = total - failures.length;
  console.log(
    `polaris: ${passed}/${total} fixtures of ${Object.keys(POLARIS_MAP).length} covered checks; not covered: ${Object.keys(POLARIS_NOT_COVERED).length}`,
  );
  assert.deepEqual(failures, []);
});
