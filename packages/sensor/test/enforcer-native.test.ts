/**
 * The drift enforcer helper's output framing (native/enforcer.c), compiled with
 * AddressSanitizer around a small harness that feeds `on_record` directly: the kernel only
 * ever sends 840-byte stop records, so the size limits cannot be reached through it. Needs
 * a C compiler with ASan and libbpf-dev (as scripts/build-sensor.sh does); no root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@palisade/testkit';

const SENSOR = join(repoRoot(), 'packages', 'sensor');

/** Why the test cannot run here, or false. */
function skipReason(): string | false {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-asan-probe-'));
  try {
    writeFileSync(join(dir, 'p.c'), '#include <bpf/libbpf.h>\nint main(void) { return 0; }\n');
    const r = spawnSync('cc', ['-fsanitize=address', join(dir, 'p.c'), '-o', join(dir, 'p'), '-lbpf'], {
      encoding: 'utf8',
    });
    if (r.error) return 'no C compiler (cc)';
    return r.status === 0 ? false : `cannot build with ASan and libbpf: ${r.stderr.split('\n')[0] ?? ''}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HARNESS = (enforcerC: string): string => `
#define main enforcer_main
#include "${enforcerC}"
#undef main
/* Frames the helper writes for records of 100 bytes, the largest frameable size, and the
 * largest size the ring buffer callback used to accept (64 KiB). */
int main(void)
{
	static unsigned char rec[64 * 1024];
	for (unsigned i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char)i;
	on_record(NULL, rec, 100);
	on_record(NULL, rec, 64 * 1024 - 4);
	on_record(NULL, rec, 64 * 1024);
	on_record(NULL, rec, 7); /* shorter than a record header */
	flush_out();
	return 0;
}
`;

/** Splits `[u32 LE length][record]` frames; throws on a torn stream. */
function frames(out: Buffer): number[] {
  const sizes: number[] = [];
  let off = 0;
  while (off < out.length) {
    assert.ok(off + 4 <= out.length, 'torn length prefix');
    const len = out.readUInt32LE(off);
    assert.ok(off + 4 + len <= out.length, 'torn frame');
    sizes.push(len);
    off += 4 + len;
  }
  return sizes;
}

const SKIP = skipReason();

test(
  'enforcer output: records too large to frame are dropped, never written past the buffer (ASan)',
  { skip: SKIP, timeout: 300_000 },
  () => {
    execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    const dir = mkdtempSync(join(tmpdir(), 'palisade-enforcer-asan-'));
    try {
      writeFileSync(join(dir, 'harness.c'), HARNESS(join(SENSOR, 'native', 'enforcer.c')));
      execFileSync(
        'cc',
        [
          '-g',
          '-std=gnu11',
          '-fsanitize=address',
          '-fno-omit-frame-pointer',
          `-I${join(SENSOR, 'build')}`,
          `-I${join(SENSOR, 'bpf')}`,
          join(dir, 'harness.c'),
          '-o',
          join(dir, 'harness'),
          '-lbpf',
          '-lelf',
          '-lz',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const r = spawnSync(join(dir, 'harness'), [], { maxBuffer: 1 << 20 });
      const stderr = r.stderr.toString('utf8');
      assert.ok(!/AddressSanitizer/.test(stderr), stderr.split('\n').slice(0, 6).join('\n'));
      assert.equal(r.status, 0, stderr);
      const rec = Buffer.alloc(100);
      for (let i = 0; i < rec.length; i++) rec[i] = i & 0xff;
      assert.deepEqual(frames(r.stdout), [100, 64 * 1024 - 4], 'the frameable records, in order; the others dropped');
      assert.deepEqual(r.stdout.subarray(4, 104), rec, 'record bytes copied as they were');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
