/** Vulnerabilities across images, read from the `vulnerabilities` summary kept by findings.ts. */
import { PalisadeError, severityRank } from '@palisade/core';
import type { RepoContext } from './context.js';
import { rankSeverity } from './findings.js';
import { checkSeverity, toRecord } from './images.js';
import { clampLimit, clampOffset, cursorOf, escapeLike, keyset } from './paging.js';
import { bool, first, jsonArray, num, optNum, optStr, Params, str, type Row } from './sql.js';
import { required } from './tokens.js';
import type {
  AffectedImage,
  Page,
  VulnerabilityListQuery,
  VulnerabilityRepository,
  VulnerabilitySort,
  VulnerabilitySummary,
} from './types.js';

const SORTS: Record<VulnerabilitySort, readonly string[]> = {
  severity: ['severity_rank', 'affected_images', 'vuln_id'],
  affectedImages: ['affected_images', 'severity_rank', 'vuln_id'],
  // epss_key is COALESCE(epss, -1), kept as a column so the vulnerabilities_epss index serves the sort.
  epss: ['epss_key', 'vuln_id'],
  id: ['vuln_id'],
};

export function createVulnerabilityRepository(ctx: RepoContext): VulnerabilityRepository {
  const { ex } = ctx;
  return {
    list: (query = {}) => listVulnerabilities(ctx, query),

    async get(id) {
      const row = await first(ex, 'SELECT * FROM vulnerabilities WHERE vuln_id = $1', [id]);
      return row ? toSummary(row) : null;
    },

    async affectedImages(id, page = {}) {
      const limit = clampLimit(page.limit);
      const offset = clampOffset(page.offset);
      const from = 'FROM findings f JOIN images i ON i.digest = f.digest WHERE f.vuln_id = $1';
      const total = num(required(await first(ex, `SELECT COUNT(*) AS n ${from}`, [id])), 'n');
      const rows = await ex.all(
        `SELECT i.*, f.package_name, f.package_version, f.fixed_versions ${from}
         ORDER BY i.repository, i.id, f.package_name, f.package_id LIMIT ${limit} OFFSET ${offset}`,
        [id],
      );
      const items = rows.map((r): AffectedImage => ({
        image: toRecord(r, optStr(r, 'scanned_at')),
        packageName: str(r, 'package_name'),
        packageVersion: str(r, 'package_version'),
        fixedVersions: jsonArray(r, 'fixed_versions'),
      }));
      return { items, total, nextCursor: null } satisfies Page<AffectedImage>;
    },
  };
}

async function listVulnerabilities(ctx: RepoContext, q: VulnerabilityListQuery): Promise<Page<VulnerabilitySummary>> {
  const limit = clampLimit(q.limit);
  const p = new Params();
  const where = filters(q, p);
  const total = num(
    required(await first(ctx.ex, `SELECT COUNT(*) AS n FROM vulnerabilities${whereSql(where)}`, p.values)),
    'n',
  );
  const exprs = SORTS[q.sort ?? 'severity'];
  if (!exprs)
    throw new PalisadeError('E_INPUT', `unknown sort (use ${Object.keys(SORTS).join(', ')})`, {
      subject: String(q.sort),
    });
  const ks = keyset(exprs, q.order ?? (q.sort === 'id' ? 'asc' : 'desc'), q.cursor, p);
  const offset = q.cursor === undefined ? clampOffset(q.offset) : 0;
  const rows = await ctx.ex.all(
    `SELECT ${ks.select}, vulnerabilities.* FROM vulnerabilities${whereSql(ks.after ? [...where, ks.after] : where)}
     ORDER BY ${ks.orderBy} LIMIT ${limit + 1} OFFSET ${offset}`,
    p.values,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toSummary),
    total,
    nextCursor: rows.length > limit && last ? cursorOf(last, exprs.length) : null,
  };
}

function filters(q: VulnerabilityListQuery, p: Params): string[] {
  const where: string[] = [];
  if (q.id !== undefined && q.id !== '') {
    where.push(
      q.id.endsWith('*')
        ? `vuln_id LIKE ${p.add(`${escapeLike(q.id.slice(0, -1))}%`)} ESCAPE '\\'`
        : `vuln_id = ${p.add(q.id)}`,
    );
  }
  const sevs = (q.severity ?? []).map(checkSeverity);
  if (sevs.length > 0) where.push(`severity_rank IN (${p.list(sevs.map(severityRank))})`);
  if (q.fixable !== undefined) where.push(q.fixable ? 'fixable_images > 0' : 'fixable_images = 0');
  if (q.kev !== undefined) where.push(`kev = ${q.kev ? 1 : 0}`);
  return where;
}

function whereSql(conds: readonly string[]): string {
  return conds.length === 0 ? '' : ` WHERE ${conds.join(' AND ')}`;
}

function toSummary(r: Row): VulnerabilitySummary {
  return {
    id: str(r, 'vuln_id'),
    severity: rankSeverity(num(r, 'severity_rank')),
    aliases: jsonArray(r, 'aliases'),
    title: optStr(r, 'title'),
    kev: bool(r, 'kev'),
    epss: optNum(r, 'epss'),
    affectedImages: num(r, 'affected_images'),
    fixableImages: num(r, 'fixable_images'),
    affectedPackages: num(r, 'affected_packages'),
  };
}
