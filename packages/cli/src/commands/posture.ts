/**
 * `palisade posture`: Kubernetes posture assessment of manifests. `posture scan PATH…` reads
 * YAML/JSON manifests (files, directories, `-` for stdin) and reports Pod Security Standards
 * violations and workload misconfigurations; `posture checks` lists the catalogue.
 */
import { Command, Option } from 'commander';
import { PalisadeError, SEVERITIES, isSeverity, type PssLevel, type Severity } from '@palisade/core';
import {
  CHECKS,
  POSTURE_FORMATS,
  PSS_LATEST_MINOR,
  formatPssVersion,
  manifestInputs,
  parsePssVersion,
  scanManifests,
  writePostureReport,
  type PostureReport,
} from '@palisade/posture';
import { EXIT_ERROR } from '../exit-codes.js';
import { emit, type Io } from '../output.js';
import { collect } from '../source-options.js';

interface PostureScanFlags {
  format: string;
  output?: string;
  pssVersion: string;
  pssLevel: PssLevel;
  pssOnly: boolean;
  skipCheck: string[];
  severity?: string;
  exitCode: number;
  allowUnreadable: boolean;
}

function parseExitCode(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new PalisadeError('E_INPUT', `--exit-code must be 0-255, got "${v}"`);
  return n;
}

function parseSeverities(list: string | undefined): Severity[] | undefined {
  if (!list) return undefined;
  return list.split(',').map((raw) => {
    const s = raw.trim().toLowerCase();
    if (!isSeverity(s))
      throw new PalisadeError('E_INPUT', `unknown severity "${raw}" (known: ${SEVERITIES.join(', ')})`, {
        subject: '--severity',
      });
    return s;
  });
}

function knownCheckIds(ids: readonly string[]): string[] {
  const known = new Set(CHECKS.map((c) => c.id));
  const out = ids
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const id of out) {
    if (!known.has(id))
      throw new PalisadeError('E_INPUT', `unknown check "${id}" (see \`palisade posture checks\`)`, {
        subject: '--skip-check',
      });
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Keep only the asked-for severities; the summary keeps counting what was read. */
function filterSeverities(report: PostureReport, severities: Severity[] | undefined): PostureReport {
  if (!severities) return report;
  const misconfigurations = report.misconfigurations.filter((m) => severities.includes(m.severity));
  return { ...report, misconfigurations, summary: { ...report.summary, findings: misconfigurations.length } };
}

/** Unreadable input may hide misconfigurations: a CI gate fails closed unless told otherwise. */
function reportErrors(io: Io, report: PostureReport, allow: boolean): number {
  if (report.errors.length === 0) return 0;
  const label = allow ? 'warning' : 'palisade';
  for (const e of report.errors) io.stderr.write(`${label}: ${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}\n`);
  return allow ? 0 : EXIT_ERROR;
}

async function runPostureScan(paths: string[], flags: PostureScanFlags, io: Io): Promise<number> {
  const pssVersion = parsePssVersion(flags.pssVersion);
  const severities = parseSeverities(flags.severity);
  const skip = knownCheckIds(flags.skipCheck);
  if (paths.filter((p) => p === '-').length > 1) throw new PalisadeError('E_INPUT', 'stdin (-) can be given only once');
  const stdinText = paths.includes('-') ? await readAll(io.stdin) : '';
  const report = filterSeverities(
    scanManifests(
      manifestInputs(paths, () => stdinText),
      { pssLevel: flags.pssLevel, pssVersion, pssOnly: flags.pssOnly, skip },
    ),
    severities,
  );
  emit(io, writePostureReport(report, flags.format), flags.output);
  const problems = reportErrors(io, report, flags.allowUnreadable);
  if (problems !== 0) return problems;
  return flags.exitCode !== 0 && report.misconfigurations.length > 0 ? flags.exitCode : 0;
}

function checksTable(): string {
  const rows = CHECKS.map((c) => [
    c.id,
    c.severity,
    c.pss ? `${c.pss.level} ${c.pss.control} (v1.${c.pss.since}+)` : '',
    c.title,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')).join('\n') + '\n';
}

export function postureCommand(io: Io, setExit: (code: number) => void): Command {
  const posture = new Command('posture').description(
    'Kubernetes posture: Pod Security Standards and workload misconfigurations in manifests',
  );
  const scan = new Command('scan')
    .description(
      'scan Kubernetes manifests (YAML/JSON files or directories, Lists, kubectl -o json dumps, Helm output; - for stdin)',
    )
    .argument('<paths...>', 'manifest files or directories, - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...POSTURE_FORMATS]).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option(
      '--pss-version <version>',
      `Pod Security Standards policy version, v1.0 … ${formatPssVersion(PSS_LATEST_MINOR)} or latest`,
      'latest',
    )
    .addOption(
      new Option('--pss-level <level>', 'Pod Security Standards level to judge by')
        .choices(['baseline', 'restricted'])
        .default('restricted'),
    )
    .option('--pss-only', 'run only the Pod Security Standards checks', false)
    .option('--skip-check <ids>', 'do not run these checks (comma-separated, repeatable)', collect, [])
    .option('--severity <list>', `only report these severities (comma-separated: ${SEVERITIES.join(',')})`)
    .option('--exit-code <n>', 'exit with this code when misconfigurations are found (CI gates)', parseExitCode, 0)
    .option(
      '--allow-unreadable',
      'exit 0 even when some input could not be parsed (by default the scan fails closed)',
      false,
    )
    .action(async (paths: string[], flags: PostureScanFlags) => {
      setExit(await runPostureScan(paths, flags, io));
    });
  const checks = new Command('checks')
    .description('list the posture checks')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: { format: string }) => {
      const text =
        flags.format === 'json'
          ? JSON.stringify(
              CHECKS.map(({ id, version, title, severity, description, remediation, frameworks, pss }) => ({
                id,
                version,
                title,
                severity,
                description,
                remediation,
                frameworks,
                ...(pss ? { pss } : {}),
              })),
              null,
              2,
            )
          : checksTable();
      emit(io, text, undefined);
    });
  posture.addCommand(scan);
  posture.addCommand(checks);
  return posture;
}
