/**
 * Recaptures test/fixtures/*.bin from the real loader (root, after scripts/build-sensor.sh):
 *   node packages/sensor/dist/test/capture-fixtures.js
 * Runs the loader with every event type, causes one event of each kind, and keeps the
 * first record matching each fixture's predicate, byte for byte as the loader wrote it,
 * plus the cgroup path records of the host and container exec records' keys.
 * Not a test (its name does not end in .test): run by hand after changing palisade.h.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '@palisade/testkit';
import { DEFAULT_FILE_WATCHES, DEFAULT_LOADER_PATH, decodeRecord, FrameReader, watchArgs } from '../src/index.js';
import type { DecodedRecord } from '../src/index.js';
import {
  ensureLiveImage,
  LIVE_IMAGE,
  podmanRunArgs,
  PY_BPF_PROG_LOAD,
  PY_MEMFD_EXEC,
  PY_PTRACE_ATTACH,
  PY_SETNS_ANY,
} from './live-helpers.js';

type Pick = (r: DecodedRecord) => boolean;

const FIXTURES: [string, Pick][] = [
  ['ready', (r) => r.kind === 'ready'],
  ['exec-host', (r) => r.kind === 'exec' && r.argv[1] === 'palisade-smoke'],
  ['exec-container', (r) => r.kind === 'exec' && r.argv[1] === 'palisade-in-container'],
  ['exec-drift', (r) => r.kind === 'exec' && r.argv[1] === 'palisade-drift'],
  ['exit-host', (r) => r.kind === 'exit' && r.comm === 'true'],
  ['connect-ipv4', (r) => r.kind === 'connect' && r.protocol === 6 && r.dstAddr === '127.0.0.1'],
  ['connect-udp-ipv6', (r) => r.kind === 'connect' && r.protocol === 17 && r.dstAddr === '::1'],
  ['accept-ipv4', (r) => r.kind === 'accept' && r.srcAddr === '127.0.0.1'],
  ['listen-ipv4', (r) => r.kind === 'listen' && r.srcAddr === '127.0.0.1'],
  ['file-open', (r) => r.kind === 'file.open' && r.path === '/etc/shadow'],
  ['file-unlink', (r) => r.kind === 'file.unlink' && r.path.endsWith('/.bash_history')],
  ['file-truncate', (r) => r.kind === 'file.truncate' && r.path.endsWith('/.bash_history')],
  ['ptrace', (r) => r.kind === 'ptrace' && r.request === 16],
  ['mount', (r) => r.kind === 'mount' && r.fsType === 'tmpfs'],
  ['unshare', (r) => r.kind === 'unshare'],
  ['setns', (r) => r.kind === 'setns'],
  ['memfd-exec', (r) => r.kind === 'memfd_exec' && r.name === 'palisade-memfd'],
  ['setuid', (r) => r.kind === 'setuid' && r.euid === 1000],
  ['capset', (r) => r.kind === 'capset' && r.comm === 'setpriv'],
  ['bpf', (r) => r.kind === 'bpf' && r.cmd === 5],
  ['counters', (r) => r.kind === 'counters'],
];

function actions(dir: string): void {
  const py = '/usr/bin/python3';
  execFileSync('/bin/sh', ['-c', `cd ${dir} && exec /bin/true palisade-smoke 'arg two'`]);
  spawnSync('/bin/cat', ['/etc/shadow'], { stdio: 'ignore' });
  const hist = join(dir, '.bash_history');
  writeFileSync(hist, 'ls\n');
  truncateSync(hist, 0);
  unlinkSync(hist);
  spawnSync(py, [
    '-c',
    'import socket;u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);u.connect(("::1",9));' +
      'l=socket.socket();l.bind(("127.0.0.1",0));l.listen();c=socket.create_connection(l.getsockname());a,_=l.accept()',
  ]);
  spawnSync('/usr/bin/unshare', ['-m', '/bin/sh', '-c', `mount -t tmpfs palisade ${dir}`]);
  spawnSync(py, ['-c', PY_MEMFD_EXEC, 'palisade-memfd']);
  spawnSync('/usr/bin/setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', '/bin/true']);
  spawnSync(py, ['-c', PY_PTRACE_ATTACH]);
  spawnSync(py, ['-c', PY_BPF_PROG_LOAD]);
  spawnSync('/usr/bin/unshare', ['-u', py, '-c', PY_SETNS_ANY]);
  execFileSync('podman', [...podmanRunArgs(), LIVE_IMAGE, '/bin/sh', '-c', DRIFT_SCRIPT], { stdio: 'ignore' });
}

const DRIFT_SCRIPT = '/bin/echo palisade-in-container && cp /bin/true /tmp/drift && /tmp/drift palisade-drift; exit 0';

async function main(): Promise<void> {
  const dir = join(tmpdir(), `palisade-capture-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const types =
    'exec,connect,exit,accept,listen,open,unlink,truncate,ptrace,mount,unshare,setns,memfd_exec,setuid,capset,bpf';
  const child = spawn(
    DEFAULT_LOADER_PATH,
    ['--types', types, '--counters-ms', '0', ...watchArgs(DEFAULT_FILE_WATCHES)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const reader = new FrameReader();
  const frames: Buffer[] = [];
  const stream: Buffer[] = [];
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stream.push(chunk);
    for (const f of reader.push(chunk)) {
      frames.push(Buffer.from(f));
      if (frames.length === 1) ready();
    }
  });
  const ended = new Promise<void>((resolve) => child.stdout.once('end', resolve));
  ensureLiveImage();
  await isReady;
  try {
    actions(dir);
    // Await a loopback connection from node too, so there is one to this process's port.
    await new Promise<void>((resolve) => {
      const srv = net
        .createServer((c) => c.end())
        .listen(0, '127.0.0.1', () => {
          const a = srv.address();
          const c = net.connect(typeof a === 'object' && a ? a.port : 0, '127.0.0.1', () => {
            c.end();
            srv.close(() => resolve());
          });
        });
    });
  } finally {
    child.kill('SIGTERM');
    await ended;
    rmSync(dir, { recursive: true, force: true });
  }
  const found = new Map<string, DecodedRecord>();
  const save = (name: string, pick: Pick): void => {
    const f = frames.find((b) => {
      const r = decodeRecord(b);
      return r.ok && pick(r.record);
    });
    if (!f) {
      console.error(`no record for ${name}`);
      process.exitCode = 1;
      return;
    }
    const r = decodeRecord(f);
    if (r.ok) found.set(name, r.record);
    writeFileSync(fixturePath('sensor', `${name}.bin`), f);
    console.log(`${name}.bin ${f.length} bytes`);
  };
  for (const [name, pick] of FIXTURES) save(name, pick);
  // The path records of the keys the exec fixtures carry.
  for (const [name, of] of [
    ['cgroup-host', 'exec-host'],
    ['cgroup-container', 'exec-container'],
  ] as const) {
    const e = found.get(of);
    const key = e && 'cgroupKey' in e ? e.cgroupKey : undefined;
    save(name, (r) => r.kind === 'cgroup' && r.key === key);
  }
  // A whole short stream: ready + final counters from a loader run with nothing happening.
  const quiet = spawnSync(DEFAULT_LOADER_PATH, ['--types', 'memfd_exec', '--counters-ms', '0'], { input: '' });
  writeFileSync(fixturePath('sensor', 'stream.bin'), quiet.stdout);
  console.log(`stream.bin ${quiet.stdout.length} bytes (${stream.length} chunks captured above)`);
}

await main();
