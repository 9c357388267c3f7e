/**
 * Who is calling: bearer tokens checked against the stored hashes, plus (optionally) the admin
 * token given in PALISADE_ADMIN_TOKEN. The token repository only stores tokens it generated, so
 * an operator-chosen token cannot be put there; instead only its sha256 is kept in memory and
 * compared in constant time. Roles are ordered: admin > operator > reader.
 */
import { timingSafeEqual } from 'node:crypto';
import { hashToken } from '../secrets/index.js';
import type { Role, Storage } from '../storage/index.js';

export interface Principal {
  /** Token id (`env:PALISADE_ADMIN_TOKEN` for the environment's admin token). */
  id: string;
  name: string;
  role: Role;
}

export interface Authenticator {
  /** The principal of a presented bearer token; null when unknown, revoked or expired. */
  authenticate(token: string): Promise<Principal | null>;
}

const RANK: Record<Role, number> = { admin: 3, operator: 2, reader: 1 };

export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

export const ENV_ADMIN_TOKEN_ID = 'env:PALISADE_ADMIN_TOKEN';

export interface AuthenticatorOptions {
  /** sha256 (hex) of PALISADE_ADMIN_TOKEN, when one is configured. */
  envAdminTokenHash?: string;
}

export function createAuthenticator(storage: Storage, opts: AuthenticatorOptions = {}): Authenticator {
  const envHash = opts.envAdminTokenHash === undefined ? undefined : Buffer.from(opts.envAdminTokenHash, 'hex');
  return {
    async authenticate(token) {
      if (envHash !== undefined) {
        const presented = Buffer.from(hashToken(token), 'hex');
        if (presented.length === envHash.length && timingSafeEqual(presented, envHash)) {
          return { id: ENV_ADMIN_TOKEN_ID, name: 'PALISADE_ADMIN_TOKEN', role: 'admin' };
        }
      }
      const rec = await storage.tokens.verify(token);
      return rec ? { id: rec.id, name: rec.name, role: rec.role } : null;
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
