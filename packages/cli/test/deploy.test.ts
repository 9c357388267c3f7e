/**
 * deploy/: the plain manifests and the Helm chart. Parses every object, checks the component
 * table of the architecture (kinds, capabilities, limits, security contexts, shared paths,
 * NetworkPolicies, RBAC), checks the chart's structure and that its defaults equal the plain
 * manifests, runs Palisade's own posture scan over the manifests against the justified
 * exceptions listed in deploy/README.md, and (as root, with podman) loads the real sensor in a
 * container holding exactly the collector's capabilities.
 *
 * `helm` is not installed here, so the chart's templates are checked structurally, not rendered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { FrameReader, REC_READY } from '@palisade/sensor';
import { debianImage, repoRoot } from '@palisade/testkit';
import { run } from './helpers.js';
import { sensorCommand } from '../src/commands/sensor.js';

const ROOT = repoRoot();
const MANIFESTS = join(ROOT, 'deploy', 'manifests');
const CHART = join(ROOT, 'deploy', 'helm', 'palisade-sensor');
const NAMESPACE = 'palisade-system';
const COLLECTOR_CAPS = ['SYS_ADMIN', 'SYS_RESOURCE', 'SYS_PTRACE', 'BPF', 'PERFMON'];
const SOCKET_DIR = '/run/palisade';
const SOCKET = '/run/palisade/publisher.sock';
const SPOOL = '/var/lib/palisade/spool';
const PUBLISHER_UID = 65532;

/** The seed's table: name, kind, limits. */
const TABLE = [
  { name: 'palisade-collector', kind: 'DaemonSet', cpu: '360m', memory: '296Mi', command: 'collect' },
  { name: 'palisade-inventory', kind: 'Deployment', cpu: '60m', memory: '64Mi', command: 'inventory' },
  { name: 'palisade-publisher', kind: 'DaemonSet', cpu: '60m', memory: '200Mi', command: 'publish' },
] as const;

type Obj = Record<string, unknown>;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Obj;
  file: string;
}

interface SecurityContext {
  runAsUser?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  securityContext?: SecurityContext;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  secret?: { secretName: string };
  configMap?: { name: string };
}

interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: SecurityContext & { supplementalGroups?: number[] };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
}

function loadManifests(): K8sObject[] {
  const out: K8sObject[] = [];
  for (const f of readdirSync(MANIFESTS)
    .filter((n) => n.endsWith('.yaml'))
    .sort()) {
    const file = join(MANIFESTS, f);
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${f}: YAML errors`);
      const o = doc.toJS() as K8sObject | null;
      if (o === null) continue;
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, `${f}: apiVersion, kind and metadata.name`);
      out.push({ ...o, file: f });
    }
  }
  return out;
}

const objects = loadManifests();

function find(kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} in deploy/manifests`);
  return o;
}

function podSpec(o: K8sObject): PodSpec {
  const spec = (o.spec as { template: { spec: PodSpec } } | undefined)?.template.spec;
  assert.ok(spec, `${o.kind}/${o.metadata.name} has a pod template`);
  return spec;
}

function podLabels(o: K8sObject): Record<string, string> {
  return (o.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
}

function mount(c: Container, path: string): { name: string; mountPath: string; readOnly?: boolean } {
  const m = c.volumeMounts?.find((v) => v.mountPath === path);
  assert.ok(m, `container ${c.name} mounts ${path}`);
  return m;
}

function hostPathOf(spec: PodSpec, volume: string): string | undefined {
  return spec.volumes?.find((v) => v.name === volume)?.hostPath?.path;
}

test('deploy: every manifest parses; namespaced objects live in palisade-system', () => {
  assert.ok(objects.length >= 13, `objects: ${objects.length}`);
  const cluster = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
  for (const o of objects) {
    if (cluster.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind}/${o.metadata.name}`);
    else assert.equal(o.metadata.namespace, NAMESPACE, `${o.file}: ${o.kind}/${o.metadata.name}`);
  }
  const ns = find('Namespace', NAMESPACE);
  assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
});

test('deploy: names, kinds, commands and CPU/memory limits are the seed table', () => {
  for (const row of TABLE) {
    const o = find(row.kind, row.name);
    const main = podSpec(o).containers;
    assert.equal(main.length, 1, `${row.name}: one container`);
    const c = main[0]!;
    assert.deepEqual(c.resources?.limits, { cpu: row.cpu, memory: row.memory }, `${row.name} limits`);
    assert.deepEqual(c.args?.slice(0, 2), ['sensor', row.command], `${row.name} runs palisade sensor ${row.command}`);
    // Requests must fit under the limits (else the API server refuses the pod).
    assert.ok(c.resources?.requests, `${row.name} requests`);
  }
  const workloads = objects.filter((o) => ['DaemonSet', 'Deployment', 'StatefulSet'].includes(o.kind));
  assert.deepEqual(workloads.map((o) => o.metadata.name).sort(), TABLE.map((r) => r.name).sort());
});

test('deploy: collector has exactly the loader capabilities, hostPID, read-only host mounts, no egress', () => {
  const ds = find('DaemonSet', 'palisade-collector');
  const spec = podSpec(ds);
  const c = spec.containers[0]!;
  assert.equal(spec.hostPID, true);
  assert.notEqual(spec.hostNetwork, true, 'no host network: NetworkPolicy must apply');
  assert.equal(spec.automountServiceAccountToken, false);
  const sc = c.securityContext ?? {};
  assert.equal(sc.privileged, false);
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.deepEqual(sc.capabilities?.add, COLLECTOR_CAPS);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  for (const path of ['/sys/kernel/btf', '/sys/kernel/tracing', '/sys/fs/cgroup', '/host/proc']) {
    assert.equal(mount(c, path).readOnly, true, `${path} read-only`);
  }
  assert.equal(hostPathOf(spec, mount(c, '/host/proc').name), '/proc');
  assert.equal(hostPathOf(spec, mount(c, '/sys/kernel/btf').name), '/sys/kernel/btf');
  for (const dir of ['/run/containerd', '/run/crio']) {
    const m = mount(c, `/host${dir}`);
    assert.equal(m.readOnly, true);
    assert.equal(hostPathOf(spec, m.name), dir);
  }
  assert.equal(hostPathOf(spec, mount(c, SOCKET_DIR).name), SOCKET_DIR);
  assert.deepEqual(c.args, ['sensor', 'collect', '--socket', SOCKET, '--runtime-root', '/host']);
  // The collector reaches the publisher's 0660 socket through the publisher's group.
  assert.deepEqual(spec.securityContext?.supplementalGroups, [PUBLISHER_UID]);
  // The init container hands the host dirs to the publisher's uid.
  const init = spec.initContainers?.[0];
  assert.ok(init);
  assert.deepEqual(init.securityContext?.capabilities, { drop: ['ALL'], add: ['CHOWN'] });
  assert.match(init.command?.join(' ') ?? '', new RegExp(`install -d -o ${PUBLISHER_UID} -g ${PUBLISHER_UID}`));
  const initDirs = (init.volumeMounts ?? []).map((m) => hostPathOf(spec, m.name)).sort();
  assert.deepEqual(initDirs, [SOCKET_DIR, SPOOL]);

  const np = find('NetworkPolicy', 'palisade-collector-isolated').spec as {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    egress: unknown[];
    ingress: unknown[];
  };
  assert.deepEqual(np.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(np.egress, [], 'no egress rule: all egress denied');
  assert.deepEqual(np.ingress, []);
  for (const [k, v] of Object.entries(np.podSelector.matchLabels)) assert.equal(podLabels(ds)[k], v);
});

test('deploy: publisher is unprivileged, shares the socket dir, spools on the node, egress DNS + HTTPS only', () => {
  const ds = find('DaemonSet', 'palisade-publisher');
  const spec = podSpec(ds);
  const c = spec.containers[0]!;
  assert.notEqual(spec.hostPID, true);
  assert.notEqual(spec.hostNetwork, true);
  assert.equal(spec.automountServiceAccountToken, false);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(spec.securityContext?.runAsUser, PUBLISHER_UID);
  const sc = c.securityContext ?? {};
  assert.equal(sc.runAsNonRoot, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.privileged, false);
  assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
  assert.equal(sc.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(hostPathOf(spec, mount(c, SOCKET_DIR).name), SOCKET_DIR);
  assert.equal(hostPathOf(spec, mount(c, SPOOL).name), SPOOL);
  const token = mount(c, '/var/run/secrets/palisade');
  assert.equal(token.readOnly, true);
  assert.equal(spec.volumes?.find((v) => v.name === token.name)?.secret?.secretName, 'palisade-ingest-token');
  const args = c.args ?? [];
  assert.equal(args[args.indexOf('--socket') + 1], SOCKET);
  assert.equal(args[args.indexOf('--spool-dir') + 1], SPOOL);
  assert.equal(args[args.indexOf('--token-file') + 1], '/var/run/secrets/palisade/token');
  // The token is a file, never an environment variable.
  assert.ok(!JSON.stringify(c).includes('secretKeyRef'));

  const np = find('NetworkPolicy', 'palisade-publisher-egress').spec as {
    policyTypes: string[];
    egress: { ports: { protocol: string; port: number }[] }[];
  };
  assert.deepEqual(np.policyTypes, ['Ingress', 'Egress']);
  const ports = np.egress.flatMap((e) => e.ports.map((p) => `${p.protocol}/${p.port}`)).sort();
  assert.deepEqual(ports, ['TCP/443', 'TCP/53', 'UDP/53']);
});

test('deploy: inventory reads the API with a read-only ClusterRole and no secrets', () => {
  const d = find('Deployment', 'palisade-inventory');
  const spec = podSpec(d);
  assert.equal(spec.serviceAccountName, 'palisade-inventory');
  assert.equal(spec.containers[0]!.securityContext?.runAsNonRoot, true);
  const role = find('ClusterRole', 'palisade-inventory') as K8sObject & {
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  const resources = new Set(role.rules.flatMap((r) => r.resources));
  for (const r of ['events', 'pods', 'deployments', 'replicasets', 'daemonsets', 'statefulsets', 'jobs', 'cronjobs'])
    assert.ok(resources.has(r), `ClusterRole covers ${r}`);
  assert.ok(!resources.has('secrets') && !resources.has('configmaps') && !resources.has('*'));
  for (const r of role.rules) assert.deepEqual([...r.verbs].sort(), ['get', 'list', 'watch']);
  const binding = find('ClusterRoleBinding', 'palisade-inventory') as K8sObject & {
    roleRef: { name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  };
  assert.equal(binding.roleRef.name, 'palisade-inventory');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'palisade-inventory', namespace: NAMESPACE }]);
});

test('deploy: every pod references declared volumes, service accounts and the config map', () => {
  const accounts = new Set(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name));
  for (const o of objects.filter((x) => x.kind === 'DaemonSet' || x.kind === 'Deployment')) {
    const spec = podSpec(o);
    assert.ok(accounts.has(spec.serviceAccountName ?? ''), `${o.metadata.name}: service account declared`);
    const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${o.metadata.name}/${c.name}: ${m.name}`);
      const sc = c.securityContext ?? {};
      // What the API server refuses: no privilege escalation together with SYS_ADMIN or privileged.
      if (sc.allowPrivilegeEscalation === false) {
        assert.ok(
          !sc.capabilities?.add?.includes('SYS_ADMIN') && sc.privileged !== true,
          `${o.metadata.name}/${c.name}`,
        );
      }
      assert.notEqual(sc.privileged, true, `${o.metadata.name}/${c.name} is not privileged`);
      assert.ok(c.resources?.limits?.cpu && c.resources.limits.memory, `${o.metadata.name}/${c.name} limits`);
    }
  }
  find('ConfigMap', 'palisade-sensor');
});

test('deploy: every flag the manifests and the chart pass is an option of the real command; no --ca-file by default', () => {
  const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: {} };
  const sensor = sensorCommand(io, () => undefined);
  const optionsOf = (name: string): Set<string> => {
    const sub = sensor.commands.find((c) => c.name() === name);
    assert.ok(sub, `palisade sensor ${name} exists`);
    return new Set(sub.options.map((o) => o.long ?? ''));
  };
  const templates = chartTemplates();
  for (const row of TABLE) {
    const known = optionsOf(row.command);
    const args = podSpec(find(row.kind, row.name)).containers[0]!.args ?? [];
    const flags = args.filter((a) => a.startsWith('--'));
    for (const f of flags) assert.ok(known.has(f), `${row.name}: palisade sensor ${row.command} has ${f}`);
    // publish and inventory refuse a missing CA file, and the CA ConfigMap is optional.
    assert.ok(!args.includes('--ca-file'), `${row.name}: no --ca-file unless a CA is configured`);
    const tpl = templates.get(
      `${row.command === 'collect' ? 'collector' : row.command === 'publish' ? 'publisher' : 'inventory'}.yaml`,
    )!;
    const tplFlags = [...tpl.matchAll(/(?:^\s*- |[[,]\s*)(--[a-z][a-z-]*)/gm)].map((m) => m[1]!);
    assert.ok(tplFlags.length > 0, `${row.name}: chart passes flags`);
    for (const f of tplFlags) assert.ok(known.has(f), `chart ${row.name}: palisade sensor ${row.command} has ${f}`);
    if (tplFlags.includes('--ca-file'))
      assert.match(tpl, /if or \.Values\.server\.caBundle \.Values\.server\.caExisting \}\}\s*- --ca-file/);
  }
});

// ---- Helm chart ----

function chartTemplates(): Map<string, string> {
  const dir = join(CHART, 'templates');
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

function valueAt(values: unknown, path: string[]): unknown {
  let v: unknown = values;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || !(k in v)) return undefined;
    v = (v as Obj)[k];
  }
  return v;
}

test('helm: Chart.yaml and values.yaml parse; every .Values reference exists; includes defined; blocks closed', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'palisade-sensor');
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
  const templates = chartTemplates();
  assert.ok(templates.has('_helpers.tpl'));
  const defined = new Set([...templates.get('_helpers.tpl')!.matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
  let refs = 0;
  for (const [file, text] of templates) {
    const opens = (text.match(/\{\{/g) ?? []).length;
    assert.equal(opens, (text.match(/\}\}/g) ?? []).length, `${file}: {{ and }} balance`);
    const actions = [...text.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/gs)].map((m) => m[1]!);
    const openers = actions.filter((a) => /^(if|range|with|define)\b/.test(a)).length;
    const ends = actions.filter((a) => a === 'end').length;
    assert.equal(openers, ends, `${file}: if/range/with/define closed by end`);
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z][A-Za-z0-9]*)+)/g)) {
      refs++;
      const path = m[1]!.slice(1).split('.');
      assert.notEqual(valueAt(values, path), undefined, `${file}: .Values.${path.join('.')} is in values.yaml`);
    }
    for (const m of text.matchAll(/include "([^"]+)"/g)) assert.ok(defined.has(m[1]), `${file}: include ${m[1]}`);
  }
  assert.ok(refs > 20, `references checked: ${refs}`);
  // The chart produces the same kinds of objects as the manifests (the namespace is Helm's).
  const kinds = (texts: string[]): string[] =>
    [...new Set(texts.flatMap((t) => [...t.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]!)))].sort();
  assert.deepEqual(
    kinds([...templates.values()]),
    [...new Set(objects.map((o) => o.kind))].filter((k) => k !== 'Namespace').sort(),
  );
});

test('helm: the chart defaults equal the plain manifests', () => {
  const v = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
    image: { repository: string; tag: string; digest: string };
    node: { socketDir: string; socketName: string; spoolDir: string; publisherUid: number };
    collector: { capabilities: string[]; resources: Obj; runtimeDirs: string[]; tolerations: unknown[] };
    publisher: { resources: Obj; tolerations: unknown[] };
    inventory: { resources: Obj };
    server: { url: string; tokenSecret: string; caConfigMap: string };
    proxy: { httpsProxy: string; noProxy: string };
  };
  const collector = podSpec(find('DaemonSet', 'palisade-collector'));
  const publisher = podSpec(find('DaemonSet', 'palisade-publisher'));
  const inventory = podSpec(find('Deployment', 'palisade-inventory'));
  assert.deepEqual(v.collector.capabilities, collector.containers[0]!.securityContext?.capabilities?.add);
  assert.deepEqual(v.collector.resources, collector.containers[0]!.resources);
  assert.deepEqual(v.publisher.resources, publisher.containers[0]!.resources);
  assert.deepEqual(v.inventory.resources, inventory.containers[0]!.resources);
  assert.equal(`${v.image.repository}:${v.image.tag}`, collector.containers[0]!.image);
  assert.equal(`${v.node.socketDir}/${v.node.socketName}`, SOCKET);
  assert.equal(v.node.spoolDir, SPOOL);
  assert.equal(v.node.publisherUid, PUBLISHER_UID);
  assert.deepEqual(v.collector.runtimeDirs, ['/run/containerd', '/run/crio']);
  assert.deepEqual(v.collector.tolerations, (collector as unknown as { tolerations: unknown[] }).tolerations);
  assert.deepEqual(v.publisher.tolerations, (publisher as unknown as { tolerations: unknown[] }).tolerations);
  const secret = publisher.volumes?.find((x) => x.secret)?.secret?.secretName;
  assert.equal(v.server.tokenSecret, secret);
  assert.equal(v.server.caConfigMap, publisher.volumes?.find((x) => x.configMap)?.configMap?.name);
  for (const k of ['url', 'tokenSecret', 'caConfigMap']) assert.ok(k in v.server);
  assert.deepEqual(Object.keys(v.proxy).sort(), ['httpsProxy', 'noProxy']);
  // The templates take the capabilities, resources and paths from these values, not literals.
  const collectorTpl = chartTemplates().get('collector.yaml')!;
  assert.match(collectorTpl, /toYaml \.Values\.collector\.capabilities/);
  assert.match(collectorTpl, /toYaml \.Values\.collector\.resources/);
  assert.doesNotMatch(collectorTpl, /privileged: true/);
});

// ---- posture findings vs the justified exceptions in deploy/README.md ----

/** Rows of the "justified exceptions" table: `check | Kind/name | count | why`. */
function justifiedExceptions(): Map<string, number> {
  const readme = readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8');
  const section = readme.split('## Posture findings')[1]?.split('\n## ')[0] ?? '';
  const out = new Map<string, number>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !/^[a-z]+-[a-z-]+$/.test(cells[1] ?? '')) continue;
    const key = `${cells[1]} ${cells[2]}`;
    assert.ok(!out.has(key), `README lists ${key} twice`);
    out.set(key, Number(cells[3]));
  }
  return out;
}

test('posture scan deploy/manifests: only the justified exceptions of deploy/README.md', async () => {
  const r = await run(['posture', 'scan', '--format', 'json', MANIFESTS]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    misconfigurations: { checkId: string; resource: { kind: string; name: string }; source?: { file: string } }[];
    errors: unknown[];
  };
  assert.deepEqual(report.errors, []);
  const found = new Map<string, number>();
  for (const m of report.misconfigurations) {
    const key = `${m.checkId} ${m.resource.kind}/${m.resource.name}`;
    found.set(key, (found.get(key) ?? 0) + 1);
  }
  const expected = justifiedExceptions();
  assert.ok(expected.size >= 10, `README table rows: ${expected.size}`);
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort(([a], [b]) => a.localeCompare(b));
  assert.deepEqual(sorted(found), sorted(expected));
  // No critical finding at all (privileged containers, cluster-admin, …).
  assert.ok(!JSON.stringify(report).includes('"severity":"critical"'));
  assert.ok(relative(ROOT, MANIFESTS) === join('deploy', 'manifests'));
});

// ---- the collector's capabilities, with the real loader ----

const isRoot = process.getuid?.() === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const SKIP_LIVE = (isRoot || process.env.CI) && hasPodman ? false : 'needs root and podman';
const IMAGE = 'localhost/palisade-sensor-test:latest';

/** Runs the loader in a container with only `caps`: did it attach every program (its ready record)? */
function loaderInContainer(caps: string[], loader: string): { ready: boolean; status: number | null; stderr: string } {
  const libDir = '/lib/x86_64-linux-gnu';
  // The Debian test image has libc and zlib; libbpf and libelf come from the host, read-only.
  const libs = ['libbpf.so.1', 'libelf.so.1'].flatMap((l) => [
    '-v',
    `${libDir}/${l}:/usr/lib/x86_64-linux-gnu/${l}:ro`,
  ]);
  const r = spawnSync(
    'podman',
    [
      'run',
      '-i',
      '--rm',
      '--runtime',
      '/usr/sbin/runc',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      '--pid',
      'host',
      '--cap-drop',
      'ALL',
      ...(caps.length > 0 ? ['--cap-add', caps.join(',')] : []),
      '-v',
      '/sys/kernel/btf:/sys/kernel/btf:ro',
      '-v',
      `${loader}:/loader:ro`,
      ...libs,
      IMAGE,
      '/loader',
      '--types',
      'exec,connect,exit',
    ],
    // 'q' on stdin: the loader stops right after it is ready.
    { input: 'q', timeout: 120_000 },
  );
  const frames = new FrameReader().push(r.stdout ?? Buffer.alloc(0));
  // The first frame is the ready record once every program is attached (its type at offset 2).
  const ready = frames[0] !== undefined && frames[0].length >= 8 && frames[0].readUInt16LE(2) === REC_READY;
  return { ready, status: r.status, stderr: r.stderr?.toString() ?? '' };
}

test(
  "deploy: the collector's capabilities load the sensor in a container (and fewer do not)",
  { skip: SKIP_LIVE, timeout: 300_000 },
  () => {
    execFileSync('bash', [join(ROOT, 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (spawnSync('podman', ['image', 'exists', IMAGE]).status !== 0) {
      execFileSync('podman', ['import', debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const loader = join(ROOT, 'packages', 'sensor', 'build', 'palisade-sensor-loader');
    const caps = podSpec(find('DaemonSet', 'palisade-collector')).containers[0]!.securityContext?.capabilities?.add;
    const ok = loaderInContainer(caps ?? [], loader);
    assert.ok(ok.ready, `loader with ${String(caps)} attached its programs: ${ok.stderr}`);
    assert.equal(ok.status, 0, ok.stderr);
    // Without SYS_ADMIN the default seccomp profile refuses bpf(): the capability is needed.
    const without = loaderInContainer(
      (caps ?? []).filter((c) => c !== 'SYS_ADMIN'),
      loader,
    );
    assert.equal(without.ready, false);
    assert.notEqual(without.status, 0);
    assert.match(without.stderr, /Operation not permitted/);
  },
);
