/** Configuration: defaults, file < env < flags, errors that name the field, unknown YAML keys. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { loadConfig } from '../../src/config/index.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isPalisadeError(err), String(err));
    assert.equal(err.code, 'E_CONFIG');
    return err.describe();
  }
  assert.fail('expected an E_CONFIG error');
}

test('defaults', () => {
  const c = loadConfig({ env: {}, cwd: '/srv' });
  assert.deepEqual(c, {
    server: { host: '127.0.0.1', port: 8080, bodyLimit: 1048576, tls: null },
    dataDir: '/srv/palisade-data',
    databaseUrl: null,
    vulnDbPath: '/srv/palisade-data/vuln.db',
    worker: { concurrency: 2, registryConcurrency: 2, allowLocalSources: false, leaseMs: 60_000 },
    log: { level: 'info' },
    scheduler: {
      enabled: true,
      rescan: { intervalMs: 3_600_000, windowMs: 2_592_000_000, everyMs: 86_400_000 },
      poll: { intervalMs: 900_000 },
      rematch: true,
    },
    clusters: { allowExecPlugins: false, keepSnapshots: 96, pageSize: 500, defaultIntervalSeconds: 900 },
    runtime: {
      natsUrl: null,
      ruleFiles: [],
      groupWindowMs: 600_000,
      natsCredsFile: null,
      alertRetentionDays: 30,
      ingestItemsPerSecond: 20_000,
      ingestBytesPerSecond: 16 * 1024 * 1024,
    },
    registries: [],
  });
});

test('clusters and runtime settings: file < env < flags', () => {
  const d = tempDir();
  try {
    const file = join(d.path, 'palisade.yaml');
    writeFileSync(
      file,
      [
        'clusters:',
        '  allowExecPlugins: true',
        '  keepSnapshots: 672',
        '  pageSize: 250',
        '  defaultInterval: 5m',
        'runtime:',
        '  natsUrl: nats://nats-a:4222,nats://nats-b:4222',
        '  ruleFiles: [rules/a.yaml, /etc/palisade/b.yaml]',
        '  groupWindow: 5m',
        '',
      ].join('\n'),
    );
    const fromFile = loadConfig({ file, env: {}, cwd: '/srv' });
    assert.deepEqual(fromFile.clusters, {
      allowExecPlugins: true,
      keepSnapshots: 672,
      pageSize: 250,
      defaultIntervalSeconds: 300,
    });
    assert.deepEqual(fromFile.runtime, {
      natsUrl: 'nats://nats-a:4222,nats://nats-b:4222',
      ruleFiles: ['/srv/rules/a.yaml', '/etc/palisade/b.yaml'],
      groupWindowMs: 300_000,
      natsCredsFile: null,
      alertRetentionDays: 30,
      ingestItemsPerSecond: 20_000,
      ingestBytesPerSecond: 16 * 1024 * 1024,
    });

    const env = {
      PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS: 'false',
      PALISADE_CLUSTERS_KEEP_SNAPSHOTS: '48',
      PALISADE_CLUSTERS_PAGE_SIZE: '1000',
      PALISADE_CLUSTERS_DEFAULT_INTERVAL: '1h',
      NATS_URL: '127.0.0.1:4222',
      PALISADE_RULE_FILES: 'x.yaml, ,y.yaml',
      PALISADE_RUNTIME_GROUP_WINDOW: '30s',
    };
    const fromEnv = loadConfig({ file, env, cwd: '/srv' });
    assert.deepEqual(fromEnv.clusters, {
      allowExecPlugins: false,
      keepSnapshots: 48,
      pageSize: 1000,
      defaultIntervalSeconds: 3600,
    });
    assert.deepEqual(fromEnv.runtime, {
      natsUrl: '127.0.0.1:4222',
      ruleFiles: ['/srv/x.yaml', '/srv/y.yaml'],
      groupWindowMs: 30_000,
      natsCredsFile: null,
      alertRetentionDays: 30,
      ingestItemsPerSecond: 20_000,
      ingestBytesPerSecond: 16 * 1024 * 1024,
    });

    const fromFlags = loadConfig({
      file,
      env,
      cwd: '/srv',
      flags: { allowExecPlugins: true, natsUrl: 'tls://nats:4222', ruleFiles: 'z.yaml', groupWindow: '2m' },
    });
    assert.equal(fromFlags.clusters.allowExecPlugins, true);
    assert.deepEqual(fromFlags.runtime, {
      natsUrl: 'tls://nats:4222',
      ruleFiles: ['/srv/z.yaml'],
      groupWindowMs: 120_000,
      natsCredsFile: null,
      alertRetentionDays: 30,
      ingestItemsPerSecond: 20_000,
      ingestBytesPerSecond: 16 * 1024 * 1024,
    });
  } finally {
    d.cleanup();
  }
});

test('clusters and runtime settings: errors name the field and the source, never a NATS password', () => {
  assert.equal(
    configError(() => loadConfig({ env: { PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS: 'sure' } })),
    'clusters.allowExecPlugins: must be true or false, got "sure" (from env PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS)',
  );
  assert.equal(
    configError(() => loadConfig({ env: {}, flags: { allowExecPlugins: 'maybe' } })),
    'clusters.allowExecPlugins: must be true or false, got "maybe" (from --allow-exec-plugins)',
  );
  assert.equal(
    configError(() => loadConfig({ env: { PALISADE_CLUSTERS_KEEP_SNAPSHOTS: '0' } })),
    'clusters.keepSnapshots: must be an integer 1-10000, got "0" (from env PALISADE_CLUSTERS_KEEP_SNAPSHOTS)',
  );
  assert.equal(
    configError(() => loadConfig({ env: { PALISADE_CLUSTERS_PAGE_SIZE: '9000' } })),
    'clusters.pageSize: must be an integer 1-5000, got "9000" (from env PALISADE_CLUSTERS_PAGE_SIZE)',
  );
  assert.match(
    configError(() => loadConfig({ env: { PALISADE_CLUSTERS_DEFAULT_INTERVAL: '10s' } })),
    /^clusters\.defaultInterval: must be a duration from 1m to 7d .*got "10s" \(from env PALISADE_CLUSTERS_DEFAULT_INTERVAL\)$/,
  );
  assert.match(
    configError(() => loadConfig({ env: {}, flags: { groupWindow: '2d' } })),
    /^runtime\.groupWindow: must be a duration from 1s to 1d .*\(from --group-window\)$/,
  );
  const nats = configError(() => loadConfig({ env: { NATS_URL: 'http://user:s3cret@nats:4222' } }));
  assert.equal(nats, 'runtime.natsUrl: must be nats://host:port (several separated by commas) (from env NATS_URL)');
  assert.ok(!nats.includes('s3cret'));
  const d = tempDir();
  try {
    const file = join(d.path, 'c.yaml');
    writeFileSync(file, 'runtime:\n  ruleFiles: [a.yaml, 3]\n');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /^runtime\.ruleFiles: must be a list of paths/,
    );
    writeFileSync(file, 'clusters:\n  allowExec: true\n');
    assert.equal(
      configError(() => loadConfig({ file, env: {} })),
      `${file}: unknown key "clusters.allowExec" (known here: allowExecPlugins, keepSnapshots, pageSize, defaultInterval)`,
    );
  } finally {
    d.cleanup();
  }
});

test('YAML file < PALISADE_* environment < flags', () => {
  const d = tempDir();
  try {
    const file = join(d.path, 'palisade.yaml');
    writeFileSync(
      file,
      'server:\n  host: 0.0.0.0\n  port: 9000\n  bodyLimit: 2mb\ndataDir: /var/lib/palisade\nworker:\n  concurrency: 4\nlog:\n  level: warn\n',
    );
    const c = loadConfig({
      file,
      env: { PALISADE_PORT: '9001', PALISADE_LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://u:p@db/palisade' },
      flags: { logLevel: 'error' },
      cwd: '/',
    });
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.server.port, 9001);
    assert.equal(c.server.bodyLimit, 2 * 1024 * 1024);
    assert.equal(c.dataDir, '/var/lib/palisade');
    assert.equal(c.vulnDbPath, '/var/lib/palisade/vuln.db');
    assert.equal(c.worker.concurrency, 4);
    assert.equal(c.log.level, 'error');
    assert.equal(c.databaseUrl, 'postgres://u:p@db/palisade');
    assert.equal(loadConfig({ env: { PALISADE_DB: '/dbs/v.db' } }).vulnDbPath, '/dbs/v.db');
  } finally {
    d.cleanup();
  }
});

test('errors name the field and where the value came from', () => {
  assert.equal(
    configError(() => loadConfig({ env: {}, flags: { port: 'x' } })),
    'server.port: must be an integer 1-65535, got "x" (from --port)',
  );
  assert.equal(
    configError(() => loadConfig({ env: { PALISADE_PORT: '70000' } })),
    'server.port: must be an integer 1-65535, got "70000" (from env PALISADE_PORT)',
  );
  assert.match(
    configError(() => loadConfig({ env: { PALISADE_LOG_LEVEL: 'loud' } })),
    /^log\.level: must be one of fatal, error/,
  );
  assert.match(
    configError(() => loadConfig({ env: {}, flags: { tlsCert: '/c.pem' } })),
    /^server\.tls\.key: TLS needs both/,
  );
  const url = configError(() => loadConfig({ env: { DATABASE_URL: 'mysql://root:hunter2@db/x' } }));
  assert.match(url, /^databaseUrl: must be a postgres:\/\//);
  assert.ok(!url.includes('hunter2'), 'a database URL (and its password) is never echoed');
});

test('unknown or misplaced YAML keys are rejected by name', () => {
  const d = tempDir();
  try {
    const file = join(d.path, 'c.yaml');
    writeFileSync(file, 'server:\n  prot: 80\n');
    assert.equal(
      configError(() => loadConfig({ file, env: {} })),
      `${file}: unknown key "server.prot" (known here: host, port, bodyLimit, tls)`,
    );
    writeFileSync(file, 'port: 80\n');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /unknown key "port"/,
    );
    writeFileSync(file, 'server:\n  port: [1]\n');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /^server\.port: must be a scalar value/,
    );
    writeFileSync(file, 'server: {port: 1\n');
    assert.match(
      configError(() => loadConfig({ file, env: {} })),
      /not valid YAML/,
    );
  } finally {
    d.cleanup();
  }
});
