/**
 * Authentication against real registries: htpasswd Basic auth and Docker token auth (the
 * registry trusts the testkit token server's x5c chain). Credentials come from options, the
 * docker config (auths, identitytoken, credHelpers, credsStore) or a token given directly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pushLayout, startRegistry, tempDir, type TestRegistry } from '@palisade/testkit';
import type { SourceOptions } from '../../src/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { RegistrySource } from '../../src/sources/registry.js';
import { layout, osRelease, rejectsWith } from './util.js';

let basic: TestRegistry;
let token: TestRegistry;
let digest: string;
const tmp = tempDir('palisade-auth-');

before(async () => {
  [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
  const img = layout('v1', [{ layers: [osRelease('alpine')] }]);
  digest = img.digest;
  await pushLayout(img.dir, 'v1', basic, 'team/app:v1');
  await pushLayout(img.dir, 'v1', token, 'team/app:v1');
  img.cleanup();
});

after(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
  tmp.cleanup();
});

async function resolveDigest(ref: string, options: SourceOptions): Promise<string | undefined> {
  const src = new RegistrySource(ref, { insecure: true, ...options });
  try {
    return (await src.resolve()).digest;
  } finally {
    await src.close();
  }
}

let configCount = 0;
/** A docker config.json in its own directory; returns its path. */
function dockerConfig(content: unknown): string {
  const dir = join(tmp.path, `docker-${configCount++}`);
  mkdirSync(dir);
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const noConfig = (): string => join(tmp.path, 'absent', 'config.json');

void test('basic auth: explicit credentials', async () => {
  const creds = { username: basic.username!, password: basic.password! };
  assert.equal(await resolveDigest(`${basic.host}/team/app:v1`, { credentials: creds }), digest);
});

void test('basic auth: docker config auths (keyed with or without scheme), and $DOCKER_CONFIG', async () => {
  const auth = b64(`${basic.username}:${basic.password}`);
  const plain = dockerConfig({ auths: { [basic.host]: { auth } } });
  assert.equal(await resolveDigest(`${basic.host}/team/app:v1`, { dockerConfigPath: plain }), digest);
  const withScheme = dockerConfig({ auths: { [`https://${basic.host}/v1/`]: { auth } } });
  const saved = process.env['DOCKER_CONFIG'];
  process.env['DOCKER_CONFIG'] = join(withScheme, '..');
  try {
    assert.equal(await resolveDigest(`${basic.host}/team/app:v1`, {}), digest);
  } finally {
    if (saved === undefined) delete process.env['DOCKER_CONFIG'];
    else process.env['DOCKER_CONFIG'] = saved;
  }
});

void test('basic auth: a credential helper from credHelpers is run with the host on stdin', async () => {
  const bin = join(tmp.path, 'bin');
  mkdirSync(bin, { recursive: true });
  const helper = join(bin, 'docker-credential-palisadetest');
  writeFileSync(
    helper,
    [
      '#!/bin/sh',
      'read -r server',
      `if [ "$1" = get ] && [ "$server" = "${basic.host}" ]; then`,
      `  printf '{"ServerURL":"%s","Username":"${basic.username}","Secret":"${basic.password}"}' "$server"; exit 0`,
      'fi',
      'echo "credentials not found in native keychain"; exit 1',
      '',
    ].join('\n'),
  );
  chmodSync(helper, 0o755);
  const savedPath = process.env['PATH'];
  process.env['PATH'] = `${bin}:${savedPath ?? ''}`;
  try {
    const viaHelper = dockerConfig({ credHelpers: { [basic.host]: 'palisadetest' } });
    assert.equal(await resolveDigest(`${basic.host}/team/app:v1`, { dockerConfigPath: viaHelper }), digest);
    const viaStore = dockerConfig({ credsStore: 'palisadetest' });
    assert.equal(await resolveDigest(`${basic.host}/team/app:v1`, { dockerConfigPath: viaStore }), digest);
    // A configured helper that is not installed is an auth error naming it, not a crash.
    const other = dockerConfig({ credHelpers: { [basic.host]: 'missinghelper' } });
    await rejectsWith(
      resolveDigest(`${basic.host}/team/app:v1`, { dockerConfigPath: other }),
      'E_AUTH',
      'docker-credential-missinghelper',
    );
  } finally {
    process.env['PATH'] = savedPath;
  }
});

void test('basic auth: a wrong password is E_AUTH and never echoed; no credentials is "authentication required"', async () => {
  const secret = 'wrong-Secret-123';
  const err = await rejectsWith(
    resolveDigest(`${basic.host}/team/app:v1`, { credentials: { username: basic.username!, password: secret } }),
    'E_AUTH',
    `${basic.host}/team/app:v1`,
    'rejected the credentials',
  );
  assert.ok(!err.describe().includes(secret));
  assert.ok(!err.describe().includes(b64(`${basic.username}:${secret}`)));
  await rejectsWith(
    resolveDigest(`${basic.host}/team/app:v1`, { dockerConfigPath: noConfig() }),
    'E_AUTH',
    'authentication required',
  );
});

void test('token auth: the token flow with explicit credentials; tokens are cached per scope', async () => {
  const src = new RegistrySource(`${token.host}/team/app:v1`, {
    insecure: true,
    credentials: { username: token.username!, password: token.password! },
  });
  try {
    const before = token.tokenRequests();
    assert.equal((await src.resolve()).digest, digest);
    const afterFirst = token.tokenRequests();
    assert.equal(afterFirst - before, 1, 'one token for repository:team/app:pull');
    assert.equal((await src.resolve()).digest, digest);
    assert.equal(token.tokenRequests(), afterFirst, 'the cached token is reused');
  } finally {
    await src.close();
  }
});

void test('token auth: wrong password and no credentials are E_AUTH', async () => {
  const secret = 'nope-Secret-456';
  const err = await rejectsWith(
    resolveDigest(`${token.host}/team/app:v1`, { credentials: { username: token.username!, password: secret } }),
    'E_AUTH',
    'rejected the credentials',
  );
  assert.ok(!err.describe().includes(secret));
  await rejectsWith(
    resolveDigest(`${token.host}/team/app:v1`, { dockerConfigPath: noConfig() }),
    'E_AUTH',
    'authentication required',
    token.host,
  );
});

void test('token auth: a docker config identitytoken is exchanged as an OAuth2 refresh token', async () => {
  const cfg = dockerConfig({ auths: { [token.host]: { identitytoken: token.refreshToken } } });
  assert.equal(await resolveDigest(`${token.host}/team/app:v1`, { dockerConfigPath: cfg }), digest);
  const bad = dockerConfig({ auths: { [token.host]: { identitytoken: 'refresh-bogus' } } });
  await rejectsWith(resolveDigest(`${token.host}/team/app:v1`, { dockerConfigPath: bad }), 'E_AUTH');
});

void test('token auth: a registry token given directly is sent as the bearer token', async () => {
  const url = new URL(token.tokenRealm!);
  url.searchParams.set('service', 'palisade-test-registry');
  url.searchParams.set('scope', 'repository:team/app:pull');
  const res = await fetch(url, { headers: { authorization: `Basic ${b64(`${token.username}:${token.password}`)}` } });
  const { token: jwt } = (await res.json()) as { token: string };
  assert.equal(await resolveDigest(`${token.host}/team/app:v1`, { credentials: { token: jwt } }), digest);
  await rejectsWith(resolveDigest(`${token.host}/team/app:v1`, { credentials: { token: 'not-a-jwt' } }), 'E_AUTH');
});

void test('token auth: the client pushes with a pull,push token', async () => {
  const client = new RegistryClient(token.host, {
    insecure: true,
    credentials: { username: token.username!, password: token.password! },
  });
  try {
    const data = Buffer.from('{"artifact":"sbom"}');
    const blob = await client.putBlob('team/artifacts', data);
    assert.deepEqual(await client.headBlob('team/artifacts', blob.digest), { digest: blob.digest, size: data.length });
    assert.ok((await client.catalog()).includes('team/artifacts'));
  } finally {
    client.close();
  }
});
