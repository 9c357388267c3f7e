/**
 * Java archives (JAR, WAR, EAR, JPI, HPI, PAR, SAR, NAR, KAR): Maven coordinates from
 * pom.properties, else from the manifest or the file name, in the archive and in every archive
 * nested in it. `extract` reduces an archive (which may be hundreds of MB) to the JSON list of
 * what it found; `catalog` turns that into maven packages.
 */
import { buildPurl, type Package } from '@palisade/core';
import { locationOf, packageId } from '../location.js';
import type { CatalogContext, CatalogFile, Cataloger, FileMeta } from '../types.js';
import { inspectArchive, type ArchiveReport, type JavaFound } from './archive.js';
import { isJavaArchiveName } from './metadata.js';

const ID = 'java';
// The smallest zip is its 22-byte end record; past this, an archive is not scanned in memory.
const MIN_SIZE = 22;
const MAX_SIZE = 512 * 1024 * 1024;

function wants(file: FileMeta): boolean {
  return file.size >= MIN_SIZE && file.size <= MAX_SIZE && isJavaArchiveName(file.path);
}

function extract(file: FileMeta, data: Buffer): Buffer | null {
  let report: ArchiveReport;
  try {
    report = inspectArchive(data, file.path);
  } catch (err) {
    // inspectArchive reports problems itself; this is the last line of defence of the scan.
    report = { found: [], problems: [`${file.path}: ${err instanceof Error ? err.message : String(err)}`] };
  }
  if (report.found.length === 0 && report.problems.length === 0) return null;
  return Buffer.from(JSON.stringify(report));
}

function decode(file: CatalogFile): ArchiveReport {
  try {
    const v = JSON.parse(file.data.toString('utf8')) as ArchiveReport;
    if (Array.isArray(v.found) && Array.isArray(v.problems)) return v;
  } catch {
    // reported below
  }
  return { found: [], problems: [`${file.path}: unreadable extracted Java archive data`] };
}

function toPackage(file: CatalogFile, f: JavaFound): Package {
  const locations = [locationOf(file)];
  const metadata: Record<string, string> = { groupId: f.groupId, virtualPath: f.virtualPath, source: f.source };
  if (f.groupIdSource !== undefined) metadata['groupIdSource'] = f.groupIdSource;
  const pkg: Package = {
    // Group and artifact: two groups can ship the same artifact name in one archive.
    id: packageId({ type: 'maven', name: `${f.groupId}:${f.artifactId}`, version: f.version, locations }),
    name: f.artifactId,
    version: f.version,
    type: 'maven',
    purl: buildPurl({ type: 'maven', namespace: f.groupId, name: f.artifactId, version: f.version }),
    locations,
    foundBy: ID,
    metadata,
  };
  if (f.licenses !== undefined && f.licenses.length > 0) pkg.licenses = [...f.licenses];
  return pkg;
}

function catalog(ctx: CatalogContext): Package[] {
  const out: Package[] = [];
  for (const file of ctx.files.list()) {
    const report = decode(file);
    for (const p of report.problems) ctx.warn(p.startsWith(file.path) ? p : `${file.path}: ${p}`);
    // Outer archives first, so a coordinate seen twice (a jar and its shaded copy) keeps its outermost place.
    const found = [...report.found].sort((a, b) => depth(a) - depth(b) || cmp(a.virtualPath, b.virtualPath));
    const seen = new Set<string>();
    for (const f of found) {
      const key = `${f.groupId}:${f.artifactId}@${f.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(toPackage(file, f));
    }
  }
  return out.sort((a, b) => cmp(a.locations[0]?.path ?? '', b.locations[0]?.path ?? '') || cmp(a.purl, b.purl));
}

function depth(f: JavaFound): number {
  return f.virtualPath.split(':').length;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const cataloger: Cataloger = {
  id: ID,
  version: 1,
  produces: ['maven'],
  wants,
  extract,
  catalog,
};
