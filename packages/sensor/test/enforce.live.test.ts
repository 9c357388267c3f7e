/**
 * Drift enforcement against the running kernel and a real podman container (root):
 * a binary copied into the container after it started is stopped, image binaries run,
 * allow rules (global path, and image-scoped once the container is registered) let drift
 * through, audit mode only reports. The mechanism is whatever the kernel allows (BPF LSM,
 * else SIGKILL at exec); the test asserts the outcome each one must have.
 *
 * No sleeps: a stop is written to the ring buffer inside the exec, and the helper answers
 * a counters request only after draining it, so once counters() resolves the stop is queued.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { debianImage, repoRoot } from '@palisade/testkit';
import {
  CachedResolver,
  DriftEnforcer,
  DriftEnforcerStartError,
  DriftMonitor,
  PodmanResolver,
  driftAlert,
  emptyDriftPolicy,
  enrichEvent,
  judgeDrift,
  parseDriftPolicy,
  type DriftStop,
} from '../src/index.js';

const isRoot = process.getuid?.() === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const SKIP =
  !isRoot && !process.env.CI ? 'needs root to load eBPF programs' : hasPodman ? false : 'podman not installed';
const IMAGE = 'localhost/palisade-drift-test:latest';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

let built = false;
function build(): void {
  if (built) return;
  execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  built = true;
}

function container(name: string): { id: string; pid: number } {
  if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0)
    execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
  const id = execFileSync(
    'podman',
    [
      'run',
      '-d',
      '--runtime',
      '/usr/sbin/runc',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      '--name',
      name,
      IMAGE,
      'sleep',
      '600',
    ],
    { encoding: 'utf8' },
  ).trim();
  cleanups.push(() => spawnSync('podman', ['rm', '-f', '-t', '0', id], { stdio: 'ignore' }));
  const pid = Number(
    execFileSync('podman', ['inspect', '--format', '{{.State.Pid}}', id], { encoding: 'utf8' }).trim(),
  );
  return { id, pid };
}

/** Runs a shell script in the container; returns its stdout (exit codes are printed by the script). */
function inContainer(id: string, script: string): string {
  // stderr piped: the shell's "Killed" lines are expected and not test output.
  return execFileSync('podman', ['exec', id, '/bin/sh', '-c', script], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Exit code the shell reports for a stopped exec: 137 (SIGKILL) or 126 (EPERM from the LSM). */
function stoppedCode(enf: DriftEnforcer): number {
  return enf.mechanism === 'signal' ? 137 : 126;
}

async function drain(enf: DriftEnforcer): Promise<DriftStop[]> {
  await enf.counters();
  const out: DriftStop[] = [];
  while (enf.queue.size > 0) {
    const it = await enf.queue.next();
    if (it.done) break;
    out.push(it.value);
  }
  return out;
}

test(
  'drift in a podman container: stopped, image binaries run, allowed by path, by image once registered',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    build();
    const { id, pid } = container(`palisade-drift-${process.pid.toString(36)}`);
    const enf = await DriftEnforcer.start({ policy: emptyDriftPolicy() });
    cleanups.push(() => void enf.stop());
    try {
      // Which mechanism this kernel allows, and why not LSM if not: reported, never silent.
      assert.ok(enf.mechanism === 'lsm' || (enf.mechanism === 'signal' && enf.lsmError !== undefined));
      const code = stoppedCode(enf);

      // 1. A copy of /bin/true under /tmp is drift: stopped. /bin/true itself runs.
      const out = inContainer(id, 'cp /bin/true /tmp/x; /tmp/x; echo "drift=$?"; /bin/true; echo "image=$?"');
      assert.match(out, new RegExp(`drift=${code}\\b`));
      assert.match(out, /image=0\b/);
      const stops = await drain(enf);
      const s = stops.find((x) => x.path === '/tmp/x');
      assert.ok(s, `a stop record for /tmp/x (got ${JSON.stringify(stops.map((x) => x.path))})`);
      assert.equal(s.action, enf.mechanism === 'signal' ? 'killed' : 'denied');
      assert.ok(
        stops.every((x) => x.path !== '/bin/true'),
        'image binaries are never stopped',
      );

      // The stop becomes an alert with blocked: true on a resolved container.
      const ev = await enrichEvent(enf.eventOf(s), new CachedResolver(new PodmanResolver()));
      assert.equal(ev.container?.id, id, 'attributed through the cgroup path in the record');
      assert.equal(ev.container?.resolved, true);
      assert.equal(ev.container?.image, IMAGE);
      const alert = driftAlert(ev, judgeDrift(ev, emptyDriftPolicy()), true);
      assert.equal(alert.blocked, true);
      assert.match(alert.output, /Blocked execution .*exe=\/tmp\/x/);

      // 2. The path allow-listed for every container: runs. Another drift is still stopped.
      await enf.applyPolicy(parseDriftPolicy('version: 1\nallow:\n  - name: x\n    paths: [/tmp/x]\n', 'inline'));
      const out2 = inContainer(id, 'cp /bin/true /tmp/y; /tmp/x; echo "x=$?"; /tmp/y; echo "y=$?"');
      assert.match(out2, /x=0\b/);
      assert.match(out2, new RegExp(`y=${code}\\b`));

      // 3. Image-scoped: only for containers registered with a matching image.
      await enf.applyPolicy(
        parseDriftPolicy(
          `version: 1\nallow:\n  - name: tools\n    images: [localhost/palisade-drift-test]\n    paths: [/opt/tools/]\n`,
          'inline',
        ),
      );
      const script = 'mkdir -p /opt/tools; cp /bin/true /opt/tools/t; /opt/tools/t; echo "t=$?"';
      assert.match(inContainer(id, script), new RegExp(`t=${code}\\b`), 'not registered yet: stopped');
      const mask = await enf.allowContainerOfPid(pid, {
        id,
        name: '',
        image: IMAGE,
        imageDigest: '',
        runtime: 'podman',
        resolved: true,
      });
      assert.equal(mask, 1n);
      assert.match(inContainer(id, '/opt/tools/t; echo "t=$?"'), /t=0\b/);
      const other = await enf.allowContainerOfPid(pid, {
        id,
        name: '',
        image: 'docker.io/library/other:1',
        imageDigest: '',
        runtime: 'podman',
        resolved: true,
      });
      assert.equal(other, 0n, 'another image: the entry does not select it');
      assert.match(inContainer(id, '/opt/tools/t; echo "t=$?"'), new RegExp(`t=${code}\\b`));

      const c = await enf.counters();
      assert.ok(c.drift >= 6, `drift execs counted (${c.drift})`);
      assert.ok(c.allowed >= 2, `allowed counted (${c.allowed})`);
      assert.ok(c.stopped >= 4, `stopped counted (${c.stopped})`);
      assert.ok(c.execs >= c.drift);
      assert.equal(c.lostReports, 0);
      assert.equal(enf.badRecords, 0);
    } finally {
      assert.equal(await enf.stop(), 0);
    }
    // With the helper gone the programs are detached: drift runs again (fail-open).
    assert.match(inContainer(id, '/tmp/y; echo "y=$?"'), /y=0\b/);
  },
);

test(
  'paths the kernel cannot hold whole (a long component, deep nesting, a mount) are never allowed by a path rule',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    build();
    const { id, pid } = container(`palisade-drift-long-${process.pid.toString(36)}`);
    // All these paths end in /usr/local/bin/payload; the kernel keeps only their leaf end,
    // which alone would look like the allowed directory.
    const long = `/tmp/${'a'.repeat(130)}/usr/local/bin`;
    // 33 components: the kernel walks 32 (ENF_PATH_DEPTH), so it keeps /usr/local/bin/d/…/payload.
    const deep = `/tmp/usr/local/bin/${Array.from({ length: 28 }, () => 'd').join('/')}`;
    const enf = await DriftEnforcer.start({
      policy: parseDriftPolicy('version: 1\nallow:\n  - name: local\n    paths: [/usr/local/bin/]\n', 'inline'),
    });
    try {
      const code = stoppedCode(enf);
      const out = inContainer(
        id,
        `mkdir -p /usr/local/bin ${long} ${deep}; cp /bin/true /usr/local/bin/ok; cp /bin/true ${long}/payload; ` +
          `cp /bin/true ${deep}/payload; /usr/local/bin/ok; echo "ok=$?"; ${long}/payload; echo "long=$?"; ` +
          `${deep}/payload; echo "deep=$?"`,
      );
      assert.match(out, /ok=0\b/, `the allowed directory itself still runs: ${out}`);
      assert.match(out, new RegExp(`long=${code}\\b`), `a component too long for the kernel: stopped: ${out}`);
      assert.match(out, new RegExp(`deep=${code}\\b`), `deeper than the kernel walks: stopped: ${out}`);
      const stops = (await drain(enf)).filter((s) => s.path.endsWith('/payload'));
      assert.equal(stops.length, 2, JSON.stringify(stops.map((s) => s.path)));
      assert.ok(
        stops.every((s) => s.pathTruncated),
        'both stop records say the path is truncated',
      );
      assert.ok(stops.some((s) => s.path === '/usr/local/bin/payload'));

      // An overlay the container mounted itself (it may, with CAP_SYS_ADMIN): the walk ends at
      // that mount's root, so /m/usr/local/bin/payload reads /usr/local/bin/payload.
      const mounted = execFileSync(
        'podman',
        [
          'run',
          '--rm',
          '--runtime',
          '/usr/sbin/runc',
          '--ulimit',
          'nofile=1024:1024',
          '--ulimit',
          'nproc=4096:4096',
          '--privileged',
          IMAGE,
          '/bin/sh',
          '-c',
          'mkdir -p /t /m && mount -t tmpfs tmpfs /t && mkdir /t/l /t/u /t/w && ' +
            'mount -t overlay overlay -o lowerdir=/t/l,upperdir=/t/u,workdir=/t/w /m && ' +
            'mkdir -p /m/usr/local/bin && cp /bin/true /m/usr/local/bin/payload; /m/usr/local/bin/payload; echo "mnt=$?"',
        ],
        { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      assert.match(mounted, new RegExp(`mnt=${code}\\b`), `a drifted file on a container's own mount: ${mounted}`);
      const mountStop = (await drain(enf)).find((s) => s.path === '/usr/local/bin/payload');
      assert.equal(mountStop?.pathTruncated, true, 'the path below a mount point is flagged as incomplete');

      // A rule that allows any path (an image allowed as a whole) still covers them.
      await enf.applyPolicy(
        parseDriftPolicy('version: 1\nallow:\n  - name: img\n    images: [localhost/palisade-drift-test]\n', 'inline'),
      );
      const container0 = { id, name: '', image: IMAGE, imageDigest: '', runtime: 'podman' as const, resolved: true };
      assert.equal(await enf.allowContainerOfPid(pid, container0), 1n);
      assert.match(
        inContainer(id, `${long}/payload; echo "long=$?"; ${deep}/payload; echo "deep=$?"`),
        /long=0\b[^]*deep=0\b/,
      );
    } finally {
      await enf.stop();
    }
  },
);

test(
  'audit mode reports drift without stopping it; bad options are clear errors',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    build();
    const { id } = container(`palisade-drift-audit-${process.pid.toString(36)}`);
    const enf = await DriftEnforcer.start({ audit: true });
    try {
      assert.equal(enf.audit, true);
      assert.match(inContainer(id, 'cp /bin/true /tmp/a; /tmp/a; echo "a=$?"'), /a=0\b/);
      const stops = await drain(enf);
      assert.equal(stops.find((x) => x.path === '/tmp/a')?.action, 'audit');
    } finally {
      await enf.stop();
    }
    await assert.rejects(
      DriftEnforcer.start({ mechanism: 'bogus' as 'lsm' }),
      (e: unknown) => e instanceof DriftEnforcerStartError && /unknown mechanism 'bogus'/.test(e.message),
    );
    await assert.rejects(DriftEnforcer.start({ helperPath: '/nonexistent/enforcer' }), /not found/);
    const probe = await DriftEnforcer.start({});
    const mechanism = probe.mechanism;
    await probe.stop();
    if (mechanism === 'signal') {
      // This kernel refuses BPF LSM programs: asking for LSM explicitly must fail, naming why.
      await assert.rejects(
        DriftEnforcer.start({ mechanism: 'lsm' }),
        (e: unknown) => e instanceof DriftEnforcerStartError && /BPF LSM program failed/.test(e.message),
      );
    }
  },
);

test(
  'drift monitor with enforcement: registers resolved containers, alerts once per stopped exec',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    build();
    const { id, pid } = container(`palisade-drift-mon-${process.pid.toString(36)}`);
    const policy = parseDriftPolicy(
      'version: 1\nallow:\n  - name: tools\n    images: [localhost/palisade-drift-test]\n    paths: [/opt/tools/]\n',
      'inline',
    );
    const enf = await DriftEnforcer.start({ policy });
    try {
      const monitor = new DriftMonitor({ policy, enforcer: enf });
      const resolver = new CachedResolver(new PodmanResolver());
      // The first (image) exec of the container as the sensor reports it, after enrichment.
      const first = await enrichEvent(
        {
          id: 'sensor-1',
          type: 'process.exec',
          time: new Date().toISOString(),
          node: 'n',
          proc: Object.assign(
            { pid, ppid: 0, uid: 0, gid: 0, exe: '/bin/sleep', name: 'sleep', argv: [], cwd: '', tty: 0, ancestry: [] },
            { exeUpperLayer: false },
          ),
          container: { id, name: '', image: '', imageDigest: '', runtime: 'podman', resolved: false },
        },
        resolver,
      );
      assert.equal(await monitor.onEvent(first), undefined);
      assert.equal(monitor.stats.registered, 1, monitor.stats.lastRegisterError);
      const code = stoppedCode(enf);
      const out = inContainer(
        id,
        'mkdir -p /opt/tools; cp /bin/true /opt/tools/t; cp /bin/true /tmp/z; /opt/tools/t; echo "t=$?"; /tmp/z; echo "z=$?"',
      );
      assert.match(out, /t=0\b/, 'allowed for this image once registered');
      assert.match(out, new RegExp(`z=${code}\\b`));
      const stops = await drain(enf);
      const z = stops.find((s) => s.path === '/tmp/z');
      assert.ok(z);
      assert.ok(!stops.some((s) => s.path === '/opt/tools/t'));
      const alert = await monitor.onStop(z, resolver);
      assert.equal(alert.blocked, true);
      assert.equal(alert.events[0]?.container?.image, IMAGE);
      // The exec event the sensor also sees for a SIGKILLed exec does not alert a second time.
      const sensorSide = {
        ...first,
        id: 'sensor-2',
        proc: Object.assign({ ...first.proc, exe: '/tmp/z' }, { exeUpperLayer: true }),
      };
      assert.equal(await monitor.onEvent(sensorSide), undefined);
    } finally {
      await enf.stop();
    }
  },
);
