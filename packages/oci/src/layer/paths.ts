/**
 * Normalizing tar entry paths and checking that entries and link targets stay inside the
 * layer root. Most entries of real layers are either already clean ("usr/bin/x") or carry one
 * leading "./" (GNU tar run on "."), so those are answered with a single scan and at most one
 * slice; only odd paths are split into segments.
 */

/** Returned by normalizeEntryPath for a path that escapes the root (absolute, or too many ".."). */
export const UNSAFE = null;

/** True if the segment text[start,end) is "", "." or "..". */
function isDotSegment(text: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0) return true;
  if (text.charCodeAt(start) !== 0x2e) return false;
  return n === 1 || (n === 2 && text.charCodeAt(start + 1) === 0x2e);
}

/** True if text[from..] has no empty, "." or ".." segment (ignoring one trailing "/"). */
function isClean(text: string, from: number, to: number): boolean {
  let segStart = from;
  for (let i = from; i <= to; i++) {
    if (i === to || text.charCodeAt(i) === 0x2f) {
      if (isDotSegment(text, segStart, i)) return false;
      segStart = i + 1;
    }
  }
  return true;
}

/**
 * A tar path as a clean relative path ("a/b"), "" for the root itself, or UNSAFE (null) when it
 * is absolute or climbs above the root. "./a", "a//b", "a/./b", "a/b/" and "a/../b" are fine.
 */
export function normalizeEntryPath(raw: string): string | null {
  if (raw.charCodeAt(0) === 0x2f) {
    // "/" alone is the root (umoci writes it so); any other absolute path is refused.
    return normalizeSlow(raw) === '' ? '' : UNSAFE;
  }
  let from = 0;
  while (raw.charCodeAt(from) === 0x2e && raw.charCodeAt(from + 1) === 0x2f) {
    from += 2;
    while (raw.charCodeAt(from) === 0x2f) from++;
  }
  let to = raw.length;
  while (to > from && raw.charCodeAt(to - 1) === 0x2f) to--;
  if (to === from) return '';
  if (isClean(raw, from, to)) return from === 0 && to === raw.length ? raw : raw.slice(from, to);
  return normalizeSlow(raw.slice(from, to));
}

function normalizeSlow(path: string): string | null {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return UNSAFE;
      out.pop();
    } else {
      out.push(seg);
    }
  }
  return out.join('/');
}

/** Number of segments of the directory holding `path` ("a/b/c" → 2). */
function parentDepth(path: string): number {
  let depth = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) depth++;
  return depth;
}

/**
 * Whether a relative symlink target, resolved lexically from the directory of `path`, climbs
 * above the root at any point. Absolute targets resolve inside the image root and are fine.
 */
export function symlinkEscapes(path: string, target: string): boolean {
  if (target.charCodeAt(0) === 0x2f) return false;
  // Fast answer for the common targets with no ".." at all.
  if (target.indexOf('..') === -1) return false;
  let depth = parentDepth(path);
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      depth--;
      if (depth < 0) return true;
    } else {
      depth++;
    }
  }
  return false;
}

/** Directory part of a normalized path ("" at the root). */
export function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Last segment of a normalized path. */
export function basenameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}
