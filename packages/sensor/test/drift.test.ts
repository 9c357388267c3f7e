import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError, type ProcessExecEvent } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import {
  DRIFT_RULE_ID,
  DriftMonitor,
  containerMask,
  decodeStop,
  driftAlert,
  emptyDriftPolicy,
  globalMask,
  judgeDrift,
  judgeablePath,
  kernelAllows,
  kernelPathTruncated,
  kernelRules,
  loadDriftPolicy,
  matchImage,
  matchPath,
  parseDriftPolicy,
  stopEvent,
} from '../src/index.js';

const POLICY = `
version: 1
allow:
  - name: ci tools
    images: ['registry.example.com/ci/*', docker.io/library/golang]
    paths: ['/workspace/**', /usr/local/bin/]
  - name: build namespaces
    namespaces: [build, 'tmp-*']
  - name: healthcheck script
    paths: [/tmp/healthcheck]
`;

function exec(
  exe: string,
  opts: { upper?: boolean; image?: string; namespace?: string; resolved?: boolean } = {},
): ProcessExecEvent {
  const proc = {
    pid: 42,
    ppid: 1,
    uid: 0,
    gid: 0,
    exe,
    name: exe.slice(exe.lastIndexOf('/') + 1),
    argv: [exe, '--flag'],
    cwd: '/',
    tty: 0,
    ancestry: [],
  };
  const ev: ProcessExecEvent = {
    id: `ev-${exe}`,
    type: 'process.exec',
    time: '2025-05-01T10:00:00.000Z',
    node: 'n1',
    proc: opts.upper === undefined ? proc : Object.assign(proc, { exeUpperLayer: opts.upper }),
    container: {
      id: 'a'.repeat(64),
      name: 'app',
      image: opts.image ?? 'docker.io/library/nginx:1.27',
      imageDigest: `sha256:${'d'.repeat(64)}`,
      runtime: 'containerd',
      resolved: opts.resolved ?? true,
    },
  };
  if (opts.namespace) ev.k8s = { pod: 'p', namespace: opts.namespace };
  return ev;
}

test('patterns: image repositories, globs, digests; path globs, directories, exact paths', () => {
  assert.ok(matchImage('docker.io/library/golang', 'docker.io/library/golang:1.22', ''));
  assert.ok(matchImage('docker.io/library/golang', `docker.io/library/golang@sha256:${'1'.repeat(64)}`, ''));
  assert.ok(!matchImage('docker.io/library/golang', 'docker.io/library/golang-evil:1', ''));
  assert.ok(matchImage('registry.example.com/ci/*', 'registry.example.com/ci/runner/x:3', ''));
  assert.ok(!matchImage('registry.example.com/ci/*', 'registry.example.com/cd/runner:3', ''));
  assert.ok(matchImage(`sha256:${'d'.repeat(64)}`, 'anything', `sha256:${'d'.repeat(64)}`));
  assert.ok(!matchImage('docker.io/library/golang', '', ''), 'unresolved image matches nothing');
  assert.ok(matchPath('/workspace/**', '/workspace/a/b/c'));
  assert.ok(matchPath('/opt/*/bin', '/opt/x/bin'));
  assert.ok(!matchPath('/opt/*/bin', '/opt/x/y/bin'), '* stays in one segment');
  assert.ok(matchPath('/usr/local/bin/', '/usr/local/bin/tool'));
  assert.ok(matchPath('/tmp/healthcheck', '/tmp/healthcheck'));
  assert.ok(!matchPath('/tmp/healthcheck', '/tmp/healthcheck2'));
});

test('judgeDrift: image binaries, drift that alerts, and each kind of allow entry', () => {
  const p = parseDriftPolicy(POLICY, 'drift.yaml');
  assert.deepEqual(judgeDrift(exec('/bin/ls', { upper: false }), p), {
    drift: false,
    allowed: false,
    reason: 'executable is part of the image',
  });
  assert.equal(judgeDrift(exec('/bin/ls'), p).drift, false, 'no upper-layer flag: not judged as drift');
  const host = exec('/tmp/x', { upper: true });
  delete host.container;
  assert.equal(judgeDrift(host, p).reason, 'host process');

  const d = judgeDrift(exec('/tmp/x', { upper: true }), p);
  assert.deepEqual([d.drift, d.allowed], [true, false]);
  assert.match(d.reason, /no allow entry matches/);

  const ci = judgeDrift(exec('/workspace/out/app', { upper: true, image: 'registry.example.com/ci/runner:7' }), p);
  assert.deepEqual([ci.allowed, ci.entry], [true, 'ci tools']);
  // The image matches but the path does not: every selector of an entry must match.
  assert.equal(
    judgeDrift(exec('/tmp/y', { upper: true, image: 'registry.example.com/ci/runner:7' }), p).allowed,
    false,
  );
  assert.equal(judgeDrift(exec('/workspace/out/app', { upper: true }), p).allowed, false);

  assert.equal(judgeDrift(exec('/anything', { upper: true, namespace: 'tmp-42' }), p).entry, 'build namespaces');
  assert.equal(judgeDrift(exec('/anything', { upper: true, namespace: 'prod' }), p).allowed, false);
  assert.equal(judgeDrift(exec('/tmp/healthcheck', { upper: true }), p).entry, 'healthcheck script');

  const un = judgeDrift(exec('/workspace/a', { upper: true, image: '', resolved: false }), p);
  assert.match(un.reason, /container not resolved/);
  assert.equal(judgeDrift(exec('/tmp/x', { upper: true }), emptyDriftPolicy()).allowed, false, 'default: alert');
});

test('drift alerts: deterministic id, blocked flag, fields', () => {
  const ev = exec('/tmp/x', { upper: true, namespace: 'shop' });
  const v = judgeDrift(ev, emptyDriftPolicy());
  const a = driftAlert(ev, v, true);
  assert.equal(a.ruleId, DRIFT_RULE_ID);
  assert.equal(a.blocked, true);
  assert.equal(a.title, 'Binary drift blocked');
  assert.equal(a.fields['proc.exe'], '/tmp/x');
  assert.equal(a.fields['blocked'], 'true');
  assert.deepEqual(a.tags, ['container', 'drift', 'blocked']);
  assert.match(a.output, /exe=\/tmp\/x container=app image=docker\.io\/library\/nginx:1\.27 ns=shop pod=p/);
  assert.equal(a.id, driftAlert(ev, v, false).id, 'same event, same alert id');
  assert.equal(driftAlert(ev, v, false).blocked, false);
});

test('policy errors name the file, the entry and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['version: 2\nallow: []', /version: must be 1/],
    ['version: 1\nallow: {}', /allow: must be a list/],
    ['version: 1\nallow:\n  - name: all\n', /allow\[0\]: has no images, namespaces or paths/],
    ['version: 1\nallow:\n  - paths: [tmp/x]\n', /allow\[0\]\.paths\[0\]: 'tmp\/x' must be an absolute path/],
    ['version: 1\nallow:\n  - images: [1]\n', /allow\[0\]\.images\[0\]: must be a non-empty string/],
    ['version: 1\nallow:\n  - imgs: [x]\n', /allow\[0\]\.imgs: unknown key/],
    ['version: 1\nallow:\n  - {name: a, paths: [/a]}\n  - {name: a, paths: [/b]}\n', /duplicate entry name 'a'/],
    ['version: 1\nextra: true\n', /extra: unknown key/],
    ['version: 1\nallow: [\n', /line \d+:/],
    ['- just a list', /policy: must be a mapping/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseDriftPolicy(text, 'drift.yaml'),
      (e: unknown) =>
        e instanceof PalisadeError && e.code === 'E_INPUT' && e.subject === 'drift.yaml' && re.test(e.message),
      text,
    );
  }
  const t = tempDir('palisade-drift-');
  try {
    const f = join(t.path, 'drift.yaml');
    writeFileSync(f, POLICY);
    assert.equal(loadDriftPolicy(f).allow.length, 3);
    assert.throws(
      () => loadDriftPolicy(join(t.path, 'missing.yaml')),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_NOT_FOUND',
    );
  } finally {
    t.cleanup();
  }
});

test('kernel rules: globs become prefixes, scoped entries get per-container masks, limits enforced', () => {
  const p = parseDriftPolicy(POLICY, 'drift.yaml');
  const rules = kernelRules(p);
  assert.deepEqual(
    rules.map((r) => [r.index, r.kind, r.path, r.entry, r.global]),
    [
      [0, 'prefix', '/workspace/', 'ci tools', false],
      [1, 'prefix', '/usr/local/bin/', 'ci tools', false],
      [2, 'any', '', 'build namespaces', false],
      [3, 'exact', '/tmp/healthcheck', 'healthcheck script', true],
    ],
  );
  assert.equal(globalMask(rules), 0b1000n);
  assert.equal(containerMask(p, rules, { image: 'registry.example.com/ci/r:1', imageDigest: '' }, undefined), 0b11n);
  assert.equal(
    containerMask(p, rules, { image: 'docker.io/library/nginx:1', imageDigest: '' }, { namespace: 'build' }),
    0b100n,
  );
  assert.equal(containerMask(p, rules, undefined, undefined), 0n, 'unresolved: only global rules');

  const many = `version: 1\nallow:\n${Array.from({ length: 65 }, (_, i) => `  - paths: [/p${i}]`).join('\n')}\n`;
  assert.throws(() => kernelRules(parseDriftPolicy(many, 'big.yaml')), /more than 64 path rules/);
  const long = `version: 1\nallow:\n  - paths: [/${'x'.repeat(200)}]\n`;
  assert.throws(() => kernelRules(parseDriftPolicy(long, 'long.yaml')), /longer than 127 bytes/);
});

test('stop records decode into exec events attributed to the container of their cgroup', () => {
  const buf = Buffer.alloc(840);
  buf.writeUInt16LE(1, 0);
  buf.writeUInt16LE(1, 2);
  buf.writeUInt32LE(840, 4);
  buf.writeBigUInt64LE(5_000_000_000n, 8);
  buf.writeUInt32LE(4242, 16);
  buf.writeUInt32LE(4200, 20);
  buf.writeUInt32LE(0, 24);
  buf.writeUInt32LE(1, 28);
  buf.writeBigUInt64LE(98765n, 32);
  buf.writeUInt32LE(2, 40); // killed
  buf.writeUInt32LE(4, 44); // v1 cgroup
  buf.writeUInt32LE(2, 48);
  buf.writeUInt32LE(6, 52);
  buf.write('x', 56);
  const id = 'f'.repeat(64);
  buf.write(`libpod-${id}`, 72); // leaf first
  buf.write('libpod_parent', 72 + 128);
  buf.write('/tmp/x', 584);
  const stop = decodeStop(buf, 1_700_000_000_000_000_000n);
  assert.ok(stop);
  assert.deepEqual(
    { ...stop, cgroupId: String(stop.cgroupId) },
    {
      time: new Date(1_700_000_005_000).toISOString(),
      pid: 4242,
      ppid: 4200,
      uid: 0,
      comm: 'x',
      path: '/tmp/x',
      action: 'killed',
      cgroupId: '98765',
      cgroupPath: ['libpod_parent', `libpod-${id}`],
      cgroupV1: true,
      pathTruncated: false,
      cgroupTruncated: false,
    },
  );
  const ev = stopEvent(stop, 'n1', 'drift-1');
  assert.equal(ev.proc.exe, '/tmp/x');
  assert.equal((ev.proc as { exeUpperLayer?: boolean }).exeUpperLayer, true);
  assert.deepEqual(ev.container, { id, name: '', image: '', imageDigest: '', runtime: 'podman', resolved: false });
  assert.equal(judgeDrift(ev, emptyDriftPolicy()).drift, true);

  assert.equal(decodeStop(buf.subarray(0, 100), 0n), undefined, 'short');
  const wrong = Buffer.from(buf);
  wrong.writeUInt16LE(9, 0);
  assert.equal(decodeStop(wrong, 0n), undefined, 'wrong version');
  const badAction = Buffer.from(buf);
  badAction.writeUInt32LE(77, 40);
  assert.equal(decodeStop(badAction, 0n), undefined, 'unknown action');
});

test('drift monitor without enforcement: alerts on drift the policy does not allow, once per event', async () => {
  const p = parseDriftPolicy(POLICY, 'drift.yaml');
  const m = new DriftMonitor({ policy: p });
  const a = await m.onEvent(exec('/tmp/x', { upper: true }));
  assert.equal(a?.blocked, false);
  assert.equal(a?.title, 'Binary drift detected');
  assert.equal(await m.onEvent(exec('/tmp/healthcheck', { upper: true })), undefined, 'allowed');
  assert.equal(await m.onEvent(exec('/bin/ls', { upper: false })), undefined, 'image binary');
  assert.equal(m.stats.alerts, 1);
});

test('kernelAllows mirrors the kernel check: mask bits, exact, prefix, any', () => {
  const rules = kernelRules(parseDriftPolicy(POLICY, 'drift.yaml'));
  assert.ok(kernelAllows(rules, 0b1000n, '/tmp/healthcheck'));
  assert.ok(!kernelAllows(rules, 0b1000n, '/tmp/healthcheck2'));
  assert.ok(!kernelAllows(rules, 0b1000n, '/workspace/a'), 'scoped rule not in the mask');
  // Globs are prefixes in the kernel: broader than the policy, never narrower.
  assert.ok(kernelAllows(rules, 0b1n, '/workspace/a/b'));
  assert.ok(kernelAllows(rules, 0b100n, '/anything'));
  assert.ok(!kernelAllows(rules, 0n, '/anything'));
});

test('truncated paths: the kernel mirror allows them by any-path rules only', () => {
  const rules = kernelRules(parseDriftPolicy(POLICY, 'drift.yaml'));
  // What the kernel keeps of /tmp/<130 × a>/usr/local/bin/payload: its leaf end, flagged.
  assert.ok(kernelAllows(rules, 0b10n, '/usr/local/bin/payload'), 'whole: the prefix rule allows it');
  assert.ok(!kernelAllows(rules, 0b10n, '/usr/local/bin/payload', true), 'truncated: no path rule allows it');
  assert.ok(!kernelAllows(rules, 0b1000n, '/tmp/healthcheck', true), 'nor an exact one');
  assert.ok(kernelAllows(rules, 0b100n, '/usr/local/bin/payload', true), 'an any-path rule does');
  // The walk's limits: 256 bytes, 32 levels, components under 128 bytes.
  assert.equal(kernelPathTruncated('/usr/local/bin/payload'), false);
  assert.equal(kernelPathTruncated(`/tmp/${'a'.repeat(130)}/usr/local/bin/payload`), true);
  assert.equal(kernelPathTruncated(`/usr/local/bin/${'d/'.repeat(28)}payload`), false);
  assert.equal(kernelPathTruncated(`/tmp/usr/local/bin/${'d/'.repeat(28)}payload`), true);
  assert.equal(kernelPathTruncated(`/usr/local/bin/${'x'.repeat(100)}/${'y'.repeat(100)}/${'z'.repeat(50)}`), true);
  assert.ok(!kernelAllows(rules, 0b10n, `/usr/local/bin/${'d/'.repeat(40)}payload`), 'derived from the path');
});

test('judgeDrift: path entries never vouch for a truncated path or one that climbs with ".."', () => {
  const p = parseDriftPolicy(POLICY, 'drift.yaml');
  const ci = { upper: true, image: 'registry.example.com/ci/runner:7' };
  assert.equal(judgeablePath('/usr/local/bin//tool'), '/usr/local/bin/tool');
  assert.equal(judgeablePath('/usr/./local/bin/tool'), '/usr/local/bin/tool');
  assert.equal(judgeablePath('/workspace/../tmp/x'), undefined);
  assert.equal(judgeablePath('…/usr/local/bin/payload'), undefined);
  assert.equal(judgeablePath(`/workspace/${'a'.repeat(244)}`), undefined, '255 bytes: maybe cut by the sensor');
  assert.equal(judgeablePath(`/workspace/${'a'.repeat(243)}`), `/workspace/${'a'.repeat(243)}`);

  assert.equal(judgeDrift(exec('/usr/local/bin//tool', ci), p).allowed, true, '"//" changes nothing');
  const climb = judgeDrift(exec('/workspace/../tmp/evil', ci), p);
  assert.equal(climb.allowed, false);
  assert.match(climb.reason, /path entries cannot match/);
  assert.equal(judgeDrift(exec(`/workspace/${'a'.repeat(300)}`, ci), p).allowed, false);
  // Entries without paths still allow such executables.
  assert.equal(judgeDrift(exec('/workspace/../tmp/evil', { upper: true, namespace: 'build' }), p).allowed, true);

  // A stop record whose path the kernel could not hold whole: its exe says so, and the
  // global rule for /usr/local/bin/ does not claim it.
  const global = parseDriftPolicy('version: 1\nallow:\n  - name: local\n    paths: [/usr/local/bin/]\n', 'g.yaml');
  const stop = {
    time: '2025-05-01T10:00:00.000Z',
    pid: 7,
    ppid: 1,
    uid: 0,
    comm: 'payload',
    path: '/usr/local/bin/payload',
    action: 'denied' as const,
    cgroupId: 1n,
    cgroupPath: [`libpod-${'f'.repeat(64)}.scope`],
    cgroupV1: false,
    pathTruncated: true,
    cgroupTruncated: false,
  };
  const ev = stopEvent(stop, 'n1', 'drift-1');
  assert.equal(ev.proc.exe, '…/usr/local/bin/payload');
  assert.equal(ev.proc.name, 'payload');
  assert.equal(judgeDrift(ev, global).allowed, false);
  assert.equal(judgeDrift(stopEvent({ ...stop, pathTruncated: false }, 'n1', 'drift-2'), global).allowed, true);
});
