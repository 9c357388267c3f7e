/**
 * Authenticated encryption of small secrets (registry credentials) with AES-256-GCM.
 * Sealed form: `v1.<base64url(iv | ciphertext | tag)>`. The caller passes a context string
 * (e.g. the registry id) bound in as additional data, so a ciphertext copied onto another
 * row does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PalisadeError } from '@palisade/core';
import { SECRET_KEY_BYTES } from './keys.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  seal(plaintext: string, context: string): string;
  /** Throws E_CORRUPT when the value was tampered with, bound to another context, or sealed with another key. */
  open(sealed: string, context: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== SECRET_KEY_BYTES)
    throw new PalisadeError('E_CONFIG', `secret key must be ${SECRET_KEY_BYTES} bytes`);
  // Own copy: the caller's buffer may be reused or zeroed.
  const k = Buffer.from(key);
  return {
    seal: (plaintext, context) => seal(k, plaintext, context),
    open: (sealed, context) => open(k, sealed, context),
  };
}

function seal(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
}

function open(key: Buffer, sealed: string, context: string): string {
  const dot = sealed.indexOf('.');
  if (dot < 0 || sealed.slice(0, dot) !== VERSION) {
    throw new PalisadeError('E_CORRUPT', 'encrypted secret has an unknown format', { subject: context });
  }
  const raw = Buffer.from(sealed.slice(dot + 1), 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES)
    throw new PalisadeError('E_CORRUPT', 'encrypted secret is truncated', { subject: context });
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch (err) {
    throw new PalisadeError(
      'E_CORRUPT',
      'encrypted secret failed authentication: tampered with, or sealed with another PALISADE_SECRET_KEY',
      { subject: context, cause: err },
    );
  }
}
