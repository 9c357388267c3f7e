/**
 * Registries. Credentials are sealed with the server key, bound to the registry id, and never
 * part of a Registry record; webhook tokens are stored as hashes.
 */
import { randomUUID } from 'node:crypto';
import { PalisadeError } from '@palisade/core';
import { generateToken, hashToken, tokenMatches } from '../secrets/tokens.js';
import { nowIso, type RepoContext } from './context.js';
import { bool, first, isUniqueViolation, optStr, str, type Row, type SqlValue } from './sql.js';
import { required } from './tokens.js';
import type { Registry, RegistryCredentials, RegistryInput, RegistryRepository } from './types.js';

export function createRegistryRepository(ctx: RepoContext): RegistryRepository {
  const { ex } = ctx;
  const seal = (id: string, c: RegistryCredentials | null | undefined): string | null =>
    c ? ctx.box.seal(JSON.stringify({ username: c.username, password: c.password }), context(id)) : null;

  return {
    async create(input) {
      validate(input);
      const id = randomUUID();
      const now = nowIso(ctx);
      const row = await uniqueName(input.name, () =>
        first(
          ex,
          `INSERT INTO registries (id, name, url, insecure, read_only, publish_results, credentials, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
          [
            id,
            input.name,
            input.url,
            !!input.insecure,
            !!input.readOnly,
            !!input.publishResults,
            seal(id, input.credentials),
            now,
          ],
        ),
      );
      return toRegistry(required(row));
    },

    async update(id, patch) {
      const sets: string[] = [];
      const params: SqlValue[] = [id];
      const set = (col: string, v: SqlValue): void => {
        params.push(v);
        sets.push(`${col} = $${params.length}`);
      };
      if (patch.name !== undefined) set('name', patch.name);
      if (patch.url !== undefined) set('url', patch.url);
      if (patch.insecure !== undefined) set('insecure', patch.insecure);
      if (patch.readOnly !== undefined) set('read_only', patch.readOnly);
      if (patch.publishResults !== undefined) set('publish_results', patch.publishResults);
      if (patch.credentials !== undefined) set('credentials', seal(id, patch.credentials));
      set('updated_at', nowIso(ctx));
      if (patch.name !== undefined || patch.url !== undefined)
        validate({ name: patch.name ?? 'x', url: patch.url ?? 'https://x' });
      const row = await uniqueName(patch.name ?? '', () =>
        first(ex, `UPDATE registries SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params),
      );
      return row ? toRegistry(row) : null;
    },

    async get(id) {
      const row = await first(ex, 'SELECT * FROM registries WHERE id = $1', [id]);
      return row ? toRegistry(row) : null;
    },

    async getByName(name) {
      const row = await first(ex, 'SELECT * FROM registries WHERE name = $1', [name]);
      return row ? toRegistry(row) : null;
    },

    async list() {
      return (await ex.all('SELECT * FROM registries ORDER BY name')).map(toRegistry);
    },

    async delete(id) {
      return (await ex.run('DELETE FROM registries WHERE id = $1', [id])) > 0;
    },

    async credentials(id) {
      const row = await first(ex, 'SELECT credentials FROM registries WHERE id = $1', [id]);
      const sealed = row ? optStr(row, 'credentials') : null;
      if (sealed === null) return null;
      return parseCredentials(ctx.box.open(sealed, context(id)), id);
    },

    async rotateWebhookToken(id) {
      const token = generateToken('wh');
      const n = await ex.run('UPDATE registries SET webhook_token_hash = $1, updated_at = $2 WHERE id = $3', [
        hashToken(token),
        nowIso(ctx),
        id,
      ]);
      if (n === 0) throw new PalisadeError('E_NOT_FOUND', 'no such registry', { subject: id });
      return token;
    },

    async webhookAuth(id) {
      // One read for both what the webhook route checks (the token hash) and what it uses (the row).
      const row = await first(ex, 'SELECT * FROM registries WHERE id = $1', [id]);
      return row ? { registry: toRegistry(row), tokenHash: optStr(row, 'webhook_token_hash') } : null;
    },

    async verifyWebhookToken(id, token) {
      const row = await first(ex, 'SELECT webhook_token_hash FROM registries WHERE id = $1', [id]);
      const hash = row ? optStr(row, 'webhook_token_hash') : null;
      return hash !== null && tokenMatches(token, hash);
    },
  };
}

/** The additional data sealed with the credentials: they only open for this registry. */
function context(id: string): string {
  return `registry:${id}`;
}

async function uniqueName(name: string, write: () => Promise<Row | undefined>): Promise<Row | undefined> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err))
      throw new PalisadeError('E_INPUT', 'a registry with this name exists', { subject: name, cause: err });
    throw err;
  }
}

function validate(input: Pick<RegistryInput, 'name' | 'url'>): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(input.name)) {
    throw new PalisadeError('E_INPUT', 'registry name must be 1-63 letters, digits, ".", "_" or "-"', {
      subject: input.name,
    });
  }
  if (!/^https?:\/\/[^\s/]+/.test(input.url)) {
    throw new PalisadeError('E_INPUT', 'registry url must start with http:// or https://', { subject: input.url });
  }
}

function parseCredentials(json: string, id: string): RegistryCredentials {
  const v: unknown = JSON.parse(json);
  if (typeof v === 'object' && v !== null) {
    const { username, password } = v as Record<string, unknown>;
    if (typeof username === 'string' && typeof password === 'string') return { username, password };
  }
  throw new PalisadeError('E_CORRUPT', 'stored registry credentials are malformed', { subject: id });
}

function toRegistry(row: Row): Registry {
  return {
    id: str(row, 'id'),
    name: str(row, 'name'),
    url: str(row, 'url'),
    insecure: bool(row, 'insecure'),
    readOnly: bool(row, 'read_only'),
    publishResults: bool(row, 'publish_results'),
    hasCredentials: optStr(row, 'credentials') !== null,
    hasWebhookToken: optStr(row, 'webhook_token_hash') !== null,
    createdAt: str(row, 'created_at'),
    updatedAt: str(row, 'updated_at'),
  };
}
