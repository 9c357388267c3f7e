/**
 * Misconfigurations: what posture assessment (Kubernetes manifests, live clusters) reports.
 * One finding names the check that failed, the resource and the field at fault, what to
 * change, and the compliance frameworks the check maps to, so every output format (table,
 * JSON, SARIF, the server) is written from this one shape.
 */
import type { Severity } from './severity.js';

/** Compliance frameworks a check can map to. */
export const FRAMEWORKS = ['PSS', 'CIS', 'NSA', 'MITRE'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** Control ids per framework, e.g. `{ CIS: ['5.2.2'], MITRE: ['T1611'] }`. */
export type FrameworkMapping = Partial<Record<Framework, readonly string[]>>;

/** The Kubernetes object a finding is about. `cluster` is absent for manifests read from files. */
export interface ResourceRef {
  cluster?: string;
  /** Absent for cluster-scoped objects and for namespaced objects that do not name one. */
  namespace?: string;
  apiVersion?: string;
  kind: string;
  name: string;
}

/** Where the offending field was read from, when it came from a file or stdin (`-`). */
export interface SourceLocation {
  file: string;
  /** One-based line of the field at fault (or of its nearest existing parent). */
  line?: number;
  column?: number;
  /** Zero-based index of the YAML document in a multi-document stream. */
  document?: number;
}

/** Pod Security Standards: the level a finding violates and the policy version it was judged by. */
export type PssLevel = 'baseline' | 'restricted';

export interface PssFinding {
  level: PssLevel;
  /** Upstream check id, e.g. `allowPrivilegeEscalation`, `procMount_restricted`. */
  control: string;
  /** Policy version the check was evaluated at, `v1.N`. */
  version: string;
}

export interface Misconfiguration {
  /** Stable id from check id, resource and field path: equal inputs give equal ids. */
  id: string;
  checkId: string;
  checkVersion: number;
  title: string;
  severity: Severity;
  /** What is wrong with this resource, in one line. */
  message: string;
  resource: ResourceRef;
  /** The field at fault, e.g. `spec.template.spec.containers[0].securityContext.privileged`. */
  path: string;
  /** What to change. */
  remediation: string;
  frameworks: FrameworkMapping;
  pss?: PssFinding;
  source?: SourceLocation;
}
