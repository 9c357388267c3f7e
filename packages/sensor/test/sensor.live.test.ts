/**
 * The sensor against the running kernel: builds the BPF programs and the loader
 * (scripts/build-sensor.sh), loads them, causes real events and finds them. Needs root.
 *
 * No sleeps and no timing assertions: every kernel event here is written to the ring
 * buffer synchronously inside the syscall that caused it, and the loader answers a counters
 * request only after draining the ring buffer, so once requestCounters() resolves every
 * event caused before it is in the queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import { debianImage, repoRoot } from '@palisade/testkit';
import { Sensor, type SensorEvent, type SensorOptions } from '../src/index.js';

const isRoot = process.getuid?.() === 0;
// Only a non-root developer machine skips; CI runs as root and must never skip these.
const SKIP = isRoot || process.env.CI ? false : 'needs root to load eBPF programs';
const IMAGE = 'localhost/palisade-sensor-test:latest';

let built = false;
function build(): void {
  if (built) return;
  execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  built = true;
}

/** Runs `during` with a sensor attached and returns every event it produced, in order. */
async function capture(
  opts: SensorOptions,
  during: () => Promise<void>,
): Promise<{ events: SensorEvent[]; sensor: Sensor }> {
  build();
  // Large queue: other tests run beside this one and the host is not quiet.
  const sensor = await Sensor.start({ queueCapacity: 1 << 17, countersIntervalMs: 0, ...opts });
  try {
    await during();
    await sensor.requestCounters();
  } finally {
    await sensor.stop();
  }
  const events: SensorEvent[] = [];
  for await (const e of sensor.events()) events.push(e);
  return { events, sensor };
}

async function connectOnce(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer((c) => c.end());
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, host, () => {
        c.end();
        resolve();
      });
      c.once('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return port;
}

test(
  'exec with argv, TCP connect, exit code and counters from the live kernel',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const nonce = randomBytes(6).toString('hex');
    let port = 0;
    let port6 = 0;
    const { events, sensor } = await capture({}, async () => {
      execFileSync('/bin/true', ['palisade-live', nonce, 'with space']);
      spawnSync('/bin/false', ['palisade-live', nonce]);
      port = await connectOnce();
      port6 = await connectOnce('::1');
    });

    const exec = events.find(
      (e) => e.type === 'process.exec' && e.proc.argv[2] === nonce && e.proc.exe === '/bin/true',
    );
    assert.ok(exec, 'exec event of /bin/true');
    assert.deepEqual(exec.proc.argv, ['/bin/true', 'palisade-live', nonce, 'with space']);
    assert.equal(exec.proc.name, 'true');
    assert.equal(exec.proc.ppid, process.pid);
    assert.equal(exec.proc.uid, 0);
    assert.equal(exec.container, undefined, 'a host process has no container');

    const falseExec = events.find(
      (e) => e.type === 'process.exec' && e.proc.argv[2] === nonce && e.proc.exe === '/bin/false',
    );
    assert.ok(falseExec, 'exec event of /bin/false');
    const falseExit = events.find((e) => e.type === 'process.exit' && e.proc.pid === falseExec.proc.pid);
    assert.ok(falseExit?.type === 'process.exit', 'exit event of /bin/false');
    assert.deepEqual(falseExit.exit, { code: 1, signal: 0 });
    // The exit event knows the process from its exec event.
    assert.equal(falseExit.proc.exe, '/bin/false');

    const conn = events.find(
      (e) => e.type === 'network.connect' && e.net.dstPort === port && e.proc.pid === process.pid,
    );
    assert.ok(conn?.type === 'network.connect', `connect event to 127.0.0.1:${port}`);
    assert.equal(conn.net.dstAddr, '127.0.0.1');
    assert.equal(conn.net.srcAddr, '127.0.0.1');
    assert.equal(conn.net.family, 'ipv4');
    const conn6 = events.find(
      (e) => e.type === 'network.connect' && e.net.dstPort === port6 && e.proc.pid === process.pid,
    );
    assert.ok(conn6?.type === 'network.connect', `connect event to [::1]:${port6}`);
    assert.equal(conn6.net.family, 'ipv6');
    assert.equal(conn6.net.dstAddr, '::1');
    assert.equal(conn6.net.srcAddr, '::1');

    const c = sensor.counters();
    assert.equal(c.decodeErrors, 0);
    assert.equal(sensor.loaderExitCode, 0);
    for (const t of ['process.exec', 'network.connect', 'process.exit'] as const) {
      const k = c.byType[t];
      assert.ok(k.decoded >= 1, `${t} decoded`);
      // Everything the kernel saw was emitted, dropped or filtered; nothing filtered here.
      assert.ok(k.seen >= k.decoded, `${t}: seen ${k.seen} >= decoded ${k.decoded}`);
      assert.equal(k.filteredInKernel, 0);
      // >=: the final counters are read just after the last drain, so a few more may be seen.
      assert.ok(k.seen >= k.decoded + k.droppedInKernel, `${t} accounting`);
    }
    assert.equal(c.frames, c.loaderRecordsOut, 'every frame the loader wrote was read');
  },
);

test('in-kernel filters: event type and exec path prefix', { skip: SKIP, timeout: 120_000 }, async () => {
  const nonce = randomBytes(6).toString('hex');
  const { events, sensor } = await capture({ types: ['process.exec'], execPathPrefixes: ['/bin/fals'] }, async () => {
    execFileSync('/bin/true', ['palisade-filter', nonce]);
    spawnSync('/bin/false', ['palisade-filter', nonce]);
    await connectOnce();
  });
  assert.ok(events.length >= 1);
  for (const e of events) {
    assert.equal(e.type, 'process.exec');
    assert.ok(e.proc.exe.startsWith('/bin/fals'), e.proc.exe);
  }
  assert.ok(events.some((e) => e.proc.argv[2] === nonce));
  const c = sensor.counters();
  assert.ok(c.byType['process.exec'].filteredInKernel >= 1, 'the /bin/true exec was filtered in the kernel');
  // Types not asked for have no program loaded at all.
  assert.equal(c.byType['network.connect'].seen, 0);
  assert.equal(c.byType['process.exit'].seen, 0);
});

test(
  'drops are counted: ring buffer full in the kernel, queue full in user space',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    build();
    // One page of ring buffer holds two exec records; a stopped loader cannot drain it, so a
    // burst of execs must overflow it. A one-slot queue overflows as soon as two events arrive.
    const sensor = await Sensor.start({
      types: ['process.exec'],
      ringBufferKb: 4,
      queueCapacity: 1,
      countersIntervalMs: 0,
    });
    const pid = sensor.loaderPid ?? 0;
    let c;
    try {
      process.kill(pid, 'SIGSTOP');
      try {
        execFileSync('/bin/sh', ['-c', 'i=0; while [ $i -lt 20 ]; do /bin/true; i=$((i+1)); done']);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      c = await sensor.requestCounters();
    } finally {
      await sensor.stop();
    }
    const k = c.byType['process.exec'];
    assert.ok(k.droppedInKernel >= 18, `dropped in kernel: ${k.droppedInKernel}`);
    assert.ok(k.decoded >= 2, `decoded: ${k.decoded}`);
    assert.equal(k.droppedInUserspace, k.decoded - 1, 'all but the one queued event were dropped in user space');
    assert.equal(c.queued, 1);
  },
);

test('a loader that cannot start is reported with its reason', { skip: SKIP, timeout: 60_000 }, async () => {
  build();
  await assert.rejects(Sensor.start({ ringBufferKb: 3 }), /exited \(2\) before it was ready: .*power of two/);
  await assert.rejects(Sensor.start({ loaderPath: '/nonexistent/loader' }), /not found/);
});

const hasPodman = spawnSync('podman', ['--version']).status === 0;

test(
  'a podman container: exec attributed to the id podman reports, container-only filter',
  { skip: SKIP || (hasPodman ? false : 'podman not installed'), timeout: 300_000 },
  async () => {
    build();
    if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0) {
      execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const nonce = randomBytes(6).toString('hex');
    let id = '';
    const { events, sensor } = await capture({ mode: 'container' }, async () => {
      const runArgs = [
        'run',
        '-d',
        '--runtime',
        '/usr/sbin/runc',
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=4096:4096',
      ];
      const cid = execFileSync('podman', [...runArgs, IMAGE, '/bin/sh', '-c', `exec /bin/echo palisade-ctr ${nonce}`], {
        encoding: 'utf8',
      }).trim();
      try {
        execFileSync('podman', ['wait', cid], { stdio: 'ignore' });
        id = execFileSync('podman', ['inspect', '--format', '{{.Id}}', cid], { encoding: 'utf8' }).trim();
      } finally {
        spawnSync('podman', ['rm', '-f', cid], { stdio: 'ignore' });
      }
      // A host exec while only containers are watched: must be filtered in the kernel.
      execFileSync('/bin/true', ['palisade-host', nonce]);
    });
    assert.match(id, /^[0-9a-f]{64}$/);
    const echo = events.find(
      (e) => e.type === 'process.exec' && e.proc.exe === '/bin/echo' && e.proc.argv[2] === nonce,
    );
    assert.ok(echo, 'exec of /bin/echo inside the container');
    assert.deepEqual(echo.proc.argv, ['/bin/echo', 'palisade-ctr', nonce]);
    assert.equal(echo.container?.id, id);
    assert.equal(echo.container?.runtime, 'podman');
    assert.equal(echo.container?.resolved, false, 'no resolver configured: id kept, marked unresolved');
    assert.ok(!events.some((e) => e.proc.argv[1] === 'palisade-host'), 'host exec filtered out');
    assert.ok(sensor.counters().byType['process.exec'].filteredInKernel >= 1);
  },
);
