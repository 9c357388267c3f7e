/**
 * Compiles a CEL syntax tree once into a tree of closures. Evaluating an event then calls
 * closures only: no AST walking, no name lookups (identifiers are resolved at compile time
 * into macro bodies, constant lists or event fields), and constant lists used with `in`
 * become Sets. Errors are returned as CelError values so that `&&`, `||`, `exists` and `all`
 * can absorb them the way CEL specifies (commutatively: `error && false` is false).
 */
import type { Expr, Literal } from './ast.js';
import { CelSyntaxError, parseCel, positionOf } from './parser.js';
import { compileRegex } from './regex.js';
import {
  CelDouble,
  CelError,
  CelUint,
  type CelValue,
  celCompare,
  celEquals,
  displayValue,
  fromHost,
  isMapValue,
  mapGet,
  mapSize,
  noOverload,
  typeName,
} from './values.js';

/** What an expression is evaluated against: its top-level identifiers are its fields. */
export type Activation = object;
type Fn = (act: Activation) => CelValue;

export interface CompileOptions {
  /** Named CEL snippets: an identifier with this name is replaced by the snippet. */
  macros?: ReadonlyMap<string, string>;
  /** Named constants (rule `lists:`): an identifier with this name is this value. */
  constants?: ReadonlyMap<string, CelValue>;
  /** Top-level fields the activation provides; other identifiers are compile errors. */
  variables?: ReadonlySet<string>;
  /** An identifier bound to the whole activation (`evt`), so `has(evt.container)` works. */
  selfName?: string;
}

export interface CelProgram {
  readonly source: string;
  evaluate(act: Activation): CelValue;
}

const MAX_INT = Number.MAX_SAFE_INTEGER;
const EMPTY_MAP: ReadonlyMap<string, string> = new Map();

interface Scope {
  readonly name: string;
  readonly slot: number;
  readonly parent: Scope | undefined;
}

function lookupScope(s: Scope | undefined, name: string): number | undefined {
  for (let c = s; c; c = c.parent) if (c.name === name) return c.slot;
  return undefined;
}

function intResult(n: number): CelValue {
  return Number.isSafeInteger(n) ? n : new CelError('integer overflow');
}

function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function upperAscii(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

/** Field selection on a map or event record; `undefined` means absent. */
function selectField(v: unknown, field: string): unknown {
  if (v instanceof Map) return v.get(field);
  const r = (v as Record<string, unknown>)[field];
  // Inherited members of Object.prototype (`constructor`, …) are not fields.
  return typeof r === 'function' ? undefined : r;
}

function isList(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

function iterate(range: CelValue): readonly unknown[] | CelError {
  if (isList(range)) return range;
  if (range instanceof Map) return [...(range.keys() as Iterable<unknown>)];
  if (isMapValue(range)) return Object.keys(range);
  if (range instanceof CelError) return range;
  return noOverload('comprehension range', range);
}

function add(a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'number' && typeof b === 'number') return intResult(a + b);
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  if (a instanceof CelDouble && b instanceof CelDouble) return new CelDouble(a.value + b.value);
  if (a instanceof CelUint && b instanceof CelUint) return uintResult(a.value + b.value);
  if (isList(a) && isList(b)) return [...a, ...b];
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }
  return noOverload('_+_', a, b);
}

function uintResult(n: number): CelValue {
  return n < 0 || n > MAX_INT ? new CelError('unsigned integer overflow') : new CelUint(n);
}

function arith(op: '-' | '*' | '/' | '%', a: CelValue, b: CelValue): CelValue {
  if (typeof a === 'number' && typeof b === 'number') {
    if (op === '-') return intResult(a - b);
    if (op === '*') return intResult(a * b);
    if (b === 0) return new CelError(op === '/' ? 'division by zero' : 'modulus by zero');
    return op === '/' ? intResult(Math.trunc(a / b)) : a % b;
  }
  if (a instanceof CelUint && b instanceof CelUint) {
    if (op === '-') return uintResult(a.value - b.value);
    if (op === '*') return uintResult(a.value * b.value);
    if (b.value === 0) return new CelError(op === '/' ? 'division by zero' : 'modulus by zero');
    return new CelUint(op === '/' ? Math.floor(a.value / b.value) : a.value % b.value);
  }
  if (a instanceof CelDouble && b instanceof CelDouble && op !== '%') {
    const x = a.value;
    const y = b.value;
    return new CelDouble(op === '-' ? x - y : op === '*' ? x * y : x / y);
  }
  return noOverload(`_${op}_`, a, b);
}

function contains(range: CelValue, x: CelValue): CelValue {
  if (Array.isArray(range)) {
    for (const item of range) if (celEquals(x, fromHost(item))) return true;
    return false;
  }
  if (isMapValue(range)) return mapGet(range, x) !== undefined;
  return noOverload('@in', x, range);
}

function toInt(v: CelValue): CelValue {
  if (typeof v === 'number') return v;
  if (v instanceof CelUint) return intResult(v.value);
  if (v instanceof CelDouble) {
    if (!Number.isFinite(v.value)) return new CelError('integer overflow');
    return intResult(Math.trunc(v.value));
  }
  if (typeof v === 'string')
    return /^[+-]?\d+$/.test(v) ? intResult(Number(v)) : new CelError(`cannot convert '${v}' to int`);
  return noOverload('int', v);
}

function toUint(v: CelValue): CelValue {
  if (typeof v === 'number') return uintResult(v);
  if (v instanceof CelUint) return v;
  if (v instanceof CelDouble)
    return Number.isFinite(v.value) ? uintResult(Math.trunc(v.value)) : new CelError('unsigned integer overflow');
  if (typeof v === 'string')
    return /^\+?\d+$/.test(v) ? uintResult(Number(v)) : new CelError(`cannot convert '${v}' to uint`);
  return noOverload('uint', v);
}

function toDouble(v: CelValue): CelValue {
  if (typeof v === 'number') return new CelDouble(v);
  if (v instanceof CelUint) return new CelDouble(v.value);
  if (v instanceof CelDouble) return v;
  if (typeof v === 'string') {
    const n = Number(v);
    return v.trim() !== '' && !Number.isNaN(n) ? new CelDouble(n) : new CelError(`cannot convert '${v}' to double`);
  }
  return noOverload('double', v);
}

function toStr(v: CelValue): CelValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof CelUint || v instanceof CelDouble) return String(v.value);
  if (v instanceof Uint8Array) return new TextDecoder('utf-8', { fatal: false }).decode(v);
  return noOverload('string', v);
}

function size(v: CelValue): CelValue {
  if (typeof v === 'string') return codePointLength(v);
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length;
  if (isMapValue(v)) return mapSize(v);
  return noOverload('size', v);
}

function joinStrings(list: CelValue, sep: CelValue): CelValue {
  if (!Array.isArray(list) || typeof sep !== 'string') return noOverload('join', list, sep);
  for (const x of list) if (typeof x !== 'string') return noOverload('join', list, sep);
  return list.join(sep);
}

type StrFn = (s: string, arg: string) => CelValue;
const STRING_FUNCS: Record<string, StrFn> = {
  startsWith: (s, a) => s.startsWith(a),
  endsWith: (s, a) => s.endsWith(a),
  contains: (s, a) => s.includes(a),
};

class Compiler {
  private slots = 0;
  readonly locals: unknown[] = [];
  private readonly macroStack: string[] = [];
  private readonly regexCache = new Map<string, RegExp | CelError>();

  constructor(
    private source: string,
    private readonly opts: CompileOptions,
  ) {}

  fail(reason: string, pos: number): never {
    const { line, column } = positionOf(this.source, pos);
    const where = this.macroStack.length ? ` (in macro '${this.macroStack.join("' → '")}')` : '';
    throw new CelSyntaxError(reason + where, line, column);
  }

  compile(e: Expr, scope: Scope | undefined): Fn {
    switch (e.kind) {
      case 'lit':
        return this.literal(e.value);
      case 'ident':
        return this.ident(e.name, e.pos, scope);
      case 'select':
        return this.select(e.operand, e.field, e.pos, scope);
      case 'index':
        return this.index(this.compile(e.operand, scope), this.compile(e.index, scope));
      case 'list':
        return this.list(e.items, scope);
      case 'map':
        return this.map(e.entries, scope);
      case 'unary':
        return this.unary(e.op, this.compile(e.operand, scope));
      case 'binary':
        return this.binary(e, scope);
      case 'cond':
        return this.conditional(
          this.compile(e.test, scope),
          this.compile(e.then, scope),
          this.compile(e.otherwise, scope),
        );
      case 'call':
        return this.call(e, scope);
    }
  }

  private literal(v: Literal): Fn {
    return () => v;
  }

  private ident(name: string, pos: number, scope: Scope | undefined): Fn {
    const slot = lookupScope(scope, name);
    if (slot !== undefined) {
      const locals = this.locals;
      return () => fromHost(locals[slot]);
    }
    const macro = (this.opts.macros ?? EMPTY_MAP).get(name);
    if (macro !== undefined) return this.expandMacro(name, macro, pos);
    const constant = this.opts.constants?.get(name);
    if (constant !== undefined) return () => constant;
    if (name === this.opts.selfName) return (act) => act as CelValue;
    if (this.opts.variables && !this.opts.variables.has(name)) this.fail(`undeclared reference to '${name}'`, pos);
    const missing = new CelError(`no such attribute: ${name}`);
    return (act) => {
      const v = (act as Record<string, unknown>)[name];
      return v === undefined ? missing : fromHost(v);
    };
  }

  private expandMacro(name: string, body: string, pos: number): Fn {
    if (this.macroStack.includes(name)) this.fail(`macro '${name}' refers to itself`, pos);
    const saved = this.source;
    this.macroStack.push(name);
    try {
      let ast: Expr;
      try {
        ast = parseCel(body);
      } catch (err) {
        const r = err instanceof CelSyntaxError ? err.reason : String(err);
        return this.fail(`in macro '${name}': ${r}`, pos);
      }
      this.source = body;
      // Macros are closed: they see event fields, lists and other macros, never loop variables.
      return this.compile(ast, undefined);
    } finally {
      this.source = saved;
      this.macroStack.pop();
    }
  }

  /** A chain of field selections from an event variable, e.g. `container.image`. */
  private selectPath(e: Expr, scope: Scope | undefined): string[] | undefined {
    if (e.kind === 'ident') {
      const isVar =
        lookupScope(scope, e.name) === undefined &&
        !(this.opts.macros ?? EMPTY_MAP).has(e.name) &&
        !this.opts.constants?.has(e.name) &&
        e.name !== this.opts.selfName &&
        (!this.opts.variables || this.opts.variables.has(e.name));
      return isVar ? [e.name] : undefined;
    }
    if (e.kind === 'select') {
      const p = this.selectPath(e.operand, scope);
      return p ? [...p, e.field] : undefined;
    }
    return undefined;
  }

  private select(operand: Expr, field: string, pos: number, scope: Scope | undefined): Fn {
    const path = this.selectPath(operand, scope);
    if (path) return this.fastPath([...path, field]);
    const inner = this.compile(operand, scope);
    const missing = new CelError(`no such key: ${field}`);
    void pos;
    return (act) => {
      const v = inner(act);
      if (v instanceof CelError) return v;
      if (!isMapValue(v)) return noOverload(`.${field}`, v);
      const r = selectField(v, field);
      return r === undefined ? missing : fromHost(r);
    };
  }

  /** Event field paths are the hot path of every rule: read them with no intermediate values. */
  private fastPath(path: string[]): Fn {
    const errors = path.map((_, i) => new CelError(`no such key: ${path.slice(0, i + 1).join('.')}`));
    const bad = new CelError(`field selection on a non-map value in ${path.join('.')}`);
    return (act) => {
      let v: unknown = act;
      for (let i = 0; i < path.length; i++) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad;
        v = selectField(v, path[i] as string);
        if (v === undefined) return errors[i] as CelError;
      }
      return fromHost(v);
    };
  }

  private index(operand: Fn, key: Fn): Fn {
    return (act) => {
      const v = operand(act);
      if (v instanceof CelError) return v;
      const k = key(act);
      if (k instanceof CelError) return k;
      if (Array.isArray(v)) {
        const i = typeof k === 'number' ? k : k instanceof CelUint || k instanceof CelDouble ? k.value : NaN;
        if (!Number.isInteger(i)) return noOverload('_[_]', v, k);
        if (i < 0 || i >= v.length) return new CelError(`index out of bounds: ${i}`);
        return fromHost(v[i]);
      }
      if (isMapValue(v)) {
        const r = mapGet(v, k);
        return r === undefined ? new CelError(`no such key: ${displayValue(k)}`) : fromHost(r);
      }
      return noOverload('_[_]', v, k);
    };
  }

  private list(items: Expr[], scope: Scope | undefined): Fn {
    const fns = items.map((i) => this.compile(i, scope));
    if (items.every((i) => i.kind === 'lit')) {
      const constant = items.map((i) => (i as { value: Literal }).value);
      return () => constant;
    }
    return (act) => {
      const out: CelValue[] = [];
      for (const f of fns) {
        const v = f(act);
        if (v instanceof CelError) return v;
        out.push(v);
      }
      return out;
    };
  }

  private map(entries: Array<{ key: Expr; value: Expr }>, scope: Scope | undefined): Fn {
    const fns = entries.map((en) => [this.compile(en.key, scope), this.compile(en.value, scope)] as const);
    return (act) => {
      const out = new Map<string | number | boolean | CelUint, CelValue>();
      for (const [kf, vf] of fns) {
        const k = kf(act);
        if (k instanceof CelError) return k;
        if (!(typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || k instanceof CelUint)) {
          return new CelError(`unsupported map key type: ${typeName(k)}`);
        }
        if (mapGet(out, k) !== undefined) return new CelError(`duplicate map key: ${displayValue(k)}`);
        const v = vf(act);
        if (v instanceof CelError) return v;
        out.set(k, v);
      }
      return out;
    };
  }

  private unary(op: '!' | '-', f: Fn): Fn {
    if (op === '!') {
      return (act) => {
        const v = f(act);
        if (typeof v === 'boolean') return !v;
        return v instanceof CelError ? v : noOverload('!_', v);
      };
    }
    return (act) => {
      const v = f(act);
      if (typeof v === 'number') return v === 0 ? 0 : -v;
      if (v instanceof CelDouble) return new CelDouble(-v.value);
      return v instanceof CelError ? v : noOverload('-_', v);
    };
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope | undefined): Fn {
    const l = this.compile(e.left, scope);
    if (e.op === 'in') return this.inOp(l, e.right, scope);
    const r = this.compile(e.right, scope);
    switch (e.op) {
      case '&&':
        return and(l, r);
      case '||':
        return or(l, r);
      case '==':
        return strict2(l, r, (a, b) => (typeof a === 'string' ? a === b : celEquals(a, b)));
      case '!=':
        return strict2(l, r, (a, b) => (typeof a === 'string' ? a !== b : !celEquals(a, b)));
      case '<':
      case '<=':
      case '>':
      case '>=':
        return compare(e.op, l, r);
      case '+':
        return strict2(l, r, add);
      default: {
        const op = e.op;
        return strict2(l, r, (a, b) => arith(op, a, b));
      }
    }
  }

  /** `x in [constant list]` becomes a Set lookup: the shape of most rule list checks. */
  private inOp(l: Fn, right: Expr, scope: Scope | undefined): Fn {
    const r = this.compile(right, scope);
    const probe = right.kind === 'list' || right.kind === 'ident' ? r({}) : undefined;
    const isConst =
      right.kind === 'list'
        ? right.items.every((i) => i.kind === 'lit')
        : right.kind === 'ident' &&
          this.opts.constants?.has(right.name) === true &&
          lookupScope(scope, right.name) === undefined;
    if (isConst && Array.isArray(probe) && probe.every((x) => typeof x === 'string')) {
      const set = new Set<string>(probe);
      return (act) => {
        const v = l(act);
        if (typeof v === 'string') return set.has(v);
        return v instanceof CelError ? v : contains(probe, v);
      };
    }
    return strict2(l, r, (a, b) => contains(b, a));
  }

  private conditional(test: Fn, then: Fn, otherwise: Fn): Fn {
    return (act) => {
      const t = test(act);
      if (t === true) return then(act);
      if (t === false) return otherwise(act);
      return t instanceof CelError ? t : noOverload('_?_:_', t);
    };
  }

  private call(e: Extract<Expr, { kind: 'call' }>, scope: Scope | undefined): Fn {
    const { fn, target, args } = e;
    if (fn === 'has' && !target) return this.has(args, e.pos, scope);
    if (target && (fn === 'exists' || fn === 'all' || fn === 'exists_one' || fn === 'filter' || fn === 'map')) {
      return this.comprehension(fn, target, args, e.pos, scope);
    }
    // Receiver-style and global-style calls are the same overloads: `s.size()` == `size(s)`.
    const all = target ? [target, ...args] : args;
    if (fn === 'matches' && all.length === 2) return this.matches(all, scope);
    const fns = all.map((a) => this.compile(a, scope));
    return this.builtin(fn, fns, e.pos);
  }

  private builtin(fn: string, fns: Fn[], pos: number): Fn {
    const [a, b] = fns;
    if (fns.length === 1 && a) {
      const unaryFns: Record<string, (v: CelValue) => CelValue> = {
        size,
        int: toInt,
        uint: toUint,
        double: toDouble,
        string: toStr,
        lowerAscii: (v) => (typeof v === 'string' ? lowerAscii(v) : noOverload('lowerAscii', v)),
        upperAscii: (v) => (typeof v === 'string' ? upperAscii(v) : noOverload('upperAscii', v)),
      };
      const u = unaryFns[fn];
      if (u) return strict1(a, u);
    }
    if (fn === 'join' && (fns.length === 1 || fns.length === 2) && a) {
      // strings extension: list(string).join([separator]), used on argv.
      return strict2(a, b ?? (() => ''), (list, sep) => joinStrings(list, sep));
    }
    const sf = STRING_FUNCS[fn];
    if (sf && fns.length === 2 && a && b) {
      return strict2(a, b, (s, x) =>
        typeof s === 'string' && typeof x === 'string' ? sf(s, x) : noOverload(fn, s, x),
      );
    }
    return this.fail(`unknown function '${fn}' with ${fns.length} argument(s)`, pos);
  }

  private matches(all: Expr[], scope: Scope | undefined): Fn {
    const [subject, pattern] = all as [Expr, Expr];
    const s = this.compile(subject, scope);
    if (pattern.kind === 'lit' && typeof pattern.value === 'string') {
      // A literal pattern is checked once, at load time: a bad pattern fails the rule, not every event.
      const r = compileRegex(pattern.value);
      if (!r.ok) this.fail(`invalid regular expression: ${r.reason}`, pattern.pos);
      const re = r.re;
      return strict1(s, (v) => (typeof v === 'string' ? re.test(v) : noOverload('matches', v)));
    }
    const p = this.compile(pattern, scope);
    return strict2(s, p, (v, pat) => {
      if (typeof v !== 'string' || typeof pat !== 'string') return noOverload('matches', v, pat);
      const re = this.dynamicRegex(pat);
      return re instanceof CelError ? re : re.test(v);
    });
  }

  private dynamicRegex(pattern: string): RegExp | CelError {
    let re = this.regexCache.get(pattern);
    if (re === undefined) {
      const r = compileRegex(pattern);
      re = r.ok ? r.re : new CelError(`invalid regular expression: ${r.reason}`);
      if (this.regexCache.size < 256) this.regexCache.set(pattern, re);
    }
    return re;
  }

  private has(args: Expr[], pos: number, scope: Scope | undefined): Fn {
    const arg = args[0];
    if (args.length !== 1 || !arg || arg.kind !== 'select')
      return this.fail('has() takes one field selection, e.g. has(proc.tty)', pos);
    const operand = this.compile(arg.operand, scope);
    const field = arg.field;
    return (act) => {
      const v = operand(act);
      if (v instanceof CelError) return v;
      if (!isMapValue(v)) return noOverload('has', v);
      return selectField(v, field) !== undefined;
    };
  }

  private comprehension(fn: string, target: Expr, args: Expr[], pos: number, scope: Scope | undefined): Fn {
    const [v, p, t] = args;
    const arity = fn === 'map' ? [2, 3] : [2];
    if (!v || v.kind !== 'ident' || !arity.includes(args.length) || !p) {
      return this.fail(
        `${fn}() takes a variable name and ${fn === 'map' ? 'one or two expressions' : 'a predicate'}`,
        pos,
      );
    }
    const range = this.compile(target, scope);
    const slot = this.slots++;
    const inner: Scope = { name: v.name, slot, parent: scope };
    const pred = this.compile(p, inner);
    const transform = t ? this.compile(t, inner) : undefined;
    const locals = this.locals;
    const loop = (act: Activation, body: (x: unknown) => CelValue | undefined): CelValue | undefined => {
      const items = iterate(range(act));
      if (items instanceof CelError) return items;
      for (const x of items) {
        locals[slot] = x;
        const r = body(x);
        if (r !== undefined) return r;
      }
      return undefined;
    };
    switch (fn) {
      case 'exists':
        return quantifier(loop, pred, true);
      case 'all':
        return quantifier(loop, pred, false);
      case 'exists_one':
        return existsOne(loop, pred);
      case 'filter':
        return collect(loop, pred, undefined);
      default:
        return transform ? collect(loop, pred, transform) : collect(loop, undefined, pred);
    }
  }
}

type Loop = (act: Activation, body: (x: unknown) => CelValue | undefined) => CelValue | undefined;

/**
 * `exists` (stop on true) and `all` (stop on false). An error from one element is kept and
 * reported only if no element decides the result, as for a chain of `||` / `&&`.
 */
function quantifier(loop: Loop, pred: Fn, stopOn: boolean): Fn {
  return (act) => {
    let err: CelError | undefined;
    const r = loop(act, () => {
      const v = pred(act);
      if (v === stopOn) return stopOn;
      if (v !== !stopOn) err ??= v instanceof CelError ? v : noOverload(stopOn ? 'exists' : 'all', v);
      return undefined;
    });
    if (r !== undefined) return r;
    return err ?? !stopOn;
  };
}

function existsOne(loop: Loop, pred: Fn): Fn {
  return (act) => {
    let n = 0;
    const r = loop(act, () => {
      const v = pred(act);
      if (v === true) n++;
      else if (v !== false) return v instanceof CelError ? v : noOverload('exists_one', v);
      return undefined;
    });
    return r !== undefined ? r : n === 1;
  };
}

function collect(loop: Loop, pred: Fn | undefined, transform: Fn | undefined): Fn {
  return (act) => {
    const out: CelValue[] = [];
    const r = loop(act, (x) => {
      if (pred) {
        const keep = pred(act);
        if (keep instanceof CelError) return keep;
        if (typeof keep !== 'boolean') return noOverload('filter', keep);
        if (!keep) return undefined;
      }
      const v = transform ? transform(act) : fromHost(x);
      if (v instanceof CelError) return v;
      out.push(v);
      return undefined;
    });
    return r !== undefined ? r : out;
  };
}

function strict1(a: Fn, f: (x: CelValue) => CelValue): Fn {
  return (act) => {
    const x = a(act);
    return x instanceof CelError ? x : f(x);
  };
}

function strict2(a: Fn, b: Fn, f: (x: CelValue, y: CelValue) => CelValue): Fn {
  return (act) => {
    const x = a(act);
    if (x instanceof CelError) return x;
    const y = b(act);
    return y instanceof CelError ? y : f(x, y);
  };
}

function compare(op: '<' | '<=' | '>' | '>=', l: Fn, r: Fn): Fn {
  const test = (c: number): boolean => (op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0);
  return strict2(l, r, (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return test(a - b);
    const c = celCompare(a, b);
    return c instanceof CelError ? new CelError(c.message.replace('_<_', `_${op}_`)) : test(c);
  });
}

/** `&&`: false wins over errors on either side; otherwise the first error, else true. */
function and(l: Fn, r: Fn): Fn {
  return (act) => {
    const a = l(act);
    if (a === false) return false;
    const b = r(act);
    if (b === false) return false;
    if (a === true) return b === true ? true : b instanceof CelError ? b : noOverload('_&&_', a, b);
    return a instanceof CelError ? a : noOverload('_&&_', a, b);
  };
}

/** `||`: true wins over errors on either side; otherwise the first error, else false. */
function or(l: Fn, r: Fn): Fn {
  return (act) => {
    const a = l(act);
    if (a === true) return true;
    const b = r(act);
    if (b === true) return true;
    if (a === false) return b === false ? false : b instanceof CelError ? b : noOverload('_||_', a, b);
    return a instanceof CelError ? a : noOverload('_||_', a, b);
  };
}

/** Compiles a CEL expression once; throws CelSyntaxError (line, column, reason). */
export function compileCel(source: string, options: CompileOptions = {}): CelProgram {
  const ast = parseCel(source);
  const c = new Compiler(source, options);
  const fn = c.compile(ast, undefined);
  return { source, evaluate: fn };
}
