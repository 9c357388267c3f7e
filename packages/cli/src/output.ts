import { writeFileSync, renameSync } from 'node:fs';
import { PalisadeError } from '@palisade/core';

/** The streams a command writes to; injected so tests can capture them. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Write a result to --output FILE (atomically) or stdout. */
export function emit(io: Io, text: string, outputFile: string | undefined): void {
  if (!outputFile) {
    io.stdout.write(text.endsWith('\n') ? text : text + '\n');
    return;
  }
  const tmp = `${outputFile}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text.endsWith('\n') ? text : text + '\n');
    renameSync(tmp, outputFile);
  } catch (err) {
    throw new PalisadeError('E_INPUT', `cannot write output: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      subject: outputFile,
      cause: err,
    });
  }
}
