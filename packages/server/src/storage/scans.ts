/** Scan records: status, attempts, timings and the JSON report of each scan. */
import { randomUUID } from 'node:crypto';
import { PalisadeError, type ScanReport } from '@palisade/core';
import { nowIso, type RepoContext } from './context.js';
import { clampLimit, clampOffset } from './paging.js';
import { first, num, optNum, optStr, Params, str, type Row, type SqlValue } from './sql.js';
import { required } from './tokens.js';
import { SCAN_STATUSES, type ScanRecord, type ScanRepository, type ScanStatus } from './types.js';

// Everything but the report, which can be megabytes: lists never read it.
const COLUMNS =
  'id, image_ref, digest, status, error, attempts, job_id, queued_at, started_at, finished_at, duration_ms, publish_error';

export function createScanRepository(ctx: RepoContext): ScanRepository {
  const { ex } = ctx;
  const one = async (sql: string, params: SqlValue[]): Promise<ScanRecord | null> => {
    const row = await first(ex, `${sql} RETURNING ${COLUMNS}`, params);
    return row ? toScan(row) : null;
  };
  const finish = async (
    id: string,
    status: ScanStatus,
    error: string | null,
    report: string | null,
    digest: string | null,
  ): Promise<ScanRecord | null> => {
    const cur = await first(ex, 'SELECT started_at FROM scans WHERE id = $1', [id]);
    if (!cur) return null;
    const now = nowIso(ctx);
    const started = optStr(cur, 'started_at');
    const ms = started === null ? null : Math.max(0, Date.parse(now) - Date.parse(started));
    return one(
      `UPDATE scans SET status = $2, error = $3, report = COALESCE($4, report), digest = COALESCE($5, digest), finished_at = $6, duration_ms = $7
       WHERE id = $1`,
      [id, status, error, report, digest, now, ms],
    );
  };

  return {
    async create(input) {
      const row = await first(
        ex,
        `INSERT INTO scans (id, image_ref, digest, status, job_id, queued_at) VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING ${COLUMNS}`,
        [randomUUID(), input.imageRef, input.digest ?? null, input.jobId ?? null, nowIso(ctx)],
      );
      return toScan(required(row));
    },

    start: (id) =>
      one(`UPDATE scans SET status = 'running', attempts = attempts + 1, started_at = $2, error = NULL WHERE id = $1`, [
        id,
        nowIso(ctx),
      ]),

    succeed: (id, report, digest) =>
      finish(id, 'succeeded', null, JSON.stringify(report), digest ?? report.artifact.digest ?? null),

    fail: (id, error) => finish(id, 'failed', error, null, null),

    setPublishError: (id, error) => one('UPDATE scans SET publish_error = $2 WHERE id = $1', [id, error]),

    async get(id) {
      const row = await first(ex, `SELECT ${COLUMNS} FROM scans WHERE id = $1`, [id]);
      return row ? toScan(row) : null;
    },

    async report(id) {
      const row = await first(ex, 'SELECT report FROM scans WHERE id = $1', [id]);
      const text = row ? optStr(row, 'report') : null;
      return text === null ? null : (JSON.parse(text) as ScanReport);
    },

    async list(q = {}) {
      const p = new Params();
      const where: string[] = [];
      if (q.digest !== undefined) where.push(`digest = ${p.add(q.digest)}`);
      if (q.status !== undefined) {
        if (!(SCAN_STATUSES as readonly string[]).includes(q.status))
          throw new PalisadeError('E_INPUT', 'unknown scan status', { subject: q.status });
        where.push(`status = ${p.add(q.status)}`);
      }
      const w = where.length ? ` WHERE ${where.join(' AND ')}` : '';
      const total = num(required(await first(ex, `SELECT COUNT(*) AS n FROM scans${w}`, p.values)), 'n');
      const rows = await ex.all(
        `SELECT ${COLUMNS} FROM scans${w} ORDER BY queued_at DESC, id DESC LIMIT ${clampLimit(q.limit)} OFFSET ${clampOffset(q.offset)}`,
        p.values,
      );
      return { items: rows.map(toScan), total, nextCursor: null };
    },
  };
}

function toScan(r: Row): ScanRecord {
  return {
    id: str(r, 'id'),
    imageRef: str(r, 'image_ref'),
    digest: optStr(r, 'digest'),
    status: str(r, 'status') as ScanStatus,
    error: optStr(r, 'error'),
    attempts: num(r, 'attempts'),
    jobId: optStr(r, 'job_id'),
    queuedAt: str(r, 'queued_at'),
    startedAt: optStr(r, 'started_at'),
    finishedAt: optStr(r, 'finished_at'),
    durationMs: optNum(r, 'duration_ms'),
    publishError: optStr(r, 'publish_error'),
  };
}
