/**
 * The scan pipeline over real OCI layouts: layers merged with whiteouts and opaque directories,
 * packages attributed to the layer that brought them, the layer cache (a warm scan reads no
 * layer; a cataloger version change invalidates; a torn entry is a miss), and failures that
 * must never be cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PluginRegistry, type Package } from '@palisade/core';
import { tempDir, writeOciLayout } from '@palisade/testkit';
import {
  FsLayerCache,
  createCatalogerRegistry,
  scanFingerprint,
  scanImage,
  type Cataloger,
  type ScanProgress,
} from '../../src/index.js';

const DEBIAN = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';

function stanza(name: string, version: string): string {
  return `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n\n`;
}

function pkgJson(name: string, version: string): string {
  return JSON.stringify({ name, version });
}

function names(pkgs: Package[]): string[] {
  return pkgs.map((p) => `${p.type}:${p.name}@${p.version}`).sort();
}

function layeredImage(dir: string): ReturnType<typeof writeOciLayout> {
  return writeOciLayout(dir, 'v1', [
    {
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: DEBIAN },
            { path: 'var/lib/dpkg/status', content: stanza('libc6', '2.36-9') + stanza('zlib1g', '1:1.2.13.dfsg-1') },
            { path: 'srv/a/node_modules/keep/package.json', content: pkgJson('keep', '1.0.0') },
            { path: 'srv/a/node_modules/gone/package.json', content: pkgJson('gone', '1.0.0') },
            { path: 'srv/b/node_modules/hidden/package.json', content: pkgJson('hidden', '2.0.0') },
          ],
        },
        {
          compression: 'zstd',
          files: [
            // apt-get install curl: status rewritten with one more package.
            {
              path: 'var/lib/dpkg/status',
              content: stanza('libc6', '2.36-9') + stanza('zlib1g', '1:1.2.13.dfsg-1') + stanza('curl', '7.88.1-10'),
            },
            { path: 'srv/a/node_modules/.wh.gone' },
            { path: 'srv/b/.wh..wh..opq' },
            { path: 'srv/b/node_modules/fresh/package.json', content: pkgJson('fresh', '3.0.0') },
          ],
        },
        {
          compression: 'none',
          files: [{ path: 'srv/a/node_modules/keep/package.json', content: pkgJson('keep', '1.1.0') }],
        },
      ],
    },
  ]);
}

test('layers merge with whiteouts and opaque dirs; packages carry the layer that brought them', async () => {
  const d = tempDir();
  try {
    const img = layeredImage(join(d.path, 'img'));
    const report = await scanImage(`oci:${join(d.path, 'img')}:v1`);
    assert.equal(report.artifact.os?.id, 'debian');
    assert.deepEqual(names(report.packages), [
      'deb:curl@7.88.1-10',
      'deb:libc6@2.36-9',
      'deb:zlib1g@1:1.2.13.dfsg-1',
      'npm:fresh@3.0.0',
      'npm:keep@1.1.0',
    ]);
    const layers = img.images[0]?.layers ?? [];
    const layerOf = (n: string): string | undefined =>
      report.packages.find((p) => p.name === n)?.locations[0]?.layerDigest;
    assert.equal(layerOf('libc6'), layers[0]?.digest, 'libc6 came with the base layer');
    assert.equal(layerOf('curl'), layers[1]?.digest, 'curl came with the second layer');
    assert.equal(layerOf('fresh'), layers[1]?.digest);
    assert.equal(layerOf('keep'), layers[2]?.digest);
    assert.equal(report.artifact.layers.length, 3);
    assert.equal(report.artifact.digest, img.digest);
  } finally {
    d.cleanup();
  }
});

test('a warm scan reads no layer and gives the same inventory', async () => {
  const d = tempDir();
  try {
    layeredImage(join(d.path, 'img'));
    const ref = `oci:${join(d.path, 'img')}:v1`;
    const cache = new FsLayerCache(join(d.path, 'cache'));
    const cold: ScanProgress[] = [];
    const first = await scanImage(ref, { cache, onProgress: (p) => cold.push(p) });
    assert.ok(cold.some((p) => p.phase === 'layer' && !p.cached));
    const warm: ScanProgress[] = [];
    const second = await scanImage(ref, { cache, onProgress: (p) => warm.push(p) });
    const layerEvents = warm.filter((p) => p.phase === 'layer');
    assert.equal(layerEvents.length, 3);
    assert.ok(
      layerEvents.every((p) => p.phase === 'layer' && p.cached),
      'every layer from the cache',
    );
    assert.deepEqual(second.packages, first.packages);
  } finally {
    d.cleanup();
  }
});

test('a cataloger version change invalidates the cache; a torn cache entry is a miss', async () => {
  const d = tempDir();
  try {
    layeredImage(join(d.path, 'img'));
    const ref = `oci:${join(d.path, 'img')}:v1`;
    const cacheDir = join(d.path, 'cache');
    const cache = new FsLayerCache(cacheDir);
    await scanImage(ref, { cache });
    const bumped = new PluginRegistry<Cataloger>(
      'catalogers',
      createCatalogerRegistry()
        .all()
        .map((c) => (c.id === 'npm' ? { ...c, version: c.version + 1 } : c)),
    );
    const events: ScanProgress[] = [];
    await scanImage(ref, { cache, catalogers: bumped, onProgress: (p) => events.push(p) });
    assert.ok(events.filter((p) => p.phase === 'layer').every((p) => p.phase === 'layer' && !p.cached));

    // Tear every cache entry: the next scan must read layers again and still be right.
    const files: string[] = [];
    for (const sub of readdirSync(join(cacheDir, 'layers'))) {
      for (const f of readdirSync(join(cacheDir, 'layers', sub))) files.push(join(cacheDir, 'layers', sub, f));
    }
    assert.ok(files.length >= 3);
    for (const f of files) writeFileSync(f, readFileSync(f).subarray(0, Math.floor(statSync(f).size / 2)));
    const again = await scanImage(ref, { cache });
    assert.ok(again.packages.some((p) => p.name === 'curl'));
  } finally {
    d.cleanup();
  }
});

test('a layer that fails verification is not cached and fails the scan naming image and layer', async () => {
  const d = tempDir();
  try {
    const img = layeredImage(join(d.path, 'img'));
    const layer = img.images[0]?.layers[1];
    assert.ok(layer);
    const blob = join(d.path, 'img', 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = readFileSync(blob);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0x55;
    writeFileSync(blob, bytes);
    const cacheDir = join(d.path, 'cache');
    const ref = `oci:${join(d.path, 'img')}:v1`;
    await assert.rejects(
      scanImage(ref, { cache: new FsLayerCache(cacheDir) }),
      (err: Error & { describe?: () => string }) => {
        const line = err.describe?.() ?? err.message;
        assert.ok(line.includes(ref), line);
        assert.ok(line.includes(layer.digest.slice(0, 19)), line);
        return true;
      },
    );
    assert.equal(
      new FsLayerCache(cacheDir).get(layer.digest, scanFingerprint()),
      undefined,
      'the corrupt layer was not cached',
    );
  } finally {
    d.cleanup();
  }
});
