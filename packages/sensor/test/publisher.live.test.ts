/**
 * The whole runtime path on the live kernel (root): the real eBPF Sensor → runCollector (the
 * built-in rules) → unix socket → publisher (spool on disk) → HTTPS ingest server written in
 * the test. A `/bin/sh -c` with `/dev/tcp/…` in its command line runs in a podman container;
 * its alert (PAL-RT-002) and its forwarded exec event must reach the server with the
 * container's id. No timing assertions: each wait is for a state, bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuleEngine, builtinRuleSources } from '@palisade/rules';
import { repoRoot } from '@palisade/testkit';
import { runCollector } from '../src/collector.js';
import { createIngestClient } from '../src/ingest-client.js';
import { runPublisher } from '../src/publisher.js';
import { Sensor } from '../src/sensor.js';
import { TransportClient } from '../src/transport-client.js';
import { LIVE_IMAGE, ensureLiveImage, hasPodman, podmanRunArgs } from './live-helpers.js';
import { makeCa, startIngestServer } from './publisher-testkit.test.js';

const isRoot = process.getuid?.() === 0;
// Only a non-root developer machine skips; CI runs as root and must never skip these.
const SKIP = isRoot || process.env.CI ? false : 'needs root to load eBPF programs';

test(
  'live: a shell with /dev/tcp in a podman container → sensor → collector → publisher → server (alert + forwarded event)',
  { skip: SKIP || (hasPodman() ? false : 'podman not installed'), timeout: 300_000 },
  async () => {
    execFileSync('bash', [join(repoRoot(), 'scripts', 'build-sensor.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    ensureLiveImage();
    const dir = mkdtempSync(join(tmpdir(), 'palisade-live-pub-'));
    const ca = makeCa();
    const token = randomBytes(16).toString('hex');
    const srv = await startIngestServer(ca, token);
    const logs: string[] = [];
    const socketPath = join(dir, 'publisher.sock');
    const pub = await runPublisher({
      socketPath,
      spoolDir: join(dir, 'spool'),
      spoolLimitBytes: 64 * 1024 * 1024,
      client: createIngestClient({ url: srv.url, token, caFile: ca.caFile, env: {} }),
      node: 'live-node',
      batchMaxWaitMs: 50,
      log: (l) => logs.push(l),
    });
    const transport = new TransportClient({ socketPath, node: 'live-node', log: (l) => logs.push(l) });
    transport.start();
    const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
    assert.deepEqual(errors, []);
    const sensor = await Sensor.start({ mode: 'container', queueCapacity: 1 << 16, countersIntervalMs: 500 });
    const collector = runCollector({
      sensor,
      engine,
      transport,
      forwardTypes: ['process.exec'],
      countersIntervalMs: 200,
    });
    const marker = `palisade-live-${randomBytes(4).toString('hex')}`;
    let containerId = '';
    try {
      containerId = execFileSync(
        'podman',
        [
          ...podmanRunArgs().filter((a) => a !== '--rm'),
          '-d',
          LIVE_IMAGE,
          '/bin/sh',
          '-c',
          `: /dev/tcp/127.0.0.1/9 ${marker}; true`,
        ],
        { encoding: 'utf8' },
      ).trim();
      execFileSync('podman', ['wait', containerId], { stdio: 'ignore' });
      // Every event caused so far is in the sensor's queue once the loader answers this.
      await sensor.requestCounters();
      await srv.waitFor(
        (stored) =>
          stored.some((b) =>
            b.alerts.some(
              (a) =>
                a.ruleId === 'PAL-RT-002' &&
                a.events.some((e) => e.type === 'process.exec' && e.proc.argv.join(' ').includes(marker)),
            ),
          ) &&
          stored.some((b) => b.events.some((e) => e.type === 'process.exec' && e.proc.argv.join(' ').includes(marker))),
        120_000,
      );
      const alert = srv.stored
        .flatMap((b) => b.alerts)
        .find(
          (a) =>
            a.ruleId === 'PAL-RT-002' &&
            a.events.some((e) => e.type === 'process.exec' && e.proc.argv.join(' ').includes(marker)),
        );
      assert.ok(alert);
      const ev = alert.events[0];
      assert.ok(ev?.type === 'process.exec');
      assert.equal(ev.proc.exe, '/bin/sh', 'the shell itself, exec of /bin/sh -c');
      assert.ok(ev.container, 'container context');
      assert.equal(
        containerId.startsWith(ev.container.id) || ev.container.id.startsWith(containerId),
        true,
        `container ${ev.container.id} vs ${containerId}`,
      );
      const batches = srv.received.filter((r) => r.batch.alerts.some((a) => a.id === alert.id));
      assert.ok(batches.every((r) => r.gzip && r.authorization === `Bearer ${token}` && r.batch.node === 'live-node'));
      // The kernel counters travel too.
      await srv.waitFor((stored) => stored.some((b) => (b.counters?.seen['process.exec'] ?? 0) > 0), 60_000);
    } finally {
      if (containerId) execFileSync('podman', ['rm', '-f', containerId], { stdio: 'ignore' });
      await sensor.stop();
      await collector.done;
      await transport.close(10_000);
      await pub.stop();
      await srv.close();
      ca.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(!logs.join('\n').includes(token), 'the token is never logged');
  },
);
