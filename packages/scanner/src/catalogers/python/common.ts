/** PyPI package helpers: PEP 503 name normalization for purls, and the package constructor. */
import type { Package } from '@palisade/core';
import { makePackage } from '../lang-common/common.js';
import type { CatalogFile } from '../types.js';

export const PYTHON_CATALOGER_ID = 'python';

const SEPARATORS = /[-_.]+/g;

/** PEP 503: lowercase, runs of '-', '_' and '.' become one '-' (what the purl spec asks for pypi). */
export function normalizePyName(name: string): string {
  return name.replace(SEPARATORS, '-').toLowerCase();
}

// PEP 508 distribution names: letters, digits, and . _ - inside.
const VALID_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
export function isPyName(name: string): boolean {
  return VALID_NAME.test(name);
}

export interface PyPackageInput {
  name: string;
  version: string;
  file: CatalogFile;
  licenses?: readonly string[];
  metadata?: Record<string, string | undefined>;
}

export function pyPackage(p: PyPackageInput): Package {
  return makePackage({
    type: 'pypi',
    name: p.name,
    version: p.version,
    purlName: normalizePyName(p.name),
    file: p.file,
    foundBy: PYTHON_CATALOGER_ID,
    licenses: p.licenses,
    metadata: p.metadata,
  });
}
