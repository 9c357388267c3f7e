/**
 * Turning paths into documents: folders are walked (sorted, bounded depth), gzip is undone,
 * OSV all.zip archives are expanded, JSON and YAML are parsed. Problems with a file found inside
 * a folder or archive are warnings (the file is skipped); a path given explicitly must be readable.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';
import { PalisadeError, readZip } from '@palisade/core';
import type { SourceDoc } from './types.js';

const MAX_DEPTH = 16;
const MAX_FILE = 2 * 1024 * 1024 * 1024 - 1;
/** Files a feed folder often carries that are not data. */
const IGNORED =
  /^(readme|license|copying|sources|notice|changelog)(\.[a-z]+)?$|\.(md|sha256|sha512|asc|sig|part|meta)$/i;

export interface LoadContext {
  /** A skipped file or entry: subject and reason. */
  skipFile(subject: string, reason: string): void;
}

function decode(buf: Buffer, subject: string): { text: string; gz: boolean } {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return { text: gunzipSync(buf, { maxOutputLength: MAX_FILE }).toString('utf8'), gz: true };
    } catch (err) {
      throw new PalisadeError('E_CORRUPT', `corrupt gzip data: ${(err as Error).message}`, { subject, cause: err });
    }
  }
  return { text: buf.toString('utf8'), gz: false };
}

/** Content that merely starts like JSON ("[01 Aug 2002] DSA-141 …") stays text. */
function sniffJson(text: string): unknown {
  const t = text.trimStart();
  if (!t.startsWith('{') && !/^\[\s*[[{"\]]/.test(t)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parse(text: string, ext: string, subject: string): unknown {
  try {
    if (ext === '.json') return JSON.parse(text) as unknown;
    // failsafe: every scalar stays a string, so "1.10" is never read as the number 1.1.
    if (ext === '.yaml' || ext === '.yml') return YAML.parse(text, { schema: 'failsafe' }) as unknown;
    return sniffJson(text);
  } catch (err) {
    throw new PalisadeError(
      'E_CORRUPT',
      `not valid ${ext === '.json' || ext === '' ? 'JSON' : ext.slice(1).toUpperCase()}: ${(err as Error).message}`,
      {
        subject,
        cause: err,
      },
    );
  }
}

/** Make a document from bytes; throws E_CORRUPT naming `subject` when they cannot be read. */
export function docFromBytes(buf: Buffer, name: string, subject: string): SourceDoc {
  const { text, gz } = decode(buf, subject);
  let ext = extname(name.toLowerCase());
  if (ext === '.gz' || ext === '.tgz') ext = extname(name.toLowerCase().replace(/\.gz$/, ''));
  else if (gz) ext = ext || '';
  return { subject, ext, text, data: parse(text, ext, subject) };
}

function* zipDocs(buf: Buffer, subject: string, ctx: LoadContext): Generator<SourceDoc> {
  const entries = readZip(buf, { subject });
  const files = entries.filter((e) => !e.isDirectory && /\.(json|ya?ml)$/i.test(e.name));
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of files) {
    const sub = `${subject}!${e.name}`;
    try {
      yield docFromBytes(e.read(), e.name, sub);
    } catch (err) {
      ctx.skipFile(sub, err instanceof Error ? err.message : String(err));
    }
  }
}

function* fileDocs(path: string, explicit: boolean, ctx: LoadContext): Generator<SourceDoc> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new PalisadeError('E_INPUT', `cannot read: ${(err as Error).message}`, { subject: path, cause: err });
  }
  if (/\.zip$/i.test(path)) {
    try {
      yield* zipDocs(buf, path, ctx);
    } catch (err) {
      if (explicit || !(err instanceof PalisadeError)) throw err;
      ctx.skipFile(path, err.message);
    }
    return;
  }
  try {
    yield docFromBytes(buf, basename(path), path);
  } catch (err) {
    if (explicit || !(err instanceof PalisadeError)) throw err;
    ctx.skipFile(path, err.message);
  }
}

function* walk(dir: string, depth: number, ctx: LoadContext): Generator<SourceDoc> {
  if (depth > MAX_DEPTH) {
    ctx.skipFile(dir, `folder nesting deeper than ${MAX_DEPTH}`);
    return;
  }
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort();
  for (const n of names) {
    const p = join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) yield* walk(p, depth + 1, ctx);
    else if (st.isFile() && !IGNORED.test(n)) yield* fileDocs(p, false, ctx);
  }
}

/** Every document under `path` (a file, an archive or a folder). */
export function* docsOf(path: string, ctx: LoadContext): Generator<SourceDoc> {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new PalisadeError('E_NOT_FOUND', 'no such file or folder', { subject: path });
  }
  if (st.isDirectory()) yield* walk(path, 0, ctx);
  else yield* fileDocs(path, true, ctx);
}
