import { renameSync, statSync, writeFileSync } from 'node:fs';
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
  const body = text.endsWith('\n') ? text : text + '\n';
  if (!isRegularFileOrMissing(outputFile)) {
    // A device or pipe (/dev/null, /dev/stdout, a FIFO) is written in place: renaming a temp file
    // over it would replace the device node with a plain file.
    writeTo(outputFile, body);
    return;
  }
  const tmp = `${outputFile}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, body);
    renameSync(tmp, outputFile);
  } catch (err) {
    throw new PalisadeError('E_INPUT', `cannot write output: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      subject: outputFile,
      cause: err,
    });
  }
}

function isRegularFileOrMissing(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return true;
  }
}

function writeTo(path: string, body: string): void {
  try {
    writeFileSync(path, body);
  } catch (err) {
    throw new PalisadeError('E_INPUT', `cannot write output: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      subject: path,
      cause: err,
    });
  }
}
