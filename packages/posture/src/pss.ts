/**
 * Pod Security Standards versions and levels, resolved as pod-security-admission resolves
 * them: a policy version `v1.N` (or `latest`), clamped to the newest version any check
 * defines; restricted is every baseline check, minus those a restricted check overrides,
 * plus the restricted checks.
 */
import { PalisadeError, type PssLevel } from '@palisade/core';
import type { Check } from './check.js';

/** The newest policy minor any control changed in (sysctls, v1.37): what `latest` means. */
export const PSS_LATEST_MINOR = 37;
export const PSS_LEVELS: readonly PssLevel[] = ['baseline', 'restricted'];

/** `v1.N`, `1.N` or `latest` → N. Versions past the newest are clamped to it, as upstream does. */
export function parsePssVersion(raw: string): number {
  const s = raw.trim().toLowerCase();
  if (s === 'latest' || s === '') return PSS_LATEST_MINOR;
  const m = /^v?1\.(\d{1,3})$/.exec(s);
  if (!m)
    throw new PalisadeError('E_INPUT', `invalid Pod Security Standards version "${raw}" (expected v1.N or latest)`, {
      subject: '--pss-version',
    });
  return Math.min(Number(m[1]), PSS_LATEST_MINOR);
}

export function formatPssVersion(minor: number): string {
  return `v1.${minor}`;
}

export function isPssLevel(s: string): s is PssLevel {
  return s === 'baseline' || s === 'restricted';
}

/**
 * The PSS checks in force for a level at a version. Checks not yet defined at the version are
 * left out, and in restricted so are baseline checks a restricted check in force overrides.
 */
export function pssChecksFor(checks: readonly Check[], level: PssLevel, minor: number): Check[] {
  const active = checks.filter(
    (c) => c.pss !== undefined && c.pss.since <= minor && (level === 'restricted' || c.pss.level === 'baseline'),
  );
  const overridden = new Set(active.flatMap((c) => (c.pss?.level === 'restricted' ? (c.pss.overrides ?? []) : [])));
  return active.filter((c) => !(c.pss?.level === 'baseline' && overridden.has(c.pss.control)));
}
