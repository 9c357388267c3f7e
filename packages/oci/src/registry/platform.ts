/**
 * Picking a platform from an image index the way containerd does: names are normalized
 * (x86_64 → amd64, aarch64 → arm64), arm64 without a variant means v8, arm without a variant
 * means v7, and an arm request accepts older arm variants when the exact one is absent.
 */
import type { Platform } from '../types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
};

/** Normalized form: lowercase, aliases resolved, default variants made explicit. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const raw = p.architecture.toLowerCase();
  const alias = ARCH_ALIASES[raw];
  const architecture = alias?.architecture ?? raw;
  let variant = (p.variant ?? alias?.variant ?? '').toLowerCase();
  if (architecture === 'arm64' && (variant === '' || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  if (architecture === 'arm' && /^[5-8]$/.test(variant)) variant = `v${variant}`;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `os/arch[/variant]` as written in flags and messages. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** Parse `os/arch[/variant]`; undefined when malformed. */
export function parsePlatform(text: string): Platform | undefined {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '')) return undefined;
  const [os = '', architecture = '', variant] = parts;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * How well `candidate` serves `wanted`: 0 is an exact match, higher is a compatible older arm
 * variant, undefined is no match.
 */
function matchRank(wanted: Platform, candidate: Platform): number | undefined {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return undefined;
  if (w.variant === c.variant) return 0;
  if (w.architecture === 'arm' && w.variant && c.variant) {
    const wv = Number(w.variant.slice(1));
    const cv = Number(c.variant.slice(1));
    if (Number.isInteger(wv) && Number.isInteger(cv) && cv < wv) return wv - cv;
  }
  return undefined;
}

/** Index of the best entry for `wanted`, or -1. Entries without a platform never match. */
export function selectPlatform(wanted: Platform, candidates: ReadonlyArray<Platform | undefined>): number {
  let best = -1;
  let bestRank = Infinity;
  candidates.forEach((c, i) => {
    if (!c) return;
    const rank = matchRank(wanted, c);
    if (rank !== undefined && rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  });
  return best;
}
