/**
 * Runs the scenarios one at a time (each in its own container, so every alert can be tied to
 * its scenario by container id) and asks the detector for the expected alerts.
 */
import net from 'node:net';
import type { Detector } from './detectors.js';
import { HELPER_IN_CONTAINER, type HelperBuild } from './helper.js';
import type { ContainerRunner } from './podman.js';
import { missingEventTypes, scenarioCommand, type Scenario } from './scenarios.js';

export type ScenarioResult = 'detected' | 'missed' | 'skipped' | 'error';

export interface ExpectationOutcome {
  ruleId: string;
  result: 'detected' | 'missed' | 'skipped';
  /**
   * From the triggering event (its kernel time, as the alert carries it) to the alert reaching
   * this process: evaluated in this process with --local; visible in the server's
   * `GET /api/v1/alerts` with --server (collector → publisher → ingest → storage → API).
   */
  latencyMs?: number;
}

/** Event→alert latency over every detection of a run (nearest-rank percentiles). */
export interface LatencySummary {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ScenarioOutcome {
  id: string;
  title: string;
  result: ScenarioResult;
  /** Why a scenario was skipped or failed. */
  reason?: string;
  containerId?: string;
  exitCode?: number;
  expected: ExpectationOutcome[];
}

export interface SimulationReport {
  mode: string;
  image: string;
  startedAt: string;
  scenarios: ScenarioOutcome[];
  summary: Record<ScenarioResult, number>;
  /** Undefined when nothing was detected. */
  latency?: LatencySummary;
  /** Sensor counters and similar lines from the detector. */
  diagnostics: string[];
}

export interface SimulationOptions {
  scenarios: readonly Scenario[];
  detector: Detector;
  runner: ContainerRunner;
  image: string;
  helper: HelperBuild;
  /** How long to wait for the expected alerts of one scenario. */
  alertTimeoutMs: number;
  /** How long one scenario's container may run. */
  containerTimeoutMs: number;
  now?: () => Date;
  /** Called as each scenario finishes (progress output). */
  onOutcome?: (o: ScenarioOutcome) => void;
}

/** A loopback listener owned by the simulator: accepts and closes, never sends a byte. */
export async function startListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function skipped(s: Scenario, reason: string): ScenarioOutcome {
  return {
    id: s.id,
    title: s.title,
    result: 'skipped',
    reason,
    expected: s.expectedRuleIds.map((ruleId) => ({ ruleId, result: 'skipped' })),
  };
}

async function runOne(s: Scenario, o: SimulationOptions, port: number): Promise<ScenarioOutcome> {
  const missing = missingEventTypes(s, o.detector.supportedTypes);
  if (missing.length > 0) return skipped(s, `not supported by this sensor (needs ${missing.join(', ')})`);
  if (s.helper && !o.helper.ok) return skipped(s, o.helper.reason);
  const now = o.now ?? ((): Date => new Date());
  const since = now();
  let run;
  try {
    run = await o.runner.run({
      image: o.image,
      command: scenarioCommand(s, port),
      network: s.network,
      capAdd: s.capAdd ?? [],
      mounts: s.helper && o.helper.ok ? [{ source: o.helper.path, target: HELPER_IN_CONTAINER }] : [],
      label: s.id,
      timeoutMs: o.containerTimeoutMs,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ...skipped(s, reason),
      result: 'error',
      expected: s.expectedRuleIds.map((ruleId) => ({ ruleId, result: 'missed' })),
    };
  }
  const found = await o.detector.awaitDetections(run.id, s.expectedRuleIds, since, o.alertTimeoutMs);
  const expected = s.expectedRuleIds.map((ruleId): ExpectationOutcome => {
    const d = found.find((x) => x.ruleId === ruleId);
    return d
      ? { ruleId, result: 'detected', latencyMs: Math.max(0, d.detectedAtMs - d.eventTimeMs) }
      : { ruleId, result: 'missed' };
  });
  const out: ScenarioOutcome = {
    id: s.id,
    title: s.title,
    result: expected.every((e) => e.result === 'detected') ? 'detected' : 'missed',
    containerId: run.id,
    expected,
  };
  if (run.exitCode !== undefined) out.exitCode = run.exitCode;
  if (run.timedOut) out.reason = `container still running after ${o.containerTimeoutMs} ms (stopped)`;
  else if (out.result === 'missed') out.reason = `container output: ${run.output || '(none)'}`;
  return out;
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationReport> {
  const now = o.now ?? ((): Date => new Date());
  const startedAt = now().toISOString();
  const listener = await startListener();
  const scenarios: ScenarioOutcome[] = [];
  try {
    for (const s of o.scenarios) {
      const outcome = await runOne(s, o, listener.port);
      scenarios.push(outcome);
      o.onOutcome?.(outcome);
    }
  } finally {
    await listener.close();
  }
  const summary: Record<ScenarioResult, number> = { detected: 0, missed: 0, skipped: 0, error: 0 };
  for (const s of scenarios) summary[s.result]++;
  const latency = latencySummary(scenarios.flatMap((s) => s.expected.flatMap((e) => e.latencyMs ?? [])));
  return {
    mode: o.detector.mode,
    image: o.image,
    startedAt,
    scenarios,
    summary,
    ...(latency ? { latency } : {}),
    diagnostics: [],
  };
}

/** p50/p99/max of latencies (nearest rank); undefined for none. */
export function latencySummary(values: readonly number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { n: sorted.length, p50Ms: rank(50), p99Ms: rank(99), maxMs: sorted[sorted.length - 1]! };
}

/** The table: one row per expected rule of each scenario. */
export function formatReport(r: SimulationReport): string {
  const rows: string[][] = [['SCENARIO', 'EXPECTED RULE', 'RESULT', 'LATENCY', 'NOTE']];
  for (const s of r.scenarios) {
    for (const e of s.expected) {
      const result = s.result === 'error' ? 'error' : e.result;
      const latency = e.latencyMs !== undefined ? `${e.latencyMs} ms` : '-';
      rows.push([s.id, e.ruleId, result, latency, s.reason ?? '']);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  const { detected, missed, skipped: skippedCount, error } = r.summary;
  lines.push(
    '',
    `${detected} detected, ${missed} missed, ${skippedCount} skipped` +
      (error > 0 ? `, ${error} failed to run` : '') +
      ` (${r.mode}, image ${r.image})`,
  );
  if (r.latency)
    lines.push(
      `event to alert${r.mode === 'local' ? '' : ' visible in the API'}: p50 ${r.latency.p50Ms} ms, ` +
        `p99 ${r.latency.p99Ms} ms, max ${r.latency.maxMs} ms (${r.latency.n} alerts)`,
    );
  return lines.join('\n') + '\n';
}
