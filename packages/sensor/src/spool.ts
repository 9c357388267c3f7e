/**
 * A bounded, append-only, on-disk FIFO of records (the publisher's spool).
 *
 * Layout of the directory:
 *   seg-000000000001.log …   segment files, appended to in order, never rewritten
 *   cursor.json              {"seg":N,"off":O}: the oldest record not yet delivered
 *
 * A record is `[u32 LE length][u32 LE CRC-32 of the payload][payload]`. Segments roll over at
 * `segmentBytes`; a segment is deleted once the cursor has moved past it, and the last one is
 * replaced by a fresh one when the spool drains, so a drained spool takes almost no disk.
 *
 * Durability: with `fsync: 'always'` (the default) `append()` resolves only after the data is
 * on disk (fdatasync), so an acknowledged record survives a crash of the process or the
 * machine. Concurrent appends are coalesced into one write + one fdatasync. The cursor file is
 * written to a temporary file, fsynced and renamed.
 *
 * Recovery: `open()` reads every segment and checks each record; a torn or corrupt tail
 * (a crash in the middle of a write, a bad CRC, an impossible length) is cut off — the
 * segment is truncated at the last good record — and counted in `corruptRegions` and
 * `corruptBytes`. Records after it in the same segment are lost; other segments are unaffected.
 *
 * The limit: `limitBytes` bounds the bytes of all segment files. A record that does not fit is
 * refused and counted (drop-newest): what is already spooled is never thrown away before it was
 * delivered, and the order of what is kept is the order of arrival.
 */
import { mkdir, open, readdir, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { PalisadeError } from '@palisade/core';

export interface SpoolPosition {
  seg: number;
  off: number;
}

export interface SpoolOptions {
  dir: string;
  /** Bytes all segment files may take together. */
  limitBytes: number;
  /** A segment rolls over once it reaches this size (default: limit / 8, between 64 KiB and 16 MiB). */
  segmentBytes?: number;
  /** `always`: append() resolves after fdatasync (default); `never`: leave it to the kernel. */
  fsync?: 'always' | 'never';
  /** Largest record accepted (default 8 MiB). */
  maxRecordBytes?: number;
}

export interface SpoolStats {
  /** Bytes of all segment files. */
  bytes: number;
  /** Records not yet delivered. */
  items: number;
  segments: number;
  limitBytes: number;
  appended: number;
  /** Records refused because the spool was at its limit (or too large for a record). */
  dropped: number;
  /** Torn or corrupt regions cut off at open (or skipped while reading). */
  corruptRegions: number;
  corruptBytes: number;
}

export interface SpoolReadResult {
  records: Buffer[];
  /** Where the next read starts; pass it to commit() once the records are delivered. */
  end: SpoolPosition;
}

const HEADER = 8;
const SEG_RE = /^seg-(\d{12})\.log$/;

function segName(n: number): string {
  return `seg-${String(n).padStart(12, '0')}.log`;
}

/** CRC-32 (IEEE): node's own where present (≥ 20.15), else a table implementation. */
const crc32: (b: Uint8Array) => number = (() => {
  const native = (zlib as { crc32?: (b: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return (b: Uint8Array): number => native(b) >>> 0;
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return (b: Uint8Array): number => {
    let c = 0xffffffff;
    for (const x of b) c = (table[(c ^ x) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
})();

function encodeRecord(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

interface SegmentMeta {
  size: number;
}

interface ScanResult {
  /** Offsets at which records start (ascending) and the end of the last good record. */
  validEnd: number;
  boundaries: number[];
}

function scanSegment(buf: Buffer, maxRecord: number): ScanResult {
  const boundaries: number[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len > maxRecord || off + HEADER + len > buf.length) break;
    const crc = buf.readUInt32LE(off + 4);
    if (crc32(buf.subarray(off + HEADER, off + HEADER + len)) !== crc) break;
    boundaries.push(off);
    off += HEADER + len;
  }
  return { validEnd: off, boundaries };
}

interface PendingAppend {
  records: Buffer[];
  resolve: (r: { appended: number; dropped: number }) => void;
  reject: (e: unknown) => void;
}

export class Spool {
  private readonly segments = new Map<number, SegmentMeta>();
  private active!: { n: number; fh: FileHandle };
  private cursorPos: SpoolPosition = { seg: 1, off: 0 };
  private totalBytes = 0;
  private items = 0;
  private readonly s = { appended: 0, dropped: 0, corruptRegions: 0, corruptBytes: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private waiters: (() => void)[] = [];
  private closed = false;
  readonly limitBytes: number;
  private readonly segmentBytes: number;
  private readonly maxRecord: number;

  private constructor(private readonly opts: SpoolOptions) {
    if (!Number.isSafeInteger(opts.limitBytes) || opts.limitBytes < 4096)
      throw new PalisadeError('E_INPUT', `spool limit must be at least 4096 bytes, got ${opts.limitBytes}`, {
        subject: opts.dir,
      });
    this.limitBytes = opts.limitBytes;
    this.segmentBytes =
      opts.segmentBytes ?? Math.min(16 * 1024 * 1024, Math.max(64 * 1024, Math.floor(opts.limitBytes / 8)));
    this.maxRecord = opts.maxRecordBytes ?? 8 * 1024 * 1024;
  }

  /** Opens (creating if needed) the spool in `dir`, recovering from a crash. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts);
    try {
      await spool.recover();
    } catch (err) {
      if (err instanceof PalisadeError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new PalisadeError('E_CONFIG', `cannot open the spool: ${e.code ?? e.message}`, {
        subject: opts.dir,
        cause: err,
      });
    }
    return spool;
  }

  private path(n: number): string {
    return join(this.opts.dir, segName(n));
  }

  private async recover(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const names = await readdir(this.opts.dir);
    for (const f of names) if (f.endsWith('.tmp')) await unlink(join(this.opts.dir, f)).catch(() => undefined);
    const nums = names
      .map((f) => SEG_RE.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const cursor = await this.readCursor();
    const first = nums[0];
    if (first === undefined) this.cursorPos = { seg: cursor?.seg ?? 1, off: 0 };
    else if (cursor && nums.includes(cursor.seg)) this.cursorPos = cursor;
    else if (cursor && cursor.seg > first) {
      // The cursor's segment is gone (rolled after a drain): start at the next one that exists.
      const next = nums.find((n) => n > cursor.seg);
      this.cursorPos = { seg: next ?? cursor.seg, off: 0 };
    } else this.cursorPos = { seg: first, off: 0 };

    for (const n of nums) {
      if (n < this.cursorPos.seg) {
        // Delivered before a crash that came between the cursor write and the deletion.
        await unlink(this.path(n));
        continue;
      }
      const buf = await readFile(this.path(n));
      const scan = scanSegment(buf, this.maxRecord);
      if (scan.validEnd < buf.length) {
        this.s.corruptRegions++;
        this.s.corruptBytes += buf.length - scan.validEnd;
        await truncate(this.path(n), scan.validEnd);
      }
      let from = 0;
      if (n === this.cursorPos.seg) {
        // Snap a cursor that is not on a record boundary back to the one before it: a record
        // may be sent twice (the server deduplicates) but never skipped.
        let snapped = 0;
        for (const b of scan.boundaries) if (b <= this.cursorPos.off) snapped = b;
        if (this.cursorPos.off !== snapped && this.cursorPos.off !== scan.validEnd) this.cursorPos.off = snapped;
        if (this.cursorPos.off > scan.validEnd) this.cursorPos.off = scan.validEnd;
        from = this.cursorPos.off;
      }
      this.items += scan.boundaries.filter((b) => b >= from).length;
      this.segments.set(n, { size: scan.validEnd });
      this.totalBytes += scan.validEnd;
    }
    const last = [...this.segments.keys()].pop();
    const activeN = last ?? this.cursorPos.seg;
    if (!this.segments.has(activeN)) this.segments.set(activeN, { size: 0 });
    this.active = { n: activeN, fh: await open(this.path(activeN), 'a') };
  }

  private async readCursor(): Promise<SpoolPosition | undefined> {
    try {
      const v = JSON.parse(await readFile(join(this.opts.dir, 'cursor.json'), 'utf8')) as Partial<SpoolPosition>;
      if (Number.isSafeInteger(v.seg) && Number.isSafeInteger(v.off) && (v.seg as number) > 0 && (v.off as number) >= 0)
        return { seg: v.seg as number, off: v.off as number };
    } catch {
      // Missing or unreadable: start from the oldest segment (at-least-once).
    }
    return undefined;
  }

  private async writeCursor(pos: SpoolPosition): Promise<void> {
    const file = join(this.opts.dir, 'cursor.json');
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(pos));
      if (this.opts.fsync !== 'never') await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  }

  /** Serialises mutations (appends, commits, rolls) without blocking reads. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Appends records in order. Resolves once they are durable (per the fsync policy) with how
   * many were stored and how many were refused because the spool is at its limit.
   */
  append(records: Buffer[]): Promise<{ appended: number; dropped: number }> {
    if (this.closed)
      return Promise.reject(new PalisadeError('E_INTERNAL', 'spool is closed', { subject: this.opts.dir }));
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        void this.exclusive(() => this.flushPending());
      }
    });
  }

  private async flushPending(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    const results = batch.map(() => ({ appended: 0, dropped: 0 }));
    let parts: Buffer[] = [];
    let partBytes = 0;
    let newBytes = 0;
    let newItems = 0;
    let activeSize = this.segments.get(this.active.n)?.size ?? 0;
    // Segments this append wrote to, with their size before it (to undo a failed write).
    const touched: { n: number; before: number }[] = [{ n: this.active.n, before: activeSize }];
    const rolled: FileHandle[] = [];
    try {
      for (const [i, p] of batch.entries()) {
        const r = results[i] as { appended: number; dropped: number };
        for (const payload of p.records) {
          const rec = payload.length <= this.maxRecord ? encodeRecord(payload) : undefined;
          if (!rec || this.totalBytes + newBytes + rec.length > this.limitBytes) {
            r.dropped++;
            continue;
          }
          if (activeSize > 0 && activeSize + rec.length > this.segmentBytes) {
            await this.writeParts(parts, partBytes);
            this.segments.set(this.active.n, { size: activeSize });
            rolled.push(this.active.fh);
            const n = this.active.n + 1;
            this.active = { n, fh: await open(this.path(n), 'a') };
            this.segments.set(n, { size: 0 });
            touched.push({ n, before: 0 });
            parts = [];
            partBytes = 0;
            activeSize = 0;
          }
          parts.push(rec);
          partBytes += rec.length;
          activeSize += rec.length;
          newBytes += rec.length;
          newItems++;
          r.appended++;
        }
      }
      await this.writeParts(parts, partBytes);
      if (this.opts.fsync !== 'never') {
        for (const fh of rolled) await fh.datasync();
        await this.active.fh.datasync();
      }
    } catch (err) {
      // Undo the partial write so every segment ends on a record boundary; nothing is
      // acknowledged, so the sender keeps the records and offers them again.
      for (const t of touched) {
        await truncate(this.path(t.n), t.before).catch(() => undefined);
        this.segments.set(t.n, { size: t.before });
      }
      for (const p of batch) p.reject(err);
      return;
    } finally {
      for (const fh of rolled) await fh.close().catch(() => undefined);
    }
    this.segments.set(this.active.n, { size: activeSize });
    this.totalBytes += newBytes;
    this.items += newItems;
    let appended = 0;
    for (const [i, p] of batch.entries()) {
      const r = results[i] as { appended: number; dropped: number };
      this.s.appended += r.appended;
      this.s.dropped += r.dropped;
      appended += r.appended;
      p.resolve(r);
    }
    if (appended > 0) for (const w of this.waiters.splice(0)) w();
  }

  private async writeParts(parts: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const buf = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, bytes);
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.active.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
  }

  /** Counts records dropped elsewhere on the spool's behalf (e.g. unreadable input). */
  countDropped(n: number): void {
    this.s.dropped += n;
  }

  /** The oldest record not yet delivered. */
  get cursor(): SpoolPosition {
    return { ...this.cursorPos };
  }

  /** Where the next record will go. */
  get tail(): SpoolPosition {
    return { seg: this.active.n, off: this.segments.get(this.active.n)?.size ?? 0 };
  }

  isEmpty(): boolean {
    return this.items === 0;
  }

  /** Resolves after the next append that stored something (or at once if `signal` aborts). */
  waitForData(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Reads records from `from` in order, at most `maxItems` and `maxBytes` of payload (but at
   * least one record), not beyond `until` when given. A record whose CRC does not match (the
   * file changed after open) is counted and skipped.
   */
  async read(
    from: SpoolPosition,
    opts: { maxItems: number; maxBytes: number; until?: SpoolPosition },
  ): Promise<SpoolReadResult> {
    const records: Buffer[] = [];
    let bytes = 0;
    let pos = { ...from };
    const nums = [...this.segments.keys()].sort((a, b) => a - b);
    const until = opts.until;
    const reached = (p: SpoolPosition): boolean =>
      until !== undefined && (p.seg > until.seg || (p.seg === until.seg && p.off >= until.off));
    let full = false;
    while (!full && records.length < opts.maxItems && !reached(pos)) {
      const meta = this.segments.get(pos.seg);
      const end = meta === undefined ? 0 : until?.seg === pos.seg ? Math.min(meta.size, until.off) : meta.size;
      if (pos.off >= end) {
        const next = nums.find((n) => n > pos.seg);
        if (next === undefined || reached({ seg: next, off: 0 })) break;
        pos = { seg: next, off: 0 };
        continue;
      }
      const chunk = await this.readAt(pos.seg, pos.off, Math.min(end - pos.off, 1024 * 1024));
      let off = 0;
      // The rest of this segment is unusable: the file changed under us (shrunk, overwritten).
      const giveUp = (): void => {
        this.s.corruptRegions++;
        this.s.corruptBytes += end - (pos.off + off);
        off = end - pos.off;
      };
      if (chunk.length < HEADER) {
        // Not even a record header where the spool's bookkeeping has records: the segment was
        // truncated. Without this the same read would be retried forever.
        giveUp();
      }
      while (off + HEADER <= chunk.length && records.length < opts.maxItems) {
        const len = chunk.readUInt32LE(off);
        if (len > this.maxRecord || pos.off + off + HEADER + len > end) {
          giveUp();
          break;
        }
        if (records.length > 0 && bytes + len > opts.maxBytes) {
          full = true;
          break;
        }
        let rec: Buffer;
        if (off + HEADER + len <= chunk.length) rec = chunk.subarray(off, off + HEADER + len);
        else if (off === 0) rec = await this.readAt(pos.seg, pos.off, HEADER + len);
        else break; // continue with a fresh chunk from this record
        if (rec.length < HEADER + len) {
          giveUp(); // the file ends inside the record
          break;
        }
        const payload = this.checked(rec.subarray(HEADER), rec.readUInt32LE(4));
        if (payload) records.push(Buffer.from(payload));
        bytes += len;
        off += HEADER + len;
      }
      pos = { seg: pos.seg, off: pos.off + off };
    }
    return { records, end: pos };
  }

  private checked(payload: Buffer, crc: number): Buffer | undefined {
    if (crc32(payload) === crc) return payload;
    this.s.corruptRegions++;
    this.s.corruptBytes += payload.length + HEADER;
    return undefined;
  }

  private async readAt(seg: number, off: number, len: number): Promise<Buffer> {
    const fh = await open(this.path(seg), 'r');
    try {
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  /**
   * Marks everything before `to` delivered (`items` records): persists the cursor, deletes
   * segments wholly before it and, when the spool is now empty, starts a fresh segment.
   */
  commit(to: SpoolPosition, items: number): Promise<void> {
    return this.exclusive(async () => {
      this.cursorPos = { ...to };
      this.items = Math.max(0, this.items - items);
      const tail = this.tail;
      const drained = to.seg === tail.seg && to.off >= tail.off;
      if (drained && tail.off > 0) {
        // Roll so the delivered data can go: new segment first, then the cursor, then delete.
        const n = this.active.n + 1;
        const fh = await open(this.path(n), 'a');
        await this.active.fh.close();
        this.active = { n, fh };
        this.segments.set(n, { size: 0 });
        this.cursorPos = { seg: n, off: 0 };
        this.items = 0;
      }
      await this.writeCursor(this.cursorPos);
      for (const [n, meta] of [...this.segments]) {
        if (n >= this.cursorPos.seg) continue;
        await unlink(this.path(n)).catch(() => undefined);
        this.totalBytes -= meta.size;
        this.segments.delete(n);
      }
    });
  }

  stats(): SpoolStats {
    return {
      bytes: this.totalBytes,
      items: this.items,
      segments: this.segments.size,
      limitBytes: this.limitBytes,
      ...this.s,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.active.fh.close();
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Size of a spool directory's segment files (for tests and diagnostics). */
export async function spoolDiskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) if (SEG_RE.test(f)) total += (await stat(join(dir, f))).size;
  return total;
}
