/**
 * Runs a storage test file on both backends: the embedded one in a temp dir, and PostgreSQL
 * (PALISADE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) in a fresh schema
 * per storage, dropped at the end.
 */
import { describe, after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { Clock } from '@palisade/core';
import { tempDir } from '@palisade/testkit';
import { openStorage, type CommonStorageOptions, type Storage } from '../../src/storage/index.js';

export const PG_URL = process.env['PALISADE_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_KEY = Buffer.alloc(32, 7);

export type BackendName = 'sqlite' | 'postgres';

/** A clock tests move by hand. */
export class TestClock implements Clock {
  private t: number;
  constructor(iso = '2025-03-01T12:00:00.000Z') {
    this.t = Date.parse(iso);
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** One isolated database (a temp dir or a schema) that several Storage instances can open. */
export interface TestDb {
  backend: BackendName;
  /** Another Storage on the same database (on PostgreSQL: its own pool). */
  open(opts?: CommonStorageOptions & { applicationName?: string; poolSize?: number }): Promise<Storage>;
  /** SQL run directly on the database, outside Storage (raw checks, tampering). */
  raw(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  tableExists(name: string): Promise<boolean>;
  /** The embedded database directory (sqlite only). */
  dir?: string;
  /** Schema name (postgres only). */
  schema?: string;
}

export interface Harness {
  backend: BackendName;
  /** A fresh empty database; everything opened on it is closed and dropped after the file. */
  fresh(): Promise<TestDb>;
}

/** Declare the tests of `body` once per backend. */
export function forEachBackend(body: (h: Harness) => void): void {
  for (const backend of ['sqlite', 'postgres'] as const) {
    describe(backend, () => {
      const h = makeHarness(backend);
      after(() => h.cleanup());
      body(h);
    });
  }
}

interface ManagedHarness extends Harness {
  cleanup(): Promise<void>;
}

function makeHarness(backend: BackendName): ManagedHarness {
  const cleanups: Array<() => Promise<void> | void> = [];
  const admin = backend === 'postgres' ? new pg.Pool({ connectionString: PG_URL, max: 2 }) : undefined;
  admin?.on('error', () => undefined);

  const track = async (s: Storage): Promise<Storage> => {
    cleanups.push(() => s.close().catch(() => undefined));
    return s;
  };

  return {
    backend,
    async fresh() {
      if (backend === 'sqlite') {
        const t = tempDir('palisade-storage-');
        cleanups.push(t.cleanup);
        const raw = async (sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> => {
          const { default: Sqlite } = await import('better-sqlite3');
          const db = new Sqlite(join(t.path, 'palisade.sqlite'));
          try {
            const stmt = db.prepare(sql);
            return stmt.reader ? (stmt.all(...params) as Array<Record<string, unknown>>) : (stmt.run(...params), []);
          } finally {
            db.close();
          }
        };
        return {
          backend,
          dir: t.path,
          open: async (opts = {}) => track(await openStorage({ dataDir: t.path, secretKey: TEST_KEY, ...opts })),
          raw,
          tableExists: async (name) =>
            (await raw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, [name])).length > 0,
        };
      }
      const pool = admin as pg.Pool;
      const schema = `palisade_t_${randomBytes(6).toString('hex')}`;
      await pool.query(`CREATE SCHEMA ${schema}`);
      cleanups.push(async () => {
        await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      });
      const raw = async (sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> => {
        const c = await pool.connect();
        try {
          await c.query(`SET search_path TO ${schema}`);
          return (await c.query<Record<string, unknown>>(sql, params)).rows;
        } finally {
          await c.query('RESET search_path');
          c.release();
        }
      };
      return {
        backend,
        schema,
        open: async (opts = {}) =>
          track(await openStorage({ databaseUrl: PG_URL, schema, secretKey: TEST_KEY, poolSize: 4, ...opts })),
        raw,
        tableExists: async (name) =>
          (await raw(`SELECT to_regclass($1) AS t`, [`${schema}.${name}`]))[0]?.['t'] != null,
      };
    },
    async cleanup() {
      // Close storages before dropping their schema (reverse order of creation).
      for (const c of cleanups.reverse()) await c();
      await admin?.end();
    },
  };
}

export function sha(n: number): string {
  return `sha256:${n.toString(16).padStart(64, '0')}`;
}
