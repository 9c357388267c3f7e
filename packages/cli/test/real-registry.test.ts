/**
 * The CLI against REAL registries (docker-registry, pushed to by skopeo): Basic auth, Docker
 * token auth and TLS with a private CA; a multi-platform index; and inputs that are broken in
 * the ways real ones are (corrupt or truncated layers, a path-traversal entry, a missing tag, a
 * registry that goes away in the middle of a layer). Every failure must be exit code 2 and one
 * line naming the input, with no stack trace, no secret, and no file written outside --cache-dir.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  buildTar,
  pushLayout,
  sha256,
  sharedPath,
  startRegistry,
  tempDir,
  writeOciLayout,
  type ImageSpec,
  type LayoutResult,
  type TarFile,
  type TestRegistry,
} from '@palisade/testkit';
import type { ScanReport } from '@palisade/core';
import { run, type RunResult } from './helpers.js';

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
const STEP_TIMEOUT = 90_000;

function dpkgStatus(arch: string, marker: string): string {
  return [
    'Package: base-files',
    'Status: install ok installed',
    `Architecture: ${arch}`,
    'Version: 12.4+deb12u5',
    '',
    `Package: ${marker}`,
    'Status: install ok installed',
    `Architecture: ${arch}`,
    'Version: 1.0-1',
    '',
  ].join('\n');
}

/** A small Debian-like image for one architecture; `extra` adds files to its only layer. */
function smallImage(arch: string, extra: TarFile[] = []): ImageSpec {
  return {
    platform: { os: 'linux', architecture: arch },
    layers: [
      {
        files: [
          { path: 'etc', type: 'dir' },
          { path: 'etc/os-release', content: OS_RELEASE },
          { path: 'var/lib/dpkg/status', content: dpkgStatus(arch, `marker-${arch}`) },
          ...extra,
        ],
      },
    ],
  };
}

let tmp: { path: string; cleanup: () => void };
let plain: TestRegistry;
let basic: TestRegistry;
let token: TestRegistry;
let tls: TestRegistry;
let small: LayoutResult;
let multi: LayoutResult;
let dbPath: string;
/** A layer of incompressible bytes, large enough that a registry can die half way through it. */
let bigLayout: LayoutResult;

function layoutPath(name: string): string {
  return join(tmp.path, 'layouts', name);
}

before(
  async () => {
    tmp = tempDir('palisade-real-registry-');
    [plain, basic, token, tls] = await Promise.all([
      startRegistry({ auth: 'none' }),
      startRegistry({ auth: 'basic' }),
      startRegistry({ auth: 'token' }),
      startRegistry({ auth: 'none', tls: true }),
    ]);
    small = writeOciLayout(layoutPath('small'), 'v1', [smallImage('amd64')]);
    multi = writeOciLayout(layoutPath('multi'), 'v1', [smallImage('amd64'), smallImage('arm64')]);
    bigLayout = writeOciLayout(layoutPath('big'), 'v1', [
      smallImage('amd64', [{ path: 'opt/blob.bin', content: randomBytes(2 * 1024 * 1024) }]),
    ]);
    await Promise.all([
      pushLayout(small.dir, 'v1', plain, 'small:v1'),
      pushLayout(small.dir, 'v1', basic, 'small:v1'),
      pushLayout(small.dir, 'v1', token, 'small:v1'),
      pushLayout(small.dir, 'v1', tls, 'small:v1'),
      pushLayout(multi.dir, 'v1', plain, 'multi:v1', { all: true }),
      pushLayout(bigLayout.dir, 'v1', plain, 'big:v1'),
    ]);
    dbPath = join(tmp.path, 'vuln.db');
    const imp = await run([
      'db',
      'import',
      '--db',
      dbPath,
      sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
    ]);
    assert.equal(imp.code, 0, imp.stderr);
  },
  { timeout: 5 * 60 * 1000 },
);

after(async () => {
  await Promise.all([plain, basic, token, tls].filter((r) => r !== undefined).map((r) => r.stop()));
  tmp?.cleanup();
});

function cacheDir(): string {
  return join(tmp.path, 'cache');
}

function sbom(ref: string, extra: string[], stdin?: string): Promise<RunResult> {
  return run(
    ['sbom', ref, '--format', 'json', '--cache-dir', cacheDir(), '--timeout', '10', ...extra],
    stdin === undefined ? {} : { stdin },
  );
}

function packageNames(r: RunResult, what: string): string[] {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as ScanReport;
  return report.packages.map((p) => `${p.name}/${p.arch ?? '?'}`).sort();
}

/** Exit 2, exactly one line on stderr matching every pattern, nothing on stdout, no stack. */
function assertOneLineError(r: RunResult, what: string, ...patterns: RegExp[]): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, `${what}: no stack, no internal error: ${r.stderr}`);
  for (const p of patterns) assert.match(r.stderr, p, `${what}: ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

function escape(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

function assertNoSecret(r: RunResult, secret: string, what: string): void {
  assert.ok(!r.stdout.includes(secret), `${what}: password on stdout`);
  assert.ok(!r.stderr.includes(secret), `${what}: password on stderr`);
}

/** Files under `dir` whose bytes contain `secret` (a cache must never keep credentials). */
function filesHolding(dir: string, secret: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(secret)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

const SMALL_PACKAGES = ['base-files/amd64', 'marker-amd64/amd64'];

test(
  'basic auth: --username with --password-stdin works; a wrong password is one "authentication" line',
  { timeout: STEP_TIMEOUT },
  async () => {
    const ref = `${basic.host}/small:v1`;
    const user = basic.username ?? '';
    const password = basic.password ?? '';
    assert.ok(user && password);
    const ok = await sbom(ref, ['--insecure', '--username', user, '--password-stdin'], `${password}\n`);
    assert.deepEqual(packageNames(ok, ref), SMALL_PACKAGES);
    assertNoSecret(ok, password, 'basic ok');

    const wrongPassword = `${password}-wrong`;
    const bad = await sbom(ref, ['--insecure', '--username', user, '--password-stdin'], `${wrongPassword}\n`);
    assertOneLineError(bad, 'basic wrong password', escape(ref), /authentication/i);
    assertNoSecret(bad, wrongPassword, 'basic wrong password');
    assertNoSecret(bad, password, 'basic wrong password');

    // --debug adds the stack and causes: the password must not be in those either.
    const debug = await sbom(
      ref,
      ['--insecure', '--debug', '--username', user, '--password-stdin'],
      `${wrongPassword}\n`,
    );
    assert.equal(debug.code, 2, debug.stderr);
    assertNoSecret(debug, wrongPassword, 'basic wrong password --debug');

    const anonymous = await sbom(ref, ['--insecure']);
    assertOneLineError(anonymous, 'basic, no credentials', escape(ref), /authentication/i);
    assert.deepEqual(filesHolding(cacheDir(), password), [], 'the password is not in the cache');
  },
);

test(
  'token auth: the CLI gets a token with the credentials; a wrong password is one "authentication" line',
  { timeout: STEP_TIMEOUT },
  async () => {
    const ref = `${token.host}/small:v1`;
    const user = token.username ?? '';
    const password = token.password ?? '';
    const before = token.tokenRequests();
    const ok = await sbom(ref, ['--insecure', '--username', user, '--password-stdin'], password);
    assert.deepEqual(packageNames(ok, ref), SMALL_PACKAGES);
    assert.ok(token.tokenRequests() > before, 'the token server was asked');
    assertNoSecret(ok, password, 'token ok');

    const wrongPassword = `wrong-${password}`;
    const bad = await sbom(ref, ['--insecure', '--username', user, '--password-stdin'], wrongPassword);
    assertOneLineError(bad, 'token wrong password', escape(ref), /authentication/i);
    assertNoSecret(bad, wrongPassword, 'token wrong password');
    assertNoSecret(bad, password, 'token wrong password');

    // The same credentials from the environment (what CI systems inject).
    const fromEnv = await run(
      ['sbom', ref, '--insecure', '--format', 'json', '--cache-dir', cacheDir(), '--no-cache'],
      {
        env: { PALISADE_REGISTRY_USERNAME: user, PALISADE_REGISTRY_PASSWORD: password },
      },
    );
    assert.deepEqual(packageNames(fromEnv, `${ref} (env credentials)`), SMALL_PACKAGES);
    assertNoSecret(fromEnv, password, 'token env');
    assert.deepEqual(filesHolding(cacheDir(), password), [], 'the password is not in the cache');
  },
);

test(
  'TLS: --ca-file trusts the private CA; without it the certificate is refused in one line',
  { timeout: STEP_TIMEOUT },
  async () => {
    const ref = `${tls.host}/small:v1`;
    const caFile = tls.caFile ?? '';
    assert.ok(caFile);
    const ok = await sbom(ref, ['--ca-file', caFile]);
    assert.deepEqual(packageNames(ok, ref), SMALL_PACKAGES);
    const untrusted = await sbom(ref, []);
    assertOneLineError(untrusted, 'TLS without --ca-file', escape(tls.host), /certificate/i);
  },
);

test(
  'multi-platform index: --platform linux/arm64 gets the arm64 image; linux/s390x names the available ones',
  { timeout: STEP_TIMEOUT },
  async () => {
    const ref = `${plain.host}/multi:v1`;
    const r = await sbom(ref, ['--insecure', '--platform', 'linux/arm64']);
    assert.deepEqual(packageNames(r, ref), ['base-files/arm64', 'marker-arm64/arm64']);
    const report = JSON.parse(r.stdout) as ScanReport;
    assert.equal(report.artifact.platform?.architecture, 'arm64');
    const arm64Layer = multi.images[1]?.layers[0]?.digest;
    assert.ok(arm64Layer);
    for (const p of report.packages)
      assert.equal(p.locations[0]?.layerDigest, arm64Layer, `${p.name} is from the arm64 layer`);

    const amd64 = await sbom(ref, ['--insecure']);
    assert.deepEqual(packageNames(amd64, ref), SMALL_PACKAGES, 'the default platform is linux/amd64');

    const missing = await sbom(ref, ['--insecure', '--platform', 'linux/s390x']);
    assertOneLineError(missing, 'linux/s390x', escape(ref), /linux\/s390x/, /linux\/amd64/, /linux\/arm64/);
  },
);

/** Rewrite the only layer blob of a single-image layout and keep manifest and index consistent. */
function replaceLayer(src: LayoutResult, name: string, blob: Buffer, keepDigest = false): string {
  const dir = layoutPath(name);
  const img = src.images[0];
  const layer = img?.layers[0];
  assert.ok(img && layer);
  const digest = keepDigest ? layer.digest : sha256(blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: img.config.mediaType, digest: img.config.digest, size: img.config.size },
    layers: [{ mediaType: layer.mediaType, digest, size: keepDigest ? layer.size : blob.length }],
  };
  const manifestData = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = sha256(manifestData);
  const put = (d: string, data: Buffer): void => writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), data);
  // Start from a copy of the good layout, so config and oci-layout are real.
  writeOciLayout(dir, 'v1', [smallImage('amd64')]);
  put(digest, blob);
  put(manifestDigest, manifestData);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifestDigest,
          size: manifestData.length,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
  return dir;
}

/** Every file under `root` (but not under `skip`) with its size, mtime and content hash. */
function snapshot(root: string, skip: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (p === skip) continue;
      const st = statSync(p);
      if (st.isDirectory()) {
        out.push(`${relative(root, p)}/ ${st.mtimeMs}`);
        walk(p);
      } else {
        const hash = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
        out.push(`${relative(root, p)} ${st.size} ${st.mtimeMs} ${hash}`);
      }
    }
  };
  walk(root);
  return out.sort();
}

interface CuttingProxy {
  host: string;
  /** Resolves once the proxy has cut the blob and stopped listening. */
  cut: Promise<void>;
  close(): Promise<void>;
}

/**
 * A proxy to a real registry that serves everything faithfully until the first GET of `digest`,
 * sends part of that blob, then stops: closes its listener and drops every connection, as a
 * registry does when it is killed. Later connections are refused.
 */
function startCuttingProxy(upstream: TestRegistry, digest: string): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let markCut: () => void = () => undefined;
  const cut = new Promise<void>((resolve) => (markCut = resolve));
  const server = http.createServer((req, res) => {
    const up = http.request(
      `${upstream.url}${req.url ?? '/'}`,
      { method: req.method, headers: { ...req.headers, host: upstream.host }, agent: false },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const isTarget = req.method === 'GET' && (req.url ?? '').includes(`/blobs/${digest}`);
        if (!isTarget) {
          ur.pipe(res);
          return;
        }
        ur.once('data', (chunk: Buffer) => {
          res.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)));
          ur.destroy();
          stop();
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const stop = (): void => {
    server.close(() => markCut());
    for (const s of sockets) s.destroy();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({
        host: `127.0.0.1:${port}`,
        cut,
        close: async (): Promise<void> => {
          if (server.listening) stop();
          await cut;
        },
      });
    });
  });
}

test(
  'bad inputs: exit 2, one line naming the input, no stack, nothing written outside --cache-dir',
  { timeout: 3 * STEP_TIMEOUT },
  async () => {
    const goodLayer = small.images[0]?.layers[0];
    assert.ok(goodLayer);
    const gz = goodLayer.data;
    // Valid gzip header, then bytes that are not deflate data.
    const corrupt = Buffer.concat([gz.subarray(0, 10), Buffer.from('this is not deflate data'.repeat(64))]);
    const corruptDir = replaceLayer(small, 'corrupt-gzip', corrupt);
    // The blob is swapped under an unchanged manifest: the digest no longer matches.
    const swappedDir = replaceLayer(small, 'corrupt-swapped', corrupt, true);
    // A valid layer, but not the one the manifest names: only digest verification can tell.
    const other = gzipSync(buildTar([{ path: 'etc/os-release', content: OS_RELEASE.replace('12', '13') }]));
    const mismatchDir = replaceLayer(small, 'digest-mismatch', other, true);
    const truncatedDir = replaceLayer(small, 'truncated', gz.subarray(0, Math.floor(gz.length / 2)));
    const evil = gzipSync(
      buildTar([
        { path: 'etc/os-release', content: OS_RELEASE },
        { path: '../../etc/passwd', content: 'root::0:0:pwned:/root:/bin/sh\n' },
      ]),
    );
    const traversalDir = replaceLayer(small, 'traversal', evil);

    // The working directory lives in the snapshotted tree, so it is checked and removed with it.
    const cwd = join(tmp.path, 'cwd');
    mkdirSync(cwd);
    const oldCwd = process.cwd();
    const passwdBefore = readFileSync('/etc/passwd');
    const before = snapshot(tmp.path, cacheDir());
    const proxy = await startCuttingProxy(plain, bigLayout.images[0]?.layers[0]?.digest ?? '');
    process.chdir(cwd);
    try {
      const scan = (ref: string, ...extra: string[]): Promise<RunResult> =>
        run([
          'scan',
          'image',
          ref,
          '--db',
          dbPath,
          '--format',
          'json',
          '--cache-dir',
          cacheDir(),
          '--timeout',
          '5',
          ...extra,
        ]);
      const cases: Array<{ what: string; ref: string; extra?: string[]; names: RegExp[] }> = [
        { what: 'corrupt gzip layer', ref: `oci:${corruptDir}:v1`, names: [escape(corruptDir)] },
        // --no-cache: the good layer's digest is cached by the tests above, and a cache hit by
        // digest rightly never reads the blob.
        {
          what: 'layer blob swapped for corrupt gzip',
          ref: `oci:${swappedDir}:v1`,
          extra: ['--no-cache'],
          names: [escape(swappedDir)],
        },
        {
          what: 'valid layer under the wrong digest',
          ref: `oci:${mismatchDir}:v1`,
          extra: ['--no-cache'],
          names: [escape(mismatchDir), /digest/i],
        },
        { what: 'truncated layer', ref: `oci:${truncatedDir}:v1`, names: [escape(truncatedDir)] },
        {
          what: 'tar entry ../../etc/passwd',
          ref: `oci:${traversalDir}:v1`,
          names: [escape(traversalDir), /\.\.\/\.\.\/etc\/passwd/],
        },
        { what: 'missing tag in a layout', ref: `oci:${small.dir}:nope`, names: [escape(small.dir), /nope/] },
        {
          what: 'missing tag in a registry',
          ref: `${plain.host}/small:nope`,
          extra: ['--insecure'],
          names: [escape(`${plain.host}/small:nope`)],
        },
        {
          what: 'missing repository',
          ref: `${plain.host}/nothing-here:v1`,
          extra: ['--insecure'],
          names: [escape(`${plain.host}/nothing-here:v1`)],
        },
        {
          what: 'registry stopped mid-layer',
          ref: `${proxy.host}/big:v1`,
          extra: ['--insecure'],
          names: [escape(`${proxy.host}/big:v1`)],
        },
      ];
      for (const c of cases) {
        const r = await scan(c.ref, ...(c.extra ?? []));
        assertOneLineError(r, c.what, ...c.names);
      }
      await proxy.cut;
    } finally {
      process.chdir(oldCwd);
      await proxy.close();
    }
    assert.deepEqual(readdirSync(cwd), [], 'nothing written to the working directory');
    assert.deepEqual(snapshot(tmp.path, cacheDir()), before, 'nothing written outside --cache-dir');
    assert.ok(readFileSync('/etc/passwd').equals(passwdBefore), '/etc/passwd unchanged');
  },
);
