/**
 * Prometheus text exposition (format 0.0.4) for the collector's and the publisher's counters,
 * served on a loopback address only: the counters are for the node's own scraper (or
 * `curl` from a debug shell), and the collector has no business listening on the network.
 *
 * Values are pulled from the components when scraped (a source is a function returning metric
 * families), so there is no second set of counters to keep in step.
 */
import http from 'node:http';
import net from 'node:net';
import { PalisadeError } from '@palisade/core';

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: MetricSample[];
}

export type MetricsSource = () => MetricFamily[];

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Renders families in the text format; families and label sets sorted for stable output. */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const byName = new Map<string, MetricFamily>();
  for (const f of families) {
    if (!NAME_RE.test(f.name)) throw new PalisadeError('E_INTERNAL', `invalid metric name "${f.name}"`);
    const prev = byName.get(f.name);
    if (prev) {
      if (prev.type !== f.type) throw new PalisadeError('E_INTERNAL', `metric "${f.name}" registered with two types`);
      byName.set(f.name, { ...prev, samples: [...prev.samples, ...f.samples] });
    } else byName.set(f.name, f);
  }
  const lines: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    const f = byName.get(name) as MetricFamily;
    lines.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
    const samples = f.samples.map((s) => {
      const keys = Object.keys(s.labels ?? {}).sort();
      for (const k of keys)
        if (!LABEL_RE.test(k)) throw new PalisadeError('E_INTERNAL', `invalid label "${k}" on ${name}`);
      const labels = keys
        .map((k) => `${k}="${escapeLabel((s.labels as Record<string, string>)[k] as string)}"`)
        .join(',');
      return `${name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`;
    });
    lines.push(...samples.sort());
  }
  return lines.join('\n') + '\n';
}

/** A family with one unlabelled sample. */
export function singleMetric(name: string, help: string, type: 'counter' | 'gauge', value: number): MetricFamily {
  return { name, help, type, samples: [{ value }] };
}

/** A family with one sample per key of `values`, under label `label`. */
export function labelledMetric(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  label: string,
  values: Record<string, number>,
): MetricFamily {
  return { name, help, type, samples: Object.entries(values).map(([k, value]) => ({ labels: { [label]: k }, value })) };
}

export interface MetricsAddress {
  host: string;
  port: number;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && (host === '::1' || host === '0:0:0:0:0:0:0:1');
}

/** Parses `--metrics-addr` (`127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`); loopback only. */
export function parseMetricsAddr(value: string): MetricsAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new PalisadeError('E_INPUT', `must be HOST:PORT (e.g. 127.0.0.1:9464), got "${value}"`, {
      subject: '--metrics-addr',
    });
  if (!isLoopback(host))
    throw new PalisadeError('E_INPUT', `metrics are served on a loopback address only, got "${host}"`, {
      subject: '--metrics-addr',
    });
  return { host, port };
}

export interface MetricsServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics from the given sources; everything else is 404. */
export async function startMetricsServer(
  addr: MetricsAddress,
  sources: readonly MetricsSource[],
): Promise<MetricsServer> {
  if (!isLoopback(addr.host))
    throw new PalisadeError('E_INPUT', `metrics are served on a loopback address only, got "${addr.host}"`, {
      subject: '--metrics-addr',
    });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    let body: string;
    try {
      body = renderMetrics(sources.flatMap((s) => s()));
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PalisadeError('E_CONFIG', `cannot listen: ${err.code ?? err.message}`, {
          subject: `${addr.host}:${addr.port}`,
          cause: err,
        }),
      ),
    );
    server.listen(addr.port, addr.host, () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : addr.port;
  const hostPart = net.isIPv6(addr.host) ? `[${addr.host}]` : addr.host;
  return {
    port,
    url: `http://${hostPart}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
