/**
 * Bearer tokens (API tokens, registry webhook tokens): 32 random bytes with a recognizable
 * prefix, so a leaked token is easy to spot in logs and by secret scanners. Only the sha256 of
 * a token is stored; a token with 256 bits of entropy needs no slow hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'pal_';
const TOKEN_BYTES = 32;

/** A fresh token: `pal_` + base64url of 32 random bytes (`kind` adds e.g. `pal_wh_` for webhooks). */
export function generateToken(kind = ''): string {
  return `${TOKEN_PREFIX}${kind ? `${kind}_` : ''}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** The stored form of a token: lowercase hex sha256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compare a presented token with a stored hash in time independent of where they differ. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The part of a token safe to show in lists (`pal_AbCd…`): enough to recognize it, useless to use it. */
export function tokenDisplayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}

export function looksLikeToken(s: string): boolean {
  return s.startsWith(TOKEN_PREFIX) && s.length >= TOKEN_PREFIX.length + 43 && s.length <= 128;
}
