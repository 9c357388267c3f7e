/**
 * Where registry credentials come from: explicit options (CLI flags / environment, mapped by the
 * CLI), else the docker config (`auths`, `credHelpers`, `credsStore`). Looked up lazily, only
 * when a registry asks for authentication, so public images never run a credential helper.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import type { RegistryCredentials } from '../types.js';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_DOMAIN } from '../ref.js';

export interface ResolvedCredentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker config `identitytoken`), exchanged at the token realm. */
  identityToken?: string;
  /** A bearer token sent as is (`--registry-token`). */
  registryToken?: string;
  /** Where they came from, for messages: "--username/--password", "docker config", "docker-credential-pass". */
  source: string;
}

export interface CredentialLookupOptions {
  credentials?: RegistryCredentials;
  dockerConfigPath?: string;
  /** Bound for a credential helper run, ms (default 10 s). */
  helperTimeoutMs?: number;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', DOCKER_HUB_DOMAIN, DOCKER_HUB_API_HOST];
const HELPER_NAME_RE = /^[A-Za-z0-9_.-]+$/;
const HELPER_OUTPUT_LIMIT = 64 * 1024;

function isDockerHub(host: string): boolean {
  return DOCKER_HUB_KEYS.includes(host);
}

/** `https://host:5000/v1/` → `host:5000`: docker config keys come with and without scheme/path. */
function normalizeKey(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

function dockerConfigPath(explicit?: string): string {
  if (explicit) return explicit;
  const dir = process.env['DOCKER_CONFIG'];
  return dir ? join(dir, 'config.json') : join(homedir(), '.docker', 'config.json');
}

function readDockerConfig(path: string): DockerConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // no docker config: anonymous
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PalisadeError('E_CONFIG', `docker config is not valid JSON: ${why}`, { subject: path, cause: err });
  }
}

/** The entry of a host-keyed map for `host`, matching keys with or without scheme and path. */
function lookupByHost<T>(map: Record<string, T> | undefined, host: string): T | undefined {
  if (!map) return undefined;
  const wanted = isDockerHub(host) ? DOCKER_HUB_KEYS.map(normalizeKey) : [host.toLowerCase()];
  for (const [key, value] of Object.entries(map)) {
    if (wanted.includes(normalizeKey(key))) return value;
  }
  return undefined;
}

function fromAuthEntry(
  entry: NonNullable<DockerConfig['auths']>[string],
  path: string,
): ResolvedCredentials | undefined {
  const source = `docker config ${path}`;
  if (entry.identitytoken)
    return { identityToken: entry.identitytoken, ...(entry.username ? { username: entry.username } : {}), source };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new PalisadeError('E_CONFIG', 'an "auth" entry is not base64 of user:password', { subject: path });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password, source };
  return undefined;
}

/** Run `docker-credential-<name> get` with the server on stdin, bounded in time and output. */
function runHelper(name: string, server: string, timeoutMs: number): Promise<string> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new PalisadeError('E_AUTH', `credential helper ${program} did not answer within ${timeoutMs} ms`, {
          subject: server,
        }),
      );
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= HELPER_OUTPUT_LIMIT) out.push(chunk);
    });
    child.stderr.resume();
    child.stdin.on('error', () => undefined); // a helper that exits early closes stdin: the exit code reports it
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new PalisadeError(
          'E_AUTH',
          `cannot run credential helper ${program}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          { subject: server },
        ),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      // Helpers say "credentials not found" on stdout with a non-zero exit: that means anonymous.
      if (code !== 0 && /credentials not found/i.test(stdout)) return resolve('');
      if (code !== 0)
        return reject(
          new PalisadeError('E_AUTH', `credential helper ${program} failed (exit ${code})`, { subject: server }),
        );
      resolve(stdout);
    });
    child.stdin.end(server);
  });
}

async function fromHelper(name: string, host: string, timeoutMs: number): Promise<ResolvedCredentials | undefined> {
  if (!HELPER_NAME_RE.test(name))
    throw new PalisadeError('E_CONFIG', `invalid credential helper name "${name}"`, { subject: host });
  const server = isDockerHub(host) ? 'https://index.docker.io/v1/' : host;
  const stdout = await runHelper(name, server, timeoutMs);
  if (stdout.trim() === '') return undefined;
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
  } catch {
    throw new PalisadeError('E_AUTH', `credential helper docker-credential-${name} printed invalid JSON`, {
      subject: host,
    });
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
  const source = `docker-credential-${name}`;
  if (secret === '') return undefined;
  // Docker's convention: user "<token>" means the secret is an identity (refresh) token.
  if (username === '<token>') return { identityToken: secret, source };
  return { username, password: secret, source };
}

function fromOptions(c: RegistryCredentials | undefined): ResolvedCredentials | undefined {
  if (!c) return undefined;
  if (c.token)
    return { registryToken: c.token, ...(c.username ? { username: c.username } : {}), source: 'registry token option' };
  if (c.username !== undefined && c.password !== undefined)
    return { username: c.username, password: c.password, source: 'username/password options' };
  return undefined;
}

/** Credentials for `host` (API host, e.g. `127.0.0.1:5000`), or undefined for anonymous. */
export async function lookupCredentials(
  host: string,
  options: CredentialLookupOptions,
): Promise<ResolvedCredentials | undefined> {
  const explicit = fromOptions(options.credentials);
  if (explicit) return explicit;
  const path = dockerConfigPath(options.dockerConfigPath);
  const config = readDockerConfig(path);
  if (!config) return undefined;
  const timeoutMs = options.helperTimeoutMs ?? 10_000;
  const helper = lookupByHost(config.credHelpers, host);
  if (helper) return fromHelper(helper, host, timeoutMs);
  const entry = lookupByHost(config.auths, host);
  const inline = entry ? fromAuthEntry(entry, path) : undefined;
  if (inline) return inline;
  if (config.credsStore) return fromHelper(config.credsStore, host, timeoutMs);
  return undefined;
}
