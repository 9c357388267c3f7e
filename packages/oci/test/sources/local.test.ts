import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import { fixturePath, tempDir, writeOciLayout } from '@palisade/testkit';
import { openImageSource } from '../../src/sources/index.js';
import type { EntryHeader, ResolvedImage, SourceOptions } from '../../src/types.js';

const fx = (name: string): string => fixturePath('oci', 'sources', name);

interface Files {
  entries: EntryHeader[];
  contents: Map<string, string>;
}

/** Walk every layer of an image, asking for every file's content. */
async function readAll(image: ResolvedImage): Promise<Files[]> {
  const out: Files[] = [];
  for (const layer of image.layers) {
    const files: Files = { entries: [], contents: new Map() };
    await layer.walk({
      onEntry: (e) => (files.entries.push(e), e.kind === 'file'),
      onContent: (e, d) => files.contents.set(e.path, d.toString()),
    });
    out.push(files);
  }
  return out;
}

async function withSource<T>(
  ref: string,
  options: SourceOptions,
  fn: (image: ResolvedImage) => Promise<T>,
): Promise<T> {
  const source = openImageSource(ref, options);
  try {
    return await fn(await source.resolve());
  } finally {
    await source.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<PalisadeError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PalisadeError, `expected a PalisadeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** What the umoci-built image holds, whichever way it is packaged. */
function assertAppImage(layers: Files[], image: ResolvedImage): void {
  assert.equal(layers.length, 2);
  assert.equal(layers[0]?.contents.get('etc/os-release'), 'ID=alpine\nVERSION_ID=3.19.1\n');
  assert.ok(
    layers[0]?.entries.some((e) => e.path === 'usr/bin/hello' && e.kind === 'symlink' && e.linkTarget === 'hi'),
  );
  assert.equal(layers[1]?.contents.get('opt/app/package.json'), '{"name":"app","version":"1.2.3"}\n');
  assert.ok(image.config.config?.Env?.includes('PALISADE=1'));
  assert.deepEqual(image.config.config?.Cmd, ['/usr/bin/hi']);
  assert.equal(image.config.rootfs?.diff_ids.length, 2);
  assert.deepEqual(image.platform, { os: 'linux', architecture: 'amd64' });
}

test('oci: a layout built by umoci, selected by tag', async () => {
  await withSource(`oci:${fx('umoci-layout')}:1.0`, {}, async (image) => {
    assert.equal(image.kind, 'oci-layout');
    assert.match(image.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(image.repoTags, ['1.0']);
    assert.ok(image.manifest && image.manifest.length > 0);
    assert.ok(image.layers.every((l, i) => l.index === i && l.diffId === image.config.rootfs?.diff_ids[i]));
    assertAppImage(await readAll(image), image);
  });
  await withSource(`oci:${fx('umoci-layout')}:base`, {}, async (image) => {
    assert.equal(image.layers.length, 1);
  });
});

test('oci: several tags and none chosen is an error listing them; an unknown tag too', async () => {
  const err = await rejection(withSource(`oci:${fx('umoci-layout')}`, {}, async () => undefined));
  assert.equal(err.code, 'E_INPUT');
  assert.match(err.message, /tags: base, 1\.0/);
  const unknown = await rejection(withSource(`oci:${fx('umoci-layout')}:nope`, {}, async () => undefined));
  assert.equal(unknown.code, 'E_NOT_FOUND');
  assert.match(unknown.message, /"nope".*base, 1\.0/);
  const missing = await rejection(withSource('oci:/nonexistent/layout', {}, async () => undefined));
  assert.equal(missing.code, 'E_NOT_FOUND');
});

test('oci: multi-platform index, platform choice, variants and E_PLATFORM', async () => {
  const tmp = tempDir();
  try {
    const file = (name: string): { path: string; content: string } => ({ path: 'etc/arch', content: name });
    writeOciLayout(tmp.path, 'multi', [
      { layers: [{ files: [file('amd64')] }], platform: { os: 'linux', architecture: 'amd64' } },
      {
        layers: [{ files: [file('arm64')], compression: 'zstd' }],
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
      {
        layers: [{ files: [file('armv7')], compression: 'none' }],
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      },
    ]);
    const archOf = async (options: SourceOptions): Promise<string | undefined> =>
      withSource(`oci:${tmp.path}`, options, async (image) => (await readAll(image))[0]?.contents.get('etc/arch'));
    assert.equal(await archOf({}), 'amd64');
    assert.equal(await archOf({ platform: { os: 'linux', architecture: 'arm64' } }), 'arm64');
    assert.equal(await archOf({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }), 'arm64');
    assert.equal(await archOf({ platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }), 'armv7');
    const err = await rejection(archOf({ platform: { os: 'linux', architecture: 's390x' } }));
    assert.equal(err.code, 'E_PLATFORM');
    assert.match(err.message, /linux\/s390x.*linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7/);
  } finally {
    tmp.cleanup();
  }
});

test('oci: a missing layer blob is E_NOT_FOUND naming it; a tampered layer fails its walk with E_DIGEST', async () => {
  const tmp = tempDir();
  try {
    const built = writeOciLayout(tmp.path, 't', [
      { layers: [{ files: [{ path: 'a', content: 'x' }] }, { files: [{ path: 'b', content: 'y' }] }] },
    ]);
    const layer1 = built.images[0]?.layers[1]?.digest ?? '';
    const blob1 = join(tmp.path, 'blobs', 'sha256', layer1.slice(7));
    const saved = tmp.path + '-saved';
    cpSync(blob1, saved);
    unlinkSync(blob1);
    const err = await rejection(withSource(`oci:${tmp.path}:t`, {}, async () => undefined));
    assert.equal(err.code, 'E_NOT_FOUND');
    assert.ok(err.message.includes(layer1));
    // Put other bytes (a valid gzip tar) under the layer's name.
    cpSync(join(tmp.path, 'blobs', 'sha256', (built.images[0]?.layers[0]?.digest ?? '').slice(7)), blob1);
    rmSync(saved);
    const bad = await rejection(withSource(`oci:${tmp.path}:t`, {}, readAll));
    assert.equal(bad.code, 'E_DIGEST');
    assert.ok(bad.subject?.includes(layer1));
    // A tampered manifest is caught at resolve.
    writeFileSync(join(tmp.path, 'blobs', 'sha256', built.digest.slice(7)), '{"schemaVersion":2}');
    const man = await rejection(withSource(`oci:${tmp.path}:t`, {}, async () => undefined));
    assert.equal(man.code, 'E_DIGEST');
  } finally {
    tmp.cleanup();
    rmSync(tmp.path + '-saved', { force: true });
  }
});

test('archive: a docker-archive written by skopeo (layers named by digest, symlinked v1 ids)', async () => {
  for (const prefix of ['archive:', 'docker-archive:']) {
    await withSource(`${prefix}${fx('docker-archive.tar')}`, {}, async (image) => {
      assert.equal(image.kind, 'archive');
      assert.deepEqual(image.repoTags, ['docker.io/example/app:1.0']);
      assert.match(image.configDigest ?? '', /^sha256:/);
      assert.deepEqual(
        image.layers.map((l) => l.diffId),
        image.config.rootfs?.diff_ids,
      );
      assertAppImage(await readAll(image), image);
    });
  }
});

test('archive: an oci-archive written by skopeo', async () => {
  await withSource(`oci-archive:${fx('oci-archive.tar')}`, {}, async (image) => {
    assert.match(image.digest ?? '', /^sha256:/);
    assertAppImage(await readAll(image), image);
  });
  await withSource(`oci-archive:${fx('oci-archive.tar')}:1.0`, {}, async (image) => {
    assert.equal(image.layers.length, 2);
  });
});

test('archive: docker save | gzip is decompressed into tempDir and removed on close', async () => {
  const tmp = tempDir();
  try {
    const source = openImageSource(`archive:${fx('docker-archive.tar.gz')}`, { tempDir: tmp.path });
    const image = await source.resolve();
    assert.equal(readdirSync(tmp.path).length, 1);
    assertAppImage(await readAll(image), image);
    await source.close();
    assert.deepEqual(readdirSync(tmp.path), []);
  } finally {
    tmp.cleanup();
  }
});

test('archive: several images are chosen by RepoTags; none chosen lists them', async () => {
  const file = fx('docker-archive-two-images.tar');
  await withSource(`archive:${file}:example/base:0.1`, {}, async (image) => {
    assert.deepEqual(image.repoTags, ['docker.io/example/base:0.1']);
    assert.equal(image.layers.length, 1);
  });
  await withSource(`archive:${file}:docker.io/example/app:1.0`, {}, async (image) => {
    assert.equal((await readAll(image)).length, 2);
  });
  const err = await rejection(withSource(`archive:${file}`, {}, async () => undefined));
  assert.equal(err.code, 'E_INPUT');
  assert.match(err.message, /example\/app:1\.0.*example\/base:0\.1/);
  const none = await rejection(withSource(`archive:${file}:example/zzz:9`, {}, async () => undefined));
  assert.equal(none.code, 'E_NOT_FOUND');
});

test('archive: corrupt manifest.json, a non-archive, a missing file', async () => {
  const corrupt = await rejection(withSource(`archive:${fx('corrupt-manifest.tar')}`, {}, async () => undefined));
  assert.equal(corrupt.code, 'E_CORRUPT');
  assert.match(corrupt.message, /manifest\.json is not valid JSON/);
  assert.ok(corrupt.subject?.includes('corrupt-manifest.tar'));
  const notTar = await rejection(withSource(`archive:${fx('make-fixtures.sh')}`, {}, async () => undefined));
  assert.equal(notTar.code, 'E_CORRUPT');
  const missing = await rejection(withSource('archive:/nonexistent.tar', {}, async () => undefined));
  assert.equal(missing.code, 'E_NOT_FOUND');
});

test('dir: lstat walk, symlinks (a loop too) reported not followed, unreadable files skipped', async () => {
  const tmp = tempDir();
  try {
    const root = join(tmp.path, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(root, 'etc', 'os-release'), 'ID=debian\n');
    writeFileSync(join(root, 'a', 'b', 'c', 'deep.txt'), 'deep');
    writeFileSync(join(root, 'secret'), 'no');
    chmodSync(join(root, 'secret'), 0);
    writeFileSync(join(root, 'vanishing'), 'gone before it is read');
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    symlinkSync('..', join(root, 'a', 'up')); // a directory loop if it were followed
    const image = await withSource(`dir:${root}`, {}, async (img) => img);
    assert.equal(image.kind, 'dir');
    assert.equal(image.layers[0]?.digest, `dir:${root}`);
    const entries: EntryHeader[] = [];
    const contents = new Map<string, string>();
    await image.layers[0]?.walk({
      onEntry: (e) => {
        entries.push(e);
        if (e.path === 'vanishing') unlinkSync(join(root, 'vanishing'));
        return e.kind === 'file';
      },
      onContent: (e, d) => contents.set(e.path, d.toString()),
    });
    assert.deepEqual(
      entries.map((e) => `${e.kind} ${e.path}${e.linkTarget ? ' -> ' + e.linkTarget : ''}`),
      [
        'dir a',
        'dir etc',
        'symlink loop1 -> loop2',
        'symlink loop2 -> loop1',
        'file secret',
        'file vanishing',
        'dir a/b',
        'symlink a/up -> ..',
        'dir a/b/c',
        'file a/b/c/deep.txt',
        'file etc/os-release',
      ],
    );
    assert.equal(contents.get('etc/os-release'), 'ID=debian\n');
    assert.equal(contents.get('a/b/c/deep.txt'), 'deep');
    assert.equal(contents.has('vanishing'), false);
    // Root reads anything; as another user the unreadable file is skipped.
    if (process.getuid?.() !== 0) assert.equal(contents.has('secret'), false);
    const err = await rejection(withSource(`dir:${join(tmp.path, 'nope')}`, {}, async () => undefined));
    assert.equal(err.code, 'E_NOT_FOUND');
    assert.ok(existsSync(root));
  } finally {
    tmp.cleanup();
  }
});
