/**
 * `registries:` in the config file and `worker.lease`: validation errors that name the field
 * (and never a secret), and the start-time upsert by name on both storage backends: created
 * once, untouched by an identical restart, brought in line when the file changes, credentials
 * sealed in the database and never returned by the API.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPalisadeError } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { loadConfig, type ServerConfig } from '../../src/config/index.js';
import { startServer } from '../../src/app.js';
import { forEachBackend, PG_URL, TEST_KEY, type TestDb } from '../storage/harness.js';

const ADMIN = 'config-registries-admin-token-0123456789';
const SECRET = 's3cret-registry-password-do-not-print';
const TOKEN = 'ghp_registry-token-do-not-print-0123';

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

/** loadConfig of one YAML text, in a temp file. */
function fromYaml(yaml: string, env: Record<string, string> = {}): ServerConfig {
  const d = tempDir();
  try {
    const file = join(d.path, 'palisade.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ file, env, cwd: d.path });
  } finally {
    d.cleanup();
  }
}

describe('config: registries', () => {
  test('a valid list: defaults as in the API, credentials as variable names only', () => {
    const env = { HARBOR_USER: 'robot$ci', HARBOR_PASSWORD: SECRET, GHCR_TOKEN: TOKEN };
    const c = fromYaml(
      [
        'registries:',
        '  - name: harbor',
        '    url: https://harbor.example.com/',
        '    usernameEnv: HARBOR_USER',
        '    passwordEnv: HARBOR_PASSWORD',
        '  - name: ghcr',
        '    url: https://ghcr.io',
        '    readOnly: true',
        '    tokenEnv: GHCR_TOKEN',
        '  - name: local',
        '    url: http://127.0.0.1:5000',
        '    insecure: true',
        '    publishResults: false',
        '',
      ].join('\n'),
      env,
    );
    assert.deepEqual(c.registries, [
      {
        name: 'harbor',
        url: 'https://harbor.example.com',
        insecure: false,
        readOnly: false,
        publishResults: true,
        credentials: { usernameEnv: 'HARBOR_USER', passwordEnv: 'HARBOR_PASSWORD', tokenEnv: null },
      },
      {
        name: 'ghcr',
        url: 'https://ghcr.io',
        insecure: false,
        readOnly: true,
        publishResults: false,
        credentials: { usernameEnv: null, passwordEnv: null, tokenEnv: 'GHCR_TOKEN' },
      },
      {
        name: 'local',
        url: 'http://127.0.0.1:5000',
        insecure: true,
        readOnly: false,
        publishResults: false,
        credentials: null,
      },
    ]);
    assert.ok(!JSON.stringify(c).includes(SECRET) && !JSON.stringify(c).includes(TOKEN), 'no secret in the config');
  });

  test('errors name the entry and field, never a secret', () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['registries: {name: x}\n', {}, /^registries: must be a list/],
      ['registries:\n  - just-a-string\n', {}, /^registries\[0\]: must be a mapping/],
      ['registries:\n  - {url: "https://r.example"}\n', {}, /^registries\[0\]\.name: must be 1-63 letters/],
      ['registries:\n  - {name: "a b", url: "https://r.example"}\n', {}, /^registries\[0\]\.name: .*got "a b"/],
      [
        'registries:\n  - {name: a, url: "https://r.example"}\n  - {name: a, url: "https://s.example"}\n',
        {},
        /^registries\[1\]\.name: "a" is listed twice/,
      ],
      ['registries:\n  - {name: a}\n', {}, /^registries\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/],
      ['registries:\n  - {name: a, url: "ftp://r.example"}\n', {}, /^registries\[0\]\.url: must be an http/],
      [
        'registries:\n  - {name: a, url: "https://r.example", insecure: "maybe"}\n',
        {},
        /^registries\[0\]\.insecure: must be true or false/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", readonly: true}\n',
        {},
        /^registries\[0\]\.readonly: unknown key \(known here: name, url/,
      ],
      [
        `registries:\n  - {name: a, url: "https://r.example", password: ${SECRET}}\n`,
        {},
        /^registries\[0\]\.password: unknown key .*name the variable with passwordEnv/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", passwordEnv: P}\n',
        { P: SECRET },
        /^registries\[0\]\.usernameEnv: passwordEnv needs usernameEnv/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", usernameEnv: U}\n',
        { U: 'u' },
        /^registries\[0\]\.passwordEnv: usernameEnv needs passwordEnv/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", usernameEnv: U, passwordEnv: P, tokenEnv: T}\n',
        { U: 'u', P: SECRET, T: TOKEN },
        /^registries\[0\]\.tokenEnv: give either passwordEnv or tokenEnv/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", tokenEnv: "not a name"}\n',
        {},
        /^registries\[0\]\.tokenEnv: must name an environment variable/,
      ],
      [
        'registries:\n  - {name: a, url: "https://r.example", usernameEnv: U, passwordEnv: REG_PASSWORD}\n',
        { U: 'u' },
        /^registries\[0\]\.passwordEnv: environment variable REG_PASSWORD is not set$/,
      ],
    ];
    for (const [yaml, env, expected] of cases) {
      const message = configError(() => fromYaml(yaml, env));
      assert.match(message, expected, yaml);
      assert.ok(!message.includes(SECRET) && !message.includes(TOKEN), `no secret in: ${message}`);
    }
    // The URL's userinfo would put a secret in the file: rejected, and not echoed back.
    const userinfo = configError(() => fromYaml(`registries:\n  - {name: a, url: "https://u:${SECRET}@r.example"}\n`));
    assert.match(userinfo, /^registries\[0\]\.url: must be an http/);
    // The top-level list of known keys mentions registries.
    assert.match(
      configError(() => fromYaml('registry: []\n')),
      /unknown key "registry" \(known here: .*registries/,
    );
  });

  test('worker.lease: file or PALISADE_WORKER_LEASE, 1s to 1h', () => {
    assert.equal(fromYaml('worker:\n  lease: 90s\n').worker.leaseMs, 90_000);
    assert.equal(loadConfig({ env: { PALISADE_WORKER_LEASE: '2s' } }).worker.leaseMs, 2_000);
    assert.match(
      configError(() => loadConfig({ env: { PALISADE_WORKER_LEASE: '10ms' } })),
      /^worker\.lease: must be a duration from 1s .*\(from env PALISADE_WORKER_LEASE\)/,
    );
    assert.match(
      configError(() => fromYaml('worker:\n  lease: 2h\n')),
      /^worker\.lease: must be a duration from 1s to 1h/,
    );
  });
});

interface ApiRegistry {
  id: string;
  name: string;
  url: string;
  insecure: boolean;
  readOnly: boolean;
  publishResults: boolean;
  hasCredentials: boolean;
  hasWebhookToken: boolean;
  updatedAt: string;
}

forEachBackend((h) => {
  /** Start the server on `db` with this YAML, list GET /api/v1/registries, stop. */
  async function startAndList(
    db: TestDb,
    yaml: string,
    env: Record<string, string>,
  ): Promise<{ body: string; items: ApiRegistry[]; logs: string; creds: Map<string, unknown> }> {
    const d = tempDir();
    try {
      const file = join(d.path, 'palisade.yaml');
      writeFileSync(file, yaml);
      const fullEnv = { ...env, PALISADE_ADMIN_TOKEN: ADMIN };
      const config = loadConfig({
        file,
        env: fullEnv,
        flags: {
          port: '0',
          dataDir: db.dir ?? join(d.path, 'data'),
          ...(db.backend === 'postgres' ? { databaseUrl: PG_URL } : {}),
        },
      });
      let logs = '';
      const logStream = new (await import('node:stream')).Writable({
        write(chunk: Buffer, _enc, cb) {
          logs += chunk.toString();
          cb();
        },
      });
      const s = await startServer(config, {
        env: fullEnv,
        logStream,
        consoleDir: null,
        storage: { secretKey: TEST_KEY, ...(db.schema ? { schema: db.schema } : {}) },
      });
      try {
        const r = await fetch(`${s.url}/api/v1/registries`, { headers: { authorization: `Bearer ${ADMIN}` } });
        assert.equal(r.status, 200);
        const body = await r.text();
        const creds = new Map<string, unknown>();
        for (const reg of await s.storage.registries.list())
          creds.set(reg.name, await s.storage.registries.credentials(reg.id));
        return { body, items: (JSON.parse(body) as { items: ApiRegistry[] }).items, logs, creds };
      } finally {
        await s.close();
      }
    } finally {
      d.cleanup();
    }
  }

  test('registries from config are upserted by name at start, idempotently, credentials sealed', async () => {
    const db = await h.fresh();
    const env = { HARBOR_USER: 'robot$ci', HARBOR_PASSWORD: SECRET, GHCR_TOKEN: TOKEN };
    const yaml = [
      'registries:',
      '  - {name: harbor, url: "https://harbor.example.com", usernameEnv: HARBOR_USER, passwordEnv: HARBOR_PASSWORD}',
      '  - {name: ghcr, url: "https://ghcr.io", readOnly: true, tokenEnv: GHCR_TOKEN}',
      '',
    ].join('\n');

    const first = await startAndList(db, yaml, env);
    assert.deepEqual(
      first.items.map((r) => [r.name, r.url, r.readOnly, r.publishResults, r.hasCredentials, r.hasWebhookToken]),
      [
        ['ghcr', 'https://ghcr.io', true, false, true, false],
        ['harbor', 'https://harbor.example.com', false, true, true, false],
      ],
    );
    for (const text of [first.body, first.logs]) {
      assert.ok(!text.includes(SECRET) && !text.includes(TOKEN) && !text.includes('robot$ci'), 'no credential shown');
    }
    assert.match(first.logs, /registry from config created/);
    assert.deepEqual(first.creds.get('harbor'), { username: 'robot$ci', password: SECRET });
    assert.deepEqual(first.creds.get('ghcr'), { username: 'token', password: TOKEN });
    // At rest: sealed, neither the password nor the token readable in the row.
    const rows = await db.raw('SELECT name, credentials FROM registries');
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const sealed = String(row['credentials']);
      assert.ok(sealed.length > 0 && !sealed.includes(SECRET) && !sealed.includes(TOKEN), String(row['name']));
    }

    // The same file again: same records, not even updatedAt moves, nothing logged as changed.
    const second = await startAndList(db, yaml, env);
    assert.deepEqual(second.items, first.items);
    assert.doesNotMatch(second.logs, /registry from config (created|updated)/);

    // A changed file: settings follow it, credentials change or go, a registry dropped from the
    // file (or added by the API) stays.
    const changed = [
      'registries:',
      '  - {name: harbor, url: "https://harbor2.example.com", insecure: true}',
      '  - {name: ghcr, url: "https://ghcr.io", readOnly: true, usernameEnv: GH_USER, tokenEnv: GHCR_TOKEN}',
      '',
    ].join('\n');
    const third = await startAndList(db, changed, { ...env, GH_USER: 'octocat' });
    const byName = new Map(third.items.map((r) => [r.name, r]));
    const harbor = byName.get('harbor');
    assert.ok(harbor);
    assert.equal(harbor.id, first.items.find((r) => r.name === 'harbor')?.id);
    assert.deepEqual(
      [harbor.url, harbor.insecure, harbor.hasCredentials],
      ['https://harbor2.example.com', true, false],
    );
    assert.equal(third.creds.get('harbor'), null);
    assert.deepEqual(third.creds.get('ghcr'), { username: 'octocat', password: TOKEN });
    assert.match(third.logs, /registry from config updated/);
    assert.ok(!third.logs.includes(TOKEN) && !third.logs.includes(SECRET));

    const fourth = await startAndList(db, 'registries: []\n', {});
    assert.equal(fourth.items.length, 2, 'registries left out of the file are kept');

    // The environment startServer gets is what counts: a variable unset there stops the start.
    const d = tempDir();
    try {
      const file = join(d.path, 'p.yaml');
      writeFileSync(file, yaml);
      const config = loadConfig({ file, env, flags: { port: '0', dataDir: db.dir ?? join(d.path, 'data') } });
      if (db.backend === 'postgres') return;
      await assert.rejects(
        startServer(config, {
          env: { PALISADE_ADMIN_TOKEN: ADMIN },
          logStream: false,
          consoleDir: null,
          storage: { secretKey: TEST_KEY },
        }),
        (err: unknown) => {
          assert.ok(isPalisadeError(err));
          assert.equal(err.describe(), 'registries[0].usernameEnv: environment variable HARBOR_USER is not set');
          return true;
        },
      );
    } finally {
      d.cleanup();
    }
  });
});
