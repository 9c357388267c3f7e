/**
 * Images (registry, repository, digest) and the list the API shows. Counts come from the
 * summary of the digest's latest scan, copied onto the image row (migration 2), never from
 * aggregating findings at read time, so a page costs the same with 10 findings or 10 million.
 * Every sort has an index with the same columns (id last), so a page, first or later (keyset),
 * is an index range scan that reads `limit + 1` rows instead of sorting all images.
 */
import { PalisadeError, SEVERITIES, stableId, type Severity } from '@palisade/core';
import { nowIso, type RepoContext } from './context.js';
import { copyDigestSummary, dropDigest, findingsForDigest, packagesForDigest, rankSeverity } from './findings.js';
import { clampLimit, clampOffset, cursorOf, keyset, likeContains } from './paging.js';
import { first, forUpdate, jsonArray, lockTx, num, optNum, optStr, Params, str, type Row } from './sql.js';
import { required } from './tokens.js';
import type {
  ImageListQuery,
  ImageRecord,
  ImageRepository,
  ImageSort,
  ImageSummary,
  ImageUpsert,
  Page,
  SeverityCounts,
} from './types.js';

// The summary columns live on `images` itself: no join with `digests` on any read.
const SELECT = `SELECT i.* FROM images i`;

// Plain NOT NULL columns (the sort keys of migration 2): each list matches one index exactly.
// The values equal the COALESCE expressions used before, so older cursors stay valid.
const SORTS: Record<ImageSort, readonly string[]> = {
  repository: ['i.repository', 'i.id'],
  lastScanned: ['i.scanned_key', 'i.id'],
  lastPushed: ['i.pushed_key', 'i.id'],
  severity: ['i.max_rank', 'i.n_critical', 'i.n_high', 'i.n_medium', 'i.n_low', 'i.id'],
  total: ['i.total', 'i.id'],
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

  /**
   * The common case of a repeated push or a pull: the row exists and already has every tag given.
   * Then the merge is one atomic UPDATE (times moved forward, first-seen back) instead of a
   * transaction of four statements: a webhook flood of known digests costs one statement each.
   * Null when it does not apply (no row yet, or a new tag): the caller takes the full path.
   */
  const upsertKnown = async (id: string, seen: string, input: ImageUpsert): Promise<ImageRecord | null> => {
    const p = new Params();
    p.add(id);
    const pushed = input.pushedAt === undefined ? null : input.pushedAt;
    const pulled = input.pulledAt === undefined ? null : input.pulledAt;
    const later = (col: string, v: string): string =>
      `CASE WHEN CAST(${v} AS TEXT) IS NOT NULL AND (${col} IS NULL OR ${col} < ${v}) THEN ${v} ELSE ${col} END`;
    const pushedP = p.add(pushed);
    const pulledP = p.add(pulled);
    const seenP = p.add(seen);
    // A tag is an element of the stored JSON array exactly when its quoted form occurs in the
    // text: tags have no characters JSON escapes, and the quotes delimit whole elements. A
    // substring search (not LIKE, where `_` is a wildcard).
    const find = ex.dialect === 'postgres' ? 'strpos' : 'instr';
    const hasTags = [...new Set(input.tags ?? [])].map((t) => `${find}(tags, ${p.add(JSON.stringify(t))}) > 0`);
    const row = await first(
      ex,
      `UPDATE images SET last_pushed_at = ${later('last_pushed_at', pushedP)},
         pushed_key = COALESCE(${later('last_pushed_at', pushedP)}, ''),
         last_pulled_at = ${later('last_pulled_at', pulledP)},
         first_seen_at = CASE WHEN ${seenP} < first_seen_at THEN ${seenP} ELSE first_seen_at END
       WHERE ${['id = $1', ...hasTags].join(' AND ')} RETURNING *`,
      p.values,
    );
    return row ? toRecord(row, optStr(row, 'scanned_at')) : null;
  };

  return {
    upsert(input) {
      if (!/^[a-z0-9]+:[a-f0-9]{32,}$/.test(input.digest)) {
        throw new PalisadeError('E_INPUT', 'not an image digest (algorithm:hex)', { subject: input.digest });
      }
      const id = imageId(input.registry, input.repository, input.digest);
      const seen = input.seenAt ?? nowIso(ctx);
      return upsertKnown(id, seen, input).then(
        (known) =>
          known ??
          // Read-merge-write under a row lock, so concurrent pushes of new tags all keep theirs.
          ex.transaction(async (tx) => {
            const inserted = await tx.run(
              `INSERT INTO images (id, registry, repository, digest, tags, first_seen_at) VALUES ($1, $2, $3, $4, '[]', $5)
           ON CONFLICT (id) DO NOTHING`,
              [id, input.registry, input.repository, input.digest, seen],
            );
            if (inserted > 0) {
              // A new row for a digest that may already be scanned (pushed to another repository):
              // give it the digest's counts. Under the findings lock, so a replacement committing
              // meanwhile cannot miss this (still invisible) row while we copy its older summary.
              await lockTx(tx, `${ctx.lockPrefix}.findings`);
              await copyDigestSummary(tx, input.digest, id);
            }
            const cur = required(await first(tx, `SELECT * FROM images WHERE id = $1${forUpdate(tx)}`, [id]));
            const tags = [...new Set([...jsonArray(cur, 'tags'), ...(input.tags ?? [])])].sort();
            const row = await first(
              tx,
              `UPDATE images SET tags = $2, first_seen_at = $3, last_pushed_at = $4, pushed_key = COALESCE($4, ''), last_pulled_at = $5
           WHERE id = $1 RETURNING *`,
              [
                id,
                JSON.stringify(tags),
                minIso(str(cur, 'first_seen_at'), seen),
                maxIso(optStr(cur, 'last_pushed_at'), input.pushedAt),
                maxIso(optStr(cur, 'last_pulled_at'), input.pulledAt),
              ],
            );
            const out = required(row);
            return toRecord(out, optStr(out, 'scanned_at'));
          }),
      );
    },

    get: (id) => getBy('i.id = $1', [id]),

    find: (registry, repository, digest) => getBy('i.id = $1', [imageId(registry, repository, digest)]),

    list: (query = {}) => listImages(ctx, query),

    async byDigest(digest, limit = 100) {
      // The images_digest index: an equality lookup, where a text search would scan every row.
      // Rows of one digest share its scan summary, so the last push orders them next.
      const rows = await ex.all(
        `${SELECT} WHERE i.digest = $1 ORDER BY i.scanned_key DESC, i.pushed_key DESC, i.id LIMIT ${Math.min(500, Math.max(1, Math.floor(limit)))}`,
        [digest],
      );
      return rows.map(toSummary);
    },

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
  const countSql = `SELECT COUNT(*) AS n FROM images i${whereSql(where)}`;
  const filterValues = [...p.values]; // the keyset adds parameters the count must not get
  const count = async (): Promise<number> => num(required(await first(ctx.ex, countSql, filterValues)), 'n');
  // A text filter (LIKE '%…%') can use no index: the page and the count would both scan every
  // image. Without a cursor the page's own scan sees every match, so it counts them too
  // (COUNT(*) OVER ()): one scan instead of two. With a cursor the page sees only the rows after
  // it, so the count stays a query of its own.
  const countInPage = q.text !== undefined && q.text !== '' && q.cursor === undefined;
  let total = countInPage ? -1 : await count();

  const exprs = SORTS[q.sort ?? 'severity'];
  if (!exprs)
    throw new PalisadeError('E_INPUT', `unknown sort (use ${Object.keys(SORTS).join(', ')})`, {
      subject: String(q.sort),
    });
  const ks = keyset(exprs, q.order ?? 'desc', q.cursor, p);
  const conds = ks.after ? [...where, ks.after] : where;
  const offset = q.cursor === undefined ? clampOffset(q.offset) : 0;
  const columns = `${ks.select}, ${countInPage ? 'COUNT(*) OVER () AS total_rows, ' : ''}i.*`;
  const sql = `${SELECT.replace('SELECT i.*', `SELECT ${columns}`)}${whereSql(conds)} ORDER BY ${ks.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`;
  const rows = await ctx.ex.all(sql, p.values);
  if (countInPage) {
    const head = rows[0];
    // No row (e.g. an offset past the end) carries the count: ask for it.
    total = head ? num(head, 'total_rows') : await count();
  }
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
    const prefix = q.fixable === true ? 'i.f_' : 'i.n_';
    where.push(`(${sevs.map((s) => `${prefix}${s} > 0`).join(' OR ')})`);
  } else if (q.fixable === true) {
    where.push('i.fixable > 0');
  }
  if (q.fixable === false) where.push('i.fixable = 0');
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
