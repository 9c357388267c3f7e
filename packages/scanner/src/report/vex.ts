/**
 * OpenVEX (v0.2.0, https://github.com/openvex/spec) suppression of findings.
 *
 * A statement applies to a finding when its vulnerability (name, @id or an alias) equals the
 * finding's id or one of its aliases, and one of its products is the scanned image or the affected
 * package. `not_affected` and `fixed` mark the finding suppressed (it stays in the json report,
 * marked, and is counted as suppressed elsewhere); `affected` and `under_investigation` keep it
 * open. When several statements apply, the latest (by timestamp, then document and statement order)
 * decides, so a newer "affected" re-opens a finding an older "not_affected" closed.
 */
import { readFile } from 'node:fs/promises';
import {
  buildPurl,
  PalisadeError,
  type Package,
  type PurlParts,
  type ScanReport,
  type VulnerabilityMatch,
} from '@palisade/core';
import { tryParsePurl } from './common.js';

export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;
export type VexJustification = (typeof VEX_JUSTIFICATIONS)[number];

export interface VexProduct {
  '@id'?: string;
  identifiers?: { purl?: string; cpe22?: string; cpe23?: string };
  subcomponents?: VexProduct[];
}

export interface VexStatement {
  '@id'?: string;
  vulnerability: { '@id'?: string; name?: string; aliases?: string[] };
  products: VexProduct[];
  status: VexStatus;
  justification?: VexJustification;
  impact_statement?: string;
  action_statement?: string;
  status_notes?: string;
  /** Effective time of the statement: its own last_updated/timestamp, else the document's. */
  effectiveTime: number;
}

export interface VexDocument {
  /** The file it was read from: named in errors and in `suppressed.by`. */
  source: string;
  '@id'?: string;
  author?: string;
  timestamp: string;
  statements: VexStatement[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Json, key: string, where: string, source: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(source, `${where}.${key} must be a string`);
  return v;
}

function invalid(source: string, what: string): PalisadeError {
  return new PalisadeError('E_INPUT', `invalid OpenVEX document: ${what}`, { subject: source });
}

function parseTime(value: string | undefined, where: string, source: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(source, `${where} "${value}" is not an RFC 3339 timestamp`);
  return t;
}

function parseVulnerability(raw: unknown, where: string, source: string): VexStatement['vulnerability'] {
  // OpenVEX before 0.2.0 wrote the vulnerability as a bare string; accept it as the name.
  if (typeof raw === 'string' && raw !== '') return { name: raw };
  if (!isObject(raw)) throw invalid(source, `${where}.vulnerability is missing`);
  const out: VexStatement['vulnerability'] = {};
  const name = optString(raw, 'name', `${where}.vulnerability`, source);
  const id = optString(raw, '@id', `${where}.vulnerability`, source);
  if (name) out.name = name;
  if (id) out['@id'] = id;
  const aliases = raw['aliases'];
  if (aliases !== undefined) {
    if (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string')) {
      throw invalid(source, `${where}.vulnerability.aliases must be an array of strings`);
    }
    out.aliases = aliases;
  }
  if (!out.name && !out['@id'] && !out.aliases?.length)
    throw invalid(source, `${where}.vulnerability has no name, @id or aliases`);
  return out;
}

function parseProduct(raw: unknown, where: string, source: string): VexProduct {
  // Early OpenVEX listed products as bare IRIs / purls.
  if (typeof raw === 'string' && raw !== '') return { '@id': raw };
  if (!isObject(raw)) throw invalid(source, `${where} must be an object`);
  const out: VexProduct = {};
  const id = optString(raw, '@id', where, source);
  if (id) out['@id'] = id;
  const ids = raw['identifiers'];
  if (ids !== undefined) {
    if (!isObject(ids)) throw invalid(source, `${where}.identifiers must be an object`);
    const purl = optString(ids, 'purl', `${where}.identifiers`, source);
    out.identifiers = purl ? { purl } : {};
  }
  const subs = raw['subcomponents'];
  if (subs !== undefined) {
    if (!Array.isArray(subs)) throw invalid(source, `${where}.subcomponents must be an array`);
    out.subcomponents = subs.map((s, i) => parseProduct(s, `${where}.subcomponents[${i}]`, source));
  }
  if (!out['@id'] && !out.identifiers?.purl && !out.subcomponents?.length) {
    throw invalid(source, `${where} has neither @id nor identifiers.purl`);
  }
  return out;
}

function parseStatus(raw: Json, where: string, source: string): VexStatus {
  const status = raw['status'];
  if (typeof status !== 'string') throw invalid(source, `${where}.status is missing`);
  if (!(VEX_STATUSES as readonly string[]).includes(status)) {
    throw invalid(source, `${where}.status "${status}" is unknown (known: ${VEX_STATUSES.join(', ')})`);
  }
  return status as VexStatus;
}

function parseStatement(raw: unknown, index: number, docTime: number, source: string): VexStatement {
  const where = `statements[${index}]`;
  if (!isObject(raw)) throw invalid(source, `${where} must be an object`);
  const status = parseStatus(raw, where, source);
  const products = raw['products'];
  if (!Array.isArray(products) || products.length === 0) throw invalid(source, `${where}.products is missing or empty`);
  const justification = optString(raw, 'justification', where, source);
  if (justification !== undefined && !(VEX_JUSTIFICATIONS as readonly string[]).includes(justification)) {
    throw invalid(
      source,
      `${where}.justification "${justification}" is unknown (known: ${VEX_JUSTIFICATIONS.join(', ')})`,
    );
  }
  const impact = optString(raw, 'impact_statement', where, source);
  // The spec: a not_affected statement MUST carry a justification or an impact statement.
  if (status === 'not_affected' && !justification && !impact) {
    throw invalid(source, `${where} has status not_affected but neither justification nor impact_statement`);
  }
  const time =
    parseTime(optString(raw, 'last_updated', where, source), `${where}.last_updated`, source) ??
    parseTime(optString(raw, 'timestamp', where, source), `${where}.timestamp`, source) ??
    docTime;
  const st: VexStatement = {
    vulnerability: parseVulnerability(raw['vulnerability'], where, source),
    products: products.map((p, i) => parseProduct(p, `${where}.products[${i}]`, source)),
    status,
    effectiveTime: time,
  };
  const id = optString(raw, '@id', where, source);
  if (id) st['@id'] = id;
  if (justification) st.justification = justification as VexJustification;
  if (impact) st.impact_statement = impact;
  const action = optString(raw, 'action_statement', where, source);
  if (action) st.action_statement = action;
  const notes = optString(raw, 'status_notes', where, source);
  if (notes) st.status_notes = notes;
  return st;
}

/** Validate parsed JSON as an OpenVEX document; `source` names it in errors. */
export function parseVex(value: unknown, source: string): VexDocument {
  if (!isObject(value)) throw invalid(source, 'the top level must be a JSON object');
  const context = value['@context'];
  if (typeof context !== 'string' || !context.startsWith('https://openvex.dev/ns')) {
    throw invalid(source, '@context must be an OpenVEX context such as "https://openvex.dev/ns/v0.2.0"');
  }
  const timestamp = optString(value, 'timestamp', 'document', source);
  if (!timestamp) throw invalid(source, 'the document timestamp is missing');
  const docTime =
    parseTime(optString(value, 'last_updated', 'document', source), 'last_updated', source) ??
    parseTime(timestamp, 'timestamp', source) ??
    0;
  const statements = value['statements'];
  if (!Array.isArray(statements)) throw invalid(source, 'statements is missing (it must be an array)');
  const doc: VexDocument = {
    source,
    timestamp,
    statements: statements.map((s, i) => parseStatement(s, i, docTime, source)),
  };
  const id = optString(value, '@id', 'document', source);
  if (id) doc['@id'] = id;
  const author = optString(value, 'author', 'document', source);
  if (author) doc.author = author;
  return doc;
}

/** Read and validate an OpenVEX JSON file. Every failure is an E_INPUT naming the file. */
export async function loadVex(path: string): Promise<VexDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalisadeError(
      code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_INPUT',
      `cannot read VEX file (${code ?? String(err)})`,
      {
        subject: path,
        cause: err,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PalisadeError('E_INPUT', `not valid JSON: ${(err as Error).message}`, { subject: path, cause: err });
  }
  return parseVex(json, path);
}

// ---------------------------------------------------------------------------------------------
// Matching

/** A purl without qualifiers and subpath, in canonical form. */
function purlCore(p: PurlParts): string {
  return buildPurl({ type: p.type, namespace: p.namespace, name: p.name, version: p.version });
}

function purlFull(p: PurlParts): string {
  return buildPurl(p);
}

/**
 * Whether a statement's purl names a package purl. A statement purl without qualifiers matches
 * any qualifiers (distro, arch, …) of the package; with qualifiers, the whole purl must match.
 * Without a version it names every version of the package.
 */
export function purlMatches(statementPurl: string, packagePurl: string): boolean {
  const s = tryParsePurl(statementPurl);
  const p = tryParsePurl(packagePurl);
  if (!s || !p) return false;
  const hasQualifiers = Object.keys(s.qualifiers ?? {}).length > 0;
  const pp: PurlParts = s.version === undefined ? { ...p, version: undefined } : p;
  if (!hasQualifiers) return purlCore(s) === purlCore(pp);
  return purlFull({ ...s, subpath: undefined }) === purlFull({ ...pp, subpath: undefined });
}

function productNames(p: VexProduct): string[] {
  return [p['@id'], p.identifiers?.purl].filter((s): s is string => typeof s === 'string' && s !== '');
}

/** The names under which the image is known: the user's reference, its tags, and oci purls by digest. */
function imageMatcher(report: ScanReport): (name: string) => boolean {
  const a = report.artifact;
  const names = new Set([a.name, ...(a.repoTags ?? []), ...(a.repoDigests ?? [])]);
  const digest = a.digest;
  return (name: string): boolean => {
    if (names.has(name)) return true;
    const p = tryParsePurl(name);
    // An oci purl names the image by its manifest digest (the purl's version); tags may differ.
    return !!digest && p?.type === 'oci' && p.version === digest;
  };
}

function matchesPackage(product: VexProduct, pkgPurl: string): boolean {
  return productNames(product).some((n) => purlMatches(n, pkgPurl));
}

/** Whether a statement's products cover this finding's package in this image. */
function productApplies(
  product: VexProduct,
  pkgPurl: string,
  isImage: (n: string) => boolean,
  inImage: (n: string) => boolean,
): boolean {
  const subs = product.subcomponents ?? [];
  const names = productNames(product);
  // A product with subcomponents names a container (the image, or a package such as a jar
  // bundling others): only the listed subcomponents are covered.
  if (subs.length > 0) {
    const outerOk = names.length === 0 || names.some((n) => isImage(n) || inImage(n));
    return outerOk && subs.some((s) => matchesPackage(s, pkgPurl));
  }
  return names.some((n) => isImage(n)) || matchesPackage(product, pkgPurl);
}

function vulnIds(st: VexStatement): Set<string> {
  const v = st.vulnerability;
  return new Set([v.name, v['@id'], ...(v.aliases ?? [])].filter((s): s is string => !!s).map((s) => s.toUpperCase()));
}

function findingIds(v: VulnerabilityMatch): string[] {
  return [v.id, ...v.aliases].map((s) => s.toUpperCase());
}

interface Candidate {
  doc: VexDocument;
  st: VexStatement;
  order: number;
}

function suppression(c: Candidate): NonNullable<VulnerabilityMatch['suppressed']> {
  const out: NonNullable<VulnerabilityMatch['suppressed']> = { by: c.doc.source, status: c.st.status };
  if (c.st.justification) out.justification = c.st.justification;
  const text = c.st.impact_statement ?? c.st.status_notes ?? c.st.action_statement;
  if (text) out.statement = text;
  return out;
}

/**
 * Apply OpenVEX documents to a report (a new report is returned). Findings no statement speaks
 * about are left as they are.
 */
export function applyVex(report: ScanReport, docs: readonly VexDocument[]): ScanReport {
  const isImage = imageMatcher(report);
  const pkgs: Package[] = report.packages;
  const inImage = (n: string): boolean => pkgs.some((p) => purlMatches(n, p.purl));
  const candidates: Candidate[] = [];
  let order = 0;
  for (const doc of docs) for (const st of doc.statements) candidates.push({ doc, st, order: order++ });
  const ids = new Map(candidates.map((c) => [c, vulnIds(c.st)]));

  const vulnerabilities = report.vulnerabilities.map((v) => {
    const fids = findingIds(v);
    const applicable = candidates.filter(
      (c) =>
        fids.some((id) => ids.get(c)?.has(id)) &&
        c.st.products.some((p) => productApplies(p, v.package.purl, isImage, inImage)),
    );
    if (applicable.length === 0) return v;
    const winner = applicable.reduce((a, b) =>
      b.st.effectiveTime > a.st.effectiveTime || (b.st.effectiveTime === a.st.effectiveTime && b.order > a.order)
        ? b
        : a,
    );
    const out: VulnerabilityMatch = { ...v };
    // The winning statement decides alone: an earlier suppression does not survive a later "affected".
    delete out.suppressed;
    if (winner.st.status === 'not_affected' || winner.st.status === 'fixed') out.suppressed = suppression(winner);
    return out;
  });
  return { ...report, vulnerabilities };
}
