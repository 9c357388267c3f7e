import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CommanderError } from 'commander';
import { isPalisadeError, type Alert } from '@palisade/core';
import { DEFAULT_LOADER_PATH } from '@palisade/sensor';
import { repoRoot } from '@palisade/testkit';
import { sensorCommand } from '../src/commands/sensor.js';
import type { Io } from '../src/output.js';
import type { RunResult } from './helpers.js';

const execFileP = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/**
 * Runs `palisade sensor …` through the factory, handling errors the way main() does;
 * `onStderr` sees stderr as it grows (to act once the sensor says it is collecting).
 */
async function sensor(argv: string[], onStderr: (all: string) => void = () => undefined): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  const err = new PassThrough();
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr(stderr);
  });
  const io: Io = { stdout: out, stderr: err, stdin: Readable.from([]), env: process.env };
  let code = 0;
  const cmd = sensorCommand(io, (c) => (code = c));
  const w = { writeOut: (s: string): void => void (stdout += s), writeErr: (s: string): void => void (stderr += s) };
  cmd.exitOverride().configureOutput(w);
  for (const sub of cmd.commands) sub.exitOverride().configureOutput(w);
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode === 0 ? 0 : 2;
    else if (isPalisadeError(e)) {
      stderr += `palisade: ${e.describe()}\n`;
      code = 2;
    } else throw e;
  }
  return { code, stdout, stderr };
}

test('sensor collect: without --local, a missing publisher socket directory is a one-line error naming it', async () => {
  const dir = `/nonexistent-palisade-${process.pid}`;
  const r = await sensor(['collect', '--socket', `${dir}/publisher.sock`, '--duration', '1']);
  assert.equal(r.code, 2);
  if (isRoot) {
    assert.equal(
      r.stderr,
      `palisade: sensor collect: the publisher's socket directory ${dir} does not exist: ` +
        'run `palisade sensor publish`, pass --socket, or use --local\n',
    );
  } else {
    // Not root: the root error comes first, whatever else is wrong.
    assert.equal(r.stderr, 'palisade: sensor collect: needs root to load eBPF programs (run with sudo)\n');
  }
  assert.equal(r.stdout, '');
});

test('sensor collect: bad attribution and drift flags are one-line errors before the sensor starts', async () => {
  const cases: [string[], RegExp][] = [
    [['--resolver', 'crio'], /argument 'crio' is invalid/],
    [['--enforce-mechanism', 'ptrace'], /argument 'ptrace' is invalid/],
    [['--resolve-wait-ms', '0'], /--resolve-wait-ms: must be a whole number from 1 to 5000, got "0"/],
  ];
  if (isRoot)
    cases.push(
      [
        ['--resolver', 'kubernetes'],
        /^palisade: --resolver: the Kubernetes resolver needs --kubeconfig FILE or to run in a pod \(KUBERNETES_SERVICE_HOST\)\n$/,
      ],
      [
        ['--drift-policy', '/nonexistent/drift.yaml'],
        /^palisade: \/nonexistent\/drift\.yaml: cannot read drift policy: ENOENT\n$/,
      ],
    );
  for (const [flags, expected] of cases) {
    const r = await sensor(['collect', '--local', ...flags, '--duration', '1']);
    assert.equal(r.code, 2, flags.join(' '));
    assert.match(r.stderr, expected, flags.join(' '));
    assert.doesNotMatch(r.stderr, /sensor: collecting/);
  }
});

test('sensor collect: a bad --duration is a one-line error', async () => {
  const r = await sensor(['collect', '--local', '--duration', 'soon']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'palisade: sensor collect: --duration must be a positive number of seconds, got "soon"\n');
});

test('sensor collect: broken --rules files stop it before the sensor starts, by FILE:LINE', async () => {
  const broken = new URL('../../test/fixtures/rules/broken.yaml', import.meta.url).pathname;
  const r = await sensor(['collect', '--local', '--rules', broken, '--duration', '1']);
  assert.equal(r.code, 2);
  if (isRoot) {
    assert.match(r.stderr, /broken\.yaml:14: rule BROKEN-002: severity/);
    assert.match(r.stderr, /^sensor not started: fix the rule files above$/m);
    assert.doesNotMatch(r.stderr, /sensor: collecting/);
  } else {
    assert.equal(r.stderr, 'palisade: sensor collect: needs root to load eBPF programs (run with sudo)\n');
  }
});

test(
  'sensor collect: as a non-root user it refuses with a clear error',
  { skip: !isRoot && 'covered by the test above when not root' },
  async () => {
    // Run the command in a child process as nobody (uid 65534).
    const mod = new URL('../src/commands/sensor.js', import.meta.url).pathname;
    const script =
      `import { sensorCommand } from ${JSON.stringify(mod)};` +
      `const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };` +
      `const argv = JSON.parse(process.argv[1]);` +
      `try { await sensorCommand(io, () => {}).parseAsync(argv, { from: 'user' }); }` +
      `catch (e) { process.stderr.write('palisade: ' + e.describe() + '\\n'); process.exit(2); }`;
    // With --local, and in socket mode with a missing socket directory: the root error comes first.
    for (const argv of [
      ['collect', '--local', '--duration', '1'],
      ['collect', '--socket', '/nonexistent-palisade/publisher.sock', '--duration', '1'],
    ]) {
      const r = await execFileP(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(argv)], {
        uid: 65534,
        gid: 65534,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, 'palisade: sensor collect: needs root to load eBPF programs (run with sudo)\n');
    }
  },
);

// Only a non-root developer machine skips (eBPF needs root); CI runs as root and must not skip.
// A missing loader is built here, never a reason to skip: a broken build must fail the test.
const liveSkip = !isRoot && !process.env.CI ? 'needs root' : false;
if (isRoot && !existsSync(DEFAULT_LOADER_PATH)) {
  execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

test(
  'sensor collect --local: a host shell with /dev/tcp in its command line raises PAL-RT-002; counters on stderr',
  { skip: liveSkip },
  async () => {
    // PAL-RT-002 (reverse shell via /dev/tcp) applies to host processes too. The shell runs the
    // no-op `:` builtin, so nothing is opened or connected.
    const marker = `palisade-cli-test-${process.pid}`;
    let fired: Promise<unknown> | undefined;
    const r = await sensor(['collect', '--local', '--duration', '3'], (all) => {
      if (fired === undefined && all.includes('sensor: collecting')) {
        fired = execFileP('/bin/sh', ['-c', `: /dev/tcp/127.0.0.1/9 ${marker}; cat /etc/hostname >/dev/null`]);
      }
    });
    await fired;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fired !== undefined, 'the sensor never said it was collecting');
    const alerts = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Alert);
    const ours = alerts.filter(
      (a) =>
        a.ruleId === 'PAL-RT-002' &&
        a.events[0]?.type === 'process.exec' &&
        a.events[0].proc.argv.join(' ').includes(marker),
    );
    assert.equal(ours.length, 1, `alerts: ${r.stdout}`);
    assert.equal(ours[0]?.events[0]?.container, undefined); // a host process
    const m =
      /^ {2}process\.exec +seen=(\d+) filtered-in-kernel=\d+ dropped-in-kernel=(\d+) decoded=\d+ dropped-in-userspace=(\d+)$/m.exec(
        r.stderr,
      );
    assert.ok(m, r.stderr);
    assert.ok(Number(m[1]) >= 2, r.stderr); // at least sh and cat
    assert.match(r.stderr, /^ {2}process\.exit +seen=\d+/m);
    assert.match(r.stderr, /^ {2}network\.connect +seen=\d+/m);
    assert.match(r.stderr, /^ {2}frames=\d+ decode-errors=0 alerts=\d+$/m);
  },
);
