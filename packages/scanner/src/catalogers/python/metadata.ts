/**
 * Installed Python distributions: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info/PKG-INFO`
 * or a single-file `*.egg-info` (setuptools, distro packages). Both are RFC 822 style headers
 * ("Core metadata"), followed by a free-form description body that is not needed.
 */
import type { Package } from '@palisade/core';
import { textOf, uniqueStrings } from '../lang-common/common.js';
import type { CatalogContext, CatalogFile } from '../types.js';
import { isPyName, pyPackage } from './common.js';

/** True for the metadata file of an installed distribution. */
export function isInstalledMetadata(path: string): boolean {
  if (path.endsWith('.dist-info/METADATA')) return true;
  if (path.endsWith('.egg-info/PKG-INFO')) return true;
  return path.endsWith('.egg-info');
}

/** Keep only the header block: the description body can be hundreds of kilobytes. */
export function reduceMetadata(data: Buffer): Buffer {
  const text = data.toString('utf8');
  const m = /\r?\n\r?\n/.exec(text);
  return m ? Buffer.from(text.slice(0, m.index + 1)) : data;
}

/** Header fields, repeated ones in order; continuation lines (leading whitespace) are joined. */
export function parseHeaders(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let lastKey: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && lastKey !== undefined) {
      const vals = out.get(lastKey);
      if (vals && vals.length > 0) vals[vals.length - 1] += '\n' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lastKey = line.slice(0, colon).trim().toLowerCase();
    const vals = out.get(lastKey) ?? [];
    vals.push(line.slice(colon + 1).trim());
    out.set(lastKey, vals);
  }
  return out;
}

/**
 * Licenses, best source first: License-Expression (SPDX, core metadata 2.4); a short one-line
 * License field (older packages often paste the whole license text there, which is no name);
 * the "License ::" trove classifiers.
 */
function licensesOf(h: Map<string, string[]>): string[] {
  const expr = h.get('license-expression')?.[0];
  if (expr) return [expr];
  const lic = h.get('license')?.[0];
  if (lic && !lic.includes('\n') && lic.length <= 80 && !/^unknown$/i.test(lic)) return [lic];
  const fromClassifiers = (h.get('classifier') ?? [])
    .filter((c) => c.startsWith('License ::'))
    .map((c) => c.split('::').pop()?.trim() ?? '')
    .filter((c) => c !== '' && c !== 'OSI Approved');
  return uniqueStrings(fromClassifiers);
}

export function catalogMetadata(file: CatalogFile, ctx: CatalogContext): Package[] {
  const h = parseHeaders(textOf(file.data));
  const name = h.get('name')?.[0];
  const version = h.get('version')?.[0];
  if (!name || !version) {
    ctx.warn(`${file.path}: Python package metadata without ${name ? 'Version' : 'Name'}`);
    return [];
  }
  if (!isPyName(name)) {
    ctx.warn(`${file.path}: invalid Python package name "${name}"`);
    return [];
  }
  return [pyPackage({ name, version, file, licenses: licensesOf(h) })];
}
