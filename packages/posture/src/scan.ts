/**
 * The posture engine: reads manifest texts object by object, runs the checks in force, and
 * returns one report. Objects are not kept once checked (only findings, and the few objects
 * a check looks up, such as ServiceAccounts), so memory follows the findings, not the input.
 */
import * as crypto from 'node:crypto';
import { PALISADE_VERSION, systemClock, type Clock, type Misconfiguration, type PssLevel } from '@palisade/core';
import type { Check, Violation } from './check.js';
import { ClusterIndex } from './analysis.js';
import { checkRegistry } from './check.js';
import { CHECKS } from './checks.js';
import { CheckEvaluationError } from './custom.js';
import { locateAll, readManifestText, type ManifestError, type ManifestObject, type Position } from './manifest.js';
import { PathTexts, objAt, strAt, type JsonObject } from './path.js';
import { PSS_LATEST_MINOR, formatPssVersion, pssChecksFor } from './pss.js';
import { OTHER_KNOWN_KINDS, WORKLOAD_KINDS } from './workload.js';
import { sortMisconfigurations } from './sort.js';

export interface PostureInput {
  /** Shown in findings as source.file: a path, or `-` for stdin. */
  file: string;
  text: string;
}

export interface PostureOptions {
  /** Pod Security Standards level to judge by (default restricted: every control). */
  pssLevel?: PssLevel;
  /** Policy minor (`v1.N` → N); default the latest. */
  pssVersion?: number;
  /** Check ids not to run. */
  skip?: readonly string[];
  /** Run only the PSS checks (conformance runs, admission-style use). */
  pssOnly?: boolean;
  /** The catalogue; default CHECKS. */
  checks?: readonly Check[];
  /** Names the cluster in each finding's resource (live scans). */
  cluster?: string;
  clock?: Clock;
}

export interface PostureSummary {
  /** Objects read (List items counted one by one). */
  objects: number;
  /** Objects at least one check looked at (known kinds). */
  checked: number;
  /** Unknown kinds and custom resources, skipped: kind (apiVersion/kind) → count. */
  skippedKinds: Record<string, number>;
  /** Objects without apiVersion or kind, skipped. */
  invalid: number;
  findings: number;
}

export interface PostureReport {
  /** Version of this JSON shape; bumped only on a breaking change. */
  schemaVersion: 1;
  generator: { name: 'palisade'; version: string };
  createdAt: string;
  pss: { level: PssLevel; version: string };
  /** Ids of the checks that ran, sorted. */
  checks: string[];
  summary: PostureSummary;
  misconfigurations: Misconfiguration[];
  /** Parts of the input that could not be read (malformed YAML/JSON), with file and line. */
  errors: ManifestError[];
}

const KNOWN_KINDS = new Set([...WORKLOAD_KINDS, ...OTHER_KNOWN_KINDS]);

/** The checks a scan runs: PSS checks of the level and version in force, then the workload checks. */
export function checksInForce(options: PostureOptions): Check[] {
  const all = checkRegistry(options.checks ?? CHECKS).all();
  const skip = new Set(options.skip ?? []);
  const pss = pssChecksFor(all, options.pssLevel ?? 'restricted', options.pssVersion ?? PSS_LATEST_MINOR);
  const others = options.pssOnly ? [] : all.filter((c) => c.pss === undefined);
  return [...pss, ...others].filter((c) => !skip.has(c.id));
}

interface Pending {
  finding: Misconfiguration;
  unless: NonNullable<Violation['unless']>;
}

/** The state of one scan while inputs stream through it. */
class PostureRun {
  readonly findings: Misconfiguration[] = [];
  readonly errors: ManifestError[] = [];
  readonly summary: PostureSummary = { objects: 0, checked: 0, skippedKinds: {}, invalid: 0, findings: 0 };
  private readonly pending: Pending[] = [];
  private readonly kept = new Map<string, JsonObject>();
  private readonly keptKinds: Set<string>;
  /** Kinds judged: the known ones plus those custom checks in force name. */
  private readonly knownKinds: Set<string>;
  /** Objects a check could not be evaluated on, per check: reported once per check. */
  private readonly paths = new PathTexts();
  /** Messages repeat across objects (same check, same container name): one string each, bounded. */
  private readonly messages = new Map<string, string>();
  /** The `pss` block of each PSS check's findings: one object per check, shared. */
  private readonly pssByCheck = new Map<Check, NonNullable<Misconfiguration['pss']>>();
  private readonly evalErrors = new Map<Check, { count: number; first: string; message: string }>();
  /** Built only when a check in force analyses across objects (RBAC, exposure). */
  private readonly index: ClusterIndex | undefined;

  constructor(
    private readonly checks: readonly Check[],
    private readonly pssVersion: number,
    private readonly cluster: string | undefined,
  ) {
    this.keptKinds = new Set(checks.flatMap((c) => c.lookups ?? []));
    this.knownKinds = new Set([...KNOWN_KINDS, ...checks.flatMap((c) => c.kinds ?? [])]);
    this.index = checks.some((c) => c.analyze !== undefined) ? new ClusterIndex() : undefined;
  }

  addText(input: PostureInput): void {
    for (const entry of readManifestText(input.text, input.file)) {
      if (entry.kind === 'error') this.errors.push(entry.value);
      else this.addObject(entry.value, input.file);
    }
  }

  private addObject(m: ManifestObject, file: string): void {
    this.summary.objects++;
    const kind = strAt(m.obj, 'kind');
    const apiVersion = strAt(m.obj, 'apiVersion');
    if (kind === undefined || apiVersion === undefined) {
      this.summary.invalid++;
      return;
    }
    if (!this.knownKinds.has(kind)) {
      const key = `${apiVersion}/${kind}`;
      this.summary.skippedKinds[key] = (this.summary.skippedKinds[key] ?? 0) + 1;
      return;
    }
    this.summary.checked++;
    if (this.keptKinds.has(kind)) this.kept.set(keyOf(kind, namespaceOf(m.obj), nameOf(m.obj)), m.obj);
    this.index?.add(m, file, kind, apiVersion);
    const found: Array<{ check: Check; v: Violation }> = [];
    for (const check of this.checks) {
      let violations: Violation[];
      try {
        violations = check.check(m.obj, { pssVersion: this.pssVersion });
      } catch (err) {
        if (!(err instanceof CheckEvaluationError)) throw err;
        this.evaluationFailed(check, err, m, file, kind);
        continue;
      }
      for (const v of violations) found.push({ check, v });
    }
    if (found.length === 0) return;
    // Every finding of the object located in one pass; the resource is shared by its findings.
    const positions = locateAll(
      m,
      found.map((f) => f.v.path),
    );
    const resource = this.resourceOf(m.obj, kind, apiVersion);
    for (let i = 0; i < found.length; i++) {
      const { check, v } = found[i] as { check: Check; v: Violation };
      const finding = this.toFinding(check, v, resource, positions[i], file, m.document);
      if (v.unless) this.pending.push({ finding, unless: v.unless });
      else this.findings.push(finding);
    }
  }

  private resourceOf(obj: JsonObject, kind: string, apiVersion: string): Misconfiguration['resource'] {
    // Built key by key so the JSON shape (and key order) is that of every other report.
    const resource = {} as Misconfiguration['resource'];
    if (this.cluster !== undefined) resource.cluster = this.cluster;
    const namespace = namespaceOf(obj);
    if (namespace !== undefined) resource.namespace = namespace;
    resource.apiVersion = apiVersion;
    resource.kind = kind;
    resource.name = nameOf(obj);
    return resource;
  }

  private intern(message: string): string {
    const known = this.messages.get(message);
    if (known !== undefined) return known;
    if (this.messages.size < 100_000) this.messages.set(message, message);
    return message;
  }

  private pssOf(check: Check): Misconfiguration['pss'] | undefined {
    if (!check.pss) return undefined;
    let pss = this.pssByCheck.get(check);
    if (pss === undefined) {
      pss = { level: check.pss.level, control: check.pss.control, version: formatPssVersion(this.pssVersion) };
      this.pssByCheck.set(check, pss);
    }
    return pss;
  }

  private toFinding(
    check: Check,
    v: Violation,
    resource: Misconfiguration['resource'],
    pos: Position | undefined,
    file: string,
    document: number,
  ): Misconfiguration {
    const path = this.paths.text(v.path);
    const finding: Misconfiguration = {
      id: findingId(check.id, this.cluster, file, document, resource, path),
      checkId: check.id,
      checkVersion: check.version,
      title: check.title,
      severity: check.severity,
      message: this.intern(v.message),
      resource,
      path,
      remediation: check.remediation,
      frameworks: check.frameworks,
    };
    const pss = this.pssOf(check);
    if (pss !== undefined) finding.pss = pss;
    finding.source = pos !== undefined ? { file, line: pos.line, column: pos.column, document } : { file, document };
    return finding;
  }

  private evaluationFailed(check: Check, err: Error, m: ManifestObject, file: string, kind: string): void {
    const seen = this.evalErrors.get(check);
    if (seen) {
      seen.count++;
      return;
    }
    const namespace = namespaceOf(m.obj);
    const pos = m.locate([]);
    const resource = `${kind}/${namespace !== undefined ? `${namespace}/` : ''}${nameOf(m.obj)}`;
    this.evalErrors.set(check, {
      count: 1,
      first: `${resource} in ${file}${pos ? `:${pos.line}` : ''}`,
      message: err.message,
    });
  }

  /**
   * One error per custom check whose condition could not be evaluated on some objects: those
   * objects went unjudged by it, so the report is incomplete (and the scan fails closed).
   */
  private reportEvaluationErrors(): void {
    for (const [check, e] of this.evalErrors) {
      this.errors.push({
        file: check.source?.file ?? check.id,
        ...(check.source ? { line: check.source.line } : {}),
        message: `check ${check.id}: condition could not be evaluated on ${e.count} object${e.count === 1 ? '' : 's'} (first: ${e.first}): ${e.message}`,
      });
    }
    this.evalErrors.clear();
  }

  /** Run the cross-object checks over the index, once every object was read. */
  private analyze(): void {
    if (this.index === undefined) return;
    for (const check of this.checks) {
      if (check.analyze === undefined) continue;
      for (const { at, violation } of check.analyze(this.index, { pssVersion: this.pssVersion })) {
        const resource = this.resourceOf(at.obj, at.kind, at.apiVersion);
        const pos = at.locate(violation.path);
        this.findings.push(this.toFinding(check, violation, resource, pos, at.file, at.document));
      }
    }
  }

  /** Withdraw pending findings whose condition holds now that every object was read. */
  resolve(): Misconfiguration[] {
    this.analyze();
    for (const p of this.pending) {
      const other = this.kept.get(keyOf(p.unless.kind, p.unless.namespace, p.unless.name));
      if (!(other && p.unless.holds(other))) this.findings.push(p.finding);
    }
    this.pending.length = 0;
    this.reportEvaluationErrors();
    this.summary.findings = this.findings.length;
    return sortMisconfigurations(this.findings);
  }
}

function namespaceOf(obj: JsonObject): string | undefined {
  return strAt(objAt(obj, 'metadata'), 'namespace');
}

function nameOf(obj: JsonObject): string {
  const meta = objAt(obj, 'metadata');
  return strAt(meta, 'name') ?? strAt(meta, 'generateName') ?? '(unnamed)';
}

/**
 * The finding's stable id: `stableId` of the same parts (so ids do not change between
 * versions), hashed in one call instead of one update per part — ids are computed for every
 * finding, and a cluster dump has hundreds of thousands.
 */
function findingId(
  checkId: string,
  cluster: string | undefined,
  file: string,
  document: number,
  resource: Misconfiguration['resource'],
  path: string,
): string {
  const parts = [
    checkId,
    cluster,
    file,
    document,
    resource.apiVersion,
    resource.kind,
    resource.namespace,
    resource.name,
    path,
  ];
  let s = '';
  for (const p of parts) s += (p === undefined ? '\u0000' : String(p)) + '\u0001';
  // crypto.hash (one-shot, Node ≥ 20.12) is several times faster than a Hash object per id.
  const digest = typeof crypto.hash === 'function' ? crypto.hash('sha256', s, 'hex') : sha256Hex(s);
  // Two short slices (copied, under V8's sliced-string minimum) rather than one: a 16-digit
  // slice would keep the whole 64-digit digest alive behind every finding.
  return digest.slice(0, 8) + digest.slice(8, 16);
}

function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

// Objects without a namespace are matched as if in "default", where kubectl would put them.
function keyOf(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}\u0000${namespace ?? 'default'}\u0000${name}`;
}

/** Scan manifest texts; inputs are consumed one at a time. */
export function scanManifests(inputs: Iterable<PostureInput>, options: PostureOptions = {}): PostureReport {
  const pssVersion = options.pssVersion ?? PSS_LATEST_MINOR;
  const checks = checksInForce(options);
  const run = new PostureRun(checks, pssVersion, options.cluster);
  for (const input of inputs) run.addText(input);
  const misconfigurations = run.resolve();
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: PALISADE_VERSION },
    createdAt: (options.clock ?? systemClock).now().toISOString(),
    pss: { level: options.pssLevel ?? 'restricted', version: formatPssVersion(pssVersion) },
    checks: checks.map((c) => c.id).sort(),
    summary: run.summary,
    misconfigurations,
    errors: run.errors,
  };
}
