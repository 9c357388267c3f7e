/**
 * Images (registry, repository, digest) and the list the API shows. Counts come from the
 * `digests` summary row of the latest scan, never from aggregating findings at read time, so a
 * page costs the same with 10 findings or 10 million.
 */
import { PalisadeError, SEVERITIES, stableId, type Severity } from '@palisade/core';
import { nowIso, type RepoContext } from './context.js';
import { dropDigest, findingsForDigest, packagesForDigest, rankSeverity } from './findings.js';
import { clampLimit, clampOffset, cursorOf, keyset, likeContains } from './paging.js';
import { first, forUpdate, jsonArray, num, optNum, optStr, Params, str, type Row } from './sql.js';
import { required } from './tokens.js';
import type {
  ImageListQuery,
  ImageRecord,
  ImageRepository,
  ImageSort,
  ImageSummary,
  Page,
  SeverityCounts,
} from './types.js';

const SELECT = `SELECT i.*, d.scan_id, d.scanned_at, d.packages, d.total, d.fixable, d.max_rank,
  d.n_critical, d.n_high, d.n_medium, d.n_low, d.n_negligible, d.n_unknown,
  d.f_critical, d.f_high, d.f_medium, d.f_low, d.f_negligible, d.f_unknown
  FROM images i LEFT JOIN digests d ON d.digest = i.digest`;

const SORTS: Record<ImageSort, readonly string[]> = {
  repository: ['i.repository', 'i.id'],
  lastScanned: [`COALESCE(d.scanned_at, '')`, 'i.id'],
  lastPushed: [`COALESCE(i.last_pushed_at, '')`, 'i.id'],
  severity: [
    'COALESCE(d.max_rank, -1)',
    'COALESCE(d.n_critical, 0)',
    'COALESCE(d.n_high, 0)',
    'COALESCE(d.n_medium, 0)',
    'COALESCE(d.n_low, 0)',
    'i.id',
  ],
  total: ['COALESCE(d.total, 0)', 'i.id'],
};

export function imageId(registry: string, repository: string, digest: string): string {
  return stableId('image', registry, repository, digest);
}

export function createImageRepository(ctx: RepoContext): ImageRepository {
  const { ex } = ctx;
  const getBy = async (where: string, params: string[]): Promise<ImageSummary | null> => {
    const row = await first(ex, `${SELECT} WHERE ${where}`, params);
    return row ? toSummary(row) : null;
  };

  return {
    upsert(input) {
      if (!/^[a-z0-9]+:[a-f0-9]{32,}$/.test(input.digest)) {
        throw new PalisadeError('E_INPUT', 'not an image digest (algorithm:hex)', { subject: input.digest });
      }
      const id = imageId(input.registry, input.repository, input.digest);
      const seen = input.seenAt ?? nowIso(ctx);
      // Read-merge-write under a row lock, so concurrent pushes of new tags all keep theirs.
      return ex.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO images (id, registry, repository, digest, tags, first_seen_at) VALUES ($1, $2, $3, $4, '[]', $5)
           ON CONFLICT (id) DO NOTHING`,
          [id, input.registry, input.repository, input.digest, seen],
        );
        const cur = required(await first(tx, `SELECT * FROM images WHERE id = $1${forUpdate(tx)}`, [id]));
        const tags = [...new Set([...jsonArray(cur, 'tags'), ...(input.tags ?? [])])].sort();
        const row = await first(
          tx,
          `UPDATE images SET tags = $2, first_seen_at = $3, last_pushed_at = $4, last_pulled_at = $5 WHERE id = $1 RETURNING *`,
          [
            id,
            JSON.stringify(tags),
            minIso(str(cur, 'first_seen_at'), seen),
            maxIso(optStr(cur, 'last_pushed_at'), input.pushedAt),
            maxIso(optStr(cur, 'last_pulled_at'), input.pulledAt),
          ],
        );
        return toRecord(required(row), null);
      });
    },

    get: (id) => getBy('i.id = $1', [id]),

    find: (registry, repository, digest) => getBy('i.id = $1', [imageId(registry, repository, digest)]),

    list: (query = {}) => listImages(ctx, query),

    async detail(id) {
      const image = await getBy('i.id = $1', [id]);
      if (!image) return null;
      const [packages, vulnerabilities] = [
        await packagesForDigest(ex, image.digest),
        await findingsForDigest(ex, image.digest),
      ];
      return { image, packages, vulnerabilities };
    },

    delete(id) {
      return ex.transaction(async (tx) => {
        const row = await first(tx, 'DELETE FROM images WHERE id = $1 RETURNING digest', [id]);
        if (!row) return false;
        const digest = str(row, 'digest');
        const others = await tx.all('SELECT id FROM images WHERE digest = $1 LIMIT 1', [digest]);
        // The findings of a digest no image refers to any more would still count in the vulnerability list.
        if (others.length === 0) await dropDigest(ctx, tx, digest);
        return true;
      });
    },
  };
}

async function listImages(ctx: RepoContext, q: ImageListQuery): Promise<Page<ImageSummary>> {
  const limit = clampLimit(q.limit);
  const p = new Params();
  const where = imageFilters(q, p);
  const countSql = `SELECT COUNT(*) AS n FROM images i LEFT JOIN digests d ON d.digest = i.digest${whereSql(where)}`;
  const total = num(required(await first(ctx.ex, countSql, p.values)), 'n');

  const exprs = SORTS[q.sort ?? 'severity'];
  if (!exprs)
    throw new PalisadeError('E_INPUT', `unknown sort (use ${Object.keys(SORTS).join(', ')})`, {
      subject: String(q.sort),
    });
  const ks = keyset(exprs, q.order ?? 'desc', q.cursor, p);
  const conds = ks.after ? [...where, ks.after] : where;
  const offset = q.cursor === undefined ? clampOffset(q.offset) : 0;
  const sql = `${SELECT.replace('SELECT i.*', `SELECT ${ks.select}, i.*`)}${whereSql(conds)} ORDER BY ${ks.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`;
  const rows = await ctx.ex.all(sql, p.values);
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(toSummary), total, nextCursor: more && last ? cursorOf(last, exprs.length) : null };
}

function imageFilters(q: ImageListQuery, p: Params): string[] {
  const where: string[] = [];
  if (q.registry !== undefined) where.push(`i.registry = ${p.add(q.registry)}`);
  if (q.repository !== undefined) where.push(`i.repository = ${p.add(q.repository)}`);
  if (q.text !== undefined && q.text !== '') {
    const like = p.add(likeContains(q.text));
    where.push(
      `(LOWER(i.repository) LIKE ${like} ESCAPE '\\' OR LOWER(i.tags) LIKE ${like} ESCAPE '\\' OR i.digest LIKE ${like} ESCAPE '\\')`,
    );
  }
  const sevs = (q.severity ?? []).map(checkSeverity);
  if (sevs.length > 0) {
    const prefix = q.fixable === true ? 'd.f_' : 'd.n_';
    where.push(`(${sevs.map((s) => `COALESCE(${prefix}${s}, 0) > 0`).join(' OR ')})`);
  } else if (q.fixable === true) {
    where.push('COALESCE(d.fixable, 0) > 0');
  }
  if (q.fixable === false) where.push('COALESCE(d.fixable, 0) = 0');
  return where;
}

export function checkSeverity(s: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(s)) {
    throw new PalisadeError('E_INPUT', `unknown severity (use ${SEVERITIES.join(', ')})`, { subject: s });
  }
  return s as Severity;
}

function whereSql(conds: readonly string[]): string {
  return conds.length === 0 ? '' : ` WHERE ${conds.join(' AND ')}`;
}

export function toRecord(row: Row, scannedAt: string | null): ImageRecord {
  return {
    id: str(row, 'id'),
    registry: str(row, 'registry'),
    repository: str(row, 'repository'),
    digest: str(row, 'digest'),
    tags: jsonArray(row, 'tags'),
    firstSeenAt: str(row, 'first_seen_at'),
    lastPushedAt: optStr(row, 'last_pushed_at'),
    lastPulledAt: optStr(row, 'last_pulled_at'),
    lastScannedAt: scannedAt,
  };
}

function counts(row: Row, prefix: 'n_' | 'f_'): SeverityCounts {
  const c = (s: Severity): number => num(row, `${prefix}${s}`);
  return {
    critical: c('critical'),
    high: c('high'),
    medium: c('medium'),
    low: c('low'),
    negligible: c('negligible'),
    unknown: c('unknown'),
  };
}

function toSummary(row: Row): ImageSummary {
  const maxRank = optNum(row, 'max_rank');
  return {
    ...toRecord(row, optStr(row, 'scanned_at')),
    scanId: optStr(row, 'scan_id'),
    counts: counts(row, 'n_'),
    fixableCounts: counts(row, 'f_'),
    total: num(row, 'total'),
    fixable: num(row, 'fixable'),
    packages: num(row, 'packages'),
    worst: maxRank === null || maxRank < 0 ? null : rankSeverity(maxRank),
  };
}

function maxIso(a: string | null, b: string | undefined): string | null {
  if (b === undefined) return a;
  return a === null || b > a ? b : a;
}

function minIso(a: string, b: string): string {
  return b < a ? b : a;
}
