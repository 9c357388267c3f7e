import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PalisadeError } from '@palisade/core';
import { buildTar, fixturePath, tempDir } from '@palisade/testkit';
import { walkTarStream, type TarWalkOptions } from '../../src/layer/walk.js';
import type { EntryHeader } from '../../src/types.js';

const fx = (name: string): string => fixturePath('oci', 'layer', name);

interface Walked {
  entries: EntryHeader[];
  contents: Map<string, Buffer>;
}

type Ask = (e: EntryHeader) => boolean;

async function walk(
  input: Readable | AsyncIterable<Buffer>,
  ask: Ask = (e) => e.kind === 'file',
  options: Partial<TarWalkOptions> = {},
): Promise<Walked> {
  const entries: EntryHeader[] = [];
  const contents = new Map<string, Buffer>();
  await walkTarStream(
    input,
    {
      onEntry: (e) => {
        entries.push(e);
        return ask(e);
      },
      onContent: (e, data) => {
        contents.set(e.path, data);
      },
    },
    { subject: 'layer test', ...options },
  );
  return { entries, contents };
}

const walkFile = (name: string, ask?: Ask, options?: Partial<TarWalkOptions>): Promise<Walked> =>
  walk(createReadStream(fx(name)), ask, options);

async function rejection(promise: Promise<unknown>): Promise<PalisadeError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PalisadeError, `expected a PalisadeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the walk to reject');
}

function sha(alg: 'sha256' | 'sha512', data: Buffer): string {
  return `${alg}:${createHash(alg).update(data).digest('hex')}`;
}

/** What GNU tar lists, normalized as the walker reports paths (root and aufs names left out). */
function gnuTarPaths(file: string): string[] {
  const out = execFileSync('tar', ['--quoting-style=literal', '-tf', file], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((p) => p !== '' && p !== '.' && !/(^|\/)\.wh\.\.wh\.(?!\.opq$)/.test(p))
    .map((p) => {
      const m = /^(.*?)(?:\/)?\.wh\.(.*)$/.exec(p);
      if (m === null) return p;
      return m[2] === '.wh..opq' ? (m[1] ?? '') : `${m[1] ? m[1] + '/' : ''}${m[2]}`;
    });
}

const FULL_TREE = ['gnu.tar', 'posix.tar', 'posix.tar.gz', 'gnu.tar.zst', 'concat.tar.gz'];

for (const name of FULL_TREE) {
  test(`${name}: lists what GNU tar lists, with kinds, links, whiteouts and contents`, async () => {
    const { entries, contents } = await walkFile(name);
    const plain = name.startsWith('gnu') || name.startsWith('concat') ? fx('gnu.tar') : fx('posix.tar');
    assert.deepEqual(
      entries.map((e) => e.path),
      gnuTarPaths(plain),
    );
    const byPath = new Map(entries.filter((e) => e.kind !== 'opaque').map((e) => [e.path, e]));
    const long100 = entries.find((e) => e.path.endsWith('.txt') && e.path.startsWith('dir-with-a-long-name'));
    assert.ok(long100 && long100.path.length > 100);
    assert.equal(contents.get(long100.path)?.toString(), 'long 100\n');
    const deep = entries.find((e) => e.path.endsWith('/deep.txt'));
    assert.ok(deep && deep.path.length > 255);
    assert.equal(contents.get(deep.path)?.toString(), 'long 300\n');
    assert.equal(contents.get('etc/héllo-wörld-日本.txt')?.toString(), 'unicode\n');
    assert.equal(contents.get('etc/os-release')?.toString(), 'ID=debian\nVERSION_ID="12"\n');
    assert.equal(contents.get('etc/empty')?.length, 0);
    assert.deepEqual(byPath.get('usr/bin/hello'), {
      path: 'usr/bin/hello',
      kind: 'file',
      size: 6,
      mode: 0o4755,
      uid: 0,
      gid: 0,
      mtime: 1704067200,
    });
    assert.equal(byPath.get('usr/bin/hello-hard')?.kind, 'hardlink');
    assert.equal(byPath.get('usr/bin/hello-hard')?.linkTarget, 'usr/bin/hello');
    assert.equal(byPath.get('usr/bin/hello-sym')?.linkTarget, '../bin/hello');
    assert.equal(byPath.get('etc/abs-link')?.linkTarget, '/etc/os-release');
    const longLink = byPath.get('usr/long-link-target')?.linkTarget ?? '';
    assert.ok(longLink.length > 100 && longLink.endsWith('/end'));
    assert.equal(byPath.get('usr/fifo')?.kind, 'other');
    assert.equal(byPath.get('gone/removed.txt')?.kind, 'whiteout');
    assert.ok(entries.some((e) => e.kind === 'dir' && e.path === 'opaque'));
    assert.ok(entries.some((e) => e.kind === 'opaque' && e.path === 'opaque'));
    assert.equal(byPath.get('segment-01')?.kind, 'dir');
    // Only files get content, and only the ones asked for.
    assert.ok([...contents.keys()].every((p) => byPath.get(p)?.kind === 'file'));
  });
}

for (const name of ['ustar.tar', 'v7.tar']) {
  test(`${name}: the small tree`, async () => {
    const { entries, contents } = await walkFile(name);
    assert.deepEqual(
      entries.map((e) => `${e.kind} ${e.path}${e.linkTarget ? ' -> ' + e.linkTarget : ''}`),
      [
        'dir etc',
        'file etc/os-release',
        'dir usr',
        'dir usr/bin',
        'file usr/bin/hello',
        'hardlink usr/bin/hello-hard -> usr/bin/hello',
        'symlink usr/bin/hello-sym -> hello',
      ],
    );
    assert.equal(contents.get('usr/bin/hello')?.toString(), 'hello\n');
  });
}

test('numbers too large for octal: GNU base-256 and PAX records', async () => {
  for (const name of ['base256.tar', 'pax-numbers.tar']) {
    const { entries } = await walkFile(name);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.uid, 3000000, name);
    assert.equal(entries[0]?.gid, 3000001, name);
    assert.equal(entries[0]?.mtime, Date.UTC(2300, 0, 1) / 1000, name);
  }
});

for (const name of [
  'sparse-gnu.tar',
  'sparse-pax-0.0.tar',
  'sparse-pax-0.1.tar',
  'sparse-pax-1.0.tar',
  'sparse-pax-1.0.tar.gz',
]) {
  test(`${name}: real sizes, a 10 GiB sparse file streams past, small ones are assembled`, async () => {
    const before = process.memoryUsage().arrayBuffers;
    const { entries, contents } = await walkFile(name, () => true);
    assert.deepEqual(
      entries.map((e) => [e.path, e.kind, e.size]),
      [
        ['huge.img', 'file', 10 * 1024 ** 3],
        ['small.img', 'file', 65536],
        ['z-after.txt', 'file', 6],
      ],
    );
    // Asked for, but above maxContentSize: never assembled.
    assert.equal(contents.has('huge.img'), false);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    const small = contents.get('small.img');
    assert.ok(small);
    assert.equal(small.length, 65536);
    assert.equal(small.toString('latin1', 8192, 8197), 'first');
    assert.equal(small.toString('latin1', 40960, 40966), 'second');
    const nonZero = small.reduce((n, b) => n + (b === 0 ? 0 : 1), 0);
    assert.equal(nonZero, 'firstsecond'.length);
    assert.equal(contents.get('z-after.txt')?.toString(), 'after\n');
  });
}

test('content is delivered only when asked and within maxContentSize', async () => {
  const { contents } = await walkFile('gnu.tar', () => true, { maxContentSize: 7 });
  assert.deepEqual([...contents.keys()].sort(), ['etc/empty', 'usr/bin/hello']);
  const none = await walkFile('gnu.tar', () => false);
  assert.equal(none.contents.size, 0);
});

test('testkit buildTar (ustar + PAX path/linkpath records) round-trips', async () => {
  const longPath = 'opt/' + 'p'.repeat(150) + '/file.txt';
  const tar = buildTar([
    { path: 'opt', type: 'dir' },
    { path: longPath, content: 'pax!' },
    { path: 'opt/link', type: 'symlink', linkTarget: '/' + 'q'.repeat(140) },
    { path: 'opt/.wh..wh..opq' },
  ]);
  const { entries, contents } = await walk(Readable.from([gzipSync(tar)]));
  assert.deepEqual(
    entries.map((e) => [e.kind, e.path]),
    [
      ['dir', 'opt'],
      ['file', longPath],
      ['symlink', 'opt/link'],
      ['opaque', 'opt'],
    ],
  );
  assert.equal(contents.get(longPath)?.toString(), 'pax!');
  assert.equal(entries[2]?.linkTarget, '/' + 'q'.repeat(140));
});

test('chunk boundaries anywhere (headers split across chunks) give the same result', async () => {
  const data = readFileSync(fx('posix.tar'));
  const whole = await walk(Readable.from([data]));
  let seed = 7;
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < data.length;) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const n = 1 + (seed % 700);
    chunks.push(data.subarray(pos, pos + n));
    pos += n;
  }
  const pieces = await walk(Readable.from(chunks));
  assert.deepEqual(pieces.entries, whole.entries);
  assert.deepEqual(pieces.contents, whole.contents);
  // An async generator works as input too, even with one-byte chunks of a gzip stream.
  const gz = gzipSync(data);
  async function* bytes(): AsyncGenerator<Buffer> {
    for (let i = 0; i < gz.length; i++) yield gz.subarray(i, i + 1);
  }
  const tiny = await walk(bytes());
  assert.deepEqual(tiny.entries, whole.entries);
});

test('digest: sha256 and sha512 of the raw (compressed) bytes are verified', async () => {
  const raw = readFileSync(fx('posix.tar.gz'));
  await walkFile('posix.tar.gz', undefined, { expectedDigest: sha('sha256', raw) });
  await walkFile('posix.tar.gz', undefined, { expectedDigest: sha('sha512', raw) });
  const wrong = sha('sha256', Buffer.from('something else'));
  const err = await rejection(
    walkFile('posix.tar.gz', undefined, { expectedDigest: wrong, subject: 'layer sha256:abc' }),
  );
  assert.equal(err.code, 'E_DIGEST');
  assert.equal(err.describe(), `layer sha256:abc: digest mismatch: expected ${wrong}, got ${sha('sha256', raw)}`);
  const bad = await rejection(walkFile('posix.tar.gz', undefined, { expectedDigest: 'md5:0123' }));
  assert.equal(bad.code, 'E_UNSUPPORTED');
});

test('digest covers bytes after the end-of-archive blocks', async () => {
  const tmp = tempDir();
  try {
    const data = Buffer.concat([readFileSync(fx('ustar.tar')), Buffer.from('trailing bytes')]);
    const file = join(tmp.path, 'trailing.tar');
    writeFileSync(file, data);
    const { entries } = await walk(createReadStream(file), undefined, { expectedDigest: sha('sha256', data) });
    assert.equal(entries.length, 7);
    const err = await rejection(
      walk(createReadStream(file), undefined, { expectedDigest: sha('sha256', readFileSync(fx('ustar.tar'))) }),
    );
    assert.equal(err.code, 'E_DIGEST');
  } finally {
    tmp.cleanup();
  }
});

const HOSTILE: Array<[string, RegExp]> = [
  ['dotdot.tar', /entry "\.\.\/\.\.\/etc\/passwd" \(offset 1024\) escapes the layer root/],
  ['dotdot-inner.tar', /entry "a\/b\/\.\.\/\.\.\/\.\.\/escape\.txt"/],
  ['absolute.tar', /entry "\/etc\/passwd"/],
  ['symlink-escape.tar', /symlink "a\/b\/evil" -> "\.\.\/\.\.\/\.\.\/etc\/shadow"/],
  ['hardlink-escape.tar', /hardlink "a\/evil" -> "\.\.\/x"/],
  ['whiteout-dotdot.tar', /whiteout "a\/\.wh\.\.\."/],
];
for (const [name, message] of HOSTILE) {
  test(`hostile ${name} is refused with E_UNSAFE_PATH naming the layer and entry`, async () => {
    const err = await rejection(walkFile(name, undefined, { subject: `layer ${name}` }));
    assert.equal(err.code, 'E_UNSAFE_PATH');
    assert.equal(err.subject, `layer ${name}`);
    assert.match(err.message, message);
  });
}

test('".." that stays inside the root is normalized, not refused', async () => {
  const { entries, contents } = await walkFile('ok-dotdot.tar');
  assert.deepEqual(
    entries.map((e) => [e.kind, e.path, e.linkTarget]),
    [
      ['file', 'a/c.txt', undefined],
      ['symlink', 'a/l', '../a/c.txt'],
    ],
  );
  assert.equal(contents.get('a/c.txt')?.toString(), 'fine\n');
});

const CORRUPT: Array<[string, RegExp]> = [
  ['bad-checksum.tar', /^bad header checksum for the entry at offset 1536$/],
  ['truncated-content.tar', /^truncated: the stream ends inside entry "etc\/os-release" \(header at offset 512\)$/],
  ['truncated-header.tar', /^truncated: the stream ends inside the header at offset 512$/],
  ['no-end-marker.tar', /^truncated: no end-of-archive marker/],
  ['truncated.tar.gz', /^truncated: the gzip stream ends early$/],
  ['truncated.tar.zst', /^truncated: the zstd stream ends early$/],
  ['corrupt-body.tar.gz', /^corrupt gzip data: /],
  ['garbage.bin', /^not a tar archive/],
];
for (const [name, message] of CORRUPT) {
  test(`corrupt ${name} is refused with E_CORRUPT`, async () => {
    const err = await rejection(walkFile(name, undefined, { subject: `layer ${name}` }));
    assert.equal(err.code, 'E_CORRUPT');
    assert.equal(err.subject, `layer ${name}`);
    assert.match(err.message, message);
  });
}

test('a truncated blob with a digest: E_CORRUPT when the digest is its own, E_DIGEST when it is the full blob', async () => {
  const cut = readFileSync(fx('truncated.tar.gz'));
  const own = await rejection(walkFile('truncated.tar.gz', undefined, { expectedDigest: sha('sha256', cut) }));
  assert.equal(own.code, 'E_CORRUPT');
  const full = sha('sha256', readFileSync(fx('posix.tar.gz')));
  const mismatch = await rejection(walkFile('truncated.tar.gz', undefined, { expectedDigest: full }));
  assert.equal(mismatch.code, 'E_DIGEST');
});

test('empty input and unsupported compressions', async () => {
  const empty = await rejection(walk(Readable.from([])));
  assert.equal(empty.code, 'E_CORRUPT');
  assert.match(empty.message, /empty/);
  const xz = await rejection(walk(Readable.from([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3])])));
  assert.equal(xz.code, 'E_UNSUPPORTED');
});

test('abort: a stalled input is released and the walk rejects', async () => {
  const head = readFileSync(fx('ustar.tar')).subarray(0, 1024);
  let pushed = false;
  const input = new Readable({
    read(): void {
      if (!pushed) {
        pushed = true;
        this.push(head);
      }
      // then stall forever: only the abort can end this walk
    },
  });
  const ac = new AbortController();
  const seen: string[] = [];
  const walking = walkTarStream(
    input,
    { onEntry: (e) => (seen.push(e.path), false), onContent: () => {} },
    { subject: 'layer stalled', signal: ac.signal },
  );
  await new Promise((r) => setImmediate(r));
  ac.abort();
  const err = await rejection(walking);
  assert.equal(err.code, 'E_TIMEOUT');
  assert.equal(err.subject, 'layer stalled');
  assert.equal(input.destroyed, true);
  assert.deepEqual(seen, ['etc', 'etc/os-release']);

  const pre = new AbortController();
  pre.abort();
  const stream = createReadStream(fx('posix.tar.gz'));
  const early = await rejection(walk(stream, undefined, { signal: pre.signal }));
  assert.equal(early.code, 'E_TIMEOUT');
  assert.equal(stream.destroyed, true);
});

test('abort during a gzip walk rejects and destroys the file stream', async () => {
  const ac = new AbortController();
  const stream = createReadStream(fx('posix.tar.gz'), { highWaterMark: 64 });
  let n = 0;
  const err = await rejection(
    walkTarStream(
      stream,
      { onEntry: () => (++n === 3 && ac.abort(), false), onContent: () => {} },
      { subject: 'l', signal: ac.signal },
    ),
  );
  assert.equal(err.code, 'E_TIMEOUT');
  assert.equal(stream.destroyed, true);
});

test('an error thrown by the visitor ends the walk with that error', async () => {
  const boom = new PalisadeError('E_INPUT', 'visitor says no');
  const stream = createReadStream(fx('gnu.tar.zst'));
  await assert.rejects(
    walkTarStream(
      stream,
      {
        onEntry: () => {
          throw boom;
        },
        onContent: () => {},
      },
      { subject: 'l' },
    ),
    (e: unknown) => e === boom,
  );
  assert.equal(stream.destroyed, true);
});

test('a real tree packed by GNU tar and gzip: same listing as tar -tz', async () => {
  const tmp = tempDir();
  try {
    const file = join(tmp.path, 'share.tgz');
    execFileSync('sh', [
      '-c',
      `tar -C /usr/share -czf "${file}" zoneinfo common-licenses doc 2>/dev/null || test -s "${file}"`,
    ]);
    const { entries } = await walk(createReadStream(file), () => false);
    const expected = execFileSync('tar', ['--quoting-style=literal', '-tzf', file], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    })
      .split('\n')
      .filter((p) => p !== '')
      .map((p) => p.replace(/\/$/, ''));
    assert.ok(expected.length > 500);
    assert.deepEqual(
      entries.map((e) => e.path),
      expected,
    );
  } finally {
    tmp.cleanup();
  }
});
