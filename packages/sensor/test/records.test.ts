import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import {
  CONNECT_SIZE,
  decodeRecord,
  EXEC_SIZE,
  FLAG_CGROUP_V1,
  FrameReader,
  MAX_RECORD_SIZE,
  RecordPipeline,
  type DecodedRecord,
} from '../src/index.js';

// Fixtures are records captured from the real loader on a 6.18 kernel (see README.md):
// /bin/true run with args on the host, a TCP connect to 127.0.0.1, `/bin/echo` exec'd
// inside a podman container (cgroupfs driver, id 982c1af8…), the exit of /bin/true.
const fx = (name: string): Buffer => readFileSync(fixturePath('sensor', `${name}.bin`));
const CONTAINER_ID = '982c1af8cee8cf04cebb16dbdfe27b95f75768a4eb5ac35330d783560fe84be4';

function decoded(buf: Uint8Array): DecodedRecord {
  const r = decodeRecord(buf);
  if (!r.ok) throw new Error(r.error);
  return r.record;
}

/** Frames a payload as the loader does: u32 LE length, then the bytes. */
function frame(payload: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([len, payload]);
}

test('exec record of a host process: argv, filename, comm, ids', () => {
  const r = decoded(fx('exec-host'));
  assert.equal(r.kind, 'exec');
  if (r.kind !== 'exec') return;
  assert.equal(r.filename, '/bin/true');
  assert.deepEqual(r.argv, ['/bin/true', 'palisade-smoke', 'arg two']);
  assert.equal(r.comm, 'true');
  assert.equal(r.uid, 0);
  assert.ok(r.tgid > 0 && r.ppid > 0);
  assert.equal(r.pidnsLevel, 0);
  assert.ok(r.tsBootNs > 0n);
  // Host processes here sit in the v2 root, so the kernel side took the v1 memory cgroup.
  assert.ok(r.flags & FLAG_CGROUP_V1);
  assert.deepEqual(r.cgroupPath, ['process_api', 'c042d4ca76397006ad3c4943fa2a8201']);
});

test('exec record inside a podman container: cgroup path is root first and names the container', () => {
  const r = decoded(fx('exec-container'));
  if (r.kind !== 'exec') throw new Error('not exec');
  assert.equal(r.filename, '/bin/echo');
  assert.deepEqual(r.argv, ['/bin/echo', 'palisade-in-container']);
  // On this hybrid cgroup host runc put the container in the v2 hierarchy too, so the
  // path is the v2 one (no v1 fallback).
  assert.equal(r.flags & FLAG_CGROUP_V1, 0);
  assert.deepEqual(r.cgroupPath, ['libpod_parent', `libpod-${CONTAINER_ID}`]);
  assert.ok(r.pidnsLevel > 0);
});

test('connect record: IPv4 addresses and ports in host order', () => {
  const r = decoded(fx('connect-ipv4'));
  if (r.kind !== 'connect') throw new Error('not connect');
  assert.equal(r.family, 'ipv4');
  assert.equal(r.protocol, 6);
  assert.equal(r.dstAddr, '127.0.0.1');
  assert.equal(r.srcAddr, '127.0.0.1');
  assert.equal(r.dstPort, 42865);
});

test('connect record: IPv6 text forms', () => {
  const b = Buffer.from(fx('connect-ipv4'));
  b.writeUInt16LE(10, 840);
  // daddr ::1, saddr ::ffff:127.0.0.1
  b.fill(0, 856, 888);
  b[887] = 1;
  b[866] = 0xff;
  b[867] = 0xff;
  b.set([127, 0, 0, 1], 868);
  const r = decoded(b);
  if (r.kind !== 'connect') throw new Error('not connect');
  assert.equal(r.family, 'ipv6');
  assert.equal(r.dstAddr, '::1');
  assert.equal(r.srcAddr, '::ffff:127.0.0.1');
  b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42], 872);
  const r2 = decoded(b);
  assert.equal(r2.kind === 'connect' && r2.dstAddr, '2001:db8::42');
});

test('exit, ready and counters records', () => {
  const e = decoded(fx('exit-host'));
  assert.equal(e.kind === 'exit' && e.status, 0);
  const ready = decoded(fx('ready'));
  if (ready.kind !== 'ready') throw new Error('not ready');
  assert.ok(ready.loaderPid > 0);
  assert.ok(ready.realtimeNs > ready.boottimeNs);
  const c = decoded(fx('counters'));
  if (c.kind !== 'counters') throw new Error('not counters');
  assert.equal(c.kernel.length, 4);
  assert.ok((c.kernel[1]?.[0] ?? 0n) > 0n, 'exec seen counter');
});

test('truncated, oversized, wrong-version and garbage records are errors, never exceptions', () => {
  const exec = fx('exec-host');
  const bad: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /shorter/],
    ['prefix only', exec.subarray(0, 5), /shorter/],
    ['truncated exec', exec.subarray(0, EXEC_SIZE - 1), /expected 1616/],
    ['exec with extra bytes', Buffer.concat([exec, Buffer.alloc(3)]), /expected 1616/],
    ['garbage', Buffer.from('this is not a record at all, just text'), /version|unknown|size/],
  ];
  const v2 = Buffer.from(exec);
  v2.writeUInt16LE(2, 0);
  bad.push(['wrong version', v2, /version 2/]);
  const unk = Buffer.from(exec);
  unk.writeUInt16LE(77, 2);
  bad.push(['unknown type', unk, /unknown record type 77/]);
  const fam = Buffer.from(fx('connect-ipv4'));
  fam.writeUInt16LE(1, 840);
  bad.push(['connect with AF_UNIX', fam, /family 1/]);
  // Pseudo-random bytes of every length up to a connect record: none may throw.
  let x = 12345;
  for (let len = 0; len <= CONNECT_SIZE; len += 37) {
    const g = Buffer.alloc(len);
    for (let i = 0; i < len; i++) g[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    bad.push([`random ${len}`, g, /./]);
  }
  for (const [name, buf, re] of bad) {
    const r = decodeRecord(buf);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.match(r.error, re, name);
  }
});

test('pipeline counts bad records and keeps going', () => {
  const p = new RecordPipeline({ node: 'n1' });
  p.onFrame(fx('ready'));
  p.onFrame(fx('exec-host').subarray(0, 100)); // truncated
  p.onFrame(Buffer.from('garbage garbage garbage'));
  p.onFrame(fx('exec-host'));
  p.onFrame(fx('connect-ipv4'));
  p.onFrame(fx('exit-host'));
  p.onFrame(fx('counters'));
  const c = p.counters();
  assert.equal(c.frames, 7);
  assert.equal(c.decodeErrors, 2);
  assert.equal(c.byType['process.exec'].decoded, 1);
  assert.equal(c.byType['network.connect'].decoded, 1);
  assert.equal(c.byType['process.exit'].decoded, 1);
  assert.ok(c.byType['process.exec'].seen > 0, 'kernel counters applied');
  assert.equal(c.queued, 3);
});

test('event records before the ready record are counted, not converted', () => {
  const p = new RecordPipeline({ node: 'n1' });
  p.onFrame(fx('exec-host'));
  assert.equal(p.counters().decodeErrors, 1);
  assert.match(p.lastDecodeError ?? '', /before the ready/);
});

test('pipeline turns records into core events with container attribution and ancestry', async () => {
  const p = new RecordPipeline({
    node: 'n1',
    // Resolves nothing: the event must keep the id and say it is unresolved.
    resolveContainer: () => undefined,
  });
  p.onFrame(fx('ready'));
  p.onFrame(fx('exec-host'));
  p.onFrame(fx('exec-container'));
  p.onFrame(fx('connect-ipv4'));
  p.queue.close();
  const events = [];
  for await (const e of p.queue) events.push(e);
  assert.equal(events.length, 3);
  const [host, ctr, conn] = events;
  assert.equal(host?.type, 'process.exec');
  assert.equal(host?.proc.exe, '/bin/true');
  assert.equal(host?.proc.name, 'true');
  assert.deepEqual(host?.proc.argv, ['/bin/true', 'palisade-smoke', 'arg two']);
  assert.equal(host?.container, undefined);
  assert.equal(host?.node, 'n1');
  assert.match(host?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(ctr?.container, {
    id: CONTAINER_ID,
    name: '',
    image: '',
    imageDigest: '',
    runtime: 'podman',
    resolved: false,
  });
  assert.equal(conn?.type, 'network.connect');
  if (conn?.type === 'network.connect') {
    assert.equal(conn.net.dstPort, 42865);
    assert.equal(conn.net.protocol, 'tcp');
  }
  assert.notEqual(host?.id, ctr?.id);
});

test('a resolver fills container metadata', async () => {
  const p = new RecordPipeline({
    node: 'n1',
    resolveContainer: (a) =>
      a.id === CONTAINER_ID ? { name: 'web', image: 'localhost/x:1', imageDigest: 'sha256:00' } : undefined,
  });
  p.onFrame(fx('ready'));
  p.onFrame(fx('exec-container'));
  const e = await p.queue.next();
  assert.equal(e.done, false);
  assert.equal(e.value?.container?.name, 'web');
  assert.equal(e.value?.container?.resolved, true);
});

test('frame reader: frames split at every byte boundary come out whole', () => {
  const stream = Buffer.concat([frame(fx('ready')), frame(fx('exec-host')), frame(fx('counters'))]);
  for (const step of [1, 3, 4, 5, 100, stream.length]) {
    const fr = new FrameReader();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) out.push(...fr.push(stream.subarray(i, i + step)));
    assert.deepEqual(
      out.map((b) => b.length),
      [32, 1616, 128],
      `step ${step}`,
    );
    assert.equal(fr.pendingBytes, 0);
  }
});

test('frame reader: a real loader stream (ready + final counters) decodes', () => {
  const fr = new FrameReader();
  const kinds = fr.push(fx('stream')).map((f) => decoded(f).kind);
  assert.deepEqual(kinds, ['ready', 'counters']);
});

test('frame reader: an impossible length stops the stream instead of buffering it', () => {
  const fr = new FrameReader();
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(MAX_RECORD_SIZE + 1);
  assert.deepEqual(fr.push(Buffer.concat([frame(fx('ready')), bad])).length, 1);
  assert.match(fr.error ?? '', /exceeds/);
  assert.deepEqual(fr.push(frame(fx('ready'))), []);
});
