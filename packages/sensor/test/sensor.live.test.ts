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
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { repoRoot, tempDir } from '@palisade/testkit';
import {
  decodeRecord,
  DEFAULT_LOADER_PATH,
  FrameReader,
  Sensor,
  type DecodedRecord,
  type SensorEvent,
  type SensorEventType,
  type SensorOptions,
} from '../src/index.js';
import {
  ensureLiveImage,
  hasPodman,
  LIVE_IMAGE,
  podmanRunArgs,
  PY_BPF_PROG_LOAD,
  PY_MEMFD_EXEC,
  PY_PTRACE_ATTACH,
  PY_SETNS_ANY,
  PYTHON,
} from './live-helpers.js';

const isRoot = process.getuid?.() === 0;
// Only a non-root developer machine skips; CI runs as root and must never skip these.
const SKIP = isRoot || process.env.CI ? false : 'needs root to load eBPF programs';

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
    const { events, sensor } = await capture(
      { types: ['process.exec', 'network.connect', 'process.exit'] },
      async () => {
        execFileSync('/bin/true', ['palisade-live', nonce, 'with space']);
        spawnSync('/bin/false', ['palisade-live', nonce]);
        port = await connectOnce();
        port6 = await connectOnce('::1');
      },
    );

    const exec = events.find(
      (e) => e.type === 'process.exec' && e.proc.argv[2] === nonce && e.proc.exe === '/bin/true',
    );
    assert.ok(exec, 'exec event of /bin/true');
    assert.deepEqual(exec.proc.argv, ['/bin/true', 'palisade-live', nonce, 'with space']);
    assert.equal(exec.proc.name, 'true');
    assert.equal(exec.proc.ppid, process.pid);
    assert.equal(exec.proc.uid, 0);
    assert.equal(exec.proc.cwd, process.cwd());
    assert.equal(exec.proc.tty, 0, 'no controlling terminal under the test runner');
    assert.equal(exec.proc.exeUpperLayer, undefined, 'not on overlayfs');
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
    assert.equal(await sensor.waitForExit(), 0);
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
    // Two pages of ring buffer hold ≈ 40 (packed) exec records; a stopped loader cannot drain
    // it, so a burst of 200 execs must overflow it. A one-slot queue overflows as soon as two
    // events arrive.
    const sensor = await Sensor.start({
      types: ['process.exec'],
      ringBufferKb: 8,
      queueCapacity: 1,
      countersIntervalMs: 0,
    });
    const pid = sensor.loaderPid ?? 0;
    let c;
    try {
      process.kill(pid, 'SIGSTOP');
      try {
        execFileSync('/bin/sh', ['-c', 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done']);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      c = await sensor.requestCounters();
    } finally {
      await sensor.stop();
    }
    const k = c.byType['process.exec'];
    assert.ok(k.droppedInKernel >= 100, `dropped in kernel: ${k.droppedInKernel}`);
    assert.ok(k.decoded >= 2, `decoded: ${k.decoded}`);
    assert.equal(k.droppedInUserspace, k.decoded - 1, 'all but the one queued event were dropped in user space');
    assert.equal(c.queued, 1);
    // A record whose cgroup path record could not be written is dropped with it: none arrives
    // with a key user space does not know.
    assert.equal(c.cgroups.misses, 0);
  },
);

test('a loader that cannot start is reported with its reason', { skip: SKIP, timeout: 60_000 }, async () => {
  build();
  await assert.rejects(Sensor.start({ ringBufferKb: 3 }), /exited \(2\) before it was ready: .*power of two/);
  await assert.rejects(Sensor.start({ loaderPath: '/nonexistent/loader' }), /not found/);
  await assert.rejects(
    Sensor.start({ types: ['file.open'], fileWatches: [{ pattern: 'relative/path', on: ['open'] }] }),
    (e: unknown) => isPalisadeError(e) && /relative\/path/.test(e.message),
  );
});

/** SensorEvent narrowed to one type (NetworkEvent & { type: 'network.listen' }, ...). */
type EventOf<T extends SensorEventType> = SensorEvent & { type: T };

function find<T extends SensorEventType>(
  events: SensorEvent[],
  type: T,
  pred: (e: EventOf<T>) => boolean,
): EventOf<T> | undefined {
  const isType = (e: SensorEvent): e is EventOf<T> => e.type === type;
  return events.filter(isType).find(pred);
}

test('UDP connect, listen and accept on loopback, IPv4 and IPv6', { skip: SKIP, timeout: 120_000 }, async () => {
  const ports: { udp4: number; udp6: number; tcp6: number } = { udp4: 0, udp6: 0, tcp6: 0 };
  let accepted = 0;
  const { events } = await capture({ types: ['network.connect', 'network.listen', 'network.accept'] }, async () => {
    for (const [fam, host] of [
      ['udp4', '127.0.0.1'],
      ['udp6', '::1'],
    ] as const) {
      const sock = dgram.createSocket(fam);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.connect(fam === 'udp4' ? 9 : 7, host, () => resolve());
      });
      ports[fam] = sock.address().port;
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    }
    // A TCP server on ::1 that accepts one connection from this process.
    const server = net.createServer((c) => {
      accepted++;
      c.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    const addr = server.address();
    ports.tcp6 = typeof addr === 'object' && addr ? addr.port : 0;
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(ports.tcp6, '::1');
      c.once('error', reject);
      c.once('close', () => resolve());
      c.resume();
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const udp4 = find(events, 'network.connect', (e) => e.net.protocol === 'udp' && e.net.srcPort === ports.udp4);
  assert.ok(udp4, `UDP connect from port ${ports.udp4}`);
  assert.deepEqual([udp4.net.family, udp4.net.dstAddr, udp4.net.dstPort], ['ipv4', '127.0.0.1', 9]);
  assert.equal(udp4.proc.pid, process.pid);
  const udp6 = find(events, 'network.connect', (e) => e.net.protocol === 'udp' && e.net.srcPort === ports.udp6);
  assert.deepEqual(udp6 && [udp6.net.family, udp6.net.dstAddr, udp6.net.dstPort], ['ipv6', '::1', 7]);
  const listen = find(events, 'network.listen', (e) => e.net.srcPort === ports.tcp6);
  assert.ok(listen, `listen on [::1]:${ports.tcp6}`);
  assert.deepEqual([listen.net.family, listen.net.srcAddr, listen.net.protocol], ['ipv6', '::1', 'tcp']);
  assert.equal(accepted, 1);
  const accept = find(events, 'network.accept', (e) => e.net.srcPort === ports.tcp6);
  assert.ok(accept, 'accept of the connection');
  assert.equal(accept.net.dstAddr, '::1');
  assert.ok(accept.net.dstPort > 0 && accept.net.dstPort !== ports.tcp6, 'peer port is the client side');
  assert.equal(accept.proc.pid, process.pid);
});

test(
  'file events: watched opens, writes and erasure; other opens filtered in the kernel',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const tmp = tempDir('palisade-sensor-files-');
    try {
      const d = tmp.path;
      mkdirSync(join(d, 'bin'));
      mkdirSync(join(d, 'u1'));
      mkdirSync(join(d, 'h'));
      writeFileSync(join(d, 'secret'), 's');
      writeFileSync(join(d, 'bin', 'tool'), 't');
      writeFileSync(join(d, 'u1', 'key'), 'k');
      writeFileSync(join(d, 'plain'), 'p');
      for (const h of ['.bash_history', '.zsh_history', '.ash_history']) writeFileSync(join(d, 'h', h), 'ls\n');
      const { events, sensor } = await capture(
        {
          types: ['process.exec', 'file.open', 'file.unlink', 'file.truncate'],
          fileWatches: [
            { pattern: `${d}/secret`, on: ['open'] },
            { pattern: `${d}/bin/`, on: ['write'] },
            { pattern: `${d}/*/key`, on: ['open'] },
            { pattern: '*/.bash_history', on: ['erase'] },
            { pattern: '*/.zsh_history', on: ['erase'] },
            { pattern: '*/.ash_history', on: ['erase'] },
          ],
        },
        async () => {
          execFileSync('/bin/cat', [join(d, 'secret'), join(d, 'u1', 'key'), join(d, 'plain'), join(d, 'bin', 'tool')]);
          execFileSync('/bin/sh', ['-c', `echo new >> ${join(d, 'bin', 'tool')}`]);
          // Erasure three ways, the last by a path relative to the cwd.
          execFileSync('/bin/sh', ['-c', `: > ${join(d, 'h', '.bash_history')}`]);
          execFileSync('/usr/bin/truncate', ['-s', '0', join(d, 'h', '.zsh_history')]);
          execFileSync('/bin/sh', ['-c', `cd ${join(d, 'h')} && /bin/rm .ash_history`]);
        },
      );
      const files = events.filter((e) => e.type.startsWith('file.'));
      const paths = files.map((e) => (e.type.startsWith('file.') && 'file' in e ? `${e.type} ${e.file.path}` : ''));
      const secret = find(events, 'file.open', (e) => e.file.path === join(d, 'secret'));
      assert.ok(secret, `open of the secret: ${paths.join(', ')}`);
      assert.deepEqual([secret.file.flags[0], secret.file.write, secret.proc.exe], ['O_RDONLY', false, '/bin/cat']);
      assert.ok(
        find(events, 'file.open', (e) => e.file.path === join(d, 'u1', 'key')),
        "'*' matched u1",
      );
      assert.ok(!files.some((e) => 'file' in e && e.file.path === join(d, 'plain')), 'unwatched file');
      const tools = files.filter((e) => 'file' in e && e.file.path === join(d, 'bin', 'tool'));
      assert.equal(tools.length, 1, 'a write-only pattern ignores the read by cat');
      const tool = tools[0];
      assert.ok(tool?.type === 'file.open' && tool.file.write && tool.file.flags.includes('O_APPEND'));
      const trunc = find(events, 'file.open', (e) => e.file.path === join(d, 'h', '.bash_history'));
      assert.ok(trunc?.file.flags.includes('O_TRUNC'), 'shell truncation is an open with O_TRUNC');
      const zsh = find(events, 'file.truncate', (e) => e.file.path === join(d, 'h', '.zsh_history'));
      assert.ok(zsh, 'truncate(1)');
      assert.equal(zsh.proc.exe, '/usr/bin/truncate');
      const rm = find(events, 'file.unlink', (e) => e.file.path === join(d, 'h', '.ash_history'));
      assert.ok(rm, `unlink by relative path: ${paths.join(', ')}`);
      assert.equal(rm.proc.exe, '/bin/rm');
      assert.equal(rm.proc.cwd, join(d, 'h'));
      const c = sensor.counters().byType['file.open'];
      assert.ok(c.filteredInKernel > c.decoded, `opens filtered in the kernel: ${c.filteredInKernel}`);
    } finally {
      tmp.cleanup();
    }
  },
);

test(
  'ptrace, mount, unshare, setns, memfd exec, setuid, capset and bpf from real processes',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    const tmp = tempDir('palisade-sensor-kernel-');
    let tracee = 0;
    let progFd = -1;
    try {
      const { events, sensor } = await capture(
        {
          types: [
            'process.exec',
            'process.ptrace',
            'fs.mount',
            'ns.unshare',
            'ns.setns',
            'process.memfd_exec',
            'cred.setuid',
            'cred.capset',
            'bpf.call',
            'kernel.module_load',
          ],
        },
        async () => {
          tracee = Number(execFileSync(PYTHON, ['-c', PY_PTRACE_ATTACH], { encoding: 'utf8' }).split(' ')[0]);
          execFileSync('/usr/bin/unshare', ['-m', '/bin/sh', '-c', `mount -t tmpfs -o nosuid palisade ${tmp.path}`]);
          execFileSync('/usr/bin/unshare', ['-u', PYTHON, '-c', PY_SETNS_ANY]);
          execFileSync(PYTHON, ['-c', PY_MEMFD_EXEC, 'palisade-live-memfd']);
          execFileSync('/usr/bin/setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '/bin/true']);
          progFd = Number(execFileSync(PYTHON, ['-c', PY_BPF_PROG_LOAD], { encoding: 'utf8' }).trim());
        },
      );
      const pt = find(events, 'process.ptrace', (e) => e.ptrace.request === 'PTRACE_ATTACH');
      assert.ok(pt, 'PTRACE_ATTACH');
      assert.equal(pt.ptrace.targetPid, tracee);
      assert.equal(pt.ptrace.targetExe, '/bin/sleep', 'the tracee is known from its exec event');
      const mnt = find(events, 'fs.mount', (e) => e.mount.target === tmp.path);
      assert.ok(mnt, `mount on ${tmp.path}`);
      assert.deepEqual([mnt.mount.source, mnt.mount.fsType, mnt.mount.flags], ['palisade', 'tmpfs', ['MS_NOSUID']]);
      assert.equal(mnt.proc.name, 'mount');
      assert.ok(find(events, 'ns.unshare', (e) => e.ns.flags.includes('CLONE_NEWNS') && e.proc.name === 'unshare'));
      const setns = find(events, 'ns.setns', (e) => e.proc.argv[1] === '-c');
      assert.deepEqual(setns?.ns.flags, ['CLONE_NEWUTS'], 'setns(fd, 0): type read from the namespace file');
      const memfd = find(events, 'process.memfd_exec', (e) => e.memfd.name === 'palisade-live-memfd');
      assert.ok(memfd, 'memfd exec');
      assert.deepEqual(memfd.proc.argv, ['palisade-memfd-run', 'palisade-live-memfd']);
      const su = find(events, 'cred.setuid', (e) => e.cred.uid === 1000 && e.proc.name === 'setpriv');
      assert.ok(su, 'setuid to 1000');
      assert.equal(su.proc.uid, 0);
      assert.ok(
        find(events, 'cred.setuid', (e) => e.cred.gid === 1000),
        'setgid to 1000',
      );
      assert.ok(
        find(
          events,
          'cred.capset',
          (e) => e.proc.name === 'setpriv' && (e.cred.permitted ?? []).includes('CAP_SYS_ADMIN'),
        ),
      );
      assert.ok(progFd >= 0, 'the test program loaded');
      const bpf = find(events, 'bpf.call', (e) => e.bpf.cmd === 'BPF_PROG_LOAD' && e.proc.exe === PYTHON);
      assert.deepEqual(bpf?.bpf, { cmd: 'BPF_PROG_LOAD', progType: 'BPF_PROG_TYPE_SOCKET_FILTER' });
      // The sensor's own bpf() calls (counters reads) are never reported.
      assert.ok(!events.some((e) => e.type === 'bpf.call' && e.proc.pid === sensor.loaderPid));
      // Module loading needs the init_module/finit_module syscalls (CONFIG_MODULES).
      const modules = existsSync('/sys/kernel/tracing/events/syscalls/sys_enter_finit_module');
      assert.equal(sensor.unavailableTypes.includes('kernel.module_load'), !modules, sensor.diagnostics);
      const c = sensor.counters().byType;
      assert.ok(c['process.ptrace'].filteredInKernel >= 1, 'PTRACE_DETACH is not reported');
    } finally {
      tmp.cleanup();
    }
  },
);

test(
  'a podman container: attribution, container-only filter, binary drift and the container view of paths',
  { skip: SKIP || (hasPodman() ? false : 'podman not installed'), timeout: 300_000 },
  async () => {
    build();
    ensureLiveImage();
    const nonce = randomBytes(6).toString('hex');
    let id = '';
    const script =
      `exec /bin/sh -c 'cd /usr && /bin/echo palisade-ctr ${nonce} && cp /bin/true /tmp/drift && ` +
      `/tmp/drift palisade-drift ${nonce} && /bin/true palisade-image ${nonce} && cat /etc/shadow >/dev/null'`;
    const { events, sensor } = await capture({ mode: 'container', types: ['process.exec', 'file.open'] }, async () => {
      const cid = execFileSync(
        'podman',
        [...podmanRunArgs().filter((a) => a !== '--rm'), '-d', LIVE_IMAGE, '/bin/sh', '-c', script],
        {
          encoding: 'utf8',
        },
      ).trim();
      try {
        execFileSync('podman', ['wait', cid], { stdio: 'ignore' });
        id = execFileSync('podman', ['inspect', '--format', '{{.Id}}', cid], { encoding: 'utf8' }).trim();
      } finally {
        spawnSync('podman', ['rm', '-f', cid], { stdio: 'ignore' });
      }
      // A host exec and a host open while only containers are watched: filtered in the kernel.
      execFileSync('/bin/true', ['palisade-host', nonce]);
      readFileSync('/etc/shadow');
    });
    assert.match(id, /^[0-9a-f]{64}$/);
    const echo = find(events, 'process.exec', (e) => e.proc.exe === '/bin/echo' && e.proc.argv[2] === nonce);
    assert.ok(echo, 'exec of /bin/echo inside the container');
    assert.deepEqual(echo.proc.argv, ['/bin/echo', 'palisade-ctr', nonce]);
    assert.equal(echo.proc.cwd, '/usr', 'cwd as the container sees it');
    assert.equal(echo.container?.id, id);
    assert.equal(echo.container?.runtime, 'podman');
    assert.equal(echo.container?.resolved, false, 'no resolver configured: id kept, marked unresolved');
    assert.equal(echo.proc.exeUpperLayer, false, '/bin/echo comes from the image');
    const drift = find(events, 'process.exec', (e) => e.proc.argv[1] === 'palisade-drift');
    assert.equal(drift?.proc.exe, '/tmp/drift');
    assert.equal(drift?.proc.exeUpperLayer, true, 'copied in after start: upper layer');
    const image = find(events, 'process.exec', (e) => e.proc.argv[1] === 'palisade-image');
    assert.equal(image?.proc.exeUpperLayer, false);
    const shadow = events.filter((e) => e.type === 'file.open' && e.file.path === '/etc/shadow');
    assert.equal(shadow.length, 1, 'the container read of /etc/shadow, not the host one');
    assert.equal(shadow[0]?.container?.id, id);
    assert.ok(!events.some((e) => e.proc.argv[1] === 'palisade-host'), 'host exec filtered out');
    assert.ok(sensor.counters().byType['process.exec'].filteredInKernel >= 1);
  },
);

test(
  'a container gone before user space reads its events is still attributed (path sent by the kernel)',
  { skip: SKIP || (hasPodman() ? false : 'podman not installed'), timeout: 300_000 },
  async () => {
    build();
    ensureLiveImage();
    const nonce = randomBytes(6).toString('hex');
    const sensor = await Sensor.start({ mode: 'container', types: ['process.exec'], countersIntervalMs: 0 });
    const pid = sensor.loaderPid ?? 0;
    let id = '';
    let c;
    try {
      // The loader is stopped while the container runs, exits and is removed: its cgroup is
      // gone from /sys/fs/cgroup before a single one of its records is read.
      process.kill(pid, 'SIGSTOP');
      try {
        const cid = execFileSync(
          'podman',
          [
            ...podmanRunArgs().filter((a) => a !== '--rm'),
            '-d',
            LIVE_IMAGE,
            '/bin/sh',
            '-c',
            `/bin/echo palisade-gone ${nonce}`,
          ],
          { encoding: 'utf8' },
        ).trim();
        execFileSync('podman', ['wait', cid], { stdio: 'ignore' });
        id = execFileSync('podman', ['inspect', '--format', '{{.Id}}', cid], { encoding: 'utf8' }).trim();
        execFileSync('podman', ['rm', '-f', cid], { stdio: 'ignore' });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      c = await sensor.requestCounters();
    } finally {
      await sensor.stop();
    }
    const events: SensorEvent[] = [];
    for await (const e of sensor.events()) events.push(e);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(
      spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '3', '-name', `*${id}*`], { encoding: 'utf8' }).stdout.trim(),
      '',
      'the container cgroup is gone',
    );
    const echo = find(events, 'process.exec', (e) => e.proc.argv[2] === nonce);
    assert.ok(echo, 'exec of /bin/echo in the removed container');
    assert.equal(echo.container?.id, id);
    assert.equal(echo.container?.runtime, 'podman');
    assert.ok(c.cgroups.paths >= 1, 'a cgroup path record arrived');
    assert.equal(c.cgroups.misses, 0);
  },
);

test(
  'the loader sends a cgroup path once per key, and again after user space forgets the key',
  { skip: SKIP, timeout: 120_000 },
  async () => {
    build();
    const { spawn } = await import('node:child_process');
    const child = spawn(DEFAULT_LOADER_PATH, ['--types', 'exec', '--counters-ms', '0'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const reader = new FrameReader();
    const records: DecodedRecord[] = [];
    let waiting: (() => void) | undefined;
    let onReady: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        const r = decodeRecord(f);
        if (!r.ok) continue;
        records.push(r.record);
        if (r.record.kind === 'ready') onReady?.();
        if (r.record.kind === 'counters') waiting?.();
      }
    });
    // A counters request is answered after the ring buffer is drained; one at a time.
    const drained = (): Promise<void> =>
      new Promise((resolve) => {
        waiting = resolve;
        child.stdin.write('c');
      });
    const ended = new Promise<void>((resolve) => child.stdout.once('end', () => resolve()));
    const nonce = randomBytes(6).toString('hex');
    try {
      await ready;
      const pathsOf = (key: bigint): number => records.filter((r) => r.kind === 'cgroup' && r.key === key).length;
      execFileSync('/bin/true', ['palisade-forget', nonce, '1']);
      execFileSync('/bin/true', ['palisade-forget', nonce, '2']);
      await drained();
      const first = records.find((r) => r.kind === 'exec' && r.argv[1] === 'palisade-forget');
      assert.ok(first?.kind === 'exec', 'exec record');
      const key = first.cgroupKey;
      assert.equal(pathsOf(key), 1, 'one path record for two execs in the same cgroup');
      const i = records.findIndex((r) => r.kind === 'cgroup' && r.key === key);
      assert.ok(i < records.indexOf(first), 'the path record comes before the first record with the key');
      child.stdin.write(`f${key.toString(16).padStart(16, '0')}\n`);
      await drained(); // stdin is read in order: the key is gone from the kernel's map now
      execFileSync('/bin/true', ['palisade-forget', nonce, '3']);
      await drained();
      assert.equal(pathsOf(key), 2, 'sent again after the key was forgotten');
      // A malformed forget command is ignored and the commands after it still work.
      child.stdin.write('fzz\n');
      await drained();
      execFileSync('/bin/true', ['palisade-forget', nonce, '4']);
      await drained();
      assert.equal(pathsOf(key), 2);
      assert.equal(records.filter((r) => r.kind === 'exec' && r.argv[2] === nonce).length, 4);
    } finally {
      child.stdin.end('q');
      await ended;
    }
  },
);
