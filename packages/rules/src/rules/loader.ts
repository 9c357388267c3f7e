/**
 * Reads rule files (YAML) into one merged rule set. Files are applied in order, so a user's
 * file listed after the built-in library overrides it:
 *   - a rule with an id already loaded replaces it, unless it says `override: true`, in which
 *     case only the fields it gives change (and its `exceptions` are added to the old ones);
 *   - a list given as `{append: [...]}` extends the list of that name, otherwise replaces it;
 *   - a macro with a name already loaded replaces it.
 * Every problem is reported with its file and line, and only the faulty rule (or, for YAML
 * that does not parse, the faulty file) is left out: one bad file must not blind the sensor.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { isRuntimeEventType, isSeverity, type MitreRef, type RuntimeEventType, type Severity } from '@palisade/core';
import { MITRE_TACTICS, TECHNIQUE_RE } from './mitre.js';
import { RuleLoadError, type Origin, type RuleException, type RuleSource, type RuleSpec } from './types.js';

export type ListValue = string | number;

export interface RuleSet {
  lists: Map<string, ListValue[]>;
  macros: Map<string, { text: string; origin: Origin }>;
  rules: Map<string, RuleSpec>;
}

export interface ParseResult {
  set: RuleSet;
  errors: RuleLoadError[];
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RULE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const TOP_KEYS = new Set(['lists', 'macros', 'rules']);
const RULE_KEYS = new Set([
  'id',
  'title',
  'description',
  'severity',
  'mitre',
  'events',
  'condition',
  'exceptions',
  'output',
  'tags',
  'enabled',
  'override',
]);

/** Thrown inside one rule's validation; caught per rule so the others still load. */
class Invalid extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

class FileReader {
  readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    private readonly set: RuleSet,
    private readonly errors: RuleLoadError[],
  ) {}

  line(node: unknown, fallback = 1): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lines.linePos(range[0]).line : fallback;
  }

  error(line: number, reason: string, ruleId?: string): void {
    this.errors.push(new RuleLoadError(this.file, line, reason, ruleId));
  }

  read(text: string): void {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        this.error(this.lines.linePos(err.pos[0]).line, `YAML syntax error: ${firstLine(err.message)}`);
      }
      return;
    }
    this.readTop(doc);
  }

  private readTop(doc: Document.Parsed): void {
    const top = doc.contents;
    if (top === null) return;
    if (!isMap(top)) return this.error(this.line(top), 'a rule file is a mapping with lists:, macros: and rules:');
    for (const pair of top.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!TOP_KEYS.has(key)) {
        this.error(this.line(pair.key), `unknown top-level key '${key}' (expected lists, macros or rules)`);
        continue;
      }
      if (pair.value === null || (isScalar(pair.value) && pair.value.value === null)) continue;
      if (key === 'lists') this.readLists(pair.value);
      else if (key === 'macros') this.readMacros(pair.value);
      else this.readRules(pair.value);
    }
  }

  private readLists(node: Node): void {
    if (!isMap(node)) return this.error(this.line(node), 'lists: must be a mapping of name → list');
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      const line = this.line(pair.key);
      try {
        if (!NAME_RE.test(name)) throw new Invalid(line, `invalid list name '${name}'`);
        let value = pair.value as Node | null;
        let append = false;
        if (isMap(value)) {
          const items = value.get('append', true) as Node | undefined;
          if (!items || value.items.length !== 1)
            throw new Invalid(line, `list '${name}': use a sequence, or {append: [...]} to extend it`);
          value = items;
          append = true;
        }
        const items = scalarList(value, line, `list '${name}'`);
        const old = this.set.lists.get(name);
        this.set.lists.set(name, append && old ? [...old, ...items] : items);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private readMacros(node: Node): void {
    if (!isMap(node)) return this.error(this.line(node), 'macros: must be a mapping of name → CEL expression');
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      const line = this.line(pair.key);
      if (!NAME_RE.test(name)) {
        this.error(line, `invalid macro name '${name}'`);
        continue;
      }
      if (!isScalar(pair.value) || typeof pair.value.value !== 'string') {
        this.error(line, `macro '${name}' must be a CEL expression string`);
        continue;
      }
      this.set.macros.set(name, { text: pair.value.value, origin: { file: this.file, line } });
    }
  }

  private readRules(node: Node): void {
    if (!isSeq(node)) return this.error(this.line(node), 'rules: must be a sequence of rules');
    for (const item of node.items) {
      const line = this.line(item);
      let id: string | undefined;
      try {
        if (!isMap(item)) throw new Invalid(line, 'a rule must be a mapping');
        id = this.ruleId(item, line);
        this.readRule(item, id, line);
      } catch (err) {
        this.report(err, id);
      }
    }
  }

  private ruleId(item: YAMLMap, line: number): string {
    const id = item.get('id');
    if (typeof id !== 'string' || !RULE_ID_RE.test(id))
      throw new Invalid(line, 'a rule needs an id (letters, digits, _ . : -)');
    return id;
  }

  private readRule(item: YAMLMap, id: string, line: number): void {
    for (const pair of item.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!RULE_KEYS.has(key)) throw new Invalid(this.line(pair.key, line), `unknown field '${key}'`);
    }
    const old = this.set.rules.get(id);
    const override = item.get('override') === true;
    if (override && !old) throw new Invalid(line, 'override: true, but no earlier file defines this rule');
    const spec = this.ruleFields(item, id, line, override ? old : undefined);
    this.set.rules.set(id, spec);
  }

  /** Validates each field; with `base`, absent fields keep the base rule's values. */
  private ruleFields(item: YAMLMap, id: string, line: number, base: RuleSpec | undefined): RuleSpec {
    const field = (key: string): { node: Node | undefined; line: number } => {
      const node = item.get(key, true) as Node | undefined;
      return { node, line: this.line(node, line) };
    };
    const get = <T>(key: string, parse: (node: Node, line: number) => T, dflt: (() => T) | undefined): T => {
      const f = field(key);
      if (f.node === undefined || (isScalar(f.node) && f.node.value === null)) {
        if (dflt) return dflt();
        throw new Invalid(line, `missing required field '${key}'`);
      }
      return parse(f.node, f.line);
    };
    const keep = <K extends keyof RuleSpec>(k: K): (() => RuleSpec[K]) | undefined =>
      base ? () => base[k] : undefined;
    const cond = field('condition');
    const exceptions = get(
      'exceptions',
      (n, l) => this.exceptions(n, l),
      () => [],
    );
    return {
      id,
      title: get('title', str('title'), keep('title')),
      description: get('description', str('description'), base ? () => base.description : () => ''),
      severity: get('severity', severity, keep('severity')),
      mitre: get('mitre', mitre, keep('mitre')),
      events: get('events', events, keep('events')),
      condition: get('condition', str('condition'), keep('condition')),
      exceptions: base ? [...base.exceptions, ...exceptions] : exceptions,
      output: get('output', str('output'), keep('output')),
      tags: get('tags', (n, l) => scalarList(n, l, 'tags').map(String), base ? () => base.tags : () => []),
      enabled: get('enabled', bool('enabled'), base ? () => base.enabled : () => true),
      origin: base && !cond.node ? base.origin : { file: this.file, line },
      conditionLine: cond.node ? cond.line : (base?.conditionLine ?? line),
      conditionBlock: cond.node ? isBlockScalar(cond.node) : (base?.conditionBlock ?? false),
    };
  }

  private exceptions(node: Node, line: number): RuleException[] {
    if (!isSeq(node)) throw new Invalid(line, 'exceptions must be a sequence of {name, field, values}');
    return node.items.map((item, i) => {
      const l = this.line(item, line);
      if (!isMap(item)) throw new Invalid(l, 'an exception is a mapping {name, field, values, match}');
      const field = item.get('field');
      if (typeof field !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(field)) {
        throw new Invalid(l, 'exception field must be a field path such as container.image');
      }
      const match = item.get('match') ?? 'exact';
      if (match !== 'exact' && match !== 'prefix')
        throw new Invalid(l, `exception match must be exact or prefix, not '${JSON.stringify(match)}'`);
      const name = item.get('name');
      return {
        name: typeof name === 'string' ? name : `exception ${i + 1}`,
        field,
        ...this.exceptionValues(item.get('values', true), l),
        match: match,
        line: l,
      };
    });
  }

  /**
   * Values are inline, or the name of a list: resolved when rules are compiled, so a later
   * file that appends to the list also widens the exception.
   */
  private exceptionValues(node: Node | undefined, line: number): { values: string[]; list?: string } {
    if (isScalar(node) && typeof node.value === 'string') {
      if (!NAME_RE.test(node.value)) throw new Invalid(line, `exception values: '${node.value}' is not a list name`);
      return { values: [], list: node.value };
    }
    return { values: scalarList(node ?? null, line, 'exception values').map(String) };
  }

  private report(err: unknown, ruleId?: string): void {
    if (err instanceof Invalid) this.error(err.line, err.reason, ruleId);
    else throw err;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function isBlockScalar(node: Node): boolean {
  return isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED');
}

function scalarList(node: Node | null, line: number, what: string): ListValue[] {
  if (!isSeq(node)) throw new Invalid(line, `${what} must be a sequence`);
  return node.items.map((it) => {
    const v = isScalar(it) ? it.value : undefined;
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new Invalid(line, `${what}: items must be strings or numbers`);
    return v;
  });
}

function str(key: string): (node: Node, line: number) => string {
  return (node, line) => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '')
      throw new Invalid(line, `${key} must be a non-empty string`);
    return node.value;
  };
}

function bool(key: string): (node: Node, line: number) => boolean {
  return (node, line) => {
    if (!isScalar(node) || typeof node.value !== 'boolean') throw new Invalid(line, `${key} must be true or false`);
    return node.value;
  };
}

function severity(node: Node, line: number): Severity {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'string' || !isSeverity(v))
    throw new Invalid(line, `severity must be critical, high, medium, low or negligible`);
  return v;
}

function events(node: Node, line: number): RuntimeEventType[] {
  const list = scalarList(node, line, 'events');
  if (list.length === 0) throw new Invalid(line, 'events must name at least one event type');
  return list.map((t) => {
    if (typeof t !== 'string' || !isRuntimeEventType(t)) throw new Invalid(line, `unknown event type '${String(t)}'`);
    return t;
  });
}

function mitre(node: Node, line: number): MitreRef[] {
  const raw = node.toJSON() as unknown;
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) throw new Invalid(line, 'mitre needs at least one {tactic, technique}');
  return items.map((m: unknown) => {
    const r = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
    const tactic = typeof r['tactic'] === 'string' ? r['tactic'] : '';
    const technique = typeof r['technique'] === 'string' ? r['technique'] : '';
    const tacticId = MITRE_TACTICS[tactic];
    if (!tacticId)
      throw new Invalid(line, `unknown MITRE tactic '${tactic}' (e.g. execution, persistence, credential-access)`);
    if (!TECHNIQUE_RE.test(technique))
      throw new Invalid(line, `MITRE technique must look like T1059 or T1059.004, not '${technique}'`);
    return { tactic, tacticId, technique };
  });
}

export function emptyRuleSet(): RuleSet {
  return { lists: new Map(), macros: new Map(), rules: new Map() };
}

/** Parses and merges rule files in order; never throws for problems in the files. */
export function parseRuleSources(sources: readonly RuleSource[], into: RuleSet = emptyRuleSet()): ParseResult {
  const errors: RuleLoadError[] = [];
  for (const src of sources) new FileReader(src.file, into, errors).read(src.text);
  return { set: into, errors };
}
