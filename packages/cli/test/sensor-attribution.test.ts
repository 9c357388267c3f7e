/**
 * `sensor collect` wiring without the kernel: which resolvers `--resolver` picks, the bounded
 * enrichment stage (cache hits, one wait budget per lookup, bounded lookups in flight, alerts
 * held for a late answer and released unresolved when none comes) and the drift stage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPalisadeError, type Alert, type ProcessExecEvent, type RuntimeEvent } from '@palisade/core';
import {
  CachedResolver,
  DRIFT_RULE_ID,
  DriftMonitor,
  emptyDriftPolicy,
  type CollectorSink,
  type ContainerContextResolver,
  type ResolvedContainer,
  type TransportItem,
} from '@palisade/sensor';
import { tempDir } from '@palisade/testkit';
import { Attribution, setupResolver, type ResolverSetupOptions } from '../src/collect/attribution.js';
import { withDrift } from '../src/collect/drift.js';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const ID_C = 'c'.repeat(64);

function exec(id: string, containerId: string | undefined, exe = '/bin/true'): ProcessExecEvent {
  return {
    id,
    type: 'process.exec',
    time: '2026-01-01T00:00:00.000Z',
    node: 'n',
    proc: {
      pid: 42,
      ppid: 1,
      uid: 0,
      gid: 0,
      exe,
      name: exe.split('/').pop() ?? '',
      argv: [exe],
      cwd: '/',
      tty: 0,
      ancestry: [],
    },
    ...(containerId
      ? {
          container: { id: containerId, name: '', image: '', imageDigest: '', runtime: 'podman', resolved: false },
        }
      : {}),
  };
}

/** A resolver whose answers the test releases by hand. */
class ManualResolver implements ContainerContextResolver {
  readonly id = 'manual';
  readonly asked: string[] = [];
  private readonly waiting = new Map<string, (r: ResolvedContainer | undefined) => void>();

  resolve(containerId: string): Promise<ResolvedContainer | undefined> {
    this.asked.push(containerId);
    return new Promise((resolve) => this.waiting.set(containerId, resolve));
  }

  answer(containerId: string, known = true): void {
    const r = this.waiting.get(containerId);
    assert.ok(r, `a lookup of ${containerId.slice(0, 4)} is waiting`);
    this.waiting.delete(containerId);
    r(
      known
        ? {
            id: containerId,
            name: `ctr-${containerId.slice(0, 4)}`,
            image: 'localhost/app:1',
            imageDigest: `sha256:${'d'.repeat(64)}`,
            runtime: 'podman',
            source: 'manual',
          }
        : undefined,
    );
  }
}

class ListSink implements CollectorSink {
  readonly items: Exclude<TransportItem, { k: 'counters' }>[] = [];
  offer(item: Exclude<TransportItem, { k: 'counters' }>): boolean {
    this.items.push(item);
    return true;
  }
  addCounters(): void {}
  droppedItems(): number {
    return 0;
  }
}

function alertOn(ev: RuntimeEvent): Alert {
  return {
    id: `alert-${ev.id}`,
    ruleId: 'R',
    severity: 'high',
    title: 't',
    output: 'o',
    fields: {},
    mitre: [],
    tags: [],
    events: [ev],
    time: ev.time,
  };
}

test('attribution: a lookup answered within the budget resolves the event; later events hit the cache', async () => {
  const inner = new ManualResolver();
  const att = new Attribution(new CachedResolver(inner), ['manual'], { waitMs: 5000 });
  const pending = att.enrich(exec('e1', ID_A));
  inner.answer(ID_A);
  const first = await pending;
  assert.equal(first.container?.resolved, true);
  assert.equal(first.container?.image, 'localhost/app:1');
  assert.equal(first.container?.id, ID_A);
  const second = await att.enrich(exec('e2', ID_A));
  assert.equal(second.container?.name, `ctr-${ID_A.slice(0, 4)}`);
  assert.deepEqual(inner.asked, [ID_A], 'one lookup for both events');
  // Host processes are left alone.
  const host = exec('e3', undefined);
  assert.equal(await att.enrich(host), host);
  assert.equal(att.stats().resolvedInTime, 1);
});

test('attribution: a slow lookup holds one event at most the budget, then none of that container', async () => {
  const inner = new ManualResolver();
  const att = new Attribution(new CachedResolver(inner), ['manual'], { waitMs: 30 });
  const first = await att.enrich(exec('e1', ID_A)); // the answer never comes in time
  assert.equal(first.container?.resolved, false);
  assert.equal(first.container?.id, ID_A, 'an unresolved container keeps its id');
  for (let i = 0; i < 5; i++) assert.equal((await att.enrich(exec(`e${i + 2}`, ID_A))).container?.resolved, false);
  const st = att.stats();
  assert.equal(st.waitTimeouts, 1, 'only the first event waited');
  assert.equal(st.notWaited, 5);
  assert.deepEqual(inner.asked, [ID_A]);
  inner.answer(ID_A); // late: the next event of the container is resolved from the cache
  await new Promise((r) => setImmediate(r));
  assert.equal((await att.enrich(exec('e9', ID_A))).container?.resolved, true);
});

test('attribution: lookups in flight are bounded; beyond, events go on unresolved without one', async () => {
  const inner = new ManualResolver();
  const att = new Attribution(new CachedResolver(inner), ['manual'], { waitMs: 1, maxPending: 2 });
  for (const id of [ID_A, ID_B, ID_C])
    assert.equal((await att.enrich(exec(`e-${id[0]}`, id))).container?.resolved, false);
  assert.deepEqual(inner.asked, [ID_A, ID_B], 'the third container started no lookup');
  assert.equal(att.stats().pendingFull, 1);
  inner.answer(ID_A, false); // unknown: cached as a miss, frees a slot
  await new Promise((r) => setImmediate(r));
  await att.enrich(exec('e-c2', ID_C));
  assert.deepEqual(inner.asked, [ID_A, ID_B, ID_C]);
});

test('attribution: an alert on an unresolved container waits for the lookup (not the events) and is filled in', async () => {
  const inner = new ManualResolver();
  const att = new Attribution(new CachedResolver(inner), ['manual'], { waitMs: 1, alertHoldMs: 10_000 });
  const out = new ListSink();
  const sink = att.sink(out);
  const ev = await att.enrich(exec('e1', ID_A));
  assert.equal(ev.container?.resolved, false);
  assert.equal(sink.offer({ k: 'alert', alert: alertOn(ev) }), true);
  // Events and host alerts are not held.
  sink.offer({ k: 'event', event: ev });
  sink.offer({ k: 'alert', alert: alertOn(exec('h1', undefined)) });
  assert.deepEqual(
    out.items.map((i) => (i.k === 'alert' ? i.alert.id : i.event.id)),
    ['e1', 'alert-h1'],
  );
  inner.answer(ID_A);
  await att.drain();
  const held = out.items[2];
  assert.ok(held?.k === 'alert');
  assert.equal(held.alert.id, 'alert-e1', 'same alert id');
  assert.equal(held.alert.events[0]?.container?.resolved, true);
  assert.equal(held.alert.events[0]?.container?.image, 'localhost/app:1');
  assert.equal(att.stats().alertsFilledLate, 1);
});

test('attribution: an alert whose lookup never answers is released unresolved after the hold', async () => {
  const inner = new ManualResolver();
  const att = new Attribution(new CachedResolver(inner), ['manual'], { waitMs: 1, alertHoldMs: 20 });
  const out = new ListSink();
  const ev = await att.enrich(exec('e1', ID_A));
  att.sink(out).offer({ k: 'alert', alert: alertOn(ev) });
  assert.equal(out.items.length, 0);
  await att.drain();
  assert.equal(out.items.length, 1);
  const a = out.items[0];
  assert.ok(a?.k === 'alert');
  assert.equal(a.alert.events[0]?.container?.resolved, false);
  assert.equal(a.alert.events[0]?.container?.id, ID_A);
  assert.equal(att.stats().alertsSentUnresolved, 1);
});

function opts(over: Partial<ResolverSetupOptions>): ResolverSetupOptions {
  return { choice: 'auto', runtimeRoot: '/nonexistent-root', env: {}, podmanCli: false, log: () => undefined, ...over };
}

test('--resolver: explicit choices, auto from what exists under --runtime-root, Kubernetes needs a node name', () => {
  assert.equal(setupResolver(opts({ choice: 'none' })).resolver, undefined);
  assert.deepEqual(setupResolver(opts({ choice: 'docker' })).sources, ['docker']);
  assert.deepEqual(setupResolver(opts({ choice: 'podman' })).sources, ['podman']);
  assert.deepEqual(setupResolver(opts({ choice: 'oci-state' })).sources, ['containerd-state', 'crio-state']);
  // auto on a node with nothing: no resolver at all.
  assert.deepEqual(setupResolver(opts({})).sources, []);
  assert.deepEqual(setupResolver(opts({ podmanCli: true })).sources, ['podman']);

  const dir = tempDir('palisade-resolver-');
  mkdirSync(join(dir.path, 'run/containerd/io.containerd.runtime.v2.task'), { recursive: true });
  writeFileSync(join(dir.path, 'run/docker.sock'), ''); // /var/run/docker.sock → not under run/
  mkdirSync(join(dir.path, 'var/run'), { recursive: true });
  writeFileSync(join(dir.path, 'var/run/docker.sock'), '');
  assert.deepEqual(setupResolver(opts({ runtimeRoot: dir.path })).sources, ['docker', 'containerd-state']);

  const kubeconfig = join(dir.path, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n'),
  );
  // auto: Kubernetes first when a kubeconfig and a node name are given, then the runtimes.
  const k = setupResolver(opts({ runtimeRoot: dir.path, kubeconfig, nodeName: 'node-1' }));
  assert.deepEqual(k.sources, ['kubernetes', 'docker', 'containerd-state']);
  assert.ok(k.kubernetes);
  k.resolver?.close();
  // auto without a node name: no Kubernetes (never guessed), no error.
  assert.deepEqual(setupResolver(opts({ runtimeRoot: dir.path, kubeconfig })).sources, ['docker', 'containerd-state']);
  assert.throws(
    () => setupResolver(opts({ choice: 'kubernetes', kubeconfig })),
    (e: unknown) =>
      isPalisadeError(e) &&
      e.describe() === '--resolver: the Kubernetes resolver needs the node name: pass --node or set NODE_NAME',
  );
  assert.throws(
    () => setupResolver(opts({ choice: 'kubernetes', nodeName: 'node-1' })),
    /needs --kubeconfig FILE or to run in a pod/,
  );
  dir.cleanup();
});

test('drift stage: a container exec of a binary not in the image alerts after the rules; others pass through', async () => {
  const rules = { evaluate: (ev: RuntimeEvent): Alert[] => (ev.id === 'ruled' ? [alertOn(ev)] : []) };
  const engine = withDrift(rules, new DriftMonitor({ policy: emptyDriftPolicy() }));
  const drift = exec('ruled', ID_A, '/tmp/dropped');
  drift.container = { ...drift.container!, resolved: true, image: 'localhost/app:1' };
  drift.proc.exeUpperLayer = true;
  const alerts = await engine.evaluate(drift);
  assert.deepEqual(
    alerts.map((a) => a.ruleId),
    ['R', DRIFT_RULE_ID],
  );
  assert.equal((alerts[1] as Alert & { blocked: boolean }).blocked, false);
  const inImage = exec('plain', ID_A);
  inImage.proc.exeUpperLayer = false;
  assert.deepEqual(await engine.evaluate(inImage), []);
  // Not a container exec: the rules' answer as is, no promise.
  const host = exec('ruled', undefined);
  assert.ok(Array.isArray(engine.evaluate(host)));
});
