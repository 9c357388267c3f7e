import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CelDouble,
  CelError,
  CelSyntaxError,
  CelUint,
  celEquals,
  compileCel,
  compileRegex,
  typeName,
  type CelValue,
} from '../src/index.js';

const u = (n: number): CelUint => new CelUint(n);
const d = (n: number): CelDouble => new CelDouble(n);
const err = (re: RegExp): { error: RegExp } => ({ error: re });
type Expected = CelValue | { error: RegExp };

const event = {
  type: 'process.exec',
  proc: {
    exe: '/bin/bash',
    name: 'bash',
    argv: ['bash', '-c', 'id'],
    pid: 42,
    tty: 0,
    ancestry: [{ pid: 1, exe: '/sbin/init', argv: ['init'] }],
  },
  container: { image: 'docker.io/library/nginx:1.27', resolved: true },
  k8s: { namespace: 'shop', pod: 'web-1' },
  load: 0.5,
};

function check(expr: string, want: Expected): void {
  const got = compileCel(expr, { selfName: 'evt' }).evaluate(event);
  if (want !== null && typeof want === 'object' && 'error' in want && want.error instanceof RegExp) {
    assert.ok(got instanceof CelError, `${expr}: expected an error, got ${JSON.stringify(got)}`);
    assert.match(got.message, want.error, expr);
    return;
  }
  if (got instanceof CelError) assert.fail(`${expr}: unexpected error ${got.message}`);
  const w = want;
  assert.equal(typeName(got), typeName(w), `${expr}: type`);
  assert.ok(celEquals(got, w), `${expr}: got ${JSON.stringify(got)} want ${JSON.stringify(w)}`);
}

// Written from the CEL language definition (literals, escapes, operators, macros, functions).
const TABLE: Array<[string, Expected]> = [
  // literals
  ['0', 0],
  ['0u', u(0)],
  ['0U', u(0)],
  ['0.0', d(0)],
  ['0e+0', d(0)],
  ['.5', d(0.5)],
  ['1e3', d(1000)],
  ['0x1F', 31],
  ['0x10u', u(16)],
  ['-7', -7],
  ['true', true],
  ['null', null],
  ["''", ''],
  [`'""'`, '""'],
  ["'''x''x'''", "x''x"],
  ['"\\""', '"'],
  ['"\\\\"', '\\'],
  ['r"\\\\"', '\\\\'],
  ['b"abc"', new Uint8Array([97, 98, 99])],
  ['b"ÿ"', new Uint8Array([195, 191])],
  ['b"\\303\\277"', new Uint8Array([195, 191])],
  ['"\\303\\277"', 'Ã¿'],
  ['"\\377"', 'ÿ'],
  ['b"\\377"', new Uint8Array([255])],
  ['"\\xFF"', 'ÿ'],
  ['b"\\xFF"', new Uint8Array([255])],
  ['"\\u00e9\\U0001F600"', 'é😀'],
  ['"a\\tb\\nc"', 'a\tb\nc'],
  ['"""two\nlines"""', 'two\nlines'],
  ['[1, 2, 3]', [1, 2, 3]],
  ['[]', []],
  [
    "{'a': 1, 2: 'b'}",
    new Map<string | number, CelValue>([
      ['a', 1],
      [2, 'b'],
    ]),
  ],
  // arithmetic: no implicit conversions between int, uint and double
  ['1 + 2 * 3', 7],
  ['(1 + 2) * 3', 9],
  ['7 / 2', 3],
  ['-7 / 2', -3],
  ['7 % 3', 1],
  ['-7 % 3', -1],
  ['7u / 2u', u(3)],
  ['1.5 + 1.0', d(2.5)],
  ['1.0 / 0.0', d(Infinity)],
  ["'ab' + 'c'", 'abc'],
  ['[1] + [2]', [1, 2]],
  ["b'a' + b'b'", new Uint8Array([97, 98])],
  ['1 + 1u', err(/no such overload/)],
  ['1 + 1.0', err(/no such overload/)],
  ['1 / 0', err(/division by zero/)],
  ['1 % 0', err(/modulus by zero/)],
  ['0u - 1u', err(/overflow/)],
  ['9007199254740991 + 1', err(/overflow/)],
  ['1.5 % 1.0', err(/no such overload/)],
  ['-(1)', -1],
  ['-(1u)', err(/no such overload/)],
  ['!true', false],
  ['!1', err(/no such overload/)],
  // comparison: equality across types is false, numbers compare by value
  ['1 == 1', true],
  ['1 == 1u', true],
  ['1 == 1.0', true],
  ["1 == '1'", false],
  ['null == null', true],
  ['[1, 2] == [1, 2]', true],
  ["{'a': 1} == {'a': 1}", true],
  ["{'a': 1} == {'a': 2}", false],
  ['1 != 2', true],
  ['2 < 3', true],
  ['2u >= 3u', false],
  ['1 < 1.5', true],
  ["'abc' < 'abd'", true],
  ['false < true', true],
  ["b'a' < b'b'", true],
  ["1 < 'a'", err(/no such overload/)],
  // in
  ['2 in [1, 2, 3]', true],
  ["'x' in ['a']", false],
  ["'a' in {'a': 1}", true],
  ['2 in {1: 0}', false],
  ['1 in 1', err(/no such overload/)],
  // logic: short-circuit and commutative error absorption
  ['true || 1/0 > 0', true],
  ['1/0 > 0 || true', true],
  ['false && 1/0 > 0', false],
  ['1/0 > 0 && false', false],
  ['1/0 > 0 && true', err(/division by zero/)],
  ['false || 1/0 > 0', err(/division by zero/)],
  ["'a' || true", true],
  ["'a' && true", err(/no such overload/)],
  ['true ? 1 : 2', 1],
  ["false ? 'foo' : 'bar'", 'bar'],
  ["2 / 0 > 4 ? 'baz' : 'quux'", err(/division by zero/)],
  ["true ? 'cows' : 17", 'cows'],
  ['1 ? 2 : 3', err(/no such overload/)],
  // field selection, has(), indexing
  ['proc.exe', '/bin/bash'],
  ['proc.argv[1]', '-c'],
  ['proc.argv[3]', err(/index out of bounds/)],
  ['proc.ancestry[0].exe', '/sbin/init'],
  ['k8s.namespace', 'shop'],
  ['load', d(0.5)],
  ['load == 0.5', true],
  ['proc.pid + 1', 43],
  ['proc.missing', err(/no such key: proc\.missing/)],
  ['has(proc.tty)', true],
  ['has(proc.user)', false],
  ['has(evt.container)', true],
  ['has(evt.nothing)', false],
  ["{'a': 1}['a']", 1],
  ["{'a': 1}['b']", err(/no such key/)],
  ["{'a': {'b': 2}}.a.b", 2],
  ["{1: 'x'}[1u]", 'x'],
  ['evt.type', 'process.exec'],
  // strings
  ["'hello'.startsWith('he')", true],
  ["'hello'.endsWith('lo')", true],
  ["'hello'.contains('ell')", true],
  ["'hubba'.matches('ubb')", true],
  ["'foobaz'.matches('^fo+ba[rz]$')", true],
  ["matches('abc', 'x')", false],
  ["size('héllo')", 5],
  ["'😀'.size()", 1],
  ['size([1, 2])', 2],
  ["size({'a': 1})", 1],
  ["b'abc'.size()", 3],
  ["'MiXeD'.lowerAscii()", 'mixed'],
  ["'ÀB'.lowerAscii()", 'Àb'],
  ["'a'.startsWith(1)", err(/no such overload/)],
  ['size(1)', err(/no such overload/)],
  ["['a', 'b'].join('-')", 'a-b'],
  ["int('42')", 42],
  ['uint(3)', u(3)],
  ['double(2)', d(2)],
  ['string(7)', '7'],
  ["int('x')", err(/cannot convert/)],
  ['int(-1.9)', -1],
  // macros
  ['[1, 2, 3].exists(x, x > 2)', true],
  ['[1, 2, 3].all(x, x > 0)', true],
  ['[1, 2, 3].all(x, x > 1)', false],
  ['[1, 2, 3].exists_one(x, x > 1)', false],
  ['[1, 2, 3].exists_one(x, x > 2)', true],
  ['[1, 2, 3].filter(x, x % 2 == 1)', [1, 3]],
  ['[1, 2, 3].map(x, x * 10)', [10, 20, 30]],
  ['[1, 2, 3].map(x, x > 1, x * 10)', [20, 30]],
  ["{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])", true],
  ['[].exists(x, x)', false],
  ['[].all(x, x)', true],
  // errors inside macros follow && / || semantics: a deciding element wins over an error
  ['[0, 1].exists(x, 1 / x > 0)', true],
  ['[0, 1].all(x, 1 / x > 5)', false],
  ['[0].exists(x, 1 / x > 0)', err(/division by zero/)],
  ['[0, 1].exists_one(x, 1 / x > 0)', err(/division by zero/)],
  ['[0].map(x, 1 / x)', err(/division by zero/)],
  ["[1, 'a'].exists(x, x > 0)", true],
  ['proc.argv.exists(a, a == "-c")', true],
  ['proc.ancestry.exists(p, p.exe == "/sbin/init")', true],
  ['[[1, 2], [3]].exists(x, x.exists(y, y == 3))', true],
];

for (const [expr, want] of TABLE) {
  test(`cel: ${expr.replace(/\n/g, '\\n')}`, () => check(expr, want));
}

function syntaxError(expr: string): CelSyntaxError {
  try {
    compileCel(expr);
  } catch (e) {
    if (e instanceof CelSyntaxError) return e;
    throw e;
  }
  assert.fail(`${expr}: expected a syntax error`);
}

test('parse errors give line, column and reason', () => {
  const e = syntaxError("proc.exe == '/bin/sh' &&\n  proc.argv.exists(a, a ==)");
  assert.equal(e.line, 2);
  assert.equal(e.column, 27);
  assert.match(e.reason, /unexpected '\)'/);
  assert.match(syntaxError('1 +').reason, /unexpected end/);
  assert.match(syntaxError("'abc").reason, /unterminated string/);
  assert.match(syntaxError('"\\q"').reason, /invalid escape/);
  assert.match(syntaxError('while').reason, /reserved identifier/);
  assert.match(syntaxError('1 = 2').reason, /unexpected character '='/);
  assert.match(syntaxError('nosuchfn(1)').reason, /unknown function/);
  assert.match(syntaxError('has(proc)').reason, /has\(\) takes one field selection/);
  assert.match(syntaxError("'a'.matches('(a)\\\\1')").reason, /backreferences/);
  assert.match(syntaxError('9223372036854775807').reason, /out of range/);
});

test('identifiers are checked against declared variables, macros and lists', () => {
  const opts = {
    variables: new Set(['proc']),
    macros: new Map([
      ['is_shell', 'proc.name in shells'],
      ['cyc', 'cyc'],
    ]),
    constants: new Map<string, CelValue>([['shells', ['bash', 'sh']]]),
  };
  assert.equal(compileCel('is_shell && proc.pid == 42', opts).evaluate(event), true);
  assert.throws(() => compileCel('procs.exe', opts), /undeclared reference to 'procs'/);
  assert.throws(() => compileCel('cyc', opts), /macro 'cyc' refers to itself/);
  // A comprehension variable shadows a list of the same name.
  assert.equal(compileCel("['zsh'].exists(shells, shells == 'zsh')", opts).evaluate(event), true);
});

test('matches(): RE2 subset with a safety check', () => {
  assert.equal(compileRegex('(?i)^BASH$').ok, true);
  assert.equal(compileRegex('(?P<n>a+)b').ok, true);
  for (const bad of ['(?=a)', '(?<!a)b', '(a)\\1', '(a+)+$', '(x*y*)*', '\\k<n>']) {
    assert.equal(compileRegex(bad).ok, false, bad);
  }
  assert.equal(compileCel("'BASH'.matches('(?i)^bash$')").evaluate(event), true);
  assert.equal(compileCel("'x.y'.matches(r'^x\\.y$')").evaluate(event), true);
  const dyn = compileCel("'a'.matches(proc.exe + '(?=x)')").evaluate(event);
  assert.ok(dyn instanceof CelError && /lookaround/.test(dyn.message));
});

test('a program is compiled once and evaluated many times with the same result', () => {
  const p = compileCel("proc.argv.filter(a, a.startsWith('-')).size() == 1 && container.image.contains('nginx')");
  for (let i = 0; i < 3; i++) assert.equal(p.evaluate(event), true);
  assert.equal(p.evaluate({ ...event, proc: { ...event.proc, argv: ['sh'] } }), false);
  assert.ok(p.evaluate({ proc: event.proc }) instanceof CelError, 'a missing container is an error, not false');
});
