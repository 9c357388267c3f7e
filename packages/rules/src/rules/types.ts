import { PalisadeError, type MitreRef, type RuntimeEventType, type Severity } from '@palisade/core';

/** A rule file as text, with the name used in error messages. */
export interface RuleSource {
  file: string;
  text: string;
}

/** How an exception compares the field's value with its values. */
export type ExceptionMatch = 'exact' | 'prefix';

export interface RuleException {
  name: string;
  /** A field path, e.g. `container.image`, `k8s.namespace`, `proc.exe`. */
  field: string;
  values: string[];
  /** Name of a list whose items are added to `values` when the rule is compiled. */
  list?: string;
  match: ExceptionMatch;
  line: number;
}

/** Where a definition came from, for error messages. */
export interface Origin {
  file: string;
  line: number;
}

/** A rule as written in YAML, validated, before its CEL is compiled. */
export interface RuleSpec {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  mitre: MitreRef[];
  events: RuntimeEventType[];
  condition: string;
  exceptions: RuleException[];
  output: string;
  tags: string[];
  enabled: boolean;
  origin: Origin;
  /** Line of the condition's YAML value (its CEL text may span lines). */
  conditionLine: number;
  /** True when the condition is a YAML block scalar (its text starts on the next line). */
  conditionBlock: boolean;
}

/**
 * A problem in a rule file: the file, the line and the reason. Loading carries on past it:
 * the rule (or the whole file, for a YAML syntax error) is left out, every other rule loads.
 */
export class RuleLoadError extends PalisadeError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    readonly ruleId?: string,
  ) {
    super('E_INPUT', ruleId ? `rule ${ruleId}: ${reason}` : reason, { subject: `${file}:${line}` });
    this.name = 'RuleLoadError';
  }
}
