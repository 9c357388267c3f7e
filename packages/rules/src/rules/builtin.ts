/**
 * The built-in rule library ships as YAML data under packages/rules/rules/, listed in load
 * order by rules/index.yaml, so adding a rule file is a data change, not a code change.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { PalisadeError } from '@palisade/core';
import type { RuleSource } from './types.js';

/**
 * Directory of the built-in rule files, found through the package itself so it also works from
 * the CLI's single-file bundle (where import.meta.url is the bundle, not this module).
 */
export const BUILTIN_RULES_DIR: string = join(
  dirname(createRequire(import.meta.url).resolve('@palisade/rules/package.json')),
  'rules',
);

/** The built-in rule files, in load order; throws only if the shipped library itself is broken. */
export function builtinRuleSources(dir: string = BUILTIN_RULES_DIR): RuleSource[] {
  const indexFile = join(dir, 'index.yaml');
  const index = parse(readFileSync(indexFile, 'utf8')) as { files?: unknown } | null;
  const files = index?.files;
  if (!Array.isArray(files) || !files.every((f): f is string => typeof f === 'string')) {
    throw new PalisadeError('E_CORRUPT', 'files: must list the rule files', { subject: indexFile });
  }
  return files.map((f) => ({ file: `builtin/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
}

/** Reads user rule files from disk, to be loaded after the built-in ones. */
export function readRuleFiles(paths: readonly string[]): RuleSource[] {
  return paths.map((p) => {
    try {
      return { file: p, text: readFileSync(p, 'utf8') };
    } catch (err) {
      throw new PalisadeError('E_NOT_FOUND', 'cannot read rule file', { subject: p, cause: err });
    }
  });
}
