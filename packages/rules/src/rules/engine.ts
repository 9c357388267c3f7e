/**
 * The rule engine: compiles every enabled rule once (condition, exceptions, output) and
 * indexes the rules by event type, so an event is only ever offered to the rules that name
 * its type. A condition that evaluates to an error (a missing field, a type mismatch) is
 * treated as false and counted per rule, never thrown: one odd event must not stop detection.
 */
import { stableId, type Alert, type RuntimeEvent, type RuntimeEventType } from '@palisade/core';
import { CelError, displayValue, type CelValue } from '../cel/values.js';
import { compileCel, type CelProgram, type CompileOptions } from '../cel/compile.js';
import { CelSyntaxError } from '../cel/parser.js';
import { parseRuleSources, type RuleSet } from './loader.js';
import { RuleLoadError, type RuleException, type RuleSource, type RuleSpec } from './types.js';

/** Top-level names a condition may use: the fields of RuntimeEvent, plus `evt` for the whole event. */
export const EVENT_VARIABLES: ReadonlySet<string> = new Set([
  'id',
  'type',
  'time',
  'node',
  'proc',
  'container',
  'k8s',
  'exit',
  'net',
  'file',
  'ptrace',
  'mount',
  'ns',
  'module',
  'memfd',
  'cred',
  'bpf',
  'audit',
]);

const PLACEHOLDER_RE = /%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/g;

interface OutputPart {
  text: string;
  field?: { path: string; program: CelProgram };
}

export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly condition: CelProgram;
  /** True when one of the rule's exceptions covers the event. */
  readonly excepted: (ev: RuntimeEvent) => boolean;
  readonly output: readonly OutputPart[];
}

export interface RuleStats {
  /** Events offered to the rule. */
  evaluated: number;
  /** Evaluations whose condition ended in an error (counted as not matching). */
  errors: number;
  lastError?: string;
  alerts: number;
  /** Condition matches dropped by an exception. */
  excepted: number;
}

function celOptions(set: RuleSet): CompileOptions {
  const macros = new Map<string, string>();
  for (const [k, v] of set.macros) macros.set(k, v.text);
  const constants = new Map<string, CelValue>();
  for (const [k, v] of set.lists) constants.set(k, v);
  return { macros, constants, variables: EVENT_VARIABLES, selfName: 'evt' };
}

/** Maps a position inside a condition to a line in the rule file. */
function conditionError(spec: RuleSpec, err: CelSyntaxError): RuleLoadError {
  const line = spec.conditionLine + (spec.conditionBlock ? err.line : err.line - 1);
  return new RuleLoadError(spec.origin.file, line, `condition ${err.line}:${err.column}: ${err.reason}`, spec.id);
}

function compileException(ex: RuleException, set: RuleSet, opts: CompileOptions): (ev: RuntimeEvent) => boolean {
  const program = compileCel(ex.field, { ...opts, macros: new Map(), constants: new Map() });
  const values = [...ex.values, ...(ex.list ? (set.lists.get(ex.list) ?? []).map(String) : [])];
  if (ex.match === 'exact') {
    const wanted = new Set(values);
    return (ev) => {
      const v = program.evaluate(ev);
      return typeof v === 'string' ? wanted.has(v) : typeof v === 'number' && wanted.has(String(v));
    };
  }
  return (ev) => {
    const v = program.evaluate(ev);
    return typeof v === 'string' && values.some((p) => v.startsWith(p));
  };
}

function compileOutput(template: string, opts: CompileOptions): OutputPart[] {
  const parts: OutputPart[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const path = m[1] as string;
    parts.push({ text: template.slice(last, m.index) });
    const program = compileCel(path, { ...opts, macros: new Map(), constants: new Map() });
    parts.push({ text: '', field: { path, program } });
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push({ text: template.slice(last) });
  return parts.filter((p) => p.text !== '' || p.field);
}

function compileRule(spec: RuleSpec, set: RuleSet, opts: CompileOptions): CompiledRule {
  let condition: CelProgram;
  try {
    condition = compileCel(spec.condition, opts);
  } catch (err) {
    if (err instanceof CelSyntaxError) throw conditionError(spec, err);
    throw err;
  }
  const line = (l: number, what: string, err: unknown): RuleLoadError =>
    new RuleLoadError(
      spec.origin.file,
      l,
      `${what}: ${err instanceof CelSyntaxError ? err.reason : String(err)}`,
      spec.id,
    );
  const exceptions = spec.exceptions.map((ex) => {
    if (ex.list && !set.lists.has(ex.list))
      throw new RuleLoadError(spec.origin.file, ex.line, `exception values: unknown list '${ex.list}'`, spec.id);
    try {
      return compileException(ex, set, opts);
    } catch (err) {
      throw line(ex.line, `exception '${ex.name}'`, err);
    }
  });
  let output: OutputPart[];
  try {
    output = compileOutput(spec.output, opts);
  } catch (err) {
    throw line(spec.origin.line, 'output', err);
  }
  const excepted = exceptions.length === 0 ? () => false : (ev: RuntimeEvent) => exceptions.some((x) => x(ev));
  return { spec, condition, excepted, output };
}

export interface CompileResult {
  rules: CompiledRule[];
  errors: RuleLoadError[];
}

/** Compiles the enabled rules of a set; a rule that does not compile is reported and skipped. */
export function compileRuleSet(set: RuleSet): CompileResult {
  const opts = celOptions(set);
  const rules: CompiledRule[] = [];
  const errors: RuleLoadError[] = [];
  for (const spec of set.rules.values()) {
    if (!spec.enabled) continue;
    try {
      rules.push(compileRule(spec, set, opts));
    } catch (err) {
      if (err instanceof RuleLoadError) errors.push(err);
      else errors.push(new RuleLoadError(spec.origin.file, spec.origin.line, String(err), spec.id));
    }
  }
  return { rules, errors };
}

export class RuleEngine {
  private readonly byType = new Map<string, CompiledRule[]>();
  private readonly ruleStats = new Map<string, RuleStats>();
  /** Stats in index order, parallel to each byType list, so evaluation needs no map lookups. */
  private readonly statsByType = new Map<string, RuleStats[]>();

  constructor(readonly rules: readonly CompiledRule[]) {
    for (const r of rules) {
      const stats: RuleStats = { evaluated: 0, errors: 0, alerts: 0, excepted: 0 };
      this.ruleStats.set(r.spec.id, stats);
      for (const t of new Set(r.spec.events)) {
        if (!this.byType.has(t)) {
          this.byType.set(t, []);
          this.statsByType.set(t, []);
        }
        this.byType.get(t)?.push(r);
        this.statsByType.get(t)?.push(stats);
      }
    }
  }

  /** Parses, merges and compiles rule files; problems come back in `errors`, never thrown. */
  static fromSources(sources: readonly RuleSource[]): { engine: RuleEngine; errors: RuleLoadError[] } {
    const parsed = parseRuleSources(sources);
    const compiled = compileRuleSet(parsed.set);
    return { engine: new RuleEngine(compiled.rules), errors: [...parsed.errors, ...compiled.errors] };
  }

  /** The rules an event of this type is offered to. */
  rulesFor(type: RuntimeEventType): readonly CompiledRule[] {
    return this.byType.get(type) ?? [];
  }

  stats(ruleId: string): Readonly<RuleStats> | undefined {
    return this.ruleStats.get(ruleId);
  }

  /** Total condition evaluations that ended in an error, over all rules. */
  errorCount(): number {
    let n = 0;
    for (const s of this.ruleStats.values()) n += s.errors;
    return n;
  }

  evaluate(ev: RuntimeEvent): Alert[] {
    const rules = this.byType.get(ev.type);
    if (rules === undefined) return [];
    const stats = this.statsByType.get(ev.type) as RuleStats[];
    let out: Alert[] | undefined;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      const s = stats[i] as RuleStats;
      s.evaluated++;
      const v = rule.condition.evaluate(ev);
      if (v === true) {
        if (rule.excepted(ev)) {
          s.excepted++;
          continue;
        }
        s.alerts++;
        (out ??= []).push(makeAlert(rule, ev));
      } else if (v !== false) {
        s.errors++;
        s.lastError = v instanceof CelError ? v.message : 'condition is not a bool';
      }
    }
    return out ?? [];
  }
}

function makeAlert(rule: CompiledRule, ev: RuntimeEvent): Alert {
  const spec = rule.spec;
  const fields: Record<string, string> = {};
  let output = '';
  for (const part of rule.output) {
    if (!part.field) {
      output += part.text;
      continue;
    }
    const v = part.field.program.evaluate(ev);
    const text = v instanceof CelError ? '<NA>' : displayValue(v);
    fields[part.field.path] = text;
    output += text;
  }
  return {
    id: stableId(spec.id, ev.id),
    ruleId: spec.id,
    severity: spec.severity,
    title: spec.title,
    output,
    fields,
    mitre: spec.mitre,
    tags: spec.tags,
    events: [ev],
    time: ev.time,
  };
}
