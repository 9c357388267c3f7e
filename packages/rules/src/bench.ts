/**
 * Deterministic synthetic runtime events for `bench rules`: a node running a few dozen
 * containers (web servers, databases, app runtimes, sidecars) plus host daemons, producing
 * the mix an eBPF sensor sees in practice: mostly file opens and network traffic, fewer
 * execs, a little kernel and audit activity, and a rare suspicious event (about 1 in 2,000)
 * so that the alert path is exercised too. Processes and containers are shared between
 * events, as they are in a real stream, so a million events fit in memory comfortably.
 */
import type { ContainerContext, KubernetesContext, ProcessContext, RuntimeEvent } from '@palisade/core';

type Rng = () => number;

/** mulberry32: a tiny seeded PRNG, so equal seeds give equal event streams. */
function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

interface Workload {
  image: string;
  ns: string;
  kind: string;
  name: string;
  procs: Array<[exe: string, argv: string[]]>;
  files: string[];
  ports: number[];
}

const WORKLOADS: Workload[] = [
  {
    image: 'docker.io/library/nginx:1.27',
    ns: 'web',
    kind: 'Deployment',
    name: 'frontend',
    procs: [['/usr/sbin/nginx', ['nginx', '-g', 'daemon off;']]],
    files: [
      '/usr/share/nginx/html/index.html',
      '/etc/nginx/nginx.conf',
      '/var/log/nginx/access.log',
      '/usr/share/nginx/html/app.js',
    ],
    ports: [8080, 443],
  },
  {
    image: 'docker.io/library/redis:7.2',
    ns: 'cache',
    kind: 'StatefulSet',
    name: 'redis',
    procs: [['/usr/local/bin/redis-server', ['redis-server', '*:6379']]],
    files: ['/data/dump.rdb', '/data/appendonly.aof', '/proc/self/stat'],
    ports: [6379],
  },
  {
    image: 'docker.io/library/postgres:16',
    ns: 'db',
    kind: 'StatefulSet',
    name: 'postgres',
    procs: [['/usr/lib/postgresql/16/bin/postgres', ['postgres']]],
    files: [
      '/var/lib/postgresql/data/base/16384/2619',
      '/var/lib/postgresql/data/pg_wal/000000010000000000000001',
      '/etc/passwd',
    ],
    ports: [5432],
  },
  {
    image: 'ghcr.io/acme/orders:2.4.1',
    ns: 'shop',
    kind: 'Deployment',
    name: 'orders',
    procs: [['/usr/local/bin/node', ['node', 'dist/server.js']]],
    files: ['/app/dist/server.js', '/app/node_modules/express/index.js', '/etc/resolv.conf', '/etc/hosts'],
    ports: [5432, 6379, 443, 8080],
  },
  {
    image: 'ghcr.io/acme/payments:1.9.0',
    ns: 'shop',
    kind: 'Deployment',
    name: 'payments',
    procs: [['/usr/bin/java', ['java', '-jar', '/app/payments.jar']]],
    files: ['/app/payments.jar', '/usr/lib/jvm/java-17/lib/modules', '/tmp/hsperfdata_app/1'],
    ports: [5432, 443, 9092],
  },
  {
    image: 'ghcr.io/acme/recs:0.8.3',
    ns: 'ml',
    kind: 'Deployment',
    name: 'recs',
    procs: [['/usr/bin/python3', ['python3', '-m', 'gunicorn', 'app:app']]],
    files: ['/app/model.pkl', '/usr/lib/python3.11/json/__init__.py', '/etc/ssl/certs/ca-certificates.crt'],
    ports: [443, 6379],
  },
  {
    image: 'registry.k8s.io/kube-proxy:v1.31.0',
    ns: 'kube-system',
    kind: 'DaemonSet',
    name: 'kube-proxy',
    procs: [['/usr/local/bin/kube-proxy', ['kube-proxy', '--config=/var/lib/kube-proxy/config.conf']]],
    files: ['/var/run/secrets/kubernetes.io/serviceaccount/token', '/var/lib/kube-proxy/config.conf'],
    ports: [6443],
  },
  {
    image: 'docker.io/fluent/fluent-bit:3.1',
    ns: 'logging',
    kind: 'DaemonSet',
    name: 'fluent-bit',
    procs: [['/fluent-bit/bin/fluent-bit', ['fluent-bit', '-c', '/fluent-bit/etc/fluent-bit.conf']]],
    files: ['/var/log/containers/orders.log', '/var/log/pods/shop_orders/app/0.log'],
    ports: [9200],
  },
];

const HOST_PROCS: Array<[string, string[]]> = [
  ['/usr/bin/kubelet', ['kubelet', '--config=/var/lib/kubelet/config.yaml']],
  ['/usr/bin/containerd', ['containerd']],
  ['/usr/sbin/sshd', ['sshd', '-D']],
  ['/usr/lib/systemd/systemd-journald', ['systemd-journald']],
];
const HOST_FILES = [
  '/var/lib/kubelet/pods',
  '/proc/meminfo',
  '/sys/fs/cgroup/cpu.stat',
  '/etc/ld.so.cache',
  '/var/log/journal/system.journal',
];
const EXEC_CMDS: Array<[string, string[]]> = [
  ['/bin/sh', ['sh', '-c', 'pg_isready -U postgres']],
  ['/usr/bin/curl', ['curl', '-fsS', 'http://localhost:8080/healthz']],
  ['/bin/date', ['date', '+%s']],
  ['/usr/bin/redis-cli', ['redis-cli', 'ping']],
  ['/bin/cat', ['cat', '/proc/loadavg']],
  ['/usr/bin/git', ['git', 'rev-parse', 'HEAD']],
];

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function process(r: Rng, exe: string, argv: string[], uid: number, parent?: ProcessContext): ProcessContext {
  const pid = 1000 + Math.floor(r() * 60000);
  return {
    pid,
    ppid: parent?.pid ?? 1,
    uid,
    gid: uid,
    exe,
    name: basename(exe),
    argv,
    cwd: '/',
    tty: 0,
    ancestry: parent ? [{ pid: parent.pid, exe: parent.exe, argv: parent.argv }] : [],
  };
}

interface Actor {
  proc: ProcessContext;
  container?: ContainerContext;
  k8s?: KubernetesContext;
  w?: Workload;
}

function actors(r: Rng): Actor[] {
  const out: Actor[] = [];
  WORKLOADS.forEach((w, wi) => {
    for (let replica = 0; replica < 4; replica++) {
      const id = (wi * 16 + replica).toString(16).padStart(4, '0').repeat(16);
      const pod = `${w.name}-7d9f8c${replica}-x${wi}k${replica}`;
      const container: ContainerContext = {
        id,
        name: w.name,
        image: w.image,
        imageDigest: `sha256:${id}`,
        runtime: 'containerd',
        resolved: true,
      };
      const k8s: KubernetesContext = {
        pod,
        namespace: w.ns,
        workloadKind: w.kind,
        workloadName: w.name,
        serviceAccount: 'default',
      };
      for (const [exe, argv] of w.procs) out.push({ proc: process(r, exe, argv, 1000), container, k8s, w });
    }
  });
  for (const [exe, argv] of HOST_PROCS) out.push({ proc: process(r, exe, argv, 0) });
  return out;
}

/** A rare attacker action, each from a different rule family. */
function suspicious(r: Rng, a: Actor, base: { id: string; time: string; node: string }): RuntimeEvent {
  const ctx = { ...base, container: a.container, k8s: a.k8s };
  switch (Math.floor(r() * 4)) {
    case 0:
      return { ...ctx, type: 'process.exec', proc: { ...process(r, '/bin/bash', ['bash'], 0, a.proc), tty: 34816 } };
    case 1:
      return {
        ...ctx,
        type: 'file.open',
        proc: process(r, '/bin/cat', ['cat', '/etc/shadow'], 0, a.proc),
        file: { path: '/etc/shadow', flags: ['O_RDONLY'], write: false },
      };
    case 2:
      return {
        ...ctx,
        type: 'network.connect',
        proc: process(r, '/usr/bin/curl', ['curl', 'http://169.254.169.254/latest/meta-data/'], 1000, a.proc),
        net: {
          family: 'ipv4',
          protocol: 'tcp',
          srcAddr: '10.0.3.7',
          srcPort: 40000,
          dstAddr: '169.254.169.254',
          dstPort: 80,
        },
      };
    default:
      return {
        ...ctx,
        type: 'process.exec',
        proc: process(r, '/tmp/.x/xmrig', ['xmrig', '-o', 'stratum+tcp://pool.example:3333'], 1000, a.proc),
      };
  }
}

function ordinary(
  r: Rng,
  a: Actor,
  execs: ProcessContext[],
  base: { id: string; time: string; node: string },
): RuntimeEvent {
  const ctx = { ...base, container: a.container, k8s: a.k8s };
  const x = r();
  if (x < 0.45) {
    const path = pick(r, a.w ? a.w.files : HOST_FILES);
    const write = path.endsWith('.log') || path.includes('pg_wal') || path.endsWith('.aof');
    return {
      ...ctx,
      type: 'file.open',
      proc: a.proc,
      file: { path, flags: write ? ['O_WRONLY', 'O_APPEND'] : ['O_RDONLY', 'O_CLOEXEC'], write },
    };
  }
  if (x < 0.7) {
    const port = pick(r, a.w ? a.w.ports : [6443, 443, 10250]);
    const type = r() < 0.8 ? 'network.connect' : 'network.accept';
    const net = {
      family: 'ipv4' as const,
      protocol: 'tcp' as const,
      srcAddr: '10.0.3.7',
      srcPort: 30000 + Math.floor(r() * 30000),
      dstAddr: `10.96.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`,
      dstPort: port,
    };
    return { ...ctx, type, proc: a.proc, net };
  }
  if (x < 0.84) return { ...ctx, type: 'process.exec', proc: pick(r, execs) };
  if (x < 0.94) return { ...ctx, type: 'process.exit', proc: pick(r, execs), exit: { code: 0, signal: 0 } };
  if (x < 0.97) return auditEvent(r, base);
  return kernelEvent(r, a, ctx);
}

function kernelEvent(
  r: Rng,
  a: Actor,
  ctx: { id: string; time: string; node: string; container?: ContainerContext; k8s?: KubernetesContext },
): RuntimeEvent {
  const x = r();
  if (x < 0.4) return { ...ctx, type: 'cred.setuid', proc: a.proc, cred: { uid: 1000 } };
  if (x < 0.6)
    return {
      ...ctx,
      type: 'process.memfd_exec',
      proc: { ...a.proc, name: 'runc', exe: '/usr/bin/runc' },
      memfd: { name: 'runc_cloned:/proc/self/exe' },
    };
  if (x < 0.8)
    return {
      ...ctx,
      type: 'fs.mount',
      proc: a.proc,
      mount: {
        source: 'overlay',
        target: '/run/containerd/io.containerd.runtime.v2.task/k8s.io/rootfs',
        fsType: 'overlay',
        flags: [],
      },
    };
  return { ...ctx, type: 'bpf.call', proc: a.proc, bpf: { cmd: 'BPF_MAP_LOOKUP_ELEM', progType: '' } };
}

function auditEvent(r: Rng, base: { id: string; time: string; node: string }): RuntimeEvent {
  const verb = pick(r, ['get', 'list', 'watch', 'update', 'create']);
  return {
    ...base,
    type: 'k8s.audit',
    audit: {
      auditId: base.id,
      stage: 'ResponseComplete',
      verb,
      user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      sourceIPs: ['10.0.0.10'],
      userAgent: 'kube-controller-manager/v1.31.0',
      objectRef: {
        resource: pick(r, ['pods', 'configmaps', 'leases', 'endpointslices']),
        namespace: 'shop',
        name: 'orders-7d9f8c0',
        subresource: '',
        apiGroup: '',
      },
      responseCode: 200,
    },
  };
}

/** `n` mixed runtime events from one seeded generator; equal (n, seed) give equal events. */
export function benchmarkEvents(n: number, seed = 1): RuntimeEvent[] {
  const r = rng(seed);
  const all = actors(r);
  const containerActors = all.filter((a) => a.container);
  const execs = all.flatMap((a) => EXEC_CMDS.map(([exe, argv]) => process(r, exe, argv, a.proc.uid, a.proc)));
  const t0 = Date.UTC(2026, 0, 1);
  const out: RuntimeEvent[] = new Array<RuntimeEvent>(n);
  for (let i = 0; i < n; i++) {
    const base = { id: `${seed}-${i}`, time: new Date(t0 + i).toISOString(), node: 'node-a' };
    const rare = r() < 0.0005;
    out[i] = rare ? suspicious(r, pick(r, containerActors), base) : ordinary(r, pick(r, all), execs, base);
  }
  return out;
}
