/**
 * Pull and resolve images pushed by skopeo to a real distribution registry (anonymous, plain
 * HTTP, so `insecure` is needed): OCI and Docker schema 2 manifests, multi-platform indexes,
 * digests, tag pagination, not-found errors, and the push API of the client.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pushLayout, startRegistry, type LayoutResult, type TestRegistry } from '@palisade/testkit';
import type { EntryHeader } from '../../src/types.js';
import { RegistryClient } from '../../src/registry/client.js';
import { MediaType } from '../../src/registry/mediatypes.js';
import { RegistrySource } from '../../src/sources/registry.js';
import { layout, osRelease, rejectsWith } from './util.js';

let reg: TestRegistry;
let single: LayoutResult & { cleanup: () => void };
let multi: LayoutResult & { cleanup: () => void };
let client: RegistryClient;

before(async () => {
  reg = await startRegistry();
  single = layout('v1', [
    {
      layers: [
        osRelease('alpine'),
        { files: [{ path: 'app/main.js', content: 'console.log(1)\n' }], compression: 'zstd' },
      ],
      env: ['PATH=/bin', 'APP=single'],
    },
  ]);
  multi = layout('v1', [
    { layers: [osRelease('amd')], platform: { os: 'linux', architecture: 'amd64' } },
    { layers: [osRelease('arm64')], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { layers: [osRelease('armv7')], platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ]);
  const gzOnly = layout('v1', [{ layers: [osRelease('debian'), osRelease('debian2')] }]);
  await pushLayout(single.dir, 'v1', reg, 'app/single:v1');
  await pushLayout(multi.dir, 'v1', reg, 'app/multi:v1', { all: true });
  await pushLayout(gzOnly.dir, 'v1', reg, 'app/docker:v1', { format: 'v2s2' });
  gzOnly.cleanup();
  client = new RegistryClient(reg.host, { insecure: true });
});

after(async () => {
  client?.close();
  await reg?.stop();
  single?.cleanup();
  multi?.cleanup();
});

function source(ref: string, extra: ConstructorParameters<typeof RegistrySource>[1] = {}): RegistrySource {
  return new RegistrySource(ref, { insecure: true, ...extra });
}

async function resolveOnce(ref: string, extra: ConstructorParameters<typeof RegistrySource>[1] = {}) {
  const src = source(ref, extra);
  try {
    return await src.resolve();
  } finally {
    await src.close();
  }
}

void test('resolves an OCI image: manifest, verified config, layers with diff ids, tags and digests', async () => {
  const built = single.images[0]!;
  const img = await resolveOnce(`${reg.host}/app/single:v1`);
  assert.equal(img.kind, 'registry');
  assert.equal(img.name, `${reg.host}/app/single:v1`);
  assert.equal(img.digest, single.digest);
  assert.equal(img.manifestMediaType, MediaType.ociManifest);
  assert.equal(img.manifest?.toString(), built.manifest.data.toString());
  assert.equal(img.configDigest, built.config.digest);
  assert.deepEqual(img.config.config?.Env, ['PATH=/bin', 'APP=single']);
  assert.deepEqual(img.platform, { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(
    img.layers.map((l) => [l.index, l.digest, l.diffId, l.mediaType, l.size]),
    built.layers.map((l, i) => [i, l.digest, l.diffId, l.mediaType, l.size]),
  );
  assert.deepEqual(img.repoTags, [`${reg.host}/app/single:v1`]);
  assert.deepEqual(img.repoDigests, [`${reg.host}/app/single@${single.digest}`]);
});

void test('blob streams deliver the exact layer bytes (gzip and zstd); headBlob reports sizes', async () => {
  for (const layer of single.images[0]!.layers) {
    const stream = await client.getBlob('app/single', layer.digest);
    const chunks: Buffer[] = [];
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
    assert.ok(Buffer.concat(chunks).equals(layer.data), `bytes of ${layer.digest}`);
    assert.deepEqual(await client.headBlob('app/single', layer.digest), { digest: layer.digest, size: layer.size });
  }
  const missing = 'sha256:' + '0'.repeat(64);
  assert.equal(await client.headBlob('app/single', missing), undefined);
  await rejectsWith(client.getBlobBytes('app/single', missing, 1024), 'E_NOT_FOUND', missing, reg.host);
});

void test('resolves a Docker schema 2 image pushed with --format v2s2', async () => {
  const img = await resolveOnce(`${reg.host}/app/docker:v1`);
  assert.equal(img.manifestMediaType, MediaType.dockerManifest);
  assert.equal(img.layers.length, 2);
  for (const l of img.layers) {
    assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.match(l.diffId ?? '', /^sha256:[a-f0-9]{64}$/);
  }
  assert.equal(img.config.os, 'linux');
});

void test('a multi-platform index: default linux/amd64, --platform selection with variant defaults', async () => {
  const ref = `${reg.host}/app/multi:v1`;
  const [amd, arm64, armv7] = multi.images;
  const def = await resolveOnce(ref);
  assert.equal(def.digest, amd!.manifest.digest);
  assert.deepEqual(def.repoDigests, [`${reg.host}/app/multi@${multi.digest}`]);
  assert.deepEqual(def.platform, { os: 'linux', architecture: 'amd64' });
  const a64 = await resolveOnce(ref, { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(a64.digest, arm64!.manifest.digest);
  assert.equal(a64.configDigest, arm64!.config.digest);
  const a7 = await resolveOnce(ref, { platform: { os: 'linux', architecture: 'arm' } });
  assert.equal(a7.digest, armv7!.manifest.digest);
});

void test('no manifest for the requested platform is E_PLATFORM listing what is available', async () => {
  const ref = `${reg.host}/app/multi:v1`;
  await rejectsWith(
    resolveOnce(ref, { platform: { os: 'linux', architecture: 's390x' } }),
    'E_PLATFORM',
    `no manifest for platform linux/s390x in image ${ref} (available: linux/amd64, linux/arm64/v8, linux/arm/v7)`,
  );
});

void test('resolves by digest, and a digest wins over a tag', async () => {
  const byDigest = await resolveOnce(`${reg.host}/app/single@${single.digest}`);
  assert.equal(byDigest.digest, single.digest);
  assert.deepEqual(byDigest.repoTags, []);
  const both = await resolveOnce(`${reg.host}/app/multi:does-not-exist@${multi.digest}`);
  assert.equal(both.digest, multi.images[0]!.manifest.digest);
});

void test('a missing tag or repository is E_NOT_FOUND naming the image', async () => {
  await rejectsWith(
    resolveOnce(`${reg.host}/app/single:nope`),
    'E_NOT_FOUND',
    `${reg.host}/app/single:nope`,
    'not found',
  );
  await rejectsWith(resolveOnce(`${reg.host}/no/such-repo:v1`), 'E_NOT_FOUND', `${reg.host}/no/such-repo:v1`);
  const absent = 'sha256:' + '1'.repeat(64);
  await rejectsWith(resolveOnce(`${reg.host}/app/single@${absent}`), 'E_NOT_FOUND', absent);
});

void test('tags are listed across Link-header pages; the catalog lists repositories', async () => {
  const m = await client.getManifest('app/single', 'v1', [MediaType.ociManifest]);
  const tags = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
  for (const t of tags) assert.equal(await client.putManifest('app/single', t, m.bytes, m.mediaType), single.digest);
  const listed = await client.listTags('app/single', { pageSize: 5 });
  assert.deepEqual([...listed].sort(), [...tags, 'v1'].sort());
  assert.equal(new Set(listed).size, listed.length, 'no tag repeated across pages');
  const repos = await client.catalog({ pageSize: 2 });
  for (const r of ['app/single', 'app/multi', 'app/docker'])
    assert.ok(repos.includes(r), `catalog has ${r}: ${repos.join(',')}`);
  await rejectsWith(client.listTags('no/such-repo'), 'E_NOT_FOUND', 'no/such-repo');
});

void test('a pushed blob and manifest (the referrers publisher path) resolve back', async () => {
  const built = single.images[0]!;
  for (const b of [built.config, ...built.layers]) {
    assert.deepEqual(await client.putBlob('pushed/app', b.data), { digest: b.digest, size: b.size });
  }
  // Pushing again is a no-op: the blob exists.
  assert.equal((await client.putBlob('pushed/app', built.config.data)).digest, built.config.digest);
  const digest = await client.putManifest('pushed/app', 'v9', built.manifest.data, built.manifest.mediaType);
  assert.equal(digest, built.manifest.digest);
  const img = await resolveOnce(`${reg.host}/pushed/app:v9`);
  assert.equal(img.digest, built.manifest.digest);
});

void test('plain HTTP is refused unless insecure, with a hint', async () => {
  await rejectsWith(resolveOnce(`${reg.host}/app/single:v1`, { insecure: false }), 'E_NETWORK', reg.host, '--insecure');
});

void test('walking a registry layer streams it through the tar walker with its digest', async () => {
  const img = await resolveOnce(`${reg.host}/app/single:v1`);
  const seen: string[] = [];
  let osRel = '';
  for (const layer of img.layers) {
    await layer.walk({
      onEntry: (e: EntryHeader) => {
        seen.push(`${layer.index}:${e.kind}:${e.path}`);
        return e.path === 'etc/os-release';
      },
      onContent: (_e, data) => {
        osRel = data.toString();
      },
    });
  }
  assert.deepEqual(seen, ['0:dir:etc', '0:file:etc/os-release', '1:file:app/main.js']);
  assert.match(osRel, /ID=alpine/);
});
