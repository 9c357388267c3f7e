/**
 * `palisade rules lint` and `palisade rules test`: tools for rule authors. Lint loads the
 * built-in library plus the given files and reports every load problem as `FILE:LINE: reason`;
 * test replays recorded runtime events (JSON lines) through the same rules and prints alerts.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { PalisadeError, RUNTIME_EVENT_TYPES, isRuntimeEventType, type Alert, type RuntimeEvent } from '@palisade/core';
import {
  RuleEngine,
  builtinRuleSources,
  compileRuleSet,
  parseRuleSources,
  readRuleFiles,
  type RuleLoadError,
  type RuleSource,
} from '@palisade/rules';
import { EXIT_ERROR } from '../exit-codes.js';
import type { Io } from '../output.js';
import { collect } from '../source-options.js';

/** Exit code of `rules test --expect` when an expected rule did not fire. */
export const EXIT_EXPECTATION = 1;

/** The built-in library (unless left out) followed by the user's files, in order. */
export function ruleSources(files: readonly string[], builtin: boolean): RuleSource[] {
  return [...(builtin ? builtinRuleSources() : []), ...readRuleFiles(files)];
}

/** One load problem as one line: `FILE:LINE: reason` (the reason names the rule when known). */
export function formatLoadError(e: RuleLoadError): string {
  return `${e.file}:${e.line}: ${e.message}`;
}

interface LintOptions {
  builtin: boolean;
}

function lint(files: string[], opts: LintOptions, io: Io): number {
  if (files.length === 0 && !opts.builtin) {
    throw new PalisadeError('E_INPUT', 'nothing to lint: give rule files or drop --no-builtin', {
      subject: 'rules lint',
    });
  }
  const parsed = parseRuleSources(ruleSources(files, opts.builtin));
  const compiled = compileRuleSet(parsed.set);
  const errors = [...parsed.errors, ...compiled.errors];
  for (const e of errors) io.stderr.write(formatLoadError(e) + '\n');
  if (errors.length > 0) {
    io.stderr.write(`${errors.length} problem${errors.length === 1 ? '' : 's'} in rule files\n`);
    return EXIT_ERROR;
  }
  const specs = [...parsed.set.rules.values()];
  const disabled = specs.filter((s) => !s.enabled).length;
  const byType = new Map<string, number>();
  for (const r of compiled.rules) for (const t of new Set(r.spec.events)) byType.set(t, (byType.get(t) ?? 0) + 1);
  const lines = [
    `${compiled.rules.length} rule${compiled.rules.length === 1 ? '' : 's'} OK` +
      (disabled > 0 ? ` (${disabled} disabled)` : '') +
      `, from ${opts.builtin ? 'the built-in library' : 'no built-in rules'}` +
      (files.length > 0 ? ` and ${files.length} file${files.length === 1 ? '' : 's'}` : ''),
  ];
  for (const t of RUNTIME_EVENT_TYPES) {
    const n = byType.get(t);
    if (n !== undefined) lines.push(`  ${t.padEnd(20)} ${n}`);
  }
  io.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** Why a parsed JSON value is not a runtime event, or undefined when it is one. */
export function eventProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o['type'] !== 'string') return 'missing "type"';
  if (!isRuntimeEventType(o['type'])) return `unknown event type "${o['type']}"`;
  if (typeof o['id'] !== 'string' || o['id'] === '') return 'missing "id"';
  if (typeof o['time'] !== 'string') return 'missing "time"';
  if (o['type'] === 'k8s.audit') {
    if (typeof o['audit'] !== 'object' || o['audit'] === null) return 'k8s.audit event without "audit"';
  } else if (typeof o['proc'] !== 'object' || o['proc'] === null) {
    return `${o['type']} event without "proc"`;
  }
  return undefined;
}

interface TestOptions {
  events: string;
  format: 'json' | 'table';
  builtin: boolean;
  allowMalformed: boolean;
  expect: string[];
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function tableRow(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
}

function alertTable(alerts: Alert[]): string {
  const head = ['TIME', 'RULE', 'SEVERITY', 'EVENT', 'OUTPUT'];
  const rows = alerts.map((a) => [a.time, a.ruleId, a.severity, a.events[0]?.id ?? '', oneLine(a.output)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => tableRow(r, widths)).join('\n') + '\n';
}

async function replay(files: string[], opts: TestOptions, io: Io): Promise<number> {
  const { engine, errors } = RuleEngine.fromSources(ruleSources(files, opts.builtin));
  for (const e of errors) io.stderr.write(formatLoadError(e) + '\n');
  if (engine.rules.length === 0) {
    throw new PalisadeError('E_INPUT', 'no rules loaded', { subject: files.join(', ') || 'rules test' });
  }
  const fromStdin = opts.events === '-';
  const eventsName = fromStdin ? '<stdin>' : opts.events;
  let input: NodeJS.ReadableStream;
  if (fromStdin) {
    input = io.stdin;
  } else {
    const stream = createReadStream(opts.events);
    // An unreadable file surfaces as the stream's first error; make it a one-line error.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new PalisadeError('E_NOT_FOUND', `cannot read events file: ${err.code ?? err.message}`, {
            subject: opts.events,
            cause: err,
          }),
        ),
      );
    });
    input = stream;
  }

  const alerts: Alert[] = [];
  const perRule = new Map<string, number>();
  let lineNo = 0;
  let events = 0;
  let malformed = 0;
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      malformed++;
      io.stderr.write(`${eventsName}:${lineNo}: invalid JSON: ${oneLine((err as Error).message)}\n`);
      continue;
    }
    const problem = eventProblem(value);
    if (problem !== undefined) {
      malformed++;
      io.stderr.write(`${eventsName}:${lineNo}: ${problem}\n`);
      continue;
    }
    events++;
    for (const a of engine.evaluate(value as RuntimeEvent)) {
      perRule.set(a.ruleId, (perRule.get(a.ruleId) ?? 0) + 1);
      if (opts.format === 'json') io.stdout.write(JSON.stringify(a) + '\n');
      else alerts.push(a);
    }
  }

  const summary: string[] = [];
  summary.push(
    `${events} event${events === 1 ? '' : 's'} replayed, ${[...perRule.values()].reduce((x, y) => x + y, 0)} alert(s)` +
      (malformed > 0 ? `, ${malformed} malformed line${malformed === 1 ? '' : 's'} skipped` : ''),
  );
  for (const [id, n] of [...perRule.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    summary.push(`  ${id.padEnd(14)} ${n}`);
  }
  const evalErrors = engine.errorCount();
  if (evalErrors > 0) {
    for (const r of engine.rules) {
      const s = engine.stats(r.spec.id);
      if (s && s.errors > 0)
        summary.push(`  ${r.spec.id}: ${s.errors} evaluation error(s), last: ${s.lastError ?? 'unknown'}`);
    }
  }
  let code = 0;
  for (const id of opts.expect) {
    if ((perRule.get(id) ?? 0) > 0) continue;
    const known = engine.stats(id) !== undefined;
    summary.push(`expected rule ${id} did not fire${known ? '' : ' (no enabled rule has this id)'}`);
    code = EXIT_EXPECTATION;
  }
  if (opts.format === 'table') {
    io.stdout.write(alerts.length > 0 ? alertTable(alerts) : 'no alerts\n');
    io.stdout.write(summary.join('\n') + '\n');
  } else {
    // stdout stays pure JSON lines; the summary goes to stderr.
    io.stderr.write(summary.join('\n') + '\n');
  }
  if (errors.length > 0 || (malformed > 0 && !opts.allowMalformed)) return EXIT_ERROR;
  return code;
}

export function rulesCommand(io: Io, setExit: (code: number) => void): Command {
  const rules = new Command('rules').description(
    'check runtime detection rules and replay recorded events through them',
  );
  rules
    .command('lint')
    .description(
      'load the built-in rules plus FILEs (later files override) and print every problem as FILE:LINE: reason (exit 2 when any), else a summary',
    )
    .argument('[files...]', 'rule files (YAML)')
    .option('--no-builtin', 'lint the given files alone, without the built-in library')
    .action((files: string[], opts: LintOptions) => {
      setExit(lint(files, opts, io));
    });
  rules
    .command('test')
    .description(
      'replay runtime events (JSON lines) through the built-in rules plus FILEs and print the alerts; exit 2 on rule or event errors, 1 when an --expect rule did not fire',
    )
    .argument('[files...]', 'rule files (YAML)')
    .requiredOption('--events <file>', 'recorded events, one JSON runtime event per line ("-" for stdin)')
    .addOption(new Option('--format <format>', 'alert output').choices(['json', 'table']).default('json'))
    .option('--no-builtin', 'use the given files alone, without the built-in library')
    .option('--allow-malformed', 'report malformed event lines but do not fail because of them', false)
    .option('--expect <rule-id>', 'exit 1 unless this rule fired (repeatable)', collect, [] as string[])
    .action(async (files: string[], opts: TestOptions) => {
      setExit(await replay(files, opts, io));
    });
  return rules;
}
