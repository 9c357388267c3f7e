/**
 * The runtime path end to end, every part real: a `palisade server` (in this process, embedded
 * storage, HTTPS with a CA made by openssl here), a cluster registered through
 * `POST /api/v1/clusters`, `palisade sensor publish` (child, ingest token from a file, --ca-file)
 * and `palisade sensor collect` (child, root, eBPF, socket mode, podman attribution), driven by
 * `palisade simulate --server` (child, reader API token) in real podman containers.
 *
 * Checks: each expected alert is visible in GET /api/v1/alerts with its container id, image and
 * a process tree; the publisher SIGKILLed mid-run and restarted seconds later loses nothing (the
 * collector buffers, the spool survives): every alert the collector raised is in the server; and
 * the node's counters in GET /api/v1/runtime/sensors show no drops. Needs root and podman; CI runs
 * as root and must not skip it. Bounded: every wait has a deadline, children are killed and
 * leftover containers removed on failure too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { debianImage, repoRoot, tempDir } from '@palisade/testkit';
import type { SimulationReport } from '../src/simulate/run.js';

const isRoot = process.getuid?.() === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const SKIP = (isRoot || process.env.CI) && hasPodman ? false : 'needs root and podman';
const IMAGE = 'localhost/palisade-sensor-test:latest';
const BIN = join(repoRoot(), 'packages', 'cli', 'bin', 'palisade.js');
const NODE = 'e2e-node';
const ADMIN = `e2e-admin-${'x'.repeat(40)}`;
// Exec, file, network (helper), memfd (helper) and exit rules before the outage; more during it.
const FIRST = ['crypto-miner', 'read-shadow', 'metadata-service', 'memfd-exec', 'seccomp-kill'];
const DURING_OUTAGE = ['exec-from-tmp', 'ptrace-traceme', 'history-erased'];

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** `palisade …` as a child in its own process group (so it and its helpers can be killed together). */
function palisade(args: string[]): Child {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  return { proc, out: () => out, err: () => err, exited };
}

async function waitForStderr(c: Child, re: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(c.err());
    if (m) return m;
    if (c.proc.exitCode !== null || Date.now() > deadline)
      assert.fail(`${what}: no ${re} (exit ${c.proc.exitCode}):\n${c.err()}`);
    await sleep(50);
  }
}

/** Signals the child's process group, SIGKILL after `graceMs`; resolves with its exit code. */
async function stop(c: Child, signal: NodeJS.Signals, graceMs = 15_000): Promise<number | null> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.exited;
  try {
    process.kill(-(c.proc.pid ?? 0), signal);
  } catch {
    // already gone
  }
  const t = setTimeout(() => {
    try {
      process.kill(-(c.proc.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  }, graceMs);
  const code = await c.exited;
  clearTimeout(t);
  return code;
}

/** Containers a simulate child made (labelled with its pid), removed whatever happened. */
function removeContainersOf(pid: number | undefined): void {
  if (pid === undefined) return;
  const ids = spawnSync('podman', ['ps', '-aq', '--filter', `label=palisade.simulate.pid=${pid}`], {
    encoding: 'utf8',
  }).stdout.trim();
  if (ids !== '') spawnSync('podman', ['rm', '-f', '-t', '0', ...ids.split('\n')], { stdio: 'ignore' });
}

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string): string => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=palisade-e2e-ca',
  ]);
  run(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  ]);
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/** One JSON request to the server over HTTPS, trusting only the test's CA. */
function api(
  base: string,
  ca: Buffer,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      {
        method,
        ca,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

interface AlertRecord {
  id: string;
  ruleId: string;
  node: string;
  containerId: string | null;
  image: string | null;
  process: { pid: number; exe: string; argv: string[] } | null;
}

interface TreeNode {
  exe: string;
  alerting: boolean;
  children: TreeNode[];
}

function flatten(nodes: TreeNode[]): TreeNode[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test(
  'runtime e2e: simulate --server through collector → publisher → HTTPS ingest → API; publisher outage loses nothing',
  { skip: SKIP, timeout: 240_000 },
  async () => {
    execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0)
      execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    const dir = tempDir('palisade-runtime-e2e-');
    const tls = makeCertificates(dir.path);
    const ca = readFileSync(tls.ca);
    const { loadConfig, startServer } = await import('@palisade/server');
    const env = { PALISADE_ADMIN_TOKEN: ADMIN };
    const server = await startServer(
      loadConfig({
        env,
        flags: {
          host: '127.0.0.1',
          port: '0',
          dataDir: join(dir.path, 'server'),
          tlsCert: tls.cert,
          tlsKey: tls.key,
        },
      }),
      { env, logStream: false, consoleDir: null },
    );
    const children: Child[] = [];
    const simulatePids: (number | undefined)[] = [];
    try {
      const call = (token: string, method: string, path: string, body?: unknown): ReturnType<typeof api> =>
        api(server.url, ca, token, method, path, body);
      // A cluster without a kubeconfig: only its ingest token matters here.
      const reg = await call(ADMIN, 'POST', '/api/v1/clusters', { name: 'e2e' });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const { cluster, ingestToken } = reg.body as { cluster: { id: string }; ingestToken: string };
      const reader = await call(ADMIN, 'POST', '/api/v1/tokens', { name: 'e2e-reader', role: 'reader' });
      assert.equal(reader.status, 201, JSON.stringify(reader.body));
      const files = { ingest: join(dir.path, 'ingest.token'), reader: join(dir.path, 'reader.token') };
      writeFileSync(files.ingest, `${ingestToken}\n`, { mode: 0o600 });
      writeFileSync(files.reader, `${(reader.body as { token: string }).token}\n`, { mode: 0o600 });

      const socket = join(dir.path, 'run', 'publisher.sock');
      const publishArgs = [
        'sensor',
        'publish',
        '--server',
        server.url,
        '--token-file',
        files.ingest,
        '--ca-file',
        tls.ca,
        '--socket',
        socket,
        '--spool-dir',
        join(dir.path, 'spool'),
        '--node',
        NODE,
        '--metrics-addr',
        '127.0.0.1:0',
      ];
      const startPublisher = async (): Promise<{ child: Child; metricsUrl: string }> => {
        const child = palisade(publishArgs);
        children.push(child);
        const m = await waitForStderr(child, /publisher: metrics on (\S+)/, 30_000, 'publisher');
        await waitForStderr(child, /publisher: listening on /, 30_000, 'publisher');
        return { child, metricsUrl: m[1]! };
      };
      execFileSync('mkdir', ['-p', join(dir.path, 'run')]);
      let publisher = await startPublisher();
      const collector = palisade(['sensor', 'collect', '--socket', socket, '--mode', 'container', '--node', NODE]);
      children.push(collector);
      const started = await waitForStderr(collector, /^sensor: collecting .*$/m, 60_000, 'collector');
      assert.match(started[0], /containers resolved by podman/);

      const simulate = async (scenarios: string[]): Promise<SimulationReport> => {
        const child = palisade([
          'simulate',
          '--server',
          server.url,
          '--token-file',
          files.reader,
          '--ca-file',
          tls.ca,
          '--image',
          IMAGE,
          '--oci-runtime',
          '/usr/sbin/runc',
          '--format',
          'json',
          '--timeout',
          '30',
          ...scenarios.flatMap((s) => ['--scenario', s]),
        ]);
        children.push(child);
        simulatePids.push(child.proc.pid);
        const code = await child.exited;
        assert.equal(code, 0, `simulate ${scenarios.join(',')}: ${child.err()}\n${child.out()}`);
        return JSON.parse(child.out()) as SimulationReport;
      };

      const checkReport = async (report: SimulationReport, ids: string[]): Promise<number[]> => {
        const latencies: number[] = [];
        assert.deepEqual(
          report.scenarios.map((s) => [s.id, s.result]),
          ids.map((id) => [id, 'detected']),
        );
        for (const s of report.scenarios) {
          for (const e of s.expected) {
            assert.equal(e.result, 'detected', `${s.id} ${e.ruleId}`);
            latencies.push(e.latencyMs ?? -1);
            const q = `/api/v1/alerts?ruleId=${e.ruleId}&clusterId=${cluster.id}&limit=500`;
            const list = await call(ADMIN, 'GET', q);
            const alert = (list.body as { items: AlertRecord[] }).items.find((a) => a.containerId === s.containerId);
            assert.ok(alert, `${s.id}: ${e.ruleId} on container ${s.containerId} in the API`);
            assert.equal(alert.image, IMAGE, `${s.id}: the image of the container (attribution)`);
            assert.equal(alert.node, NODE);
            assert.ok(alert.process && alert.process.exe !== '', `${s.id}: the process`);
            const detail = await call(ADMIN, 'GET', `/api/v1/alerts/${alert.id}`);
            assert.equal(detail.status, 200);
            const tree = flatten((detail.body as { processTree: TreeNode[] }).processTree);
            assert.ok(tree.length > 0, `${s.id}: a process tree`);
            assert.ok(
              tree.some((n) => n.alerting),
              `${s.id}: the alerting process is marked in the tree`,
            );
          }
        }
        return latencies;
      };

      // 1. Everything up.
      const first = await simulate(FIRST);
      const latencies = await checkReport(first, FIRST);

      // 2. The publisher dies (SIGKILL) mid-run; scenarios go on; it comes back 4 s later.
      assert.notEqual(await stop(publisher.child, 'SIGKILL'), 0);
      const during = simulate(DURING_OUTAGE);
      await sleep(4000);
      publisher = await startPublisher();
      const second = await during;
      await checkReport(second, DURING_OUTAGE);
      await waitForStderr(collector, /collector: lost the publisher/, 1000, 'collector');
      await waitForStderr(collector, /collector: connected to the publisher at .*\n/, 30_000, 'collector');

      // 3. The collector stops: it flushes what is buffered; the publisher drains its spool.
      assert.equal(await stop(collector, 'SIGTERM'), 0, collector.err());
      const raised = Number(/^ {2}frames=\d+ decode-errors=0 alerts=(\d+)$/m.exec(collector.err())?.[1]);
      assert.ok(raised >= FIRST.length + DURING_OUTAGE.length, collector.err());
      assert.match(collector.err(), /collector: \d+ items delivered to the publisher, 0 dropped \(buffer full\)/);
      assert.doesNotMatch(collector.err(), /not acknowledged by the publisher at exit/);
      const deadline = Date.now() + 30_000;
      let stored = -1;
      while (Date.now() < deadline) {
        const page = await call(ADMIN, 'GET', `/api/v1/alerts?clusterId=${cluster.id}&limit=1`);
        stored = (page.body as { total: number }).total;
        const text = await (await fetch(publisher.metricsUrl)).text();
        if (stored === raised && metric(text, 'palisade_publisher_spool_items') === 0) break;
        await sleep(250);
      }
      // Nothing lost, nothing twice: every alert the collector raised is stored once.
      assert.equal(stored, raised, 'alerts in the server vs alerts the collector raised');
      const sensors = await call(ADMIN, 'GET', `/api/v1/runtime/sensors?clusterId=${cluster.id}`);
      const node = (
        sensors.body as {
          items: {
            node: string;
            seen: Record<string, number>;
            kernelDrops: number;
            userDrops: number;
            spoolDrops: number;
          }[];
        }
      ).items.find((n) => n.node === NODE);
      assert.ok(node, JSON.stringify(sensors.body));
      assert.ok((node.seen['process.exec'] ?? 0) > 0);
      assert.deepEqual([node.kernelDrops, node.userDrops, node.spoolDrops], [0, 0, 0]);

      const all = [...latencies, ...second.scenarios.flatMap((s) => s.expected.map((e) => e.latencyMs ?? -1))];
      assert.ok(
        all.every((l) => l >= 0),
        `latencies: ${all.join(', ')}`,
      );
      // Figures for the record (not asserted): event → visible in the API, with everything up.
      const sorted = [...latencies].sort((a, b) => a - b);
      process.stderr.write(
        `runtime e2e: event→API latency with the publisher up: ${sorted.join(', ')} ms ` +
          `(p50 ${first.latency?.p50Ms} ms, max ${first.latency?.maxMs} ms); through the outage: ` +
          `${second.scenarios.flatMap((s) => s.expected.map((e) => e.latencyMs)).join(', ')} ms\n`,
      );
    } finally {
      for (const c of children) await stop(c, 'SIGTERM');
      for (const pid of simulatePids) removeContainersOf(pid);
      await server.close();
      dir.cleanup();
    }
  },
);
