/**
 * Custom checks: posture checks written as CEL expressions in a YAML file, loaded at run time
 * (`palisade posture scan --checks FILE`) into the same registry as the built-in ones, so
 * nothing needs rebuilding. A check's `condition` is CEL over `object` (the manifest object)
 * that is true when the object violates the check.
 *
 * ```yaml
 * checks:
 *   - id: custom-team-label
 *     title: No team label
 *     severity: low
 *     description: Every workload names the team that owns it.
 *     remediation: Add metadata.labels.team.
 *     kinds: [Deployment, StatefulSet]
 *     condition: "!has(object.metadata.labels) || !('team' in object.metadata.labels)"
 *     path: metadata.labels
 *     frameworks: { NSA: ['Namespaces'] }
 * ```
 *
 * The CEL evaluator is passed in (a `ConditionLanguage`; the CLI gives `@palisade/rules`'
 * compileCel), so posture keeps depending on core and kube only.
 *
 * Loading fails with `FILE:LINE: reason` on the first problem (bad YAML, a missing field, a
 * CEL syntax error, a duplicate id); an object the condition cannot be evaluated on is not a
 * crash: the scan counts it and reports it once per check (see scan.ts).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import {
  FRAMEWORKS,
  PalisadeError,
  SEVERITIES,
  isSeverity,
  type Framework,
  type FrameworkMapping,
  type Severity,
} from '@palisade/core';
import type { Check, Violation } from './check.js';
import { CHECKS } from './checks.js';
import type { FieldPath, JsonObject } from './path.js';

/** Thrown by a custom check whose condition cannot be evaluated on an object; the scan counts it. */
export class CheckEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckEvaluationError';
  }
}

/** A compiled condition: evaluates to a bool, or to an error value (returned, not thrown). */
export interface ConditionProgram {
  evaluate(activation: { object: JsonObject }): unknown;
}

/**
 * The expression language custom check conditions are written in (CEL). `compile` throws an
 * error with `line`, `column` (inside the expression) and `reason` on a syntax error.
 */
export interface ConditionLanguage {
  /** Compile a condition whose only variable is `object`. */
  compile(source: string, variables: ReadonlySet<string>): ConditionProgram;
  /** When `value` is an evaluation error, its message; otherwise undefined. */
  errorOf(value: unknown): string | undefined;
  /** A value for a message (`int 3`), for conditions that do not give a bool. */
  describe(value: unknown): string;
}

interface SyntaxErrorLike {
  line: number;
  column: number;
  reason: string;
}

function isSyntaxError(err: unknown): err is SyntaxErrorLike {
  const e = err as Partial<SyntaxErrorLike> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.line === 'number' &&
    typeof e.column === 'number' &&
    typeof e.reason === 'string'
  );
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VARIABLES: ReadonlySet<string> = new Set(['object']);

function loadError(file: string, line: number, message: string): PalisadeError {
  return new PalisadeError('E_INPUT', `${file}:${line}: ${message}`);
}

/**
 * A report path (`spec.template.spec.volumes[0].hostPath`, `metadata.labels["app.kubernetes.io/name"]`)
 * as segments; undefined when it is not one.
 */
export function parseFieldPath(text: string): FieldPath | undefined {
  const out: Array<string | number> = [];
  let i = 0;
  const s = text.trim();
  if (s === '') return [];
  while (i < s.length) {
    if (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) return undefined;
      const inner = s.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) out.push(JSON.parse(inner) as string);
      else if (/^'[^']*'$/.test(inner)) out.push(inner.slice(1, -1));
      else return undefined;
      i = close + 1;
    } else {
      if (s[i] === '.') {
        if (out.length === 0) return undefined;
        i++;
      }
      const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(s.slice(i));
      if (!m) return undefined;
      out.push(m[0]);
      i += m[0].length;
    }
  }
  return out;
}

class CheckFileReader {
  readonly lines = new LineCounter();
  constructor(readonly file: string) {}

  lineOf(node: unknown, fallback = 1): number {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : fallback;
  }

  fail(node: unknown, message: string, fallback = 1): never {
    throw loadError(this.file, this.lineOf(node, fallback), message);
  }
}

function pairOf(map: YAMLMap, key: string): Pair<unknown, unknown> | undefined {
  return map.items.find((p: Pair<unknown, unknown>) => isScalar(p.key) && p.key.value === key);
}

/** Parse one custom check file; `file` is named in every error. */
export function parseCustomChecks(text: string, file: string, language: ConditionLanguage): Check[] {
  const r: CheckFileReader = new CheckFileReader(file);
  const doc = parseDocument(text, { lineCounter: r.lines, prettyErrors: false, uniqueKeys: true });
  const yamlErr = doc.errors[0];
  if (yamlErr)
    throw loadError(file, r.lines.linePos(yamlErr.pos[0]).line, `YAML syntax error: ${yamlErr.message.split('\n')[0]}`);
  let list: Node | null = doc.contents;
  if (isMap(list)) {
    const p = pairOf(list, 'checks');
    if (!p) r.fail(list, 'expected a list of checks, or a mapping with a `checks:` list');
    for (const other of list.items) {
      if (!(isScalar(other.key) && other.key.value === 'checks'))
        r.fail(other.key, `unknown top-level key ${JSON.stringify(isScalar(other.key) ? other.key.value : other.key)}`);
    }
    list = p.value as Node | null;
  }
  if (list === null || (isScalar(list) && list.value === null)) return [];
  if (!isSeq(list)) r.fail(list, 'expected a list of checks');
  const checks: Check[] = [];
  const seen = new Map<string, number>();
  for (const item of list.items) {
    const check = parseCheck(r, item as Node, language);
    const line = r.lineOf(item);
    const before = seen.get(check.id);
    if (before !== undefined) r.fail(item, `check ${check.id}: duplicate id (first defined at line ${before})`);
    seen.set(check.id, line);
    checks.push(check);
  }
  return checks;
}

const FIELDS = new Set([
  'id',
  'title',
  'severity',
  'description',
  'remediation',
  'kinds',
  'condition',
  'path',
  'frameworks',
  'version',
]);

function parseCheck(r: CheckFileReader, node: Node, language: ConditionLanguage): Check {
  if (!isMap(node)) r.fail(node, 'a check must be a mapping');
  const map = node;
  const idPair = pairOf(map, 'id');
  const idNode = idPair?.value;
  if (!isScalar(idNode) || typeof idNode.value !== 'string' || !ID_RE.test(idNode.value))
    r.fail(idNode ?? map, 'check: id must be a string of letters, digits, ".", "_" or "-"');
  const id = idNode.value;
  const where = `check ${id}`;
  for (const p of map.items) {
    const k = isScalar(p.key) ? p.key.value : undefined;
    if (typeof k !== 'string' || !FIELDS.has(k))
      r.fail(p.key, `${where}: unknown field ${JSON.stringify(k ?? String(p.key))}`);
  }
  const str = (key: string, required: boolean): string | undefined => {
    const p = pairOf(map, key);
    if (!p) {
      if (required) r.fail(map, `${where}: missing ${key}`);
      return undefined;
    }
    const v = p.value;
    if (!isScalar(v) || typeof v.value !== 'string' || v.value.trim() === '')
      r.fail(v ?? p.key, `${where}: ${key} must be a non-empty string`);
    return v.value;
  };
  const title = str('title', true) as string;
  const description = str('description', true) as string;
  const remediation = str('remediation', true) as string;
  const severityText = (str('severity', true) as string).toLowerCase();
  if (!isSeverity(severityText))
    r.fail(pairOf(map, 'severity')?.value, `${where}: severity must be one of ${SEVERITIES.join(', ')}`);
  const severity: Severity = severityText;

  let version = 1;
  const versionPair = pairOf(map, 'version');
  if (versionPair) {
    const v = versionPair.value;
    if (!isScalar(v) || typeof v.value !== 'number' || !Number.isInteger(v.value) || v.value < 1)
      r.fail(v ?? versionPair.key, `${where}: version must be a positive integer`);
    version = v.value;
  }

  const kindsPair = pairOf(map, 'kinds');
  if (!kindsPair) r.fail(map, `${where}: missing kinds`);
  const kindsNode = kindsPair.value;
  if (!isSeq(kindsNode) || kindsNode.items.length === 0)
    r.fail(kindsNode ?? kindsPair.key, `${where}: kinds must be a non-empty list of kinds`);
  const kinds = kindsNode.items.map((k) => {
    if (!isScalar(k) || typeof k.value !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(k.value))
      r.fail(k, `${where}: kinds must be a list of kind names (Deployment, Pod, …)`);
    return k.value;
  });

  const frameworks: FrameworkMapping = {};
  const fwPair = pairOf(map, 'frameworks');
  if (fwPair) {
    const fw = fwPair.value;
    if (!isMap(fw))
      r.fail(fw ?? fwPair.key, `${where}: frameworks must map ${FRAMEWORKS.join(', ')} to lists of control ids`);
    for (const p of fw.items) {
      const name = isScalar(p.key) ? p.key.value : undefined;
      if (typeof name !== 'string' || !(FRAMEWORKS as readonly string[]).includes(name))
        r.fail(p.key, `${where}: unknown framework ${JSON.stringify(name)} (known: ${FRAMEWORKS.join(', ')})`);
      const ids = p.value;
      if (!isSeq(ids)) r.fail(ids ?? p.key, `${where}: frameworks.${name} must be a list of control ids`);
      frameworks[name as Framework] = ids.items.map((x) => {
        if (!isScalar(x) || (typeof x.value !== 'string' && typeof x.value !== 'number'))
          r.fail(x, `${where}: frameworks.${name} must be a list of control ids`);
        return String(x.value);
      });
    }
  }

  let path: FieldPath = [];
  const pathPair = pairOf(map, 'path');
  if (pathPair) {
    const text = str('path', false) as string;
    const parsed = parseFieldPath(text);
    if (!parsed)
      r.fail(pathPair.value, `${where}: path ${JSON.stringify(text)} is not a field path (spec.containers[0].image)`);
    path = parsed;
  }

  const condPair = pairOf(map, 'condition');
  if (!condPair) r.fail(map, `${where}: missing condition`);
  const condNode = condPair.value;
  if (!isScalar(condNode) || typeof condNode.value !== 'string' || condNode.value.trim() === '')
    r.fail(condNode ?? condPair.key, `${where}: condition must be a CEL expression (a string)`);
  const condLine = r.lineOf(condNode);
  const block = condNode.type === 'BLOCK_LITERAL' || condNode.type === 'BLOCK_FOLDED';
  let program: ConditionProgram;
  try {
    program = language.compile(condNode.value, VARIABLES);
  } catch (err) {
    if (isSyntaxError(err)) {
      // A block scalar's text starts on the line after its `|`/`>` indicator.
      const line = condLine + (block ? err.line : err.line - 1);
      throw loadError(r.file, line, `${where}: condition ${err.line}:${err.column}: ${err.reason}`);
    }
    throw loadError(r.file, condLine, `${where}: condition: ${err instanceof Error ? err.message : String(err)}`);
  }

  const kindSet = new Set(kinds);
  return {
    id,
    version,
    title,
    severity,
    description,
    remediation,
    frameworks,
    kinds,
    source: { file: r.file, line: r.lineOf(map) },
    check(obj: JsonObject): Violation[] {
      if (typeof obj.kind !== 'string' || !kindSet.has(obj.kind)) return [];
      let v: unknown;
      try {
        v = program.evaluate({ object: obj });
      } catch (err) {
        throw new CheckEvaluationError(err instanceof Error ? err.message : String(err));
      }
      const error = language.errorOf(v);
      if (error !== undefined) throw new CheckEvaluationError(error);
      if (typeof v !== 'boolean') throw new CheckEvaluationError(`condition gave ${language.describe(v)}, not a bool`);
      return v ? [{ path, message: title }] : [];
    },
  };
}

/**
 * Read custom check files and add them to `builtins`: the whole catalogue a scan then runs.
 * A custom id equal to a built-in or to another file's check is an error naming the file.
 */
export function loadCustomChecks(
  files: readonly string[],
  language: ConditionLanguage,
  builtins: readonly Check[] = CHECKS,
): Check[] {
  const owner = new Map<string, string>();
  for (const c of builtins) owner.set(c.id, 'built-in');
  const out: Check[] = [...builtins];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new PalisadeError('E_NOT_FOUND', 'cannot read check file', { subject: file, cause: err });
    }
    for (const c of parseCustomChecks(text, file, language)) {
      const prior = owner.get(c.id);
      if (prior !== undefined)
        throw loadError(
          file,
          c.source?.line ?? 1,
          `check ${c.id}: duplicate id: ${prior === 'built-in' ? 'a built-in check' : `a check in ${prior}`} has it`,
        );
      owner.set(c.id, file);
      out.push(c);
    }
  }
  return out;
}
