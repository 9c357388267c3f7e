/**
 * Runtime resolvers against a real podman (root): the libpod REST API and the Docker
 * Engine API (podman's compatible endpoints) on a `podman system service` socket this test
 * starts, and the `podman container inspect` fallback when no socket is there.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { debianImage, tempDir } from '@palisade/testkit';
import { CachedResolver, ChainResolver, DockerResolver, PodmanResolver, enrichEvent } from '../src/index.js';
import type { ProcessExecEvent } from '@palisade/core';

const isRoot = process.getuid?.() === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const SKIP = !isRoot && !process.env.CI ? 'needs root for podman' : hasPodman ? false : 'podman not installed';
const IMAGE = 'localhost/palisade-drift-test:latest';
const RUN = ['run', '-d', '--runtime', '/usr/sbin/runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

function ensureImage(): void {
  if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0)
    execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function startContainer(name: string, privileged = false): string {
  const args = [...RUN, '--name', name, ...(privileged ? ['--privileged'] : []), IMAGE, 'sleep', '300'];
  const id = execFileSync('podman', args, { encoding: 'utf8' }).trim();
  cleanups.push(() => spawnSync('podman', ['rm', '-f', '-t', '0', id], { stdio: 'ignore' }));
  return id;
}

/** `podman system service` on a temp socket; waits (bounded) for the socket to appear. */
async function startService(): Promise<{ socket: string; child: ChildProcess }> {
  const dir = tempDir('palisade-podman-sock-');
  const socket = join(dir.path, 'podman.sock');
  const child = spawn('podman', ['system', 'service', '--time', '0', `unix://${socket}`], { stdio: 'ignore' });
  cleanups.push(() => {
    child.kill('SIGTERM');
    dir.cleanup();
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(socket), 'podman system service did not create its socket in 10 s');
  return { socket, child };
}

test(
  'podman: libpod API, Docker-compatible API and CLI fallback give the same container',
  { skip: SKIP, timeout: 300_000 },
  async () => {
    ensureImage();
    const suffix = process.pid.toString(36);
    const id = startContainer(`palisade-resolve-${suffix}`);
    const privId = startContainer(`palisade-resolve-priv-${suffix}`, true);
    const digest = execFileSync('podman', ['inspect', '--format', '{{.ImageDigest}}', id], { encoding: 'utf8' }).trim();
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    const { socket } = await startService();

    const libpod = new PodmanResolver({ socketPath: socket, useCli: false });
    assert.deepEqual(await libpod.resolve(id), {
      id,
      name: `palisade-resolve-${suffix}`,
      image: IMAGE,
      imageDigest: digest,
      runtime: 'podman',
      source: 'podman',
      privileged: false,
    });
    assert.equal((await libpod.resolve(privId))?.privileged, true);
    assert.equal(await libpod.resolve('0'.repeat(64)), undefined, 'unknown container: 404 → undefined');

    const docker = new DockerResolver({ socketPath: socket, runtime: 'podman' });
    const viaDocker = await docker.resolve(id);
    assert.equal(viaDocker?.name, `palisade-resolve-${suffix}`);
    assert.equal(viaDocker?.image, IMAGE);
    assert.equal(viaDocker?.imageDigest, digest, 'repo digest from /images/{id}/json RepoDigests');
    assert.equal(viaDocker?.privileged, false);
    assert.equal(await docker.resolve('0'.repeat(64)), undefined);

    // No service: the resolver falls back to `podman container inspect`.
    const cli = new PodmanResolver({ socketPath: join(socket, '..', 'absent.sock') });
    const viaCli = await cli.resolve(id);
    assert.equal(viaCli?.source, 'podman-cli');
    assert.equal(viaCli?.imageDigest, digest);
    assert.equal(await cli.resolve('0'.repeat(64)), undefined);
    // Docker socket absent: this source does not know the container, no error.
    assert.equal(await new DockerResolver({ socketPath: join(socket, '..', 'absent.sock') }).resolve(id), undefined);

    // The chain as a node agent without Kubernetes builds it: Docker first, then podman.
    const cache = new CachedResolver(
      new ChainResolver([new DockerResolver({ socketPath: join(socket, '..', 'absent.sock') }), libpod]),
    );
    const ev: ProcessExecEvent = {
      id: 'live-1',
      type: 'process.exec',
      time: new Date().toISOString(),
      node: 'n',
      proc: {
        pid: 1,
        ppid: 0,
        uid: 0,
        gid: 0,
        exe: '/bin/sleep',
        name: 'sleep',
        argv: [],
        cwd: '',
        tty: 0,
        ancestry: [],
      },
      container: { id, name: '', image: '', imageDigest: '', runtime: 'podman', resolved: false },
    };
    const out = await enrichEvent(ev, cache);
    assert.equal(out.container?.resolved, true);
    assert.equal(out.container?.name, `palisade-resolve-${suffix}`);
    assert.equal(out.container?.imageDigest, digest);
  },
);
