import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, spoolDiskBytes, type SpoolPosition } from '../src/spool.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'palisade-spool-'));
}

function rec(n: number, pad = 0): Buffer {
  return Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(pad) }));
}

function nums(records: Buffer[]): number[] {
  return records.map((r) => (JSON.parse(r.toString()) as { n: number }).n);
}

/** Reads everything from the cursor in batches, committing each, and returns the numbers. */
async function drain(spool: Spool, maxItems = 7): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const r = await spool.read(spool.cursor, { maxItems, maxBytes: 1 << 20 });
    if (r.records.length === 0) break;
    out.push(...nums(r.records));
    await spool.commit(r.end, r.records.length);
  }
  return out;
}

test('spool: FIFO across segments, segments deleted as they are delivered, a drained spool takes no disk', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, limitBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 0; i < 10; i++) await spool.append(Array.from({ length: 20 }, (_, j) => rec(i * 20 + j, 30)));
    const st = spool.stats();
    assert.equal(st.items, 200);
    assert.ok(st.segments > 2, `several segments expected, got ${st.segments}`);
    assert.equal(st.bytes, await spoolDiskBytes(dir));
    assert.deepEqual(
      await drain(spool),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(spool.stats().items, 0);
    assert.equal(spool.stats().bytes, 0);
    assert.equal(await spoolDiskBytes(dir), 0);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: beyond the limit new records are refused and counted; what was kept is intact and in order', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, limitBytes: 8192, segmentBytes: 4096 });
    let appended = 0;
    let dropped = 0;
    for (let i = 0; i < 100; i++) {
      const r = await spool.append([rec(i, 200)]);
      appended += r.appended;
      dropped += r.dropped;
    }
    assert.ok(appended > 0 && dropped > 0);
    assert.equal(appended + dropped, 100);
    assert.equal(spool.stats().dropped, dropped);
    assert.ok((await spoolDiskBytes(dir)) <= 8192, 'disk use stays under the limit');
    assert.deepEqual(
      await drain(spool),
      Array.from({ length: appended }, (_, i) => i),
    );
    // Room again after delivery.
    assert.deepEqual(await spool.append([rec(1000)]), { appended: 1, dropped: 0 });
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: survives a restart: undelivered records and the cursor come back', async () => {
  const dir = tmp();
  try {
    let spool = await Spool.open({ dir, limitBytes: 1 << 20, segmentBytes: 4096 });
    await spool.append(Array.from({ length: 100 }, (_, i) => rec(i, 40)));
    const r = await spool.read(spool.cursor, { maxItems: 30, maxBytes: 1 << 20 });
    await spool.commit(r.end, r.records.length);
    await spool.close();

    spool = await Spool.open({ dir, limitBytes: 1 << 20, segmentBytes: 4096 });
    assert.equal(spool.stats().items, 70);
    assert.deepEqual(
      await drain(spool),
      Array.from({ length: 70 }, (_, i) => 30 + i),
    );
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: a torn tail (crash mid-write) and a corrupt record are cut off and counted; appends go on', async () => {
  const dir = tmp();
  try {
    let spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    await spool.append([rec(1), rec(2), rec(3)]);
    await spool.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.startsWith('seg-')) as string);
    const good = statSync(seg).size;
    // Half a record: a length that promises more than is there.
    const torn = Buffer.alloc(12);
    torn.writeUInt32LE(100, 0);
    appendFileSync(seg, torn);

    spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    assert.equal(spool.stats().corruptRegions, 1);
    assert.equal(spool.stats().corruptBytes, 12);
    assert.equal(statSync(seg).size, good, 'torn bytes truncated');
    await spool.append([rec(4)]);
    assert.deepEqual(await drain(spool), [1, 2, 3, 4]);
    await spool.close();

    // A flipped byte inside the last record: its CRC no longer matches.
    spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    await spool.append([rec(5), rec(6)]);
    await spool.close();
    const seg2 = join(
      dir,
      readdirSync(dir)
        .filter((f) => f.startsWith('seg-'))
        .sort()
        .pop() as string,
    );
    const size = statSync(seg2).size;
    truncateSync(seg2, size - 1);
    appendFileSync(seg2, Buffer.from('#'));
    spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    assert.equal(spool.stats().corruptRegions, 1);
    assert.deepEqual(await drain(spool), [5]);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Rejects when `p` has not settled within `ms` (a read that never returns fails the test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

test('spool: a segment truncated under a running reader is skipped and counted; reads stay bounded', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, limitBytes: 1 << 20, segmentBytes: 4096 });
    await spool.append(Array.from({ length: 120 }, (_, i) => rec(i, 100)));
    const segs = readdirSync(dir)
      .filter((f) => f.startsWith('seg-'))
      .sort();
    assert.ok(segs.length >= 3, `several segments expected, got ${segs.length}`);
    const inSecond = nums(
      (await spool.read({ seg: 2, off: 0 }, { maxItems: 1000, maxBytes: 1 << 20, until: { seg: 3, off: 0 } })).records,
    );
    // Shorter than a record header: a read used to return nothing and not move, forever.
    truncateSync(join(dir, segs[0] as string), 3);
    const r = await within(spool.read(spool.cursor, { maxItems: 1000, maxBytes: 1 << 20 }), 5000, 'read');
    assert.equal(spool.stats().corruptRegions, 1);
    assert.ok(r.end.seg > 1, 'the reader moved past the truncated segment');
    assert.deepEqual(nums(r.records).slice(0, inSecond.length), inSecond, 'the next segment is read as it was');

    // The active (last) segment shrunk to inside its first record: the read ends, bounded.
    const last = join(dir, segs.at(-1) as string);
    truncateSync(last, 10);
    const lastNo = Number(/\d+/.exec(segs.at(-1) as string)?.[0]);
    const r2 = await within(spool.read({ seg: lastNo, off: 0 }, { maxItems: 1000, maxBytes: 1 << 20 }), 5000, 'read');
    assert.deepEqual(r2.records, []);
    assert.equal(spool.stats().corruptRegions, 2);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: read stops at `until` and at maxBytes (but returns at least one record)', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, limitBytes: 1 << 20, segmentBytes: 4096 });
    await spool.append(Array.from({ length: 50 }, (_, i) => rec(i, 100)));
    const first = await spool.read(spool.cursor, { maxItems: 20, maxBytes: 1 << 20 });
    assert.equal(first.records.length, 20);
    const again = await spool.read(spool.cursor, { maxItems: 1000, maxBytes: 1 << 20, until: first.end });
    assert.deepEqual(nums(again.records), nums(first.records));
    assert.deepEqual(again.end, first.end);
    const small = await spool.read(spool.cursor, { maxItems: 1000, maxBytes: 1 });
    assert.equal(small.records.length, 1);
    const bytes = await spool.read(spool.cursor, { maxItems: 1000, maxBytes: 1000 });
    assert.ok(bytes.records.length >= 1 && bytes.records.length < 10);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: a cursor file that is missing or garbage means start from the oldest record', async () => {
  const dir = tmp();
  try {
    let spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    await spool.append([rec(1), rec(2)]);
    const r = await spool.read(spool.cursor, { maxItems: 1, maxBytes: 1 << 20 });
    const mid: SpoolPosition = r.end;
    await spool.commit(mid, 1);
    await spool.close();
    writeFileSync(join(dir, 'cursor.json'), '{not json');
    spool = await Spool.open({ dir, limitBytes: 1 << 20 });
    assert.deepEqual(await drain(spool), [1, 2]);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: concurrent appends are stored in call order', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, limitBytes: 1 << 22, segmentBytes: 8192 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append([rec(i * 2), rec(i * 2 + 1)])));
    assert.deepEqual(
      await drain(spool, 13),
      Array.from({ length: 100 }, (_, i) => i),
    );
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool: a limit below 4096 bytes is refused with a clear error', async () => {
  await assert.rejects(Spool.open({ dir: tmp(), limitBytes: 10 }), /spool limit must be at least 4096 bytes/);
});
