/**
 * Field paths: how a finding names the field at fault. Kept as segments (keys and indexes)
 * while checking, so the same path can be printed (`spec.containers[0].securityContext`) and
 * walked in the YAML node tree to find the line it came from.
 */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

// Keys that are not plain identifiers (annotation keys with dots and slashes) are quoted.
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `spec.containers[0].securityContext`, `metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

interface PathTrieNode {
  text: string;
  next: Map<PathSegment, PathTrieNode> | undefined;
}

/**
 * `formatPath` for the engine's hot loop: the same text, but one string per distinct path,
 * looked up segment by segment in a trie (no string is built for a path seen before). A
 * cluster scan names the same few hundred paths in hundreds of thousands of findings; sharing
 * the strings keeps them out of the garbage collector's way. Bounded: past `limit` distinct
 * paths, new ones are formatted without being kept.
 */
export class PathTexts {
  private readonly root: PathTrieNode = { text: '', next: undefined };
  private size = 0;

  constructor(private readonly limit = 50_000) {}

  text(path: FieldPath): string {
    let node = this.root;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i] as PathSegment;
      let child = node.next?.get(seg);
      if (child === undefined) {
        if (this.size >= this.limit) return formatPath(path);
        child = { text: formatPath(path.slice(0, i + 1)), next: undefined };
        (node.next ??= new Map()).set(seg, child);
        this.size++;
      }
      node = child;
    }
    return node.text;
  }
}

/** A plain JSON object, as parsed from a manifest. */
export type JsonObject = { [key: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object at `key`, or undefined when absent or not an object (objects missing fields are normal input). */
export function objAt(o: unknown, key: string): JsonObject | undefined {
  if (!isObject(o)) return undefined;
  const v = o[key];
  return isObject(v) ? v : undefined;
}

/** The array at `key`, or an empty one. */
export function arrAt(o: unknown, key: string): unknown[] {
  if (!isObject(o)) return [];
  const v = o[key];
  return Array.isArray(v) ? v : [];
}

export function strAt(o: unknown, key: string): string | undefined {
  if (!isObject(o)) return undefined;
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

export function boolAt(o: unknown, key: string): boolean | undefined {
  if (!isObject(o)) return undefined;
  const v = o[key];
  return typeof v === 'boolean' ? v : undefined;
}

export function numAt(o: unknown, key: string): number | undefined {
  if (!isObject(o)) return undefined;
  const v = o[key];
  return typeof v === 'number' ? v : undefined;
}
