import { PassThrough, Readable } from 'node:stream';
import { main } from '../src/main.js';
import type { Io } from '../src/output.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process with captured streams (no TTY: no progress, no colours). */
export async function run(
  argv: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const io: Io = {
    stdout: out,
    stderr: err,
    stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
    env: { ...process.env, ...(options.env ?? {}) },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
