import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import {
  CGROUP_KEY_V1,
  CGROUP_SIZE,
  CgroupTable,
  cgroupPathFromProc,
  CONNECT_SIZE,
  EXEC_FIXED,
  decodeRecord,
  EXEC_MEMFD,
  EXEC_OVERLAY,
  EXEC_SIZE,
  EXEC_UPPER,
  FLAG_CGROUP_TRUNCATED,
  FLAG_CGROUP_V1,
  FrameReader,
  HDR_SIZE,
  MAX_RECORD_SIZE,
  MODULE_SIZE,
  REC_CGROUP,
  RECORD_VERSION,
  RecordPipeline,
  type DecodedRecord,
  type SensorEvent,
} from '../src/index.js';

// Fixtures are records captured from the real loader on a 6.18 kernel by
// test/capture-fixtures.ts (see README.md): /bin/true run with args on the host, TCP and
// UDP connects on loopback, `/bin/echo` and a copied binary exec'd inside a podman
// container (cgroupfs driver, id a3260612…), file, ptrace, mount, namespace, memfd,
// credential and bpf calls, and the cgroup path records of the host and container keys.
const fx = (name: string): Buffer => readFileSync(fixturePath('sensor', `${name}.bin`));
const CONTAINER_ID = 'a326061229e14fecafd6d142b695adb17e5ee891decb155b7f1ac043da3befef';
const HOST_CGROUP = ['process_api', 'd68d788f6ecc17d3007ce0578364cc6d'];
const PORT = 39589; // the loopback listener of the capture

function decoded(buf: Uint8Array): DecodedRecord {
  const r = decodeRecord(buf);
  if (!r.ok) throw new Error(r.error);
  return r.record;
}

/** A copy of `b` with a u16 written at `off`. */
function withU16(b: Buffer, off: number, v: number): Buffer {
  const c = Buffer.from(b);
  c.writeUInt16LE(v, off);
  return c;
}

/**
 * An exec record with these strings packed as the kernel packs them, on the header and fixed
 * fields of the captured host exec (the size field says `size`, by default the real one).
 */
function execRecord(filename: string, cwd: string, argv: string[], size?: number): Buffer {
  const fn = Buffer.from(filename);
  const wd = Buffer.from(cwd);
  const args = Buffer.from(argv.map((a) => `${a}\0`).join(''));
  const b = Buffer.concat([fx('exec-host').subarray(0, EXEC_FIXED), fn, wd, args]);
  b.writeUInt32LE(size ?? b.length, 4);
  b.writeUInt32LE(args.length, 80);
  b.writeUInt16LE(fn.length, 96);
  b.writeUInt16LE(wd.length, 98);
  return b;
}

/** Frames a payload as the loader does: u32 LE length, then the bytes. */
function frame(payload: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([len, payload]);
}

test('exec record of a host process: argv, filename, cwd, tty, comm, ids', () => {
  const raw = fx('exec-host');
  // Packed: the fixed part and the bytes of the strings, nothing more.
  assert.equal(raw.length, EXEC_FIXED + '/bin/true'.length + raw.readUInt16LE(98) + raw.readUInt32LE(80));
  assert.ok(raw.length < 200);
  const r = decoded(raw);
  assert.equal(r.kind, 'exec');
  if (r.kind !== 'exec') return;
  assert.equal(r.filename, '/bin/true');
  assert.deepEqual(r.argv, ['/bin/true', 'palisade-smoke', 'arg two']);
  assert.match(r.cwd, /^\/tmp\/palisade-capture-\d+$/);
  assert.equal(r.tty, 0);
  assert.equal(r.execFlags, 0, 'not on overlayfs');
  assert.equal(r.comm, 'true');
  assert.equal(r.uid, 0);
  assert.ok(r.tgid > 0 && r.ppid > 0);
  assert.equal(r.pidnsLevel, 0);
  assert.ok(r.tsBootNs > 0n);
  // Host processes here sit in the v2 root, so the kernel side took the v1 memory cgroup.
  assert.ok(r.flags & FLAG_CGROUP_V1);
  assert.ok(r.cgroupKey & CGROUP_KEY_V1, 'key of the v1 memory cgroup');
});

test('exec record inside a podman container: cgroup path is root first and names the container', () => {
  const r = decoded(fx('exec-container'));
  if (r.kind !== 'exec') throw new Error('not exec');
  assert.equal(r.filename, '/bin/echo');
  assert.deepEqual(r.argv, ['/bin/echo', 'palisade-in-container']);
  // On this hybrid cgroup host runc put the container in the v2 hierarchy too, so the
  // path is the v2 one (no v1 fallback).
  assert.equal(r.flags & FLAG_CGROUP_V1, 0);
  assert.equal(r.cgroupKey, r.cgroupId, 'a v2 cgroup is keyed by its id');
  assert.ok(r.pidnsLevel > 0);
  assert.equal(r.cwd, '/');
  // From the image: on the overlay, no upper-layer copy.
  assert.equal(r.execFlags, EXEC_OVERLAY);
});

test('exec of a binary copied into the container after it started: upper layer (drift)', () => {
  const r = decoded(fx('exec-drift'));
  if (r.kind !== 'exec') throw new Error('not exec');
  assert.equal(r.filename, '/tmp/drift');
  assert.deepEqual(r.argv, ['/tmp/drift', 'palisade-drift']);
  assert.equal(r.execFlags, EXEC_OVERLAY | EXEC_UPPER);
  assert.equal(r.execFlags & EXEC_MEMFD, 0);
  const ctr = decoded(fx('exec-container'));
  assert.equal(ctr.kind === 'exec' && ctr.cgroupKey, r.cgroupKey, 'same container, same key');
});

test('cgroup records: the path of a key, root first; v1 memory cgroup for host tasks here', () => {
  const host = decoded(fx('cgroup-host'));
  const exec = decoded(fx('exec-host'));
  if (host.kind !== 'cgroup' || exec.kind !== 'exec') throw new Error('not cgroup/exec');
  assert.equal(host.key, exec.cgroupKey);
  assert.deepEqual(host.path, HOST_CGROUP);
  assert.ok(host.flags & FLAG_CGROUP_V1);
  assert.equal(host.flags & FLAG_CGROUP_TRUNCATED, 0);
  const ctr = decoded(fx('cgroup-container'));
  if (ctr.kind !== 'cgroup') throw new Error('not cgroup');
  // On this hybrid host runc put the container in the v2 hierarchy too: no v1 fallback.
  assert.deepEqual(ctr.path, ['libpod_parent', `libpod-${CONTAINER_ID}`]);
  assert.equal(ctr.flags, 0);
  assert.equal(ctr.key & CGROUP_KEY_V1, 0n);
  assert.equal(CGROUP_SIZE, 1048);
});

test('connect record: IPv4 addresses and ports in host order', () => {
  const r = decoded(fx('connect-ipv4'));
  if (r.kind !== 'connect') throw new Error('not connect');
  assert.equal(r.family, 'ipv4');
  assert.equal(r.protocol, 6);
  assert.equal(r.dstAddr, '127.0.0.1');
  assert.equal(r.srcAddr, '127.0.0.1');
  assert.equal(r.dstPort, PORT);
  assert.equal(CONNECT_SIZE, 128, 'a connect record is small now that the cgroup path is not in it');
});

test('UDP connect, accept and listen records', () => {
  const udp = decoded(fx('connect-udp-ipv6'));
  if (udp.kind !== 'connect') throw new Error('not connect');
  assert.deepEqual([udp.family, udp.protocol, udp.dstAddr, udp.dstPort, udp.srcAddr], ['ipv6', 17, '::1', 9, '::1']);
  assert.ok(udp.srcPort > 0, 'a connected UDP socket has its source port');
  const acc = decoded(fx('accept-ipv4'));
  if (acc.kind !== 'accept') throw new Error('not accept');
  // Local end = the listening port, peer = the connecting socket's ephemeral port.
  assert.deepEqual([acc.srcAddr, acc.srcPort, acc.dstAddr], ['127.0.0.1', PORT, '127.0.0.1']);
  assert.ok(acc.dstPort > 0);
  const lis = decoded(fx('listen-ipv4'));
  if (lis.kind !== 'listen') throw new Error('not listen');
  assert.deepEqual([lis.srcAddr, lis.srcPort, lis.protocol], ['127.0.0.1', PORT, 6]);
});

test('file records: open of /etc/shadow, truncate and unlink of a shell history', () => {
  const o = decoded(fx('file-open'));
  if (o.kind !== 'file.open') throw new Error('not file.open');
  assert.deepEqual([o.path, o.openFlags, o.comm, o.pattern], ['/etc/shadow', 0, 'cat', 0]);
  for (const [name, kind] of [
    ['file-truncate', 'file.truncate'],
    ['file-unlink', 'file.unlink'],
  ] as const) {
    const r = decoded(fx(name));
    assert.equal(r.kind, kind);
    if (r.kind !== kind) continue;
    assert.match(r.path, /^\/tmp\/palisade-capture-\d+\/\.bash_history$/);
    assert.equal(r.comm, 'node');
  }
});

test('ptrace, mount, unshare, setns, memfd, credential and bpf records', () => {
  const p = decoded(fx('ptrace'));
  if (p.kind !== 'ptrace') throw new Error('not ptrace');
  assert.deepEqual([p.request, p.targetTgid, p.targetComm], [16, p.targetVpid, 'sleep']);
  const m = decoded(fx('mount'));
  if (m.kind !== 'mount') throw new Error('not mount');
  assert.deepEqual([m.source, m.fsType, m.flags64], ['palisade', 'tmpfs', 0n]);
  assert.match(m.target, /^\/tmp\/palisade-capture-\d+$/);
  const u = decoded(fx('unshare'));
  assert.deepEqual(u.kind === 'unshare' && [u.nsFlags, u.fd], [0x20000, -1]);
  const n = decoded(fx('setns'));
  // setns(fd, 0): the type came from the namespace file itself.
  assert.deepEqual(n.kind === 'setns' && [n.nsFlags, n.fd], [0x04000000, 3]);
  const mf = decoded(fx('memfd-exec'));
  assert.equal(mf.kind === 'memfd_exec' && mf.name, 'palisade-memfd');
  const su = decoded(fx('setuid'));
  if (su.kind !== 'setuid') throw new Error('not setuid');
  assert.deepEqual([su.uid, su.ruid, su.euid, su.which], [0, 1000, 1000, 1], 'header uid is the one before the call');
  const cs = decoded(fx('capset'));
  if (cs.kind !== 'capset') throw new Error('not capset');
  assert.equal(cs.capPermitted, cs.capEffective);
  assert.ok(cs.capEffective & (1n << 21n), 'CAP_SYS_ADMIN');
  const b = decoded(fx('bpf'));
  assert.deepEqual(b.kind === 'bpf' && [b.cmd, b.progType], [5, 1]);
});

test('connect record: IPv6 text forms', () => {
  const b = Buffer.from(fx('connect-ipv4'));
  b.writeUInt16LE(10, 80);
  // daddr ::1, saddr ::ffff:127.0.0.1
  b.fill(0, 96, 128);
  b[127] = 1;
  b[106] = 0xff;
  b[107] = 0xff;
  b.set([127, 0, 0, 1], 108);
  const r = decoded(b);
  if (r.kind !== 'connect') throw new Error('not connect');
  assert.equal(r.family, 'ipv6');
  assert.equal(r.dstAddr, '::1');
  assert.equal(r.srcAddr, '::ffff:127.0.0.1');
  b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42], 112);
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
  assert.equal(ready.patterns, 48);
  // Asked for every type but module (this kernel has no module syscalls), all attached.
  assert.equal(ready.requestedMask, ready.typesMask);
  assert.equal(ready.typesMask & (1 << 13), 0);
  const c = decoded(fx('counters'));
  if (c.kind !== 'counters') throw new Error('not counters');
  assert.equal(c.kernel.length, 19);
  assert.ok((c.kernel[1]?.[0] ?? 0n) > 0n, 'exec seen counter');
  assert.ok((c.kernel[REC_CGROUP]?.[0] ?? 0n) >= 2n, 'cgroup path records emitted (host, container, ...)');
  // Opens are seen by the thousand and filtered in the kernel but for the watched ones.
  const open = c.kernel[6] ?? [];
  assert.ok((open[1] ?? 0n) > 0n && (open[0] ?? 0n) > (open[1] ?? 0n));
});

test('truncated, oversized, wrong-version and garbage records are errors, never exceptions', () => {
  const exec = fx('exec-host');
  const bad: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /shorter/],
    ['prefix only', exec.subarray(0, 5), /shorter/],
    ['truncated exec', exec.subarray(0, exec.length - 1), /expected 104\.\.1640/],
    ['exec with extra bytes', Buffer.concat([exec, Buffer.alloc(3)]), /expected 104\.\.1640/],
    [
      'exec beyond the largest size',
      execRecord('/x'.repeat(100), '/', ['a'.repeat(1000)], EXEC_SIZE + 1),
      /104\.\.1640/,
    ],
    ['exec whose string lengths do not add up', withU16(exec, 96, 3), /strings of 3 \+/],
    ['exec with an impossible filename length', withU16(exec, 96, 256), /strings of 256 \+/],
    ['cgroup record cut short', fx('cgroup-host').subarray(0, 1000), /expected 1048/],
    ['garbage', Buffer.from('this is not a record at all, just text'), /version|unknown|size/],
  ];
  const v2 = Buffer.from(exec);
  v2.writeUInt16LE(2, 0);
  bad.push(['old version', v2, /version 2, expected 3/]);
  assert.equal(RECORD_VERSION, 3);
  const unk = Buffer.from(exec);
  unk.writeUInt16LE(77, 2);
  bad.push(['unknown type', unk, /unknown record type 77/]);
  const fam = Buffer.from(fx('connect-ipv4'));
  fam.writeUInt16LE(1, 80);
  bad.push(['connect with AF_UNIX', fam, /family 1/]);
  const accFam = Buffer.from(fx('accept-ipv4'));
  accFam.writeUInt16LE(0, 80);
  bad.push(['accept with family 0', accFam, /family 0/]);
  bad.push(['file record cut short', fx('file-open').subarray(0, 500), /expected 608/]);
  bad.push(['counters of the v2 size', fx('counters').subarray(0, 464), /expected 488/]);
  // Pseudo-random bytes of every length up to a cgroup record: none may throw.
  let x = 12345;
  for (let len = 0; len <= CGROUP_SIZE; len += 37) {
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
  p.onFrame(fx('cgroup-host'));
  p.onFrame(fx('exec-host'));
  p.onFrame(fx('cgroup-container'));
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
    assert.equal(conn.net.dstPort, PORT);
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
  p.onFrame(fx('cgroup-container'));
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
      [40, fx('exec-host').length, 488],
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
  // The same when the bad length arrives split after a partial frame.
  const split = new FrameReader();
  const stream = Buffer.concat([frame(fx('exit-host')), bad]);
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 3) out.push(...split.push(stream.subarray(i, i + 3)));
  assert.deepEqual(
    out.map((b) => b.length),
    [88],
  );
  assert.match(split.error ?? '', /exceeds/);
});

/** Every fixture through the pipeline, in capture order; events by type. */
async function convertAll(names: string[], readExe?: (pid: number) => string | undefined): Promise<SensorEvent[]> {
  const p = new RecordPipeline({ node: 'n1', ...(readExe ? { readExe } : {}) });
  p.onFrame(fx('ready'));
  for (const n of names) p.onFrame(fx(n));
  p.queue.close();
  const out: SensorEvent[] = [];
  for await (const e of p.queue) out.push(e);
  assert.equal(p.counters().decodeErrors, 0);
  return out;
}

/** One (possibly edited) record through the pipeline. */
async function convertOne(record: Buffer): Promise<SensorEvent> {
  const p = new RecordPipeline({ node: 'n1' });
  p.onFrame(fx('ready'));
  p.onFrame(record);
  p.queue.close();
  const out: SensorEvent[] = [];
  for await (const e of p.queue) out.push(e);
  assert.equal(out.length, 1, p.lastDecodeError);
  const [e] = out;
  if (!e) throw new Error('no event');
  return e;
}

test('exec events carry cwd, tty and whether the binary is from the upper layer', async () => {
  const [host, ctr, drift] = await convertAll(['cgroup-container', 'exec-host', 'exec-container', 'exec-drift']);
  assert.match(host?.proc.cwd ?? '', /^\/tmp\/palisade-capture-/);
  assert.equal(host?.proc.tty, 0);
  assert.equal(host?.proc.exeUpperLayer, undefined, 'not on overlayfs: no answer');
  assert.equal(ctr?.proc.exeUpperLayer, false);
  assert.equal(drift?.proc.exeUpperLayer, true);
  assert.equal(drift?.proc.exe, '/tmp/drift');
  assert.equal(drift?.container?.id, CONTAINER_ID);
});

test('a relative execve path is made absolute against the cwd', async () => {
  const e = await convertOne(execRecord('./bin/../x', '/srv/app', ['x', '-v']));
  assert.deepEqual(e.proc.argv, ['x', '-v']);
  assert.equal(e.proc.exe, '/srv/app/x');
  assert.equal(e.proc.name, 'x');
});

test('network, file and kernel records become the core events the rules read', async () => {
  const evs = await convertAll(
    [
      'connect-udp-ipv6',
      'accept-ipv4',
      'listen-ipv4',
      'file-open',
      'file-truncate',
      'file-unlink',
      'ptrace',
      'mount',
      'unshare',
      'setns',
      'memfd-exec',
      'setuid',
      'capset',
      'bpf',
    ],
    (pid) => (pid > 0 ? '/usr/bin/sleep' : undefined),
  );
  const byType = new Map(evs.map((e) => [e.type, e]));
  const udp = evs[0];
  assert.ok(udp?.type === 'network.connect');
  assert.equal(udp.net.protocol, 'udp');
  assert.equal(udp.net.family, 'ipv6');
  const acc = byType.get('network.accept');
  assert.ok(acc?.type === 'network.accept');
  assert.equal(acc.net.protocol, 'tcp');
  assert.equal(byType.get('network.listen')?.type, 'network.listen');
  const open = byType.get('file.open');
  assert.ok(open?.type === 'file.open');
  assert.deepEqual(open.file, { path: '/etc/shadow', flags: ['O_RDONLY'], write: false });
  assert.equal(open.proc.name, 'cat', 'comm stands in for a process whose exec was not seen');
  const tr = byType.get('file.truncate');
  assert.ok(tr?.type === 'file.truncate');
  assert.deepEqual([tr.file.flags, tr.file.write], [[], true]);
  const pt = byType.get('process.ptrace');
  assert.ok(pt?.type === 'process.ptrace');
  assert.equal(pt.ptrace.request, 'PTRACE_ATTACH');
  assert.ok(pt.ptrace.targetPid > 0);
  assert.equal(pt.ptrace.targetExe, '/usr/bin/sleep', 'unknown to the exec table: asked readExe');
  const mnt = byType.get('fs.mount');
  assert.ok(mnt?.type === 'fs.mount');
  assert.deepEqual([mnt.mount.source, mnt.mount.fsType, mnt.mount.flags], ['palisade', 'tmpfs', []]);
  const un = byType.get('ns.unshare');
  assert.deepEqual(un?.type === 'ns.unshare' && un.ns.flags, ['CLONE_NEWNS']);
  const sn = byType.get('ns.setns');
  assert.deepEqual(sn?.type === 'ns.setns' && sn.ns.flags, ['CLONE_NEWUTS']);
  const mf = byType.get('process.memfd_exec');
  assert.deepEqual(mf?.type === 'process.memfd_exec' && mf.memfd, { name: 'palisade-memfd' });
  const su = byType.get('cred.setuid');
  assert.ok(su?.type === 'cred.setuid');
  assert.deepEqual(su.cred, { uid: 1000 }, 'only the ids the call changes');
  assert.equal(su.proc.uid, 0, 'the process as it was before the call');
  const cs = byType.get('cred.capset');
  assert.ok(cs?.type === 'cred.capset');
  assert.ok(cs.cred.effective?.includes('CAP_SYS_ADMIN'));
  assert.deepEqual(cs.cred.permitted, cs.cred.effective);
  assert.deepEqual(byType.get('bpf.call')?.type === 'bpf.call' && byType.get('bpf.call'), {
    ...byType.get('bpf.call'),
    bpf: { cmd: 'BPF_PROG_LOAD', progType: 'BPF_PROG_TYPE_SOCKET_FILTER' },
  });
});

test('module load (no hook on the capture kernel: the record is built from a real header)', async () => {
  const b = Buffer.alloc(MODULE_SIZE);
  fx('bpf').copy(b, 0, 0, HDR_SIZE);
  b.writeUInt16LE(13, 2);
  b.writeUInt32LE(MODULE_SIZE, 4);
  b.write('/lib/modules/6.18.0/kernel/fs/nls/nls_ascii.ko.zst', 144);
  const e = await convertOne(b);
  assert.ok(e.type === 'kernel.module_load');
  assert.deepEqual(e.module, { name: 'nls_ascii', path: '/lib/modules/6.18.0/kernel/fs/nls/nls_ascii.ko.zst' });
});

test('counters map every kernel record type to its event type', () => {
  const p = new RecordPipeline({ node: 'n1' });
  p.onFrame(fx('ready'));
  p.onFrame(fx('counters'));
  const c = p.counters();
  assert.equal(Object.keys(c.byType).length, 17);
  assert.ok(c.byType['file.open'].seen > c.byType['file.open'].filteredInKernel);
  assert.ok(c.byType['file.open'].filteredInKernel > 0);
  assert.ok(c.byType['process.memfd_exec'].seen >= 1);
  assert.equal(c.byType['kernel.module_load'].seen, 0);
});

async function nextEvent(p: RecordPipeline): Promise<SensorEvent> {
  const r = await p.queue.next();
  if (r.done) throw new Error('no event');
  return r.value;
}

test('a record whose cgroup key is unknown: counted, forgotten in the kernel, attributed from /proc', async () => {
  const forgotten: bigint[] = [];
  const asked: [number, boolean][] = [];
  const p = new RecordPipeline({
    node: 'n1',
    forgetCgroup: (k) => forgotten.push(k),
    readCgroup: (pid, v1) => {
      asked.push([pid, v1]);
      return ['libpod_parent', `libpod-${CONTAINER_ID}`];
    },
  });
  p.onFrame(fx('ready'));
  p.onFrame(fx('exec-container')); // its cgroup record never came
  const exec = decoded(fx('exec-container'));
  if (exec.kind !== 'exec') throw new Error('not exec');
  const e = await nextEvent(p);
  assert.equal(e.container?.id, CONTAINER_ID);
  assert.deepEqual(forgotten, [exec.cgroupKey]);
  assert.deepEqual(asked, [[exec.tgid, false]]);
  assert.equal(p.counters().cgroups.misses, 1);
  // Without a /proc answer the event has no container, and says so in the counters.
  const q = new RecordPipeline({ node: 'n1' });
  q.onFrame(fx('ready'));
  q.onFrame(fx('exec-container'));
  const e2 = await nextEvent(q);
  assert.equal(e2.container, undefined);
  assert.equal(q.counters().cgroups.misses, 1);
});

test('cgroup path records are kept per key and replaced by a new loader run', async () => {
  const p = new RecordPipeline({ node: 'n1', readCgroup: () => undefined });
  p.onFrame(fx('ready'));
  p.onFrame(fx('cgroup-container'));
  p.onFrame(fx('cgroup-host'));
  assert.deepEqual(p.counters().cgroups, { paths: 2, known: 2, misses: 0, emittedInKernel: 0, droppedInKernel: 0 });
  p.onFrame(fx('counters'));
  assert.ok(p.counters().cgroups.emittedInKernel >= 2);
  // A ready record means a new loader whose kernel map is empty: the table starts over.
  p.onFrame(fx('ready'));
  assert.equal(p.counters().cgroups.known, 0);
  p.onFrame(fx('exec-container'));
  const e = await nextEvent(p);
  assert.equal(e.container, undefined);
  assert.equal(p.counters().cgroups.misses, 1);
});

test('cgroup table: bounded, least recently used key evicted and reported', () => {
  const evicted: bigint[] = [];
  const t = new CgroupTable(4, (k) => evicted.push(k));
  for (let k = 1n; k <= 4n; k++) t.set(k, ['libpod_parent', `libpod-${CONTAINER_ID}`], 0);
  assert.equal(t.get(2n)?.attribution?.id, CONTAINER_ID);
  assert.equal(t.get(9n), undefined);
  t.set(5n, ['system.slice'], 0);
  assert.deepEqual(evicted, [1n]);
  assert.equal(t.size, 4);
  assert.equal(t.get(5n)?.attribution, undefined, 'a host cgroup');
  // Key 2 is used all the time: many insertions later it is still there.
  for (let k = 10n; k < 40n; k++) {
    t.set(k, ['x'], 0);
    assert.ok(t.get(2n), `key 2 kept after inserting ${k}`);
  }
  assert.equal(t.size, 4);
  assert.throws(() => new CgroupTable(0), /positive integer/);
});

test('cgroup path of a live process from /proc/PID/cgroup: v2 line, or the v1 memory line', () => {
  const hybrid = '4:memory:/process_api/d68d\n1:cpu:/\n0::/\n';
  assert.deepEqual(cgroupPathFromProc(hybrid, true), ['process_api', 'd68d']);
  assert.deepEqual(cgroupPathFromProc(hybrid, false), []);
  const v2 = '0::/libpod_parent/libpod-abc\n';
  assert.deepEqual(cgroupPathFromProc(v2, false), ['libpod_parent', 'libpod-abc']);
  assert.equal(cgroupPathFromProc(v2, true), undefined);
  assert.deepEqual(cgroupPathFromProc('5:cpu,memory:/a/b\n', true), ['a', 'b']);
  assert.equal(cgroupPathFromProc('garbage', false), undefined);
});
