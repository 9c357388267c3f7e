/**
 * Prometheus metrics in the text exposition format, kept in memory: request counts by route and
 * status, scan durations by outcome, and job counts by state read from storage at scrape time
 * (so every replica reports the shared queue, not only its own part). No client library: the
 * format is a few lines of text.
 */
import type { SchedulerObserver } from '../scheduler/index.js';
import type { ScanObserver } from '../worker/worker.js';
import type { RuntimeObserver } from '../runtime/pipeline.js';

export interface Metrics extends ScanObserver, SchedulerObserver, RuntimeObserver {
  countRequest(method: string, route: string, status: number): void;
  /** The exposition text; `jobs` are the queue's counts by state at scrape time. */
  render(jobs: Readonly<Record<string, number>>): string;
}

const SCAN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800];

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const scans = new Map<string, { buckets: number[]; sum: number; count: number }>();
  const tasks = new Map<string, number>();
  const runtimeBatches = new Map<string, number>();
  let runtimeAlerts = 0;
  return {
    observeRuntimeBatch(outcome, alertsStored) {
      runtimeBatches.set(outcome, (runtimeBatches.get(outcome) ?? 0) + 1);
      runtimeAlerts += alertsStored;
    },
    observeTask(kind, outcome) {
      const key = `kind="${label(kind)}",outcome="${label(outcome)}"`;
      tasks.set(key, (tasks.get(key) ?? 0) + 1);
    },
    countRequest(method, route, status) {
      const key = `method="${label(method)}",route="${label(route)}",status="${status}"`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
    },
    observeScan(outcome, seconds) {
      let h = scans.get(outcome);
      if (!h) {
        h = { buckets: SCAN_BUCKETS.map(() => 0), sum: 0, count: 0 };
        scans.set(outcome, h);
      }
      SCAN_BUCKETS.forEach((b, i) => {
        if (seconds <= b && h) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
      });
      h.sum += seconds;
      h.count++;
    },
    render(jobs) {
      const out: string[] = [];
      out.push('# HELP palisade_http_requests_total HTTP requests answered, by method, route and status.');
      out.push('# TYPE palisade_http_requests_total counter');
      for (const [k, n] of [...requests].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
        out.push(`palisade_http_requests_total{${k}} ${n}`);
      out.push('# HELP palisade_jobs Jobs in the queue, by state.');
      out.push('# TYPE palisade_jobs gauge');
      for (const [state, n] of Object.entries(jobs)) out.push(`palisade_jobs{state="${label(state)}"} ${n}`);
      out.push('# HELP palisade_scan_duration_seconds Duration of scan attempts run by this server, by outcome.');
      out.push('# TYPE palisade_scan_duration_seconds histogram');
      for (const [outcome, h] of scans) {
        SCAN_BUCKETS.forEach((b, i) =>
          out.push(`palisade_scan_duration_seconds_bucket{outcome="${outcome}",le="${b}"} ${h.buckets[i] ?? 0}`),
        );
        out.push(`palisade_scan_duration_seconds_bucket{outcome="${outcome}",le="+Inf"} ${h.count}`);
        out.push(`palisade_scan_duration_seconds_sum{outcome="${outcome}"} ${h.sum}`);
        out.push(`palisade_scan_duration_seconds_count{outcome="${outcome}"} ${h.count}`);
      }
      out.push('# HELP palisade_scheduler_tasks_total Scheduler tasks run by this server, by kind and outcome.');
      out.push('# TYPE palisade_scheduler_tasks_total counter');
      for (const [k, n] of [...tasks].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
        out.push(`palisade_scheduler_tasks_total{${k}} ${n}`);
      out.push('# HELP palisade_runtime_batches_total Runtime ingest batches handled by this server, by outcome.');
      out.push('# TYPE palisade_runtime_batches_total counter');
      for (const [k, n] of [...runtimeBatches].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
        out.push(`palisade_runtime_batches_total{outcome="${label(k)}"} ${n}`);
      out.push('# HELP palisade_runtime_alerts_total New runtime alerts stored by this server.');
      out.push('# TYPE palisade_runtime_alerts_total counter');
      out.push(`palisade_runtime_alerts_total ${runtimeAlerts}`);
      return out.join('\n') + '\n';
    },
  };
}
