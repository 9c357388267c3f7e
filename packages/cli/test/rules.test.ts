import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable } from 'node:stream';
import { CommanderError } from 'commander';
import { isPalisadeError } from '@palisade/core';
import type { Alert } from '@palisade/core';
import { rulesCommand } from '../src/commands/rules.js';
import type { Io } from '../src/output.js';
import type { RunResult } from './helpers.js';

/** From dist/test/ back to the fixtures in the source tree. */
const FIX = fileURLToPath(new URL('../../test/fixtures/rules/', import.meta.url));
const GOOD = FIX + 'good.yaml';
const BROKEN = FIX + 'broken.yaml';
const EVENTS = FIX + 'events.jsonl';
const EVENTS_LINES = readFileSync(EVENTS, 'utf8').split('\n');

/** Runs `palisade rules …` through the factory, handling errors the way main() does. */
async function rules(argv: string[], stdin = ''): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  const err = new PassThrough();
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const io: Io = { stdout: out, stderr: err, stdin: Readable.from([Buffer.from(stdin)]), env: process.env };
  let code = 0;
  const cmd = rulesCommand(io, (c) => (code = c));
  cmd.exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  for (const sub of cmd.commands)
    sub.exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else if (isPalisadeError(e)) {
      stderr += `palisade: ${e.describe()}\n`;
      code = 2;
    } else throw e;
  }
  return { code, stdout, stderr };
}

function alertsOf(stdout: string): Alert[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Alert);
}

test('rules lint: the built-in library alone is clean and summarised by event type', async () => {
  const r = await rules(['lint']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+ rules OK, from the built-in library\n/);
  assert.match(r.stdout, /^ {2}process\.exec +\d+$/m);
  assert.match(r.stdout, /^ {2}k8s\.audit +\d+$/m);
  assert.equal(r.stderr, '');
});

test('rules lint: a good file adds a rule and disables a built-in one', async () => {
  const base = await rules(['lint']);
  const r = await rules(['lint', GOOD]);
  assert.equal(r.code, 0, r.stderr);
  const n = (s: string): number => Number(/^(\d+) rules/.exec(s)?.[1]);
  // TEST-001 added, PAL-RT-011 disabled: same count of enabled rules.
  assert.equal(n(r.stdout), n(base.stdout));
  assert.match(r.stdout, /\(1 disabled\), from the built-in library and 1 file\n/);
});

test('rules lint: every problem is one FILE:LINE: reason line, exit 2', async () => {
  const r = await rules(['lint', BROKEN]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    `${BROKEN}:14: rule BROKEN-002: severity must be critical, high, medium, low or negligible`,
    `${BROKEN}:25: rule BROKEN-003: condition 1:18: expected ')' but found '<end of input>'`,
    '2 problems in rule files',
  ]);
  assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
});

test('rules lint --no-builtin: files alone (an override of a built-in rule has nothing to patch)', async () => {
  const r = await rules(['lint', '--no-builtin', GOOD]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    new RegExp(
      `^${GOOD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:14: rule PAL-RT-011: override: true, but no earlier file defines this rule$`,
      'm',
    ),
  );
  const alone = await rules(['lint', '--no-builtin', BROKEN]);
  assert.equal(alone.code, 2);
  assert.equal(alone.stderr.split('\n').filter((l) => l.startsWith(BROKEN)).length, 2);
  const none = await rules(['lint', '--no-builtin']);
  assert.equal(none.code, 2);
  assert.equal(none.stderr, 'palisade: rules lint: nothing to lint: give rule files or drop --no-builtin\n');
});

test('rules lint: a missing file is a one-line error naming it', async () => {
  const r = await rules(['lint', FIX + 'no-such.yaml']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `palisade: ${FIX}no-such.yaml: cannot read rule file\n`);
});

test('rules test: replays events, prints alerts as JSON lines, reports the malformed lines, exit 2', async () => {
  const r = await rules(['test', GOOD, '--events', EVENTS]);
  assert.equal(r.code, 2);
  const alerts = alertsOf(r.stdout);
  assert.deepEqual(
    alerts.map((a) => [a.ruleId, a.events[0]?.id]),
    [
      ['TEST-001', 'ev-1'],
      ['PAL-RT-002', 'ev-4'],
    ],
  );
  assert.equal(alerts[0]?.output, 'Download tool in web (cmd=curl http://example.com/x.sh)');
  assert.match(r.stderr, new RegExp(`^${EVENTS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid JSON: `, 'm'));
  assert.match(r.stderr, new RegExp(`:6: unknown event type "process.teleport"$`, 'm'));
  assert.match(r.stderr, /^4 events replayed, 2 alert\(s\), 2 malformed lines skipped$/m);
  assert.match(r.stderr, /^ {2}PAL-RT-002 +1$/m);
  assert.match(r.stderr, /^ {2}TEST-001 +1$/m);
});

test('rules test --allow-malformed --expect: exit 0 when the rule fired, 1 when it did not', async () => {
  const ok = await rules(['test', GOOD, '--events', EVENTS, '--allow-malformed', '--expect', 'TEST-001']);
  assert.equal(ok.code, 0, ok.stderr);
  const miss = await rules(['test', GOOD, '--events', EVENTS, '--allow-malformed', '--expect', 'PAL-RT-005']);
  assert.equal(miss.code, 1);
  assert.match(miss.stderr, /^expected rule PAL-RT-005 did not fire$/m);
  const unknown = await rules(['test', '--events', EVENTS, '--allow-malformed', '--expect', 'NOPE-1']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^expected rule NOPE-1 did not fire \(no enabled rule has this id\)$/m);
  // Malformed lines still fail the run without --allow-malformed, even when the rule fired.
  const strict = await rules(['test', GOOD, '--events', EVENTS, '--expect', 'TEST-001']);
  assert.equal(strict.code, 2);
});

test('rules test: events from stdin, table format, --no-builtin', async () => {
  const good = [1, 2, 4, 7].map((n) => EVENTS_LINES[n - 1] ?? '').join('\n');
  const r = await rules(['test', '--no-builtin', GOOD, '--events', '-', '--format', 'table'], good);
  // good.yaml alone has an override with nothing to patch: reported, exit 2, but events still replay.
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:14: rule PAL-RT-011: override/);
  assert.match(r.stdout, /^TIME +RULE +SEVERITY +EVENT +OUTPUT$/m);
  assert.match(r.stdout, /^2026-03-01T10:00:01.000Z +TEST-001 +medium +ev-1 +Download tool in web/m);
  assert.doesNotMatch(r.stdout, /PAL-RT-002/); // built-in rules left out
  assert.match(r.stdout, /^4 events replayed, 1 alert\(s\)$/m);

  const bad = await rules(['test', '--events', '-'], '{"type":"process.exec"}\n[1]\n');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^<stdin>:1: missing "id"$/m);
  assert.match(bad.stderr, /^<stdin>:2: not a JSON object$/m);
});

test('rules test: broken rule files are reported by line; the rest still run', async () => {
  const r = await rules(['test', BROKEN, '--events', EVENTS, '--allow-malformed', '--expect', 'PAL-RT-002']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /broken\.yaml:14: rule BROKEN-002: severity/);
  assert.equal(alertsOf(r.stdout).length, 1);
});

test('rules test: a missing events file is a one-line error; --events is required', async () => {
  const r = await rules(['test', '--events', FIX + 'none.jsonl']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `palisade: ${FIX}none.jsonl: cannot read events file: ENOENT\n`);
  const m = await rules(['test']);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /required option '--events <file>'/);
});
