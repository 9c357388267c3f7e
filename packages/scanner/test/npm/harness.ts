/**
 * Test harness shared by the language cataloger tests: runs a cataloger the way a scan does
 * (wants → extract → one merged tree → catalog) over literal files, collecting warnings.
 */
import { readFileSync } from 'node:fs';
import type { Package } from '@palisade/core';
import { sharedPath } from '@palisade/testkit';
import { fileTreeFrom } from '../../src/catalogers/filetree.js';
import type { Cataloger } from '../../src/catalogers/types.js';

export interface RunResult {
  pkgs: Package[];
  warnings: string[];
  /** Paths the cataloger asked for. */
  kept: string[];
}

export function run(c: Cataloger, files: Record<string, string | Buffer>): RunResult {
  const kept: Record<string, Buffer> = {};
  for (const [path, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const meta = { path, size: data.length, mode: 0o644 };
    if (!c.wants(meta)) continue;
    const reduced = c.extract ? c.extract(meta, data) : data;
    if (reduced !== null) kept[path] = reduced;
  }
  const warnings: string[] = [];
  const pkgs = c.catalog({ files: fileTreeFrom(kept), warn: (m) => warnings.push(m) });
  return { pkgs, warnings, kept: Object.keys(kept).sort() };
}

/** "name@version" of each package, in the cataloger's order. */
export function nv(pkgs: readonly Package[]): string[] {
  return pkgs.map((p) => `${p.name}@${p.version}`);
}

/** A conformance lockfile's content. */
export function lockfile(...rel: string[]): Buffer {
  return readFileSync(sharedPath('conformance', 'lockfiles', ...rel));
}
