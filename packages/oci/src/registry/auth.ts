/**
 * Registry authentication: Basic, and the Docker token flow (a 401 with
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → GET the realm for a token, with Basic
 * credentials when known, or POST a refresh token → retry with `Authorization: Bearer`).
 * Tokens are cached per scope until shortly before they expire.
 */
import { PalisadeError } from '@palisade/core';
import type { ResolvedCredentials } from './credentials.js';
import { readBody, readErrorBody, type Transport } from './transport.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `Scheme k=v, k="v"` (the first challenge; registries send one). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9._-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
  const rest = m[2] ?? '';
  let pm: RegExpExecArray | null;
  while ((pm = re.exec(rest)) !== null && pm[0] !== '') {
    const key = (pm[1] ?? '').toLowerCase();
    params[key] = pm[2] !== undefined ? pm[2].replace(/\\(.)/g, '$1') : (pm[3] ?? '');
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_LIFETIME_S = 60;
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
const TOKEN_RESPONSE_LIMIT = 1024 * 1024;

export interface AuthenticatorOptions {
  /** Registry host (for messages). */
  host: string;
  transport: Transport;
  /** Called at most once, when a registry first asks for credentials. */
  credentials: () => Promise<ResolvedCredentials | undefined>;
  clientId?: string;
}

export class Authenticator {
  private scheme: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private bearer: { realm: string; service?: string } | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();
  private creds: Promise<ResolvedCredentials | undefined> | undefined;

  constructor(private readonly options: AuthenticatorOptions) {}

  private getCredentials(): Promise<ResolvedCredentials | undefined> {
    this.creds ??= this.options.credentials();
    return this.creds;
  }

  /** Whether credentials were configured (for the wording of a refusal). */
  async hasCredentials(): Promise<boolean> {
    return (await this.getCredentials()) !== undefined;
  }

  /** The Authorization header to send up front for `scope`, when one is known. */
  async headerFor(scope: string): Promise<string | undefined> {
    if (this.scheme === 'basic') return basicHeader(await this.getCredentials());
    if (this.scheme !== 'bearer') return undefined;
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return cached.header;
    return this.fetchToken(scope, undefined, undefined);
  }

  /** Answer a 401 challenge for `scope`: returns the header to retry with. */
  async respond(
    challengeHeader: string | undefined,
    scope: string,
    subject: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const ch = parseChallenge(challengeHeader);
    const host = this.options.host;
    if (!ch || (ch.scheme !== 'basic' && ch.scheme !== 'bearer')) {
      throw new PalisadeError('E_AUTH', `registry ${host} requires an unsupported authentication scheme`, { subject });
    }
    if (ch.scheme === 'basic') {
      const header = basicHeader(await this.getCredentials());
      if (!header)
        throw new PalisadeError('E_AUTH', `authentication required by registry ${host} (no credentials configured)`, {
          subject,
        });
      this.scheme = 'basic';
      return header;
    }
    const realm = ch.params['realm'];
    if (!realm)
      throw new PalisadeError('E_REGISTRY', `registry ${host} sent a Bearer challenge without a realm`, { subject });
    this.scheme = 'bearer';
    this.bearer = { realm, ...(ch.params['service'] ? { service: ch.params['service'] } : {}) };
    this.tokens.delete(scope);
    return this.fetchToken(scope, subject, signal, ch.params['scope']);
  }

  /** One token request per scope at a time; concurrent callers share it. */
  private fetchToken(
    scope: string,
    subject: string | undefined,
    signal?: AbortSignal,
    challengeScope?: string,
  ): Promise<string> {
    const running = this.pending.get(scope);
    if (running) return running;
    const p = this.requestToken(scope, subject ?? this.options.host, signal, challengeScope).finally(() =>
      this.pending.delete(scope),
    );
    this.pending.set(scope, p);
    return p;
  }

  private async requestToken(
    scope: string,
    subject: string,
    signal?: AbortSignal,
    challengeScope?: string,
  ): Promise<string> {
    const creds = await this.getCredentials();
    // A token given directly is used as is: the user already did the exchange.
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const bearer = this.bearer;
    if (!bearer) throw new PalisadeError('E_INTERNAL', 'token requested before a Bearer challenge', { subject });
    let realm: URL;
    try {
      realm = new URL(bearer.realm);
    } catch {
      throw new PalisadeError('E_REGISTRY', `registry ${this.options.host} sent an invalid token realm`, { subject });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new PalisadeError('E_REGISTRY', `registry ${this.options.host} sent a token realm that is not http(s)`, {
        subject,
      });
    }
    const scopes = uniqueScopes(scope, challengeScope);
    const res = creds?.identityToken
      ? await this.postRefreshToken(realm, bearer.service, scopes, creds.identityToken, subject, signal)
      : await this.getToken(realm, bearer.service, scopes, creds, subject, signal);
    const header = `Bearer ${res.token}`;
    this.tokens.set(scope, { header, expiresAt: Date.now() + res.lifetimeS * 1000 - TOKEN_EXPIRY_MARGIN_MS });
    return header;
  }

  private async getToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    creds: ResolvedCredentials | undefined,
    subject: string,
    signal?: AbortSignal,
  ): Promise<{ token: string; lifetimeS: number }> {
    const url = new URL(realm.href);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (creds?.username) url.searchParams.set('account', creds.username);
    const auth = basicHeader(creds);
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    return this.tokenExchange({ method: 'GET', url, headers }, creds !== undefined, subject, signal);
  }

  private async postRefreshToken(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    refreshToken: string,
    subject: string,
    signal?: AbortSignal,
  ): Promise<{ token: string; lifetimeS: number }> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: this.options.clientId ?? 'palisade',
    });
    if (service) form.set('service', service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    return this.tokenExchange(
      { method: 'POST', url: realm, headers, body: Buffer.from(form.toString()) },
      true,
      subject,
      signal,
    );
  }

  private async tokenExchange(
    req: { method: 'GET' | 'POST'; url: URL; headers: Record<string, string>; body?: Buffer },
    hadCredentials: boolean,
    subject: string,
    signal?: AbortSignal,
  ): Promise<{ token: string; lifetimeS: number }> {
    const host = this.options.host;
    const res = await this.options.transport.request({
      ...req,
      ...(signal ? { signal } : {}),
      what: 'an auth token',
      subject,
    });
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      const msg = hadCredentials
        ? `authentication failed: registry ${host} rejected the credentials`
        : `authentication required by registry ${host} (no credentials configured)`;
      throw new PalisadeError('E_AUTH', msg, { subject });
    }
    if (res.status !== 200) {
      const text = await readErrorBody(res.body);
      throw new PalisadeError(
        'E_REGISTRY',
        `token server of registry ${host} answered HTTP ${res.status}${briefText(text)}`,
        { subject },
      );
    }
    const body = await readBody(res.body, TOKEN_RESPONSE_LIMIT, subject, 'token response');
    return parseTokenResponse(body, host, subject);
  }
}

function parseTokenResponse(body: Buffer, host: string, subject: string): { token: string; lifetimeS: number } {
  let json: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json;
  } catch {
    throw new PalisadeError('E_REGISTRY', `token server of registry ${host} sent invalid JSON`, { subject });
  }
  const token = typeof json.token === 'string' && json.token ? json.token : json.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new PalisadeError('E_REGISTRY', `token server of registry ${host} sent no token`, { subject });
  }
  const lifetimeS =
    typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  return { token, lifetimeS };
}

function uniqueScopes(scope: string, challengeScope: string | undefined): string[] {
  const all = [scope, ...(challengeScope ? challengeScope.split(' ') : [])].filter((s) => s !== '');
  return [...new Set(all)];
}

function basicHeader(creds: ResolvedCredentials | undefined): string | undefined {
  if (creds?.username === undefined || creds.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** A short, single-line excerpt of a non-JSON error body. */
export function briefText(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return line ? `: ${line}` : '';
}
