/**
 * What a Java archive (and the archives nested in it) says it contains: one entry per
 * pom.properties, plus the archive itself from its manifest or file name when no pom.properties
 * describes it. Nested archives are opened in memory with a depth limit and a budget of
 * decompressed bytes, so a zip bomb ends in a reported problem, not in an exhausted heap.
 */
import { isPalisadeError, readZip, type ZipEntry } from '@palisade/core';
import {
  groupIdFromManifest,
  isJavaArchiveName,
  parseArchiveName,
  parseManifest,
  parseProperties,
} from './metadata.js';

export interface JavaFound {
  groupId: string;
  artifactId: string;
  version: string;
  /** The archive that holds it: "opt/app.war" or "opt/app.war:WEB-INF/lib/x.jar". */
  virtualPath: string;
  /** Where the coordinates came from. */
  source: 'pom.properties' | 'manifest' | 'filename';
  /** How the group id was guessed, when it was (manifest or file name only). */
  groupIdSource?: string;
  licenses?: string[];
}

export interface ArchiveReport {
  found: JavaFound[];
  /** Problems that became warnings: "<virtual path>: <what is wrong>". */
  problems: string[];
}

export interface ArchiveLimits {
  /** Nesting levels opened below the scanned file. */
  maxDepth: number;
  /** Largest nested archive opened (decompressed bytes). */
  maxNestedSize: number;
  /** Decompressed bytes of nested archives opened, in total, per scanned file. */
  maxTotalNested: number;
  /** Largest manifest or pom.properties read. */
  maxTextSize: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = {
  maxDepth: 4,
  maxNestedSize: 64 * 1024 * 1024,
  maxTotalNested: 256 * 1024 * 1024,
  maxTextSize: 1024 * 1024,
};

const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;

interface Walk {
  limits: ArchiveLimits;
  budget: number;
  report: ArchiveReport;
}

/** Inspect an archive held in memory; never throws. */
export function inspectArchive(data: Buffer, path: string, limits: ArchiveLimits = DEFAULT_LIMITS): ArchiveReport {
  const walk: Walk = { limits, budget: limits.maxTotalNested, report: { found: [], problems: [] } };
  visit(data, path, 0, walk);
  return walk.report;
}

function describe(err: unknown): string {
  if (isPalisadeError(err)) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function visit(data: Buffer, vpath: string, depth: number, walk: Walk): void {
  let entries: ZipEntry[];
  try {
    entries = readZip(data, { subject: vpath, maxEntrySize: walk.limits.maxNestedSize });
  } catch (err) {
    walk.report.problems.push(`${vpath}: ${describe(err)}`);
    return;
  }
  const manifestEntry = entries.find((e) => e.name.toUpperCase() === 'META-INF/MANIFEST.MF');
  const manifest =
    manifestEntry === undefined ? new Map<string, string>() : parseManifest(readText(manifestEntry, vpath, walk) ?? '');
  const poms = entries.filter((e) => POM_PROPERTIES.test(e.name)).flatMap((e) => pomOf(e, vpath, walk));
  walk.report.found.push(...poms);
  if (!describesItself(poms, vpath, manifest)) {
    const own = ownFromManifestOrName(vpath, manifest);
    if (own !== undefined) walk.report.found.push(own);
  }
  for (const e of entries) {
    if (!e.isDirectory && isJavaArchiveName(e.name)) visitNested(e, `${vpath}:${e.name}`, depth + 1, walk);
  }
}

function visitNested(e: ZipEntry, vpath: string, depth: number, walk: Walk): void {
  if (depth > walk.limits.maxDepth) {
    walk.report.problems.push(`${vpath}: nested deeper than ${walk.limits.maxDepth} archives: not opened`);
    return;
  }
  if (e.size > walk.limits.maxNestedSize || e.size > walk.budget) {
    const limit = Math.min(walk.limits.maxNestedSize, walk.budget);
    walk.report.problems.push(
      `${vpath}: nested archive of ${e.size} bytes exceeds the remaining budget of ${limit} bytes: not opened`,
    );
    return;
  }
  let data: Buffer;
  try {
    data = e.read();
  } catch (err) {
    walk.report.problems.push(`${vpath}: ${describe(err)}`);
    return;
  }
  walk.budget -= data.length;
  visit(data, vpath, depth, walk);
}

function readText(e: ZipEntry, vpath: string, walk: Walk): string | undefined {
  if (e.size > walk.limits.maxTextSize) {
    walk.report.problems.push(`${vpath}:${e.name}: ${e.size} bytes is too large for a metadata file: ignored`);
    return undefined;
  }
  try {
    return e.read().toString('utf8');
  } catch (err) {
    walk.report.problems.push(`${vpath}:${e.name}: ${describe(err)}`);
    return undefined;
  }
}

function pomOf(e: ZipEntry, vpath: string, walk: Walk): JavaFound[] {
  const text = readText(e, vpath, walk);
  if (text === undefined) return [];
  const props = parseProperties(text);
  const groupId = props.get('groupId')?.trim() ?? '';
  const artifactId = props.get('artifactId')?.trim() ?? '';
  const version = props.get('version')?.trim() ?? '';
  if (groupId === '' || artifactId === '' || version === '') {
    walk.report.problems.push(`${vpath}:${e.name}: missing groupId, artifactId or version`);
    return [];
  }
  return [{ groupId, artifactId, version, virtualPath: vpath, source: 'pom.properties' }];
}

/** The names an archive calls itself: its file name and the identifying manifest attributes. */
function selfNames(vpath: string, manifest: ReadonlyMap<string, string>): string[] {
  const names: string[] = [];
  const file = parseArchiveName(lastComponent(vpath));
  if (file !== undefined) names.push(file.name);
  for (const key of ['implementation-title', 'bundle-symbolicname', 'automatic-module-name', 'extension-name']) {
    const v = (manifest.get(key) ?? '').split(';')[0]?.trim() ?? '';
    if (v !== '') names.push(v, v.slice(v.lastIndexOf('.') + 1));
  }
  return names.map((n) => n.toLowerCase());
}

/**
 * Whether one of the pom.properties is the archive's own: its artifactId is a name the archive
 * calls itself, or it is the only one and nothing in the manifest names the archive otherwise.
 * (A shaded jar holds the pom.properties of what it shaded, too.)
 */
function describesItself(poms: readonly JavaFound[], vpath: string, manifest: ReadonlyMap<string, string>): boolean {
  const names = selfNames(vpath, manifest).map(normalizeName);
  if (
    poms.some(
      (p) =>
        names.includes(normalizeName(p.artifactId)) || names.includes(normalizeName(`${p.groupId}.${p.artifactId}`)),
    )
  )
    return true;
  if (poms.length !== 1) return false;
  // A lone pom.properties whose version is the archive's own version (manifest or file name) is
  // the archive itself, even when a distro renamed the jar (Debian's maven3-core-3.8.7.jar).
  const only = poms[0];
  const ownVersions = [
    manifest.get('implementation-version'),
    manifest.get('bundle-version'),
    parseArchiveName(lastComponent(vpath))?.version,
  ].filter((v): v is string => typeof v === 'string' && v !== '');
  if (only && ownVersions.includes(only.version)) return true;
  const hasOwnIdentity = ['implementation-title', 'bundle-symbolicname', 'automatic-module-name'].some((k) =>
    manifest.has(k),
  );
  return !hasOwnIdentity;
}

/** "Maven Core", "maven_core" and "maven-core" name the same thing. */
function normalizeName(s: string): string {
  return s.toLowerCase().replace(/[\s_.-]+/g, '-');
}

function lastComponent(vpath: string): string {
  const inner = vpath.slice(vpath.lastIndexOf(':') + 1);
  return inner.slice(inner.lastIndexOf('/') + 1);
}

/** The archive's own coordinates from its manifest, else its file name; undefined without a version. */
function ownFromManifestOrName(vpath: string, manifest: ReadonlyMap<string, string>): JavaFound | undefined {
  const file = parseArchiveName(lastComponent(vpath));
  const title = manifest.get('implementation-title') ?? '';
  const bsn = (manifest.get('bundle-symbolicname') ?? '').split(';')[0]?.trim() ?? '';
  // Titles are often prose ("Apache Commons Lang"): only a single word can be an artifact id.
  const artifactId = [/^[\w.-]+$/.test(title) ? title : '', file?.name ?? '', bsn.slice(bsn.lastIndexOf('.') + 1)].find(
    (n) => n !== '',
  );
  const manifestVersion = ['implementation-version', 'bundle-version', 'specification-version']
    .map((k) => manifest.get(k) ?? '')
    .find((v) => v !== '');
  const version = manifestVersion ?? file?.version;
  if (artifactId === undefined || version === undefined || version === '') return undefined;
  const group = groupIdFromManifest(manifest, artifactId);
  const found: JavaFound = {
    groupId: group.groupId,
    artifactId,
    version,
    virtualPath: vpath,
    source: manifestVersion !== undefined ? 'manifest' : 'filename',
    groupIdSource: group.source,
  };
  const license = manifest.get('bundle-license');
  if (license !== undefined && license !== '')
    found.licenses = license
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  return found;
}
