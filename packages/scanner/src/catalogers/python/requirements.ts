/**
 * requirements*.txt (pip's requirements file format). Only pinned requirements (`name==1.2.3`,
 * `name===1.2.3`) say which version is installed; ranges, bare names, URLs, paths and options
 * are skipped. `-r other.txt` includes are not followed: each requirements file the scan keeps
 * is cataloged on its own, so following them would report packages twice (and files with other
 * names were never read).
 */
import type { Package } from '@palisade/core';
import { textOf } from '../lang-common/common.js';
import type { CatalogFile } from '../types.js';
import { isPyName, pyPackage } from './common.js';

// pip: a comment starts at a '#' at line start or after whitespace.
const COMMENT = /(^|\s+)#.*$/;
// Per-requirement options (--hash, --global-option, ...) follow the requirement after whitespace.
const OPTION = /\s+--?[A-Za-z]/;
const PINNED = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s,;=<>!~*]+)$/;

/** Logical lines: backslash-continued physical lines joined, the way pip joins them. */
export function logicalLines(text: string): string[] {
  const out: string[] = [];
  let pending: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const isComment = /^\s*#/.test(line);
    if (line.endsWith('\\') && !isComment) {
      pending.push(line.replace(/\\+$/, ''));
      continue;
    }
    pending.push(line);
    out.push(pending.join(''));
    pending = [];
  }
  if (pending.length > 0) out.push(pending.join(''));
  return out;
}

/** The pinned name and version of one logical line, if it has one. */
export function pinnedRequirement(line: string): { name: string; version: string } | undefined {
  let s = line.replace(COMMENT, '').trim();
  if (s === '' || s.startsWith('-')) return undefined;
  const opt = OPTION.exec(s);
  if (opt) s = s.slice(0, opt.index);
  const semi = s.indexOf(';');
  if (semi >= 0) s = s.slice(0, semi);
  const m = PINNED.exec(s.trim());
  if (!m || !m[1] || !m[2] || !isPyName(m[1])) return undefined;
  return { name: m[1], version: m[2] };
}

export function catalogRequirements(file: CatalogFile): Package[] {
  const out: Package[] = [];
  for (const line of logicalLines(textOf(file.data))) {
    const req = pinnedRequirement(line);
    if (req) out.push(pyPackage({ ...req, file }));
  }
  return out;
}
