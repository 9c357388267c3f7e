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
    registries: [],
  });
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
