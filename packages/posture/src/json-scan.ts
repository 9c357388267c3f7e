/**
 * A small JSON scanner that finds where values start and end without building them. It lets
 * a 50 MB `kubectl get -A -o json` List be parsed one item at a time (bounded memory) and a
 * finding's field path be mapped back to a line, which JSON.parse alone cannot do.
 */
export class JsonScanError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipWs(text: string, pos: number): number {
  while (pos < text.length && isWs(text.charCodeAt(pos))) pos++;
  return pos;
}

function skipString(text: string, pos: number): number {
  // pos is at the opening quote. indexOf jumps to the next quote natively (strings are most of
  // a cluster dump); a quote preceded by an odd number of backslashes is escaped.
  let i = pos + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) throw new JsonScanError('unterminated string', pos);
    let bs = 0;
    while (text.charCodeAt(q - 1 - bs) === 0x5c) bs++;
    if (bs % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** Characters of a JSON number or literal (true, false, null): letters, digits, + - . */
function isLiteralChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e
  );
}

/** The offset just past the value starting at `pos` (after whitespace). */
export function skipValue(text: string, pos: number): number {
  pos = skipWs(text, pos);
  const c = text[pos];
  if (c === '"') return skipString(text, pos);
  if (c === '{' || c === '[') return skipContainer(text, pos);
  let i = pos;
  while (i < text.length && isLiteralChar(text.charCodeAt(i))) i++;
  if (i === pos)
    throw new JsonScanError(c === undefined ? 'unexpected end of input' : `unexpected character "${c}"`, pos);
  return i;
}

function skipContainer(text: string, pos: number): number {
  // Depth counting over brackets, skipping strings: exact validation is left to JSON.parse.
  let depth = 0;
  let i = pos;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = skipString(text, i);
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  throw new JsonScanError('unterminated object or array', pos);
}

export interface Span {
  start: number;
  end: number;
}

/** Members of the object at `pos`: key → value span. */
export function objectMembers(text: string, pos: number): Map<string, Span> {
  const out = new Map<string, Span>();
  pos = skipWs(text, pos);
  if (text[pos] !== '{') throw new JsonScanError('expected an object', pos);
  pos = skipWs(text, pos + 1);
  if (text[pos] === '}') return out;
  for (;;) {
    if (text[pos] !== '"') throw new JsonScanError('expected a key', pos);
    const keyEnd = skipString(text, pos);
    // Keys rarely hold escapes: slice them directly, and JSON.parse only the ones that do.
    const raw = text.slice(pos + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(pos, keyEnd)) as string) : raw;
    pos = skipWs(text, keyEnd);
    if (text[pos] !== ':') throw new JsonScanError('expected ":"', pos);
    const start = skipWs(text, pos + 1);
    const end = skipValue(text, start);
    out.set(key, { start, end });
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === '}') return out;
    else throw new JsonScanError('expected "," or "}"', pos);
  }
}

/** Spans of the elements of the array at `pos`, yielded one by one. */
export function* arrayElements(text: string, pos: number): Generator<Span> {
  pos = skipWs(text, pos);
  if (text[pos] !== '[') throw new JsonScanError('expected an array', pos);
  pos = skipWs(text, pos + 1);
  if (text[pos] === ']') return;
  for (;;) {
    const start = pos;
    const end = skipValue(text, start);
    yield { start, end };
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === ']') return;
    else throw new JsonScanError('expected "," or "]"', pos);
  }
}

/**
 * What `locateJson` learnt of one object's text: member spans and element starts by offset.
 * An object gets many findings (a pod often a dozen), each walking the same prefixes; without
 * this every walk rescans the object from its start.
 */
export interface LocateCache {
  members: Map<number, Map<string, Span>>;
  elements: Map<number, number[]>;
}

export function newLocateCache(): LocateCache {
  return { members: new Map(), elements: new Map() };
}

/** Offset of the value at `path` inside the value at `pos`, or of its deepest existing parent. */
export function locateJson(
  text: string,
  pos: number,
  path: ReadonlyArray<string | number>,
  cache: LocateCache = newLocateCache(),
): number {
  let at = skipWs(text, pos);
  for (const seg of path) {
    const next = typeof seg === 'number' ? nthElement(text, at, seg, cache) : memberStart(text, at, seg, cache);
    if (next === undefined) return at;
    at = next;
  }
  return at;
}

function nthElement(text: string, pos: number, n: number, cache: LocateCache): number | undefined {
  if (text[pos] !== '[') return undefined;
  let starts = cache.elements.get(pos);
  if (starts === undefined) {
    starts = [];
    for (const span of arrayElements(text, pos)) starts.push(span.start);
    cache.elements.set(pos, starts);
  }
  return starts[n];
}

function memberStart(text: string, pos: number, key: string, cache: LocateCache): number | undefined {
  if (text[pos] !== '{') return undefined;
  let members = cache.members.get(pos);
  if (members === undefined) {
    members = objectMembers(text, pos);
    cache.members.set(pos, members);
  }
  return members.get(key)?.start;
}

/** A node of the trie of paths `locateJsonMany` looks for: the offset found, -1 while not reached. */
interface PathNode {
  offset: number;
  children: Map<string | number, PathNode>;
}

function pathNode(): PathNode {
  return { offset: -1, children: new Map() };
}

/**
 * Offsets of several paths inside the value at `pos`, each that of the value at the path or
 * of its deepest existing parent (as `locateJson`). One pass over the text: the paths form a
 * trie, a wanted member or element is descended into and every other value skipped once, so
 * an object with a dozen findings costs one scan of it, not a dozen walks from its start.
 */
export function locateJsonMany(
  text: string,
  pos: number,
  paths: ReadonlyArray<ReadonlyArray<string | number>>,
): number[] {
  const root = pathNode();
  for (const path of paths) {
    let node = root;
    for (const seg of path) {
      let next = node.children.get(seg);
      if (next === undefined) node.children.set(seg, (next = pathNode()));
      node = next;
    }
  }
  walkValue(text, skipWs(text, pos), root);
  return paths.map((path) => {
    let node = root;
    for (const seg of path) {
      const next = node.children.get(seg);
      if (next === undefined || next.offset < 0) break;
      node = next;
    }
    return node.offset;
  });
}

/** Record where `node`'s value starts, descend into wanted children; return the offset past the value. */
function walkValue(text: string, at: number, node: PathNode): number {
  node.offset = at;
  if (node.children.size === 0) return skipValue(text, at);
  const c = text.charCodeAt(at);
  if (c === 0x7b) return walkMembers(text, at, node);
  if (c === 0x5b) return walkElements(text, at, node);
  return skipValue(text, at);
}

function walkMembers(text: string, pos: number, node: PathNode): number {
  pos = skipWs(text, pos + 1);
  if (text[pos] === '}') return pos + 1;
  for (;;) {
    if (text[pos] !== '"') throw new JsonScanError('expected a key', pos);
    const keyEnd = skipString(text, pos);
    const raw = text.slice(pos + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(pos, keyEnd)) as string) : raw;
    pos = skipWs(text, keyEnd);
    if (text[pos] !== ':') throw new JsonScanError('expected ":"', pos);
    const start = skipWs(text, pos + 1);
    const child = node.children.get(key);
    // A repeated key is descended into again: the last one wins, as in JSON.parse.
    const end = child === undefined ? skipValue(text, start) : walkValue(text, start, child);
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === '}') return pos + 1;
    else throw new JsonScanError('expected "," or "}"', pos);
  }
}

function walkElements(text: string, pos: number, node: PathNode): number {
  pos = skipWs(text, pos + 1);
  if (text[pos] === ']') return pos + 1;
  for (let i = 0; ; i++) {
    const child = node.children.get(i);
    const end = child === undefined ? skipValue(text, pos) : walkValue(text, pos, child);
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === ']') return pos + 1;
    else throw new JsonScanError('expected "," or "]"', pos);
  }
}

/** Line starts of a text, for offset → line/column. */
export class LineIndex {
  private readonly starts: Uint32Array;

  constructor(text: string) {
    let n = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
    this.starts = new Uint32Array(n);
    let k = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts[k++] = i + 1;
  }

  /** One-based line and column of an offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}
