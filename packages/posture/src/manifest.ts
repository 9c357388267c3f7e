/**
 * Reading manifests: YAML streams (multi-document, Helm-rendered output with comments and
 * empty documents), JSON (one object, a List, a `kubectl get -A -o json` dump, concatenated
 * objects). Documents are produced one at a time so a 50 MB manifest is never held as one
 * tree; each object keeps a locator that maps a field path back to its line.
 */
import { Composer, LineCounter, Parser, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import {
  JsonScanError,
  LineIndex,
  arrayElements,
  locateJson,
  newLocateCache,
  objectMembers,
  skipValue,
  skipWs,
  type LocateCache,
} from './json-scan.js';
import { isObject, type FieldPath, type JsonObject } from './path.js';

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

/** Every object in a manifest text, Lists flattened, in document order. */
export function* readManifestText(text: string, file: string): Generator<ManifestEntry> {
  const first = text[skipWs(text.replace(/^\uFEFF/, ''), 0)];
  if (first === '{' || first === '[') yield* readJson(text.replace(/^\uFEFF/, ''), file);
  else yield* readYaml(text, file);
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
      const end = skipValue(text, pos);
      if (text[pos] === '[') yield* jsonArray(text, pos, document, file, lines);
      else yield* jsonDocument(text, { start: pos, end }, document, file, lines);
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

function* jsonArray(
  text: string,
  pos: number,
  document: number,
  file: string,
  lines: LineIndex,
): Generator<ManifestEntry> {
  for (const span of arrayElements(text, pos)) yield* jsonDocument(text, span, document, file, lines);
}

function* jsonDocument(
  text: string,
  span: { start: number; end: number },
  document: number,
  file: string,
  lines: LineIndex,
): Generator<ManifestEntry> {
  if (text[span.start] !== '{') {
    yield jsonError(file, lines, span.start, 'document is not an object');
    return;
  }
  const members = objectMembers(text, span.start);
  const kind = members.get('kind');
  const items = members.get('items');
  const kindValue = kind ? parseSpan(text, kind) : undefined;
  if (items && typeof kindValue === 'string' && kindValue.endsWith('List') && text[items.start] === '[') {
    // Parse a List item by item: a cluster dump is never built as one tree.
    for (const item of arrayElements(text, items.start)) yield* jsonObject(text, item, document, file, lines);
    return;
  }
  yield* jsonObject(text, span, document, file, lines);
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
    const p = lines.position(locateJson(text, span.start, path, cache));
    return { line: p.line, column: p.column };
  };
  yield { kind: 'object', value: { obj: value, document, locate } };
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
