/**
 * What a posture check is: data (id, title, severity, what to change, frameworks) and code
 * (`check`) in one value, so the list in checks.ts is the whole catalogue and the docs, the
 * SARIF rules and `palisade posture checks` are all generated from it.
 */
import { PluginRegistry, type FrameworkMapping, type Plugin, type PssLevel, type Severity } from '@palisade/core';
import type { ClusterIndex, Located } from './analysis.js';
import type { FieldPath, JsonObject } from './path.js';

/** One thing wrong in one object: the field at fault and what is wrong with it. */
export interface Violation {
  path: FieldPath;
  message: string;
  /**
   * The violation is withdrawn when this other object of the input exists and `holds` for it
   * (a ServiceAccount that disables token automounting). Judged after the whole input is read,
   * so documents may come in any order and need not be kept in memory meanwhile.
   */
  unless?: { kind: string; namespace: string | undefined; name: string; holds: (other: JsonObject) => boolean };
}

export interface CheckContext {
  /** Pod Security Standards policy version to judge by: the minor of `v1.N`. */
  pssVersion: number;
}

/** How a check belongs to the Pod Security Standards. */
export interface PssControl {
  level: PssLevel;
  /** The upstream check id (pod-security-admission), e.g. `procMount_restricted`. */
  control: string;
  /** First policy minor the check exists in (`v1.since`). */
  since: number;
  /** Baseline controls this restricted check replaces while it is in force, as upstream. */
  overrides?: readonly string[];
}

export interface Check extends Plugin {
  readonly id: string;
  /** Bumped whenever the logic changes, so stored results can be redone. */
  readonly version: number;
  readonly title: string;
  readonly severity: Severity;
  readonly description: string;
  readonly remediation: string;
  readonly frameworks: FrameworkMapping;
  readonly pss?: PssControl;
  /**
   * Kinds this check judges beyond the ones Palisade knows (custom checks name theirs, so a
   * custom resource kind is checked instead of skipped).
   */
  readonly kinds?: readonly string[];
  /** Where a custom check was defined (its file and line); absent for built-in checks. */
  readonly source?: { file: string; line: number };
  /** Kinds this check's `unless` refers to: the engine keeps objects of these kinds. */
  readonly lookups?: readonly string[];
  check(obj: JsonObject, ctx: CheckContext): Violation[];
  /**
   * Cross-object analysis (RBAC, exposure), run once after the whole input is read, over the
   * index the engine builds only when a check in force has this. Each violation names the
   * object it is reported on, which need not be the object that caused it.
   */
  analyze?(index: ClusterIndex, ctx: CheckContext): AnalysisViolation[];
}

/** A violation found by cross-object analysis, and the object it is reported on. */
export interface AnalysisViolation {
  at: Located;
  violation: Violation;
}

/** The registry of checks: a duplicate id throws at load. */
export function checkRegistry(checks: readonly Check[]): PluginRegistry<Check> {
  return new PluginRegistry<Check>('posture checks', checks);
}
