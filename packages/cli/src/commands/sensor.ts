/**
 * `palisade sensor collect --local`: runs the eBPF sensor on this machine, evaluates every
 * event with the rule engine and prints alerts as JSON lines until SIGINT/SIGTERM or
 * --duration, then a counters summary on stderr.
 */
import { Command, Option } from 'commander';
import { PalisadeError } from '@palisade/core';
import { RuleEngine } from '@palisade/rules';
import { SENSOR_EVENT_TYPES, Sensor, type SensorCounters } from '@palisade/sensor';
import { EXIT_ERROR } from '../exit-codes.js';
import type { Io } from '../output.js';
import { collect } from '../source-options.js';
import { formatLoadError, ruleSources } from './rules.js';

interface CollectOptions {
  local: boolean;
  rules: string[];
  builtin: boolean;
  duration?: number;
  mode: 'all' | 'container' | 'host';
}

function parseDuration(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new PalisadeError('E_INPUT', `--duration must be a positive number of seconds, got "${value}"`, {
      subject: 'sensor collect',
    });
  }
  return n;
}

/** The counters summary: one line per event type, then the totals of the pipeline. */
export function formatCounters(c: SensorCounters, alerts: number): string {
  const lines = ['sensor counters:'];
  for (const t of SENSOR_EVENT_TYPES) {
    const k = c.byType[t];
    lines.push(
      `  ${t.padEnd(16)} seen=${k.seen} filtered-in-kernel=${k.filteredInKernel} dropped-in-kernel=${k.droppedInKernel} ` +
        `decoded=${k.decoded} dropped-in-userspace=${k.droppedInUserspace}`,
    );
  }
  lines.push(`  frames=${c.frames} decode-errors=${c.decodeErrors} alerts=${alerts}`);
  return lines.join('\n') + '\n';
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

async function collectLocal(opts: CollectOptions, io: Io): Promise<number> {
  if (!opts.local) {
    throw new PalisadeError('E_UNSUPPORTED', 'only --local collection is supported for now', {
      subject: 'sensor collect',
    });
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PalisadeError('E_INPUT', 'needs root to load eBPF programs (run with sudo)', {
      subject: 'sensor collect',
    });
  }
  const { engine, errors } = RuleEngine.fromSources(ruleSources(opts.rules, opts.builtin));
  if (errors.length > 0) {
    // A collector must not run with rules silently left out.
    for (const e of errors) io.stderr.write(formatLoadError(e) + '\n');
    io.stderr.write('sensor not started: fix the rule files above\n');
    return EXIT_ERROR;
  }

  let sensor: Sensor;
  try {
    sensor = await Sensor.start({ mode: opts.mode });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new PalisadeError('E_CONFIG', `cannot start the sensor: ${oneLine(msg)}`, {
      subject: 'sensor collect',
      cause: err,
    });
  }

  let stopping: Promise<SensorCounters> | undefined;
  const stop = (): void => {
    stopping ??= sensor.stop();
  };
  const onSignal = (): void => stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = opts.duration !== undefined ? setTimeout(stop, opts.duration * 1000) : undefined;

  let alerts = 0;
  let counters: SensorCounters;
  try {
    io.stderr.write(
      `sensor: collecting (${opts.mode} processes, ${engine.rules.length} rules)` +
        (opts.duration !== undefined ? ` for ${opts.duration}s` : '; Ctrl-C to stop') +
        '\n',
    );
    for await (const ev of sensor.events()) {
      for (const a of engine.evaluate(ev)) {
        alerts++;
        io.stdout.write(JSON.stringify(a) + '\n');
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop();
    counters = await (stopping ?? sensor.stop());
  }
  io.stderr.write(formatCounters(counters, alerts));
  if (sensor.streamError !== undefined) {
    throw new PalisadeError('E_CORRUPT', `sensor stream broken: ${oneLine(sensor.streamError)}`, {
      subject: 'sensor collect',
    });
  }
  return 0;
}

export function sensorCommand(io: Io, setExit: (code: number) => void): Command {
  const sensor = new Command('sensor').description('eBPF runtime sensor');
  sensor
    .command('collect')
    .description(
      'run the sensor on this machine (root only), evaluate every event with the rules and print alerts as JSON lines until SIGINT/SIGTERM or --duration; counters go to stderr at the end',
    )
    .option('--local', 'collect on this machine and print alerts to stdout', false)
    .option(
      '--rules <file>',
      'extra rule file, loaded after the built-in library (repeatable)',
      collect,
      [] as string[],
    )
    .option('--no-builtin', 'use only the --rules files, without the built-in library')
    .option('--duration <seconds>', 'stop after this many seconds', parseDuration)
    .addOption(
      new Option('--mode <mode>', 'which processes to watch').choices(['all', 'container', 'host']).default('all'),
    )
    .action(async (opts: CollectOptions) => {
      setExit(await collectLocal(opts, io));
    });
  return sensor;
}
