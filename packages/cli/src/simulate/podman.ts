/**
 * Throwaway containers for `palisade simulate`, through the podman CLI. Images are never
 * pulled: a scenario runs only in an image that is already in local storage.
 */
import { execFile } from 'node:child_process';
import { PalisadeError } from '@palisade/core';

export interface ContainerSpec {
  image: string;
  command: string[];
  network: 'none' | 'host';
  capAdd: string[];
  /** host path → container path, mounted read-only. */
  mounts: { source: string; target: string }[];
  /** Label value that names the scenario (`palisade.simulate=<id>`), for cleanup and debugging. */
  label: string;
  timeoutMs: number;
}

export interface ContainerRun {
  /** Full container id (64 hex digits), as the sensor's cgroup attribution reports it. */
  id: string;
  exitCode: number | undefined;
  /** Last lines of the container's output, for diagnostics. */
  output: string;
  timedOut: boolean;
}

/** Runs one container to completion; the container is always removed. */
export interface ContainerRunner {
  run(spec: ContainerSpec): Promise<ContainerRun>;
}

interface Exec {
  code: number | undefined;
  stdout: string;
  stderr: string;
  error?: string;
}

function exec(cmd: string, args: string[], timeoutMs: number): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : undefined) : 0;
      const res: Exec = { code, stdout, stderr };
      if (err && code === undefined) res.error = err.message;
      resolve(res);
    });
  });
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}

export interface PodmanOptions {
  podman?: string;
  /** OCI runtime passed to `podman run --runtime` (e.g. /usr/sbin/runc); podman's default otherwise. */
  ociRuntime?: string;
}

export class PodmanRunner implements ContainerRunner {
  private readonly podman: string;

  constructor(private readonly opts: PodmanOptions = {}) {
    this.podman = opts.podman ?? 'podman';
  }

  /** Fails with a clear error when podman is missing or the image is not in local storage. */
  async checkImage(image: string): Promise<void> {
    const r = await exec(this.podman, ['image', 'exists', image], 60_000);
    if (r.error !== undefined) {
      throw new PalisadeError('E_CONFIG', `cannot run podman: ${r.error}`, { subject: 'simulate' });
    }
    if (r.code !== 0) {
      throw new PalisadeError(
        'E_INPUT',
        `image not in local storage (simulate never pulls): import one, e.g. \`podman import rootfs.tar.gz ${image}\`, or pass --image`,
        { subject: image },
      );
    }
  }

  async run(spec: ContainerSpec): Promise<ContainerRun> {
    const args = [
      'run',
      '-d',
      '--pull',
      'never',
      '--label',
      `palisade.simulate=${spec.label}`,
      // Which simulate process made it: a run that is killed can be cleaned up by its pid.
      '--label',
      `palisade.simulate.pid=${process.pid}`,
      ...(this.opts.ociRuntime ? ['--runtime', this.opts.ociRuntime] : []),
      // Bounded resources, no core dumps (a scenario kills itself with SIGSYS).
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      '--ulimit',
      'core=0:0',
      '--network',
      spec.network,
      ...spec.capAdd.flatMap((c) => ['--cap-add', c]),
      ...spec.mounts.flatMap((m) => ['-v', `${m.source}:${m.target}:ro`]),
      spec.image,
      ...spec.command,
    ];
    const started = await exec(this.podman, args, 60_000);
    const id = started.stdout.trim();
    if (started.code !== 0 || !/^[0-9a-f]{64}$/.test(id)) {
      throw new PalisadeError(
        'E_CONFIG',
        `podman run failed: ${started.error ?? (lastLine(started.stderr) || `exit ${String(started.code)}`)}`,
        { subject: `scenario ${spec.label}` },
      );
    }
    try {
      const waited = await exec(this.podman, ['wait', id], spec.timeoutMs);
      const timedOut = waited.code !== 0;
      const logs = await exec(this.podman, ['logs', id], 30_000);
      const code = Number(waited.stdout.trim());
      return {
        id,
        exitCode: timedOut || !Number.isInteger(code) ? undefined : code,
        output: `${logs.stdout}${logs.stderr}`.trim().split('\n').slice(-5).join('\n'),
        timedOut,
      };
    } finally {
      await exec(this.podman, ['rm', '-f', '-t', '0', id], 60_000);
    }
  }
}
