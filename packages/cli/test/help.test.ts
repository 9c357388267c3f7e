import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@palisade/testkit';
import { run } from './helpers.js';

test('palisade --help lists every command', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['scan', 'sbom', 'db', 'posture', 'cluster', 'rules', 'sensor', 'server', 'debug'])
    assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
});

const commands: Array<[string[], string[]]> = [
  [
    ['scan', 'image'],
    [
      '--format',
      '--output',
      '--severity',
      '--ignore-unfixed',
      '--vex',
      '--exit-code',
      '--db',
      '--platform',
      '--insecure',
      '--ca-file',
      '--username',
      '--password-stdin',
      '--registry-token',
    ],
  ],
  [['sbom'], ['--format', '--output', '--platform', '--insecure']],
  [
    ['db', 'update'],
    ['--db', '--download-dir'],
  ],
  [['db', 'import'], ['--db']],
  [['db', 'status'], ['--db']],
  [['debug', 'compare-versions'], []],
  [['cluster', 'manifests'], ['--output']],
  [['rules', 'lint'], ['--no-builtin']],
  [
    ['rules', 'test'],
    ['--events', '--expect', '--format'],
  ],
  [
    ['sensor', 'collect'],
    ['--local', '--duration', '--rules'],
  ],
  [
    ['posture', 'scan'],
    ['--format', '--pss-version', '--exit-code', '--kubeconfig', '--context'],
  ],
];

for (const [cmd, flags] of commands) {
  test(`palisade ${cmd.join(' ')} --help documents its flags`, async () => {
    const r = await run([...cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: palisade/);
    for (const f of flags) assert.ok(r.stdout.includes(f), `${cmd.join(' ')} --help lacks ${f}`);
  });
}

test('an unknown command or flag is a usage error with exit code 2, not a stack trace', async () => {
  const r = await run(['scan', 'image', '--no-such-flag', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const r2 = await run(['frobnicate']);
  assert.equal(r2.code, 2);
});

test('an invalid --severity or --platform names the flag and the value', async () => {
  const r = await run(['scan', 'image', 'oci:/nonexistent', '--severity', 'huge', '--db', '/nonexistent.db']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--severity: unknown severity "huge"/);
  const r2 = await run(['sbom', 'dir:/nonexistent', '--platform', 'linux']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /invalid platform "linux"/);
});

test('compare-versions prints <, = or > per line and error: for bad lines without stopping', async () => {
  const r = await run(['debug', 'compare-versions', 'Debian'], {
    stdin: '1.0-1 1.0-2\n1:0.9 1.0\n2.0 2.0\nonly-one\n1.0~rc1 1.0\n',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '<',
    '>',
    '=',
    'error: expected two versions separated by space, got 1 field(s)',
    '<',
  ]);
  const bad = await run(['debug', 'compare-versions', 'Nonsense'], { stdin: '1 2\n' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown ecosystem "Nonsense"/);
});

test('cluster manifests prints a read-only role that never grants secrets', async () => {
  const r = await run(['cluster', 'manifests']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind: ClusterRole\b/);
  assert.match(r.stdout, /kind: ClusterRoleBinding/);
  assert.doesNotMatch(r.stdout, /secrets/);
  assert.doesNotMatch(r.stdout, /- ['"]?\*['"]?$/m);
  for (const verb of ['create', 'update', 'patch', 'delete'])
    assert.doesNotMatch(r.stdout, new RegExp(`- ${verb}$`, 'm'));
});

test('the installed entry point (the esbuild bundle) finds its data files and runs', () => {
  // In-process tests import the tsc output; this runs bin/palisade.js as users do, so a path
  // that only works unbundled (import.meta.url of a module) fails here.
  const bin = join(repoRoot(), 'packages', 'cli', 'bin', 'palisade.js');
  const lint = spawnSync(process.execPath, [bin, 'rules', 'lint'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(lint.status, 0, lint.stderr);
  assert.match(lint.stdout, /rules/);
  const manifests = spawnSync(process.execPath, [bin, 'cluster', 'manifests'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(manifests.status, 0, manifests.stderr);
});
