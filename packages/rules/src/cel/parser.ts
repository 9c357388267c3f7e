/**
 * Lexer and recursive-descent parser for CEL, following the grammar in the CEL language
 * definition (precedence, lowest first): `?:`, `||`, `&&`, relations (incl. `in`), `+ -`,
 * `* / %`, unary `! -`, member access (`.f`, `.f(…)`, `[i]`), primaries. Message
 * construction (`M{f: v}`) is not supported: rules read events, they never build protos.
 */
import { PalisadeError } from '@palisade/core';
import type { BinaryOp, Expr, Literal } from './ast.js';
import { CelDouble, CelUint } from './values.js';

/** A syntax or compile error with the 1-based line and column inside the expression. */
export class CelSyntaxError extends PalisadeError {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super('E_INPUT', `${line}:${column}: ${reason}`);
  }
}

export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

type TokKind = 'num' | 'str' | 'ident' | 'op' | 'eof';
interface Token {
  kind: TokKind;
  pos: number;
  text: string;
  value?: Literal;
  reserved?: boolean;
}

const RESERVED = new Set([
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);
const OPS3 = new Set<string>();
const OPS2 = new Set(['&&', '||', '==', '!=', '<=', '>=']);
const OPS1 = new Set(['<', '>', '+', '-', '*', '/', '%', '!', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}']);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

class Lexer {
  private i = 0;
  readonly tokens: Token[] = [];

  constructor(private readonly src: string) {}

  fail(reason: string, pos: number): never {
    const { line, column } = positionOf(this.src, pos);
    throw new CelSyntaxError(reason, line, column);
  }

  run(): Token[] {
    for (;;) {
      this.skipSpace();
      if (this.i >= this.src.length) break;
      this.tokens.push(this.next());
    }
    this.tokens.push({ kind: 'eof', pos: this.src.length, text: '<end of input>' });
    return this.tokens;
  }

  private skipSpace(): void {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.i++;
      else if (c === '/' && s[this.i + 1] === '/') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else break;
    }
  }

  private next(): Token {
    const s = this.src;
    const start = this.i;
    const c = s[start] as string;
    const quote = this.stringStart();
    if (quote) return this.string(start, quote.prefixLen, quote.raw, quote.bytes);
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[start + 1] ?? ''))) return this.number(start);
    if (/[A-Za-z_]/.test(c)) {
      let j = start + 1;
      while (j < s.length && /[A-Za-z0-9_]/.test(s[j] as string)) j++;
      this.i = j;
      const text = s.slice(start, j);
      // Reserved words are refused as names but allowed as field names after '.', so
      // event fields such as `k8s.namespace` need no escaping (a deliberate extension).
      return { kind: 'ident', pos: start, text, reserved: RESERVED.has(text) };
    }
    const two = s.slice(start, start + 2);
    if (OPS3.has(s.slice(start, start + 3))) this.fail('unexpected operator', start);
    if (OPS2.has(two)) {
      this.i += 2;
      return { kind: 'op', pos: start, text: two };
    }
    if (OPS1.has(c)) {
      this.i++;
      return { kind: 'op', pos: start, text: c };
    }
    return this.fail(`unexpected character '${c}'`, start);
  }

  /** Recognises r"…", b'…', rb"""…""" etc. at the cursor. */
  private stringStart(): { prefixLen: number; raw: boolean; bytes: boolean } | undefined {
    const s = this.src;
    let j = this.i;
    let raw = false;
    let bytes = false;
    for (let k = 0; k < 2; k++) {
      const c = s[j];
      if ((c === 'r' || c === 'R') && !raw) raw = true;
      else if ((c === 'b' || c === 'B') && !bytes) bytes = true;
      else break;
      j++;
    }
    if (s[j] !== '"' && s[j] !== "'") return undefined;
    return { prefixLen: j - this.i, raw, bytes };
  }

  private string(start: number, prefixLen: number, raw: boolean, bytes: boolean): Token {
    const s = this.src;
    let j = start + prefixLen;
    const q = s[j] as string;
    const triple = s.slice(j, j + 3) === q.repeat(3);
    const delim = triple ? q.repeat(3) : q;
    j += delim.length;
    const units: number[] = []; // code points (strings) or octets (bytes)
    for (;;) {
      if (j >= s.length) this.fail('unterminated string literal', start);
      if (s.startsWith(delim, j)) {
        j += delim.length;
        break;
      }
      const c = s[j] as string;
      if (!triple && (c === '\n' || c === '\r')) this.fail('newline in string literal', j);
      if (c === '\\' && !raw) {
        j = this.escape(j, bytes, units);
        continue;
      }
      const cp = s.codePointAt(j) as number;
      if (bytes) units.push(...new TextEncoder().encode(String.fromCodePoint(cp)));
      else units.push(cp);
      j += cp > 0xffff ? 2 : 1;
    }
    this.i = j;
    const value: Literal = bytes ? Uint8Array.from(units) : String.fromCodePoint(...units);
    return { kind: 'str', pos: start, text: s.slice(start, j), value };
  }

  /** Decodes one escape at s[j] (a backslash) into `out`; returns the index after it. */
  private escape(j: number, bytes: boolean, out: number[]): number {
    const s = this.src;
    const e = s[j + 1];
    const simple: Record<string, number> = {
      '\\': 92,
      '?': 63,
      '"': 34,
      "'": 39,
      '`': 96,
      a: 7,
      b: 8,
      f: 12,
      n: 10,
      r: 13,
      t: 9,
      v: 11,
    };
    if (e !== undefined && simple[e] !== undefined) {
      out.push(simple[e]);
      return j + 2;
    }
    const hex = (n: number): number => {
      const h = s.slice(j + 2, j + 2 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail('invalid hex escape', j);
      return parseInt(h, 16);
    };
    if (e === 'x' || e === 'X') {
      out.push(hex(2));
      return j + 4;
    }
    if ((e === 'u' || e === 'U') && !bytes) {
      const n = e === 'u' ? 4 : 8;
      const cp = hex(n);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('invalid code point in escape', j);
      out.push(cp);
      return j + 2 + n;
    }
    if (e !== undefined && /[0-3]/.test(e)) {
      const o = s.slice(j + 1, j + 4);
      if (!/^[0-3][0-7][0-7]$/.test(o)) this.fail('invalid octal escape', j);
      out.push(parseInt(o, 8));
      return j + 4;
    }
    return this.fail(`invalid escape sequence '\\${e ?? ''}'`, j);
  }

  private number(start: number): Token {
    const s = this.src;
    const rest = s.slice(start);
    const hex = /^0[xX][0-9a-fA-F]+[uU]?/.exec(rest);
    const flt = /^(?:[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)/.exec(rest);
    const int = /^[0-9]+[uU]?/.exec(rest);
    let text: string;
    let value: Literal;
    if (hex) {
      text = hex[0];
      value = this.intValue(text, start, parseInt(text.replace(/[uU]$/, ''), 16));
    } else if (flt) {
      text = flt[0];
      value = new CelDouble(Number(text));
    } else {
      text = (int as RegExpExecArray)[0];
      value = this.intValue(text, start, Number(text.replace(/[uU]$/, '')));
    }
    this.i = start + text.length;
    if (/[A-Za-z_]/.test(s[this.i] ?? '')) this.fail('invalid number literal', start);
    return { kind: 'num', pos: start, text, value };
  }

  private intValue(text: string, pos: number, n: number): Literal {
    // Ints are JS numbers: exact only up to 2^53, so larger literals are refused outright
    // rather than silently rounded (the one documented departure from 64-bit CEL ints).
    if (n > MAX_SAFE) this.fail('integer literal out of range (limit ±2^53)', pos);
    return /[uU]$/.test(text) ? new CelUint(n) : n;
  }
}

const RELOPS = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  private p = 0;
  private depth = 0;

  constructor(
    private readonly src: string,
    private readonly toks: Token[],
  ) {}

  private peek(): Token {
    return this.toks[this.p] as Token;
  }

  private is(text: string): boolean {
    const t = this.peek();
    return (t.kind === 'op' || t.kind === 'ident') && t.text === text;
  }

  private take(): Token {
    return this.toks[this.p++] as Token;
  }

  private expect(text: string): Token {
    if (!this.is(text)) this.fail(`expected '${text}' but found '${this.peek().text}'`, this.peek().pos);
    return this.take();
  }

  fail(reason: string, pos: number): never {
    const { line, column } = positionOf(this.src, pos);
    throw new CelSyntaxError(reason, line, column);
  }

  parseAll(): Expr {
    const e = this.expr();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(`unexpected '${t.text}'`, t.pos);
    return e;
  }

  private expr(): Expr {
    // Deeply nested input would otherwise overflow the JS stack with an unhelpful error.
    if (++this.depth > 250) this.fail('expression nested too deeply', this.peek().pos);
    const test = this.or();
    let out = test;
    if (this.is('?')) {
      const pos = this.take().pos;
      const then = this.or();
      this.expect(':');
      const otherwise = this.expr();
      out = { kind: 'cond', pos, test, then, otherwise };
    }
    this.depth--;
    return out;
  }

  private or(): Expr {
    let left = this.and();
    while (this.is('||')) {
      const pos = this.take().pos;
      left = { kind: 'binary', pos, op: '||', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.relation();
    while (this.is('&&')) {
      const pos = this.take().pos;
      left = { kind: 'binary', pos, op: '&&', left, right: this.relation() };
    }
    return left;
  }

  private relation(): Expr {
    let left = this.addition();
    for (;;) {
      const t = this.peek();
      const isRel = (t.kind === 'op' && RELOPS.has(t.text)) || (t.kind === 'ident' && t.text === 'in');
      if (!isRel) return left;
      this.take();
      left = { kind: 'binary', pos: t.pos, op: t.text as BinaryOp, left, right: this.addition() };
    }
  }

  private addition(): Expr {
    let left = this.multiplication();
    while (this.is('+') || this.is('-')) {
      const t = this.take();
      left = { kind: 'binary', pos: t.pos, op: t.text as BinaryOp, left, right: this.multiplication() };
    }
    return left;
  }

  private multiplication(): Expr {
    let left = this.unary();
    while (this.is('*') || this.is('/') || this.is('%')) {
      const t = this.take();
      left = { kind: 'binary', pos: t.pos, op: t.text as BinaryOp, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Expr {
    if (this.is('!')) {
      const pos = this.take().pos;
      return { kind: 'unary', pos, op: '!', operand: this.unary() };
    }
    if (this.is('-')) {
      const pos = this.take().pos;
      const operand = this.unary();
      // Fold `-<int literal>` so the most negative literals are written as in other languages.
      if (operand.kind === 'lit' && typeof operand.value === 'number')
        return { kind: 'lit', pos, value: -operand.value };
      return { kind: 'unary', pos, op: '-', operand };
    }
    return this.member();
  }

  private member(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.is('.')) {
        const dot = this.take();
        const id = this.take();
        if (id.kind !== 'ident') this.fail(`expected a field name after '.' but found '${id.text}'`, id.pos);
        if (this.is('(')) {
          this.take();
          e = { kind: 'call', pos: dot.pos, fn: id.text, target: e, args: this.args(')') };
        } else e = { kind: 'select', pos: dot.pos, operand: e, field: id.text };
      } else if (this.is('[')) {
        const pos = this.take().pos;
        const index = this.expr();
        this.expect(']');
        e = { kind: 'index', pos, operand: e, index };
      } else return e;
    }
  }

  private args(close: string): Expr[] {
    const out: Expr[] = [];
    if (this.is(close)) {
      this.take();
      return out;
    }
    for (;;) {
      out.push(this.expr());
      if (this.is(',')) {
        this.take();
        if (this.is(close)) break; // trailing comma, allowed in lists and maps
        continue;
      }
      break;
    }
    this.expect(close);
    return out;
  }

  private primary(): Expr {
    const t = this.take();
    switch (t.kind) {
      case 'num':
      case 'str':
        return { kind: 'lit', pos: t.pos, value: t.value as Literal };
      case 'ident':
        return this.identifier(t);
      case 'op':
        return this.bracketed(t);
      default:
        return this.fail('unexpected end of expression', t.pos);
    }
  }

  private identifier(t: Token): Expr {
    if (t.text === 'true' || t.text === 'false') return { kind: 'lit', pos: t.pos, value: t.text === 'true' };
    if (t.text === 'null') return { kind: 'lit', pos: t.pos, value: null };
    if (t.text === 'in') this.fail("unexpected 'in'", t.pos);
    if (t.reserved) this.fail(`reserved identifier '${t.text}'`, t.pos);
    if (this.is('(')) {
      this.take();
      return { kind: 'call', pos: t.pos, fn: t.text, target: undefined, args: this.args(')') };
    }
    return { kind: 'ident', pos: t.pos, name: t.text };
  }

  private bracketed(t: Token): Expr {
    if (t.text === '(') {
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (t.text === '[') return { kind: 'list', pos: t.pos, items: this.args(']') };
    if (t.text === '{') return { kind: 'map', pos: t.pos, entries: this.mapEntries() };
    if (t.text === '.') this.fail('leading-dot names are not supported', t.pos);
    return this.fail(`unexpected '${t.text}'`, t.pos);
  }

  private mapEntries(): Array<{ key: Expr; value: Expr }> {
    const out: Array<{ key: Expr; value: Expr }> = [];
    while (!this.is('}')) {
      const key = this.expr();
      this.expect(':');
      out.push({ key, value: this.expr() });
      if (!this.is(',')) break;
      this.take();
    }
    this.expect('}');
    return out;
  }
}

/** Parses one CEL expression; throws CelSyntaxError with line and column. */
export function parseCel(source: string): Expr {
  const toks = new Lexer(source).run();
  return new Parser(source, toks).parseAll();
}
