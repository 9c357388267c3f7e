/** Daily snapshots of images by worst severity: cheap to chart, and history survives rescans. */
import { PalisadeError, severityRank, SEVERITIES } from '@palisade/core';
import type { RepoContext } from './context.js';
import { first, num, str, type Row } from './sql.js';
import { required } from './tokens.js';
import type { TrendPoint, TrendRepository } from './types.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function createTrendRepository(ctx: RepoContext): TrendRepository {
  const { ex } = ctx;
  return {
    async snapshot(day = ctx.clock.now().toISOString().slice(0, 10)) {
      checkDay(day);
      const bySeverity = SEVERITIES.map(
        (s) => `COALESCE(SUM(CASE WHEN d.max_rank = ${severityRank(s)} THEN 1 ELSE 0 END), 0) AS ${s}`,
      );
      const counts = required(
        await first(
          ex,
          `SELECT COUNT(*) AS images,
             COALESCE(SUM(CASE WHEN d.digest IS NULL THEN 1 ELSE 0 END), 0) AS unscanned,
             COALESCE(SUM(CASE WHEN d.max_rank = -1 THEN 1 ELSE 0 END), 0) AS clean,
             ${bySeverity.join(', ')}
           FROM images i LEFT JOIN digests d ON d.digest = i.digest`,
        ),
      );
      const cols = ['images', 'unscanned', 'clean', ...SEVERITIES];
      const values = cols.map((c) => num(counts, c));
      const row = await first(
        ex,
        `INSERT INTO severity_trend (day, taken_at, ${cols.join(', ')}) VALUES ($1, $2, ${cols.map((_, i) => `$${i + 3}`).join(', ')})
         ON CONFLICT (day) DO UPDATE SET taken_at = excluded.taken_at, ${cols.map((c) => `${c} = excluded.${c}`).join(', ')}
         RETURNING *`,
        [day, ctx.clock.now().toISOString(), ...values],
      );
      return toPoint(required(row));
    },

    async range(from, to) {
      checkDay(from);
      checkDay(to);
      return (await ex.all('SELECT * FROM severity_trend WHERE day >= $1 AND day <= $2 ORDER BY day', [from, to])).map(
        toPoint,
      );
    },
  };
}

function checkDay(day: string): void {
  if (!DAY.test(day)) throw new PalisadeError('E_INPUT', 'day must be YYYY-MM-DD', { subject: day });
}

function toPoint(r: Row): TrendPoint {
  return {
    day: str(r, 'day'),
    images: num(r, 'images'),
    clean: num(r, 'clean'),
    unscanned: num(r, 'unscanned'),
    critical: num(r, 'critical'),
    high: num(r, 'high'),
    medium: num(r, 'medium'),
    low: num(r, 'low'),
    negligible: num(r, 'negligible'),
    unknown: num(r, 'unknown'),
  };
}
