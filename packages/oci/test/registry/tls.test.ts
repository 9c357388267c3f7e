/** HTTPS registries: a custom CA via caFiles, an untrusted certificate, and insecure mode. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pushLayout, startRegistry, type TestRegistry } from '@palisade/testkit';
import type { SourceOptions } from '../../src/types.js';
import { RegistrySource } from '../../src/sources/registry.js';
import { layout, osRelease, rejectsWith } from './util.js';

let reg: TestRegistry;
let digest: string;

before(async () => {
  reg = await startRegistry({ tls: true, auth: 'basic' });
  const img = layout('v1', [{ layers: [osRelease('wolfi')] }]);
  digest = img.digest;
  await pushLayout(img.dir, 'v1', reg, 'secure/app:v1');
  img.cleanup();
});

after(async () => {
  await reg?.stop();
});

async function resolveDigest(options: SourceOptions): Promise<string | undefined> {
  const src = new RegistrySource(`${reg.host}/secure/app:v1`, {
    credentials: { username: reg.username!, password: reg.password! },
    ...options,
  });
  try {
    return (await src.resolve()).digest;
  } finally {
    await src.close();
  }
}

void test('https with the registry CA in caFiles', async () => {
  assert.equal(await resolveDigest({ caFiles: [reg.caFile!] }), digest);
});

void test('an untrusted certificate is E_NETWORK naming the host with a hint', async () => {
  await rejectsWith(resolveDigest({}), 'E_NETWORK', reg.host, 'not trusted', '--ca-file');
});

void test('insecure skips certificate verification (and stays on https)', async () => {
  assert.equal(await resolveDigest({ insecure: true }), digest);
});

void test('an unreadable CA file is E_INPUT naming the file', async () => {
  await rejectsWith(resolveDigest({ caFiles: ['/nonexistent/ca.pem'] }), 'E_INPUT', '/nonexistent/ca.pem');
});
