/**
 * The server's secret key: 32 bytes that encrypt registry credentials at rest.
 * Taken from PALISADE_SECRET_KEY (base64 or hex) when set, so several replicas sharing one
 * PostgreSQL use the same key; otherwise from `<data-dir>/secret.key`, generated on first start.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';

export const SECRET_KEY_BYTES = 32;
export const SECRET_KEY_ENV = 'PALISADE_SECRET_KEY';
export const SECRET_KEY_FILE = 'secret.key';

export interface SecretKeySource {
  /** Environment to read PALISADE_SECRET_KEY from (defaults to process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where `secret.key` lives or is created when the environment has no key. */
  dataDir?: string;
}

/** Decode a key written as 64 hex digits or as base64 (standard or url-safe) of 32 bytes. */
export function parseSecretKey(text: string, subject = SECRET_KEY_ENV): Buffer {
  const s = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(s)
    ? Buffer.from(s, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(s)
      ? Buffer.from(s, 'base64')
      : Buffer.alloc(0);
  if (key.length !== SECRET_KEY_BYTES) {
    throw new PalisadeError(
      'E_CONFIG',
      `secret key must be ${SECRET_KEY_BYTES} bytes, written as 64 hex digits or base64`,
      {
        subject,
      },
    );
  }
  return key;
}

/** The key from the environment, else from the key file (created when missing). */
export function loadSecretKey(source: SecretKeySource): Buffer {
  const fromEnv = (source.env ?? process.env)[SECRET_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseSecretKey(fromEnv);
  if (source.dataDir === undefined) {
    throw new PalisadeError(
      'E_CONFIG',
      `set ${SECRET_KEY_ENV} (32 bytes, base64 or hex): no data dir to keep a key file in`,
      {
        subject: SECRET_KEY_ENV,
      },
    );
  }
  return readOrCreateKeyFile(join(source.dataDir, SECRET_KEY_FILE));
}

/**
 * Read the key file, or create it. Creation writes a private temp file and hard-links it into
 * place: link() never replaces an existing file, so two processes starting together agree on
 * one key, and no reader ever sees a half-written file.
 */
export function readOrCreateKeyFile(path: string): Buffer {
  const existing = tryRead(path);
  if (existing !== undefined) return parseSecretKey(existing, path);
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, randomBytes(SECRET_KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if (!isErrno(err, 'EEXIST'))
      throw new PalisadeError('E_CONFIG', 'cannot create the secret key file', { subject: path, cause: err });
  } finally {
    unlinkSync(tmp);
  }
  return parseSecretKey(readFileSync(path, 'utf8'), path);
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw new PalisadeError('E_CONFIG', 'cannot read the secret key file', { subject: path, cause: err });
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
