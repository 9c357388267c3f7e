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
import type { Misconfiguration } from '@palisade/core';
import { scanManifests } from '../src/index.js';

/**
 * Polaris splits one RBAC concern into a check per object kind (ClusterRole, Role,
 * ClusterRoleBinding, RoleBinding → Role or ClusterRole); Palisade judges it in one check that
 * reports on the role (path `rules[i]`) and on each binding subject (message naming the
 * binding → role path). The filter picks the findings a Polaris check corresponds to.
 */
export interface RbacMapping {
  ids: readonly string[];
  filter: (m: Misconfiguration) => boolean;
}

const onKind =
  (kind: string, roleKind?: 'Role' | 'ClusterRole') =>
  (m: Misconfiguration): boolean =>
    m.resource.kind === kind &&
    (roleKind === undefined || m.checkId === 'rbac-unresolved-role-ref' || m.message.includes(`→ ${roleKind} `));

const EXEC = ['rbac-pod-exec-attach', 'rbac-unresolved-role-ref'];
const ADMIN = ['rbac-cluster-admin-binding'];
export const POLARIS_RBAC_MAP: Record<string, RbacMapping> = {
  clusterrolePodExecAttach: { ids: EXEC, filter: onKind('ClusterRole') },
  rolePodExecAttach: { ids: EXEC, filter: onKind('Role') },
  clusterrolebindingPodExecAttach: { ids: EXEC, filter: onKind('ClusterRoleBinding') },
  rolebindingClusterRolePodExecAttach: { ids: EXEC, filter: onKind('RoleBinding', 'ClusterRole') },
  rolebindingRolePodExecAttach: { ids: EXEC, filter: onKind('RoleBinding', 'Role') },
  clusterrolebindingClusterAdmin: { ids: ADMIN, filter: onKind('ClusterRoleBinding') },
  rolebindingClusterAdminClusterRole: { ids: ADMIN, filter: onKind('RoleBinding', 'ClusterRole') },
  rolebindingClusterAdminRole: { ids: ADMIN, filter: onKind('RoleBinding', 'Role') },
};

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
      POLARIS_MAP[d] !== undefined || POLARIS_RBAC_MAP[d] !== undefined || POLARIS_NOT_COVERED[d] !== undefined,
      `polaris check ${d} is neither mapped nor listed`,
    );
  let total = 0;
  const failures: string[] = [];
  const mappings: Array<[string, RbacMapping]> = [
    ...Object.entries(POLARIS_MAP).map(([polaris, mapped]): [string, RbacMapping] => [
      polaris,
      { ids: typeof mapped === 'string' ? [mapped] : mapped, filter: () => true },
    ]),
    ...Object.entries(POLARIS_RBAC_MAP),
  ].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [polaris, { ids, filter }] of mappings) {
    const checkId = ids.join('|');
    for (const name of readdirSync(join(root, polaris)).sort()) {
      const file = join(root, polaris, name);
      const expectFinding = name.startsWith('failure');
      total++;
      const report = scanManifests([{ file, text: readFileSync(file, 'utf8') }]);
      assert.equal(report.errors.length, 0, `${file}: ${JSON.stringify(report.errors)}`);
      const hits = report.misconfigurations.filter((m) => ids.includes(m.checkId) && filter(m));
      if (expectFinding && hits.length === 0) failures.push(`${polaris}/${name}: expected a ${checkId} finding`);
      if (!expectFinding && hits.length > 0)
        failures.push(`${polaris}/${name}: unexpected ${checkId} at ${hits.map((h) => h.path).join(', ')}`);
    }
  }
  const passed = total - failures.length;
  console.log(
    `polaris: ${passed}/${total} fixtures of ${mappings.length} covered checks; not covered: ${Object.keys(POLARIS_NOT_COVERED).length}`,
  );
  assert.deepEqual(failures, []);
});
