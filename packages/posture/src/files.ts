/**
 * Turning the paths a user gives into manifest texts: files as they are, directories walked
 * for *.yaml, *.yml and *.json (sorted, so reports are stable), `-` for stdin.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import type { PostureInput } from './scan.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** The files a path stands for: itself, or the manifests under it. */
export function manifestFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new PalisadeError('E_NOT_FOUND', 'no such file or directory', { subject: path, cause: err });
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    const full = join(path, name);
    const s = statSync(full);
    if (s.isDirectory()) out.push(...manifestFiles(full));
    else if (MANIFEST_EXT.test(name)) out.push(full);
  }
  return out;
}

/** Inputs for `paths`, read lazily one file at a time; `-` reads `stdinText`. */
export function* manifestInputs(paths: readonly string[], stdinText?: () => string): Generator<PostureInput> {
  for (const p of paths) {
    if (p === '-') {
      yield { file: '-', text: stdinText ? stdinText() : '' };
      continue;
    }
    for (const file of manifestFiles(p)) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new PalisadeError('E_INPUT', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          subject: file,
          cause: err,
        });
      }
      yield { file, text };
    }
  }
}
