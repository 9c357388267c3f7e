/** startServer: PALISADE_ADMIN_TOKEN, TLS, and a restart that keeps the generated admin token. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';

const KEY = Buffer.alloc(32, 4);

function httpsGet(url: string, ca: Buffer, token: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` } }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}

test('PALISADE_ADMIN_TOKEN over TLS: accepted, nothing written to the data dir', async () => {
  const d = tempDir();
  try {
    const cert = join(d.path, 'cert.pem');
    const key = join(d.path, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const token = 'operator-chosen-admin-token-0123456789abcdef';
    const env = { PALISADE_ADMIN_TOKEN: token };
    const config = loadConfig({ env, flags: { port: '0', dataDir: join(d.path, 'data'), tlsCert: cert, tlsKey: key } });
    const s = await startServer(config, { env, logStream: false, storage: { secretKey: KEY } });
    try {
      assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(s.adminToken, { kind: 'env' });
      assert.equal(existsSync(join(d.path, 'data', 'admin-token')), false);
      const ca = readFileSync(cert);
      assert.equal(await httpsGet(`${s.url}/api/v1/tokens`, ca, token), 200);
      assert.equal(await httpsGet(`${s.url}/api/v1/tokens`, ca, token + 'x'), 401);
    } finally {
      await s.close();
    }
    await assert.rejects(
      startServer(config, { env: { PALISADE_ADMIN_TOKEN: 'short' }, logStream: false }),
      (err: unknown) => {
        assert.ok(isPalisadeError(err));
        assert.equal(err.describe(), 'PALISADE_ADMIN_TOKEN: must be at least 32 characters without spaces');
        return true;
      },
    );
  } finally {
    d.cleanup();
  }
});

test('a restart keeps the generated admin token; a missing TLS file is a config error', async () => {
  const d = tempDir();
  try {
    const config = loadConfig({ env: {}, flags: { port: '0', dataDir: d.path } });
    const a = await startServer(config, { env: {}, logStream: false, storage: { secretKey: KEY } });
    const token = readFileSync(join(d.path, 'admin-token'), 'utf8').trim();
    await a.close();
    const b = await startServer(config, { env: {}, logStream: false, storage: { secretKey: KEY } });
    try {
      assert.deepEqual(b.adminToken, { kind: 'existing', file: join(d.path, 'admin-token') });
      assert.equal(readFileSync(join(d.path, 'admin-token'), 'utf8').trim(), token);
      const r = await fetch(`${b.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
    } finally {
      await b.close();
    }
    const tls = loadConfig({
      env: {},
      flags: { port: '0', dataDir: d.path, tlsCert: join(d.path, 'nope.pem'), tlsKey: join(d.path, 'nope.key') },
    });
    await assert.rejects(startServer(tls, { env: {}, logStream: false }), /server\.tls\.cert|cannot read/);
  } finally {
    d.cleanup();
  }
});
