import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import {
  CONNECT_SIZE,
  decodeRecord,
  EXEC_MEMFD,
  EXEC_OVERLAY,
  EXEC_SIZE,
  EXEC_UPPER,
  FLAG_CGROUP_V1,
  FrameReader,
  MAX_RECORD_SIZE,
  MODULE_SIZE,
  RECORD_VERSION,
  RecordPipeline,
  type DecodedRecord,
  type SensorEvent,
} from '../src/index.js';

// Fixtures are records captured from the real loader on a 6.18 kernel by
// test/capture-fixtures.ts (see README.md): /bin/true run with args on the host, TCP and
// UDP connects on loopback, `/bin/echo` and a copied binary exec'd inside a podman
// container (cgroupfs driver, id 170ee642…), file, ptrace, mount, namespace, memfd,
// credential and bpf calls.
const fx = (name: string): Buffer => readFileSync(fixturePath('sensor', `${name}.bin`));
const CONTAINER_ID = '170ee6422eb58bf0527a059fdf2601facf6938e0bd8bca794d4e776fbe2d106f';
const HOST_CGROUP = ['process_api', 'a0da9c6a66d76509439f700ae658bc1a'];

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

test('exec record of a host process: argv, filename, cwd, tty, comm, ids', () => {
  const r = decoded(fx('exec-host'));
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
  assert.deepEqual(r.cgroupPath, HOST_CGROUP);
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
  assert.deepEqual(r.cgroupPath, ['libpod_parent', `libpod-${CONTAINER_ID}`]);
});

test('connect record: IPv4 addresses and ports in host order', () => {
  const r = decoded(fx('connect-ipv4'));
  if (r.kind !== 'connect') throw new Error('not connect');
  assert.equal(r.family, 'ipv4');
  assert.equal(r.protocol, 6);
  assert.equal(r.dstAddr, '127.0.0.1');
  assert.equal(r.srcAddr, '127.0.0.1');
  assert.equal(r.dstPort, 57625);
});

test('UDP connect, accept and listen records', () => {
  const udp = decoded(fx('connect-udp-ipv6'));
  if (udp.kind !== 'connect') throw new Error('not connect');
  assert.deepEqual([udp.family, udp.protocol, udp.dstAddr, udp.dstPort, udp.srcAddr], ['ipv6', 17, '::1', 9, '::1']);
  assert.ok(udp.srcPort > 0, 'a connected UDP socket has its source port');
  const acc = decoded(fx('accept-ipv4'));
  if (acc.kind !== 'accept') throw new Error('not accept');
  // Local end = the listening port, peer = the connecting socket's ephemeral port.
  assert.deepEqual([acc.srcAddr, acc.srcPort, acc.dstAddr], ['127.0.0.1', 57625, '127.0.0.1']);
  assert.ok(acc.dstPort > 0);
  const lis = decoded(fx('listen-ipv4'));
  if (lis.kind !== 'listen') throw new Error('not listen');
  assert.deepEqual([lis.srcAddr, lis.srcPort, lis.protocol], ['127.0.0.1', 57625, 6]);
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
  assert.equal(ready.patterns, 48);
  // Asked for every type but module (this kernel has no module syscalls), all attached.
  assert.equal(ready.requestedMask, ready.typesMask);
  assert.equal(ready.typesMask & (1 << 13), 0);
  const c = decoded(fx('counters'));
  if (c.kind !== 'counters') throw new Error('not counters');
  assert.equal(c.kernel.length, 18);
  assert.ok((c.kernel[1]?.[0] ?? 0n) > 0n, 'exec seen counter');
  // Opens are seen by the thousand and filtered in the kernel but for the watched ones.
  const open = c.kernel[6] ?? [];
  assert.ok((open[1] ?? 0n) > 0n && (open[0] ?? 0n) > (open[1] ?? 0n));
});

test('truncated, oversized, wrong-version and garbage records are errors, never exceptions', () => {
  const exec = fx('exec-host');
  const bad: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /shorter/],
    ['prefix only', exec.subarray(0, 5), /shorter/],
    ['truncated exec', exec.subarray(0, EXEC_SIZE - 1), /expected 2392/],
    ['exec with extra bytes', Buffer.concat([exec, Buffer.alloc(3)]), /expected 2392/],
    ['garbage', Buffer.from('this is not a record at all, just text'), /version|unknown|size/],
  ];
  const v1 = Buffer.from(exec);
  v1.writeUInt16LE(1, 0);
  bad.push(['old version', v1, /version 1, expected 2/]);
  assert.equal(RECORD_VERSION, 2);
  const unk = Buffer.from(exec);
  unk.writeUInt16LE(77, 2);
  bad.push(['unknown type', unk, /unknown record type 77/]);
  const fam = Buffer.from(fx('connect-ipv4'));
  fam.writeUInt16LE(1, 840);
  bad.push(['connect with AF_UNIX', fam, /family 1/]);
  const accFam = Buffer.from(fx('accept-ipv4'));
  accFam.writeUInt16LE(0, 840);
  bad.push(['accept with family 0', accFam, /family 0/]);
  bad.push(['file record cut short', fx('file-open').subarray(0, 900), /expected 1368/]);
  bad.push(['counters of the v1 size', fx('counters').subarray(0, 128), /expected 464/]);
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
    assert.equal(conn.net.dstPort, 57625);
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
      [40, 2392, 464],
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
  const [host, ctr, drift] = await convertAll(['exec-host', 'exec-container', 'exec-drift']);
  assert.match(host?.proc.cwd ?? '', /^\/tmp\/palisade-capture-/);
  assert.equal(host?.proc.tty, 0);
  assert.equal(host?.proc.exeUpperLayer, undefined, 'not on overlayfs: no answer');
  assert.equal(ctr?.proc.exeUpperLayer, false);
  assert.equal(drift?.proc.exeUpperLayer, true);
  assert.equal(drift?.proc.exe, '/tmp/drift');
  assert.equal(drift?.container?.id, CONTAINER_ID);
});

test('a relative execve path is made absolute against the cwd', async () => {
  const b = Buffer.from(fx('exec-host'));
  b.fill(0, 856, 1112);
  b.write('./bin/../x', 856);
  b.fill(0, 1112, 1368);
  b.write('/srv/app', 1112);
  const e = await convertOne(b);
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
  fx('bpf').copy(b, 0, 0, 840);
  b.writeUInt16LE(13, 2);
  b.writeUInt32LE(MODULE_SIZE, 4);
  b.write('/lib/modules/6.18.0/kernel/fs/nls/nls_ascii.ko.zst', 904);
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
