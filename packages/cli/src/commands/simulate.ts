/**
 * `palisade simulate`: runs harmless simulations of the runtime detections, each in a
 * throwaway podman container, and reports which produced the expected alert end to end:
 * `--local` with the eBPF sensor and rule engine in this process, `--server URL` through a
 * Palisade server's alert API (fed by this node's collector and publisher). Exit code 1 when
 * an expected alert is missing, 2 on errors.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { PalisadeError } from '@palisade/core';
import { RuleEngine } from '@palisade/rules';
import { SENSOR_EVENT_TYPES } from '@palisade/sensor';
import { EXIT_ERROR } from '../exit-codes.js';
import type { Io } from '../output.js';
import { collect } from '../source-options.js';
import { LocalDetector, ServerDetector, type Detector } from '../simulate/detectors.js';
import { buildHelper, simulateCacheDir } from '../simulate/helper.js';
import { PodmanRunner } from '../simulate/podman.js';
import { formatReport, runSimulation, type ScenarioOutcome } from '../simulate/run.js';
import { SCENARIOS, missingEventTypes, type Scenario } from '../simulate/scenarios.js';
import { formatCounters } from './sensor.js';
import { formatLoadError, ruleSources } from './rules.js';

/** Exit code when an expected alert did not appear. */
export const EXIT_MISSED = 1;
export const DEFAULT_SIMULATE_IMAGE = 'localhost/palisade-simulate:latest';

interface SimulateOptions {
  local: boolean;
  server?: string;
  tokenFile?: string;
  caFile?: string;
  image: string;
  ociRuntime?: string;
  scenario: string[];
  list: boolean;
  format: 'table' | 'json';
  timeout?: number;
  rules: string[];
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new PalisadeError('E_INPUT', `--timeout must be a number of seconds in (0, 3600], got "${value}"`, {
      subject: 'simulate',
    });
  }
  return n;
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new PalisadeError(
      'E_INPUT',
      `cannot read the ${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        subject: path,
        cause: err,
      },
    );
  }
}

function readSecretFile(path: string, what: string): string {
  const value = readInput(path, what).toString('utf8').trim();
  if (!value) throw new PalisadeError('E_INPUT', `the ${what} is empty`, { subject: path });
  return value;
}

/** The scenarios asked for (all by default); an unknown id is an error naming the known ones. */
export function selectScenarios(ids: readonly string[]): Scenario[] {
  if (ids.length === 0) return [...SCENARIOS];
  const known = new Map(SCENARIOS.map((s) => [s.id, s]));
  return ids.map((id) => {
    const s = known.get(id);
    if (!s) {
      throw new PalisadeError('E_INPUT', `unknown scenario (known: ${[...known.keys()].join(', ')})`, {
        subject: id,
      });
    }
    return s;
  });
}

function listScenarios(io: Io): number {
  const rows = SCENARIOS.map((s) => {
    const missing = missingEventTypes(s, SENSOR_EVENT_TYPES);
    const status = missing.length === 0 ? 'runs' : `skipped: needs ${missing.join(', ')}`;
    return [s.id, s.expectedRuleIds.join(','), status, s.title];
  });
  const all = [['SCENARIO', 'EXPECTED RULES', 'WITH THIS SENSOR', 'TITLE'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...all.map((r) => r[i]!.length)));
  for (const r of all) io.stdout.write(r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ') + '\n');
  return 0;
}

function validate(opts: SimulateOptions): void {
  if (opts.local === (opts.server !== undefined)) {
    throw new PalisadeError('E_INPUT', 'choose one of --local or --server URL', { subject: 'simulate' });
  }
  if (opts.server !== undefined && opts.tokenFile === undefined) {
    throw new PalisadeError('E_INPUT', '--server needs --token-file (an API token with the reader role)', {
      subject: 'simulate',
    });
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    const why = opts.local ? 'load eBPF programs and run containers' : 'run containers for the scenarios';
    throw new PalisadeError('E_INPUT', `needs root to ${why} (run with sudo)`, { subject: 'simulate' });
  }
}

/** Reads the token and checks the URL before anything runs. */
function serverDetector(opts: SimulateOptions): ServerDetector {
  const token = readSecretFile(opts.tokenFile ?? '', 'token file');
  const ca = opts.caFile !== undefined ? readInput(opts.caFile, 'CA file') : undefined;
  // Polled often: the latency column is event → visible in the API, to a quarter second.
  return new ServerDetector({ url: opts.server ?? '', token, pollIntervalMs: 250, ...(ca ? { ca } : {}) });
}

/** The sensor and the rules in this process; undefined (reported) when a rule file is bad. */
async function localDetector(opts: SimulateOptions, io: Io): Promise<Detector | undefined> {
  const { engine, errors } = RuleEngine.fromSources(ruleSources(opts.rules, true));
  if (errors.length > 0) {
    for (const e of errors) io.stderr.write(formatLoadError(e) + '\n');
    io.stderr.write('simulation not started: fix the rule files above\n');
    return undefined;
  }
  return LocalDetector.start({ engine, formatCounters });
}

function progressLine(o: ScenarioOutcome): string {
  const latencies = o.expected.filter((e) => e.latencyMs !== undefined).map((e) => `${e.latencyMs} ms`);
  return `simulate: ${o.id}: ${o.result}${latencies.length > 0 ? ` (${latencies.join(', ')})` : ''}\n`;
}

async function simulate(opts: SimulateOptions, io: Io): Promise<number> {
  if (opts.list) return listScenarios(io);
  validate(opts);
  const scenarios = selectScenarios(opts.scenario);
  const server = opts.server !== undefined ? serverDetector(opts) : undefined;
  const runner = new PodmanRunner(opts.ociRuntime !== undefined ? { ociRuntime: opts.ociRuntime } : {});
  await runner.checkImage(opts.image);
  const helper = scenarios.some((s) => s.helper)
    ? buildHelper(simulateCacheDir(io.env))
    : { ok: false as const, reason: 'not needed' };
  if (!helper.ok && helper.reason !== 'not needed')
    io.stderr.write(`simulate: ${helper.reason}; scenarios that need it are skipped\n`);

  const detector = server ?? (await localDetector(opts, io));
  if (!detector) return EXIT_ERROR;
  let report;
  try {
    report = await runSimulation({
      scenarios,
      detector,
      runner,
      image: opts.image,
      helper,
      alertTimeoutMs: (opts.timeout ?? (opts.local ? 5 : 60)) * 1000,
      containerTimeoutMs: 60_000,
      onOutcome: (o) => {
        if (opts.format === 'table') io.stderr.write(progressLine(o));
      },
    });
  } finally {
    const diagnostics = await detector.close();
    if (report) report.diagnostics = diagnostics;
  }
  if (opts.format === 'json') io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    io.stdout.write(formatReport(report));
    for (const line of report.diagnostics) io.stderr.write(line + '\n');
  }
  const failed = report.summary.missed + report.summary.error;
  return failed > 0 ? EXIT_MISSED : 0;
}

export function simulateCommand(io: Io, setExit: (code: number) => void): Command {
  return new Command('simulate')
    .description(
      'run harmless simulations of the runtime detections, each in a throwaway podman container, and report which raised the expected alert (root only; exit 1 when one is missing)',
    )
    .option('--local', 'detect with the eBPF sensor and the rules in this process', false)
    .option('--server <url>', "check the alerts of a Palisade server fed by this node's sensor")
    .option('--token-file <file>', 'API token (reader role) for --server')
    .option('--ca-file <file>', 'CA certificate(s) for the server, PEM')
    .option('--image <ref>', 'local image to run the scenarios in (never pulled)', DEFAULT_SIMULATE_IMAGE)
    .option('--oci-runtime <path>', 'OCI runtime for podman run --runtime (e.g. /usr/sbin/runc)')
    .option('--scenario <id>', 'run only this scenario (repeatable; see --list)', collect, [] as string[])
    .option('--list', 'list the scenarios and whether this sensor can run them', false)
    .option(
      '--timeout <seconds>',
      'wait this long for the alerts of one scenario (default 5 local, 60 server)',
      parseSeconds,
    )
    .option('--rules <file>', 'extra rule file for --local (repeatable)', collect, [] as string[])
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (opts: SimulateOptions) => {
      setExit(await simulate(opts, io));
    });
}
