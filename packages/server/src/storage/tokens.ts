/** API tokens: only sha256 hashes are stored; the plaintext leaves `create` once. */
import { randomUUID } from 'node:crypto';
import { PalisadeError } from '@palisade/core';
import { generateToken, hashToken, looksLikeToken, tokenDisplayPrefix, tokenMatches } from '../secrets/tokens.js';
import { nowIso, type RepoContext } from './context.js';
import { first, optStr, str, type Row } from './sql.js';
import { ROLES, type ApiToken, type CreatedToken, type Role, type TokenRepository } from './types.js';

// Writing last_used_at on every request would make each API call a write; a minute is precise enough.
const LAST_USED_GRANULARITY_MS = 60_000;

export function createTokenRepository(ctx: RepoContext): TokenRepository {
  const { ex } = ctx;
  return {
    async create(input) {
      if (!(ROLES as readonly string[]).includes(input.role)) {
        throw new PalisadeError('E_INPUT', `role must be one of ${ROLES.join(', ')}`, { subject: input.role });
      }
      const token = generateToken();
      const row = await first(
        ex,
        `INSERT INTO api_tokens (id, name, role, token_hash, display_prefix, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [
          randomUUID(),
          input.name,
          input.role,
          hashToken(token),
          tokenDisplayPrefix(token),
          nowIso(ctx),
          input.expiresAt ?? null,
        ],
      );
      return { token, record: toToken(required(row)) } satisfies CreatedToken;
    },

    async verify(plaintext) {
      if (!looksLikeToken(plaintext)) return null;
      // Looked up by hash: the index lookup reveals nothing usable about the token itself.
      const row = await first(ex, 'SELECT * FROM api_tokens WHERE token_hash = $1', [hashToken(plaintext)]);
      if (!row || !tokenMatches(plaintext, str(row, 'token_hash'))) return null;
      const rec = toToken(row);
      const now = ctx.clock.now();
      if (rec.revokedAt !== null) return null;
      if (rec.expiresAt !== null && Date.parse(rec.expiresAt) <= now.getTime()) return null;
      if (rec.lastUsedAt === null || now.getTime() - Date.parse(rec.lastUsedAt) >= LAST_USED_GRANULARITY_MS) {
        rec.lastUsedAt = now.toISOString();
        await ex.run('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [rec.lastUsedAt, rec.id]);
      }
      return rec;
    },

    async get(id) {
      const row = await first(ex, 'SELECT * FROM api_tokens WHERE id = $1', [id]);
      return row ? toToken(row) : null;
    },

    async list() {
      return (await ex.all('SELECT * FROM api_tokens ORDER BY created_at, id')).map(toToken);
    },

    async revoke(id) {
      const n = await ex.run('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [
        nowIso(ctx),
        id,
      ]);
      return n > 0;
    },
  };
}

function toToken(row: Row): ApiToken {
  return {
    id: str(row, 'id'),
    name: str(row, 'name'),
    role: str(row, 'role') as Role,
    displayPrefix: str(row, 'display_prefix'),
    createdAt: str(row, 'created_at'),
    expiresAt: optStr(row, 'expires_at'),
    lastUsedAt: optStr(row, 'last_used_at'),
    revokedAt: optStr(row, 'revoked_at'),
  };
}

export function required(row: Row | undefined): Row {
  if (!row) throw new PalisadeError('E_INTERNAL', 'a write returned no row', { subject: 'storage' });
  return row;
}
