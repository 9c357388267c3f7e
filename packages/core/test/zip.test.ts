import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readZip, PalisadeError } from '../src/index.js';

// Archives are made by Python's zipfile (an independent writer), not by us.
function pyZip(script: string): Buffer {
  const code = `import io, zipfile, sys\nb = io.BytesIO()\n${script}\nsys.stdout.buffer.write(b.getvalue())`;
  return execFileSync('python3', ['-c', code], { maxBuffer: 64 * 1024 * 1024 });
}

test('reads stored and deflated entries, directories and UTF-8 names', () => {
  const buf = pyZip(`
with zipfile.ZipFile(b, 'w') as z:
    z.writestr('META-INF/', '')
    z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n', compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('stored.txt', 'plain', compress_type=zipfile.ZIP_STORED)
    z.writestr('größe.txt', 'x' * 100000, compress_type=zipfile.ZIP_DEFLATED)`);
  const entries = readZip(buf, { subject: 'test.jar' });
  assert.deepEqual(
    entries.map((e) => [e.name, e.isDirectory, e.size]),
    [
      ['META-INF/', true, 0],
      ['META-INF/MANIFEST.MF', false, 22],
      ['stored.txt', false, 5],
      ['größe.txt', false, 100000],
    ],
  );
  assert.equal(entries[1]?.read().toString(), 'Manifest-Version: 1.0\n');
  assert.equal(entries[2]?.read().toString(), 'plain');
  assert.equal(entries[3]?.read().length, 100000);
});

test('reads ZIP64 archives', () => {
  const buf = pyZip(`
with zipfile.ZipFile(b, 'w', allowZip64=True) as z:
    with z.open('big.txt', 'w', force_zip64=True) as f:
        f.write(b'hello zip64')`);
  const [e] = readZip(buf);
  assert.equal(e?.read().toString(), 'hello zip64');
});

test('a truncated archive is a clear E_CORRUPT error naming it', () => {
  const buf = pyZip(`
with zipfile.ZipFile(b, 'w') as z:
    z.writestr('a.txt', 'a' * 1000, compress_type=zipfile.ZIP_DEFLATED)`);
  assert.throws(
    () => readZip(buf.subarray(0, buf.length - 30), { subject: 'app.jar' }),
    (e: unknown) => e instanceof PalisadeError && e.code === 'E_CORRUPT' && e.describe().startsWith('app.jar:'),
  );
  assert.throws(() => readZip(Buffer.from('not a zip at all, just text here')), /no end of central directory/);
});

test('a flipped content byte fails the CRC check; a bomb hits the size limit', () => {
  const buf = pyZip(`
with zipfile.ZipFile(b, 'w') as z:
    z.writestr('a.txt', 'abcdefgh', compress_type=zipfile.ZIP_STORED)
    z.writestr('bomb.bin', b'\\0' * (4 * 1024 * 1024), compress_type=zipfile.ZIP_DEFLATED)`);
  const copy = Buffer.from(buf);
  const at = copy.indexOf('abcdefgh');
  copy[at] = 0x7a;
  const entries = readZip(copy, { subject: 'x.zip', maxEntrySize: 1024 * 1024 });
  assert.throws(() => entries[0]?.read(), /CRC mismatch/);
  assert.throws(
    () => entries[1]?.read(),
    (e: unknown) => e instanceof PalisadeError && e.code === 'E_TOO_LARGE',
  );
});
