/**
 * Reading manifests: YAML streams (multi-document, Helm-rendered output with comments and
 * empty documents), JSON (one object, a List, a `kubectl get -A -o json` dump, concatenated
 * objects). Documents are produced one at a time so a 50 MB manifest is never held as one
 * tree; each object keeps a locator that maps a field path back to its line.
 */
import {
  Composer,
  LineCounter,
  Parser,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import {
  JsonScanError,
  LineIndex,
  locateJson,
  locateJsonMany,
  newLocateCache,
  skipValue,
  skipWs,
  type LocateCache,
  type Span,
} from './json-scan.js';
import { isObject, type FieldPath, type JsonObject } from './path.js';
import { splitYamlList, type YamlItemChunk } from './yaml-split.js';

export interface Position {
  line: number;
  column: number;
}

/** Maps a field path (relative to the object) to the position of that field or its nearest parent. */
export type Locator = (path: FieldPath) => Position | undefined;

/** One Kubernetes object as read from a manifest. */
export interface ManifestObject {
  obj: JsonObject;
  /** Zero-based document index in the stream. */
  document: number;
  locate: Locator;
  /**
   * Positions of several paths at once, in the order given: for JSON one pass over the
   * object's text instead of one walk per path (the engine locates all findings of an object
   * together). Absent: each path is located on its own.
   */
  locateAll?: (paths: readonly FieldPath[]) => Array<Position | undefined>;
}

/** Positions of `paths` in `m`, batched when the object can. */
export function locateAll(m: ManifestObject, paths: readonly FieldPath[]): Array<Position | undefined> {
  return m.locateAll ? m.locateAll(paths) : paths.map((p) => m.locate(p));
}

/** A part of the input that could not be read: the file, the line, what is wrong. */
export interface ManifestError {
  file: string;
  line?: number;
  message: string;
}

export type ManifestEntry = { kind: 'object'; value: ManifestObject } | { kind: 'error'; value: ManifestError };

/** A `List` (v1 List, PodList, DeploymentList, …) holds its objects in `items`. */
export function isListKind(v: JsonObject): boolean {
  const kind = v.kind;
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(v.items);
}

export interface ReadOptions {
  /**
   * YAML texts of at least this many characters that are one plain `List` document are read
   * item by item (default 4 MiB); smaller ones are parsed whole. Tests lower it.
   */
  yamlListSplitFrom?: number;
}

const YAML_LIST_SPLIT_FROM = 4 * 1024 * 1024;

/** Every object in a manifest text, Lists flattened, in document order. */
export function* readManifestText(text: string, file: string, options: ReadOptions = {}): Generator<ManifestEntry> {
  const first = text[skipWs(text.replace(/^\uFEFF/, ''), 0)];
  if (first === '{' || first === '[') {
    yield* readJson(text.replace(/^\uFEFF/, ''), file);
    return;
  }
  if (text.length >= (options.yamlListSplitFrom ?? YAML_LIST_SPLIT_FROM)) {
    const split = splitYamlList(text.replace(/^\uFEFF/, ''));
    if (split !== undefined && isListHeader(split.header)) {
      yield* readYamlListItems(text.replace(/^\uFEFF/, ''), split.items, file);
      return;
    }
  }
  yield* readYaml(text, file);
}

// ---------------------------------------------------------------- YAML

function* readYaml(text: string, file: string): Generator<ManifestEntry> {
  const lines = new LineCounter();
  // Kubernetes reads manifests as YAML 1.1 (`yes`/`on` are booleans), so we do too.
  const composer = new Composer({ version: '1.1' });
  let index = 0;
  for (const doc of composer.compose(new Parser(lines.addNewLine).parse(text))) {
    const document = index++;
    if (doc.errors.length > 0) {
      for (const err of doc.errors.slice(0, 1)) {
        const line = lines.linePos(err.pos[0]).line;
        yield { kind: 'error', value: { file, line, message: `malformed YAML: ${firstLine(err.message)}` } };
      }
      continue;
    }
    yield* yamlObjects(doc, document, file, lines);
  }
}

/** The List document without its items parses, and its kind is a List kind. */
function isListHeader(header: string): boolean {
  const doc = parseDocument(header, { version: '1.1' });
  if (doc.errors.length > 0) return false;
  const value: unknown = doc.toJS();
  return isObject(value) && typeof value.kind === 'string' && value.kind.endsWith('List');
}

/**
 * The items of one huge List document, each parsed on its own (its text keeps its original
 * indentation, so columns are those of the file; lines are shifted by where the item starts).
 */
function* readYamlListItems(text: string, items: readonly YamlItemChunk[], file: string): Generator<ManifestEntry> {
  for (const chunk of items) {
    const lines = new LineCounter();
    const docs = new Composer({ version: '1.1' }).compose(
      new Parser(lines.addNewLine).parse(text.slice(chunk.start, chunk.end)),
    );
    const shift = (p: Position | undefined): Position | undefined =>
      p === undefined ? undefined : { line: p.line + chunk.line, column: p.column };
    for (const doc of docs) {
      const err = doc.errors[0];
      if (err !== undefined) {
        const line = lines.linePos(err.pos[0]).line + chunk.line;
        yield { kind: 'error', value: { file, line, message: `malformed YAML: ${firstLine(err.message)}` } };
        continue;
      }
      const seq = doc.contents;
      if (!isSeq(seq)) continue;
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 1000 });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        yield { kind: 'error', value: { file, line: chunk.line + 1, message: `malformed YAML: ${message}` } };
        continue;
      }
      const item = Array.isArray(value) ? (value[0] as unknown) : undefined;
      if (!isObject(item)) continue;
      const node = seq.items[0];
      const locate: Locator = (path) => shift(yamlLocate(node, path, lines));
      yield { kind: 'object', value: { obj: item, document: 0, locate } };
    }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function* yamlObjects(
  doc: Document.Parsed,
  document: number,
  file: string,
  lines: LineCounter,
): Generator<ManifestEntry> {
  if (doc.contents === null) return; // an empty document: comments only, or `---` twice
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    const line = doc.contents.range ? lines.linePos(doc.contents.range[0]).line : undefined;
    const message = err instanceof Error ? err.message : String(err);
    yield { kind: 'error', value: { file, ...(line ? { line } : {}), message: `malformed YAML: ${message}` } };
    return;
  }
  yield* flatten(value, document, (path) => yamlLocate(doc.contents, path, lines), file, lines, doc.contents);
}

function* flatten(
  value: unknown,
  document: number,
  locate: Locator,
  file: string,
  lines: LineCounter,
  root: unknown,
): Generator<ManifestEntry> {
  if (!isObject(value)) {
    if (value === null || value === undefined) return;
    const pos = locate([]);
    yield { kind: 'error', value: { file, ...(pos ? { line: pos.line } : {}), message: 'document is not an object' } };
    return;
  }
  if (!isListKind(value)) {
    yield { kind: 'object', value: { obj: value, document, locate } };
    return;
  }
  const items = value.items as unknown[];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!isObject(item)) continue;
    const itemNode = yamlNodeAt(root, ['items', i]);
    yield { kind: 'object', value: { obj: item, document, locate: (p) => yamlLocate(itemNode, p, lines) } };
  }
}

/**
 * The deepest node on the path (the field itself, or its nearest existing parent). For a
 * mapping entry that is its key, so `securityContext:` points at its own line, not its first child's.
 */
function yamlNodeAt(root: unknown, path: FieldPath, preferKey = false): unknown {
  let node = root;
  let key: unknown;
  for (const seg of path) {
    let next: unknown;
    let nextKey: unknown;
    if (typeof seg === 'number' && isSeq(node)) next = node.items[seg];
    else if (typeof seg === 'string' && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (pair) {
        next = pair.value ?? pair.key; // a key with no value (`securityContext:`) is the key itself
        nextKey = pair.key;
      }
    }
    if (next === undefined || next === null) break;
    node = next;
    key = nextKey;
  }
  return preferKey && key ? key : node;
}

function yamlLocate(root: unknown, path: FieldPath, lines: LineCounter): Position | undefined {
  const node = yamlNodeAt(root, path, true) as Node | null | undefined;
  const range = node?.range;
  if (!range) return undefined;
  const p = lines.linePos(range[0]);
  return { line: p.line, column: p.col };
}

// ---------------------------------------------------------------- JSON

function* readJson(text: string, file: string): Generator<ManifestEntry> {
  const lines = new LineIndex(text);
  let pos = skipWs(text, 0);
  let document = 0;
  try {
    while (pos < text.length) {
      const end =
        text[pos] === '['
          ? yield* jsonArray(text, pos, document, file, lines)
          : yield* jsonDocument(text, pos, document, file, lines);
      document++;
      pos = skipWs(text, end);
    }
  } catch (err) {
    if (!(err instanceof JsonScanError)) throw err;
    yield {
      kind: 'error',
      value: { file, line: lines.position(err.offset).line, message: `malformed JSON: ${err.message}` },
    };
  }
}

/** Each element of a top-level array as a document of its own; returns the offset past the array. */
function* jsonArray(
  text: string,
  pos: number,
  document: number,
  file: string,
  lines: LineIndex,
): Generator<ManifestEntry, number> {
  pos = skipWs(text, pos + 1);
  if (text[pos] === ']') return pos + 1;
  for (;;) {
    const end = yield* jsonDocument(text, pos, document, file, lines);
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === ']') return pos + 1;
    else throw new JsonScanError('expected "," or "]"', pos);
  }
}

/** One JSON document (a List flattened into its items); returns the offset past it. */
function* jsonDocument(
  text: string,
  start: number,
  document: number,
  file: string,
  lines: LineIndex,
): Generator<ManifestEntry, number> {
  if (text[start] !== '{') {
    const end = skipValue(text, start);
    yield jsonError(file, lines, start, 'document is not an object');
    return end;
  }
  const top = topMembersOrUnterminated(text, start);
  const kindValue = top.kind ? parseSpan(text, top.kind) : undefined;
  if (top.items && typeof kindValue === 'string' && kindValue.endsWith('List')) {
    // Parse a List item by item: a cluster dump is never built as one tree.
    for (const item of top.items) yield* jsonObject(text, item, document, file, lines);
    return top.end;
  }
  yield* jsonObject(text, { start, end: top.end }, document, file, lines);
  return top.end;
}

/**
 * One pass over a top-level object: where it ends, its `kind`, and the spans of the elements
 * of its `items` array (the items of a List, found while skipping over them, so a 50 MB dump
 * is scanned once, not once per question asked of it).
 */
function topMembers(text: string, pos: number): { end: number; kind?: Span; items?: Span[] } {
  const out: { end: number; kind?: Span; items?: Span[] } = { end: pos };
  pos = skipWs(text, pos + 1);
  if (text[pos] === '}') {
    out.end = pos + 1;
    return out;
  }
  for (;;) {
    if (text[pos] !== '"') throw new JsonScanError('expected a key', pos);
    const keyEnd = skipValue(text, pos);
    const key = text.slice(pos + 1, keyEnd - 1);
    pos = skipWs(text, keyEnd);
    if (text[pos] !== ':') throw new JsonScanError('expected ":"', pos);
    const start = skipWs(text, pos + 1);
    let end: number;
    if (key === 'items' && text[start] === '[') {
      const spans: Span[] = [];
      end = elementSpans(text, start, spans);
      out.items = spans;
    } else {
      end = skipValue(text, start);
      if (key === 'kind') out.kind = { start, end };
      else if (key === 'items') delete out.items; // a later non-array `items` wins, as in JSON.parse
    }
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === '}') {
      out.end = pos + 1;
      return out;
    } else throw new JsonScanError('expected "," or "}"', pos);
  }
}

/** An object cut off by the end of the input is named at its start: where the reader must look. */
function topMembersOrUnterminated(text: string, start: number): ReturnType<typeof topMembers> {
  try {
    return topMembers(text, start);
  } catch (err) {
    // An inner object cut off (or the input ending where a member should follow) leaves this one unterminated too.
    const cutOff =
      err instanceof JsonScanError &&
      (err.message === 'unterminated object or array' || skipWs(text, err.offset) >= text.length);
    if (cutOff) throw new JsonScanError('unterminated object or array', start);
    throw err;
  }
}

/** Push the spans of the array's elements; return the offset past the array. */
function elementSpans(text: string, pos: number, spans: Span[]): number {
  pos = skipWs(text, pos + 1);
  if (text[pos] === ']') return pos + 1;
  for (;;) {
    const start = pos;
    const end = skipValue(text, start);
    spans.push({ start, end });
    pos = skipWs(text, end);
    if (text[pos] === ',') pos = skipWs(text, pos + 1);
    else if (text[pos] === ']') return pos + 1;
    else throw new JsonScanError('expected "," or "]"', pos);
  }
}

function* jsonObject(
  text: string,
  span: { start: number; end: number },
  document: number,
  file: string,
  lines: LineIndex,
): Generator<ManifestEntry> {
  let value: unknown;
  try {
    value = JSON.parse(text.slice(span.start, span.end));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    yield jsonError(file, lines, span.start, `malformed JSON: ${message}`);
    return;
  }
  if (!isObject(value)) return;
  // Built on the first lookup: most objects get no finding at all.
  let cache: LocateCache | undefined;
  const locate: Locator = (path) => {
    cache ??= newLocateCache();
    return lines.position(locateJson(text, span.start, path, cache));
  };
  const all = (paths: readonly FieldPath[]): Position[] =>
    locateJsonMany(text, span.start, paths).map((offset) => lines.position(offset));
  yield { kind: 'object', value: { obj: value, document, locate, locateAll: all } };
}

function parseSpan(text: string, span: { start: number; end: number }): unknown {
  try {
    return JSON.parse(text.slice(span.start, span.end));
  } catch {
    return undefined;
  }
}

function jsonError(file: string, lines: LineIndex, offset: number, message: string): ManifestEntry {
  return { kind: 'error', value: { file, line: lines.position(offset).line, message } };
}
