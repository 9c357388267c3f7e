/**
 * Installed npm packages: `node_modules/<name>/package.json` and
 * `node_modules/@scope/<name>/package.json`, at any nesting depth
 * (`node_modules/a/node_modules/b`), including pnpm's `node_modules/.pnpm/<id>/node_modules/<name>`
 * and global installs (`usr/lib/node_modules`, `usr/local/lib/node_modules`).
 */
import type { Package } from '@palisade/core';
import { errorMessage, isRecord, licensesFromJson, str, textOf } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isNpmName, npmPackage } from './common.js';

const PACKAGE_JSON = '/package.json';

/**
 * True when `path` is the manifest of a package directory inside node_modules: after the first
 * `node_modules` segment the path must alternate package dirs and `node_modules`, so
 * `node_modules/x/lib/package.json` or `node_modules/x/test/fixtures/y/package.json` do not match.
 */
export function isInstalledManifest(path: string): boolean {
  if (!path.endsWith(PACKAGE_JSON)) return false;
  const first = path.startsWith('node_modules/') ? 0 : path.indexOf('/node_modules/');
  if (first < 0) return false;
  const segs = path.slice(first === 0 ? 0 : first + 1, path.length - PACKAGE_JSON.length).split('/');
  let i = 0;
  while (i < segs.length) {
    if (segs[i] !== 'node_modules') return false;
    i++;
    if (segs[i] === '.pnpm') {
      // pnpm's virtual store: node_modules/.pnpm/<name@version>/node_modules/<name>
      i += 2;
      continue;
    }
    const seg = segs[i];
    if (seg === undefined || seg === '' || seg.startsWith('.')) return false;
    i += seg.startsWith('@') ? 2 : 1;
    if (i > segs.length) return false;
  }
  // Must end on a package directory, not on a bare node_modules/.pnpm directory.
  const last = segs[segs.length - 1];
  return last !== undefined && last !== 'node_modules' && !last.startsWith('.') && segs[segs.length - 2] !== '.pnpm';
}

// Marks the reduced form, so a raw package.json is never mistaken for one.
const REDUCED = 'palisade:npm-manifest';

/** The small form kept from a package.json: only what cataloging needs. */
interface Reduced {
  [REDUCED]?: 1;
  name?: string;
  version?: string;
  licenses?: string[];
  private?: boolean;
  error?: string;
}

/** Reduce a package.json (often 10–100 kB with a readme) to name, version and licenses. */
export function reduceManifest(data: Buffer): Buffer {
  let out: Reduced;
  try {
    const j: unknown = JSON.parse(textOf(data));
    if (!isRecord(j)) out = { [REDUCED]: 1, error: 'not a JSON object' };
    else if (j[REDUCED] === 1) return data;
    else {
      out = { [REDUCED]: 1 };
      const name = str(j['name']);
      const version = str(j['version']);
      if (name) out.name = name;
      if (version) out.version = version;
      // `license` is a string (SPDX) or a legacy {type}; `licenses` is the legacy array.
      const licenses = [...licensesFromJson(j['license']), ...licensesFromJson(j['licenses'])];
      if (licenses.length > 0) out.licenses = licenses;
      if (j['private'] === true) out.private = true;
    }
  } catch (err) {
    out = { [REDUCED]: 1, error: data.length === 0 ? 'empty file' : `invalid JSON: ${errorMessage(err)}` };
  }
  return Buffer.from(JSON.stringify(out));
}

function readReduced(file: CatalogFile): Reduced {
  // The kept data is normally already reduced by extract(); reducing again is idempotent, and
  // covers trees built without extract (unit tests, directory scans).
  const j = JSON.parse(reduceManifest(file.data).toString('utf8')) as unknown;
  if (!isRecord(j)) return { error: 'not a JSON object' };
  if (typeof j['error'] === 'string') return { error: j['error'] };
  const r: Reduced = {};
  if (typeof j['name'] === 'string') r.name = j['name'];
  if (typeof j['version'] === 'string') r.version = j['version'];
  if (Array.isArray(j['licenses'])) r.licenses = j['licenses'].filter((x): x is string => typeof x === 'string');
  return r;
}

export function catalogInstalled(file: CatalogFile, ctx: CatalogContext): Package[] {
  const r = readReduced(file);
  if (r.error !== undefined) {
    ctx.warn(`${file.path}: cannot read package.json: ${r.error}`);
    return [];
  }
  // A package.json without name or version is not a published package (e.g. a build helper).
  if (!r.name || !r.version || !isNpmName(r.name)) return [];
  return [npmPackage({ name: r.name, version: r.version, file, licenses: r.licenses })];
}
