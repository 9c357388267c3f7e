/**
 * The scan worker: claims scan jobs from the durable queue, runs the scanner, lands the report,
 * packages and findings in one transaction, and completes the job. A claimed job is leased; a
 * heartbeat renews the lease while the scan runs, so a job whose server was killed goes back to
 * the queue (recoverExpired) once its lease runs out, and is scanned again after a restart or by
 * another replica.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock, toPalisadeError, type Clock, type ErrorCode, type ScanReport } from '@palisade/core';
import { parseReference, RegistryClient, type SourceOptions } from '@palisade/oci';
import { FsLayerCache, scanImage, writeReport, type ScanOptions } from '@palisade/scanner';
import {
  ANY_MANIFEST_ACCEPT,
  PALISADE_USER_AGENT,
  createReportRegistryClient,
  publishEnabled,
  publishReport,
  type PublishResult,
} from '../registry/index.js';
import { resultFromReport, type Job, type Registry, type Storage } from '../storage/index.js';
import { isLocalRef, parseScanPayload, registryKey, SCAN_JOB_KIND, type ScanJobPayload } from './queue.js';
import type { VulnDbHolder } from './vulndb.js';

/** The logger methods the worker uses (Fastify's and pino's loggers fit). */
export interface WorkerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Where scan outcomes are counted (the /metrics registry). */
export interface ScanObserver {
  observeScan(outcome: 'succeeded' | 'failed' | 'retried', seconds: number): void;
}

export type ScanFn = (ref: string, options: ScanOptions) => Promise<ScanReport>;

export interface ScanWorkerOptions {
  storage: Storage;
  vulnDb: VulnDbHolder;
  /** Layer cache and temporary files. */
  cacheDir: string;
  concurrency: number;
  registryConcurrency: number;
  clock?: Clock;
  logger?: WorkerLogger;
  observer?: ScanObserver;
  workerId?: string;
  /** Lease of a claimed job; renewed every leaseMs / 3. Default 60 s. */
  leaseMs?: number;
  /** Poll interval when the queue is empty; default 1 s. */
  pollMs?: number;
  /** Registry request timeout; default 60 s. */
  registryTimeoutMs?: number;
  /** The scanner; tests inject one that blocks or fails. */
  scan?: ScanFn;
  /** Report publishing into registries; tests inject one that fails. Default publishReport. */
  publish?: typeof publishReport;
}

export interface StopOptions {
  /** How long running scans may take to finish before they are released back to the queue. Default 30 s. */
  graceMs?: number;
}

export interface ScanWorker {
  readonly workerId: string;
  start(): void;
  /** Claim now instead of at the next poll (after an enqueue). */
  wake(): void;
  /** Stop claiming; wait for running scans up to graceMs, then release the rest to the queue. */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Stop at once without touching running jobs, as a killed process would: their leases run
   * out and another worker recovers them. For tests of recovery, and for fatal errors.
   */
  halt(): void;
  /** Scans running now. */
  running(): number;
}

// Failures that another attempt cannot fix: fail the job at once with the reason. E_AUTH is
// not among them: credentials revoked mid-scan are often being rotated, so an auth refusal is
// retried with backoff like a transient failure and fails the scan after the last attempt.
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_INPUT',
  'E_NOT_FOUND',
  'E_UNSUPPORTED',
  'E_PLATFORM',
  'E_UNSAFE_PATH',
  'E_TOO_LARGE',
  'E_CORRUPT',
  'E_DIGEST',
]);

interface Running {
  job: Job;
  abort: AbortController;
  done: Promise<void>;
  /** Set when the scan must not land its result (lease lost, or released at stop). */
  dropped: boolean;
}

export function createScanWorker(opts: ScanWorkerOptions): ScanWorker {
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const clock = opts.clock ?? systemClock;
  const leaseMs = opts.leaseMs ?? 60_000;
  const pollMs = opts.pollMs ?? 1_000;
  const scan = opts.scan ?? scanImage;
  const log = opts.logger;
  const { storage } = opts;
  const active = new Map<string, Running>();
  const publish = opts.publish ?? publishReport;
  // Publishing one subject is a read-modify-write of its referrers tag: chain them per subject.
  const publishing = new Map<string, Promise<unknown>>();
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let timer: NodeJS.Timeout | undefined;
  let pumping = false;
  let again = false;
  let lastRecovery = 0;

  const schedule = (ms: number): void => {
    if (state !== 'running') return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, ms);
    timer.unref();
  };

  /** Claim until the worker is full or the queue is empty; never throws. */
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        // Recovering on every poll would be a write each second; the lease is the resolution that matters.
        if (clock.now().getTime() - lastRecovery >= Math.min(leaseMs, 30_000)) {
          lastRecovery = clock.now().getTime();
          const n = await storage.jobs.recoverExpired();
          if (n > 0) log?.warn({ jobs: n }, 'requeued jobs whose worker stopped without finishing them');
        }
        while (state === 'running' && active.size < opts.concurrency) {
          const limits: Record<string, number> = {};
          for (const r of await storage.registries.list()) limits[registryKey(r.id)] = opts.registryConcurrency;
          const job = await storage.jobs.claim(workerId, {
            kinds: [SCAN_JOB_KIND],
            leaseMs,
            concurrencyLimits: limits,
          });
          if (!job) break;
          if (state !== 'running') {
            // Stopped while claiming: hand it straight back.
            await storage.jobs.fail(job.id, workerId, 'server stopping', { retryable: true }).catch(() => null);
            break;
          }
          launch(job);
        }
      } while (again && state === 'running');
    } catch (err) {
      log?.error({ err: toPalisadeError(err).describe() }, 'claiming scan jobs failed');
    } finally {
      pumping = false;
      schedule(pollMs);
    }
  };

  const launch = (job: Job): void => {
    const r: Running = { job, abort: new AbortController(), done: Promise.resolve(), dropped: false };
    active.set(job.id, r);
    r.done = runJob(r)
      .catch((err: unknown) =>
        log?.error({ job: job.id, err: toPalisadeError(err).describe() }, 'scan job bookkeeping failed'),
      )
      .finally(() => {
        active.delete(job.id);
        if (state === 'running') schedule(0);
      });
  };

  const runJob = async (r: Running): Promise<void> => {
    const { job } = r;
    let payload: ScanJobPayload;
    try {
      payload = parseScanPayload(job.payload);
    } catch (err) {
      await storage.jobs.fail(job.id, workerId, toPalisadeError(err).describe(), { retryable: false });
      return;
    }
    const heartbeat = setInterval(
      () => {
        storage.jobs.heartbeat(job.id, workerId, leaseMs).then(
          (held) => {
            if (!held && !r.dropped) {
              // Another worker recovered the job: our result would race with its; stop.
              r.dropped = true;
              r.abort.abort();
              log?.warn({ job: job.id }, 'lost the lease of a scan job; abandoning it');
            }
          },
          (err: unknown) => log?.warn({ job: job.id, err: toPalisadeError(err).describe() }, 'lease heartbeat failed'),
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    const started = Date.now();
    try {
      await storage.scans.start(payload.scanId);
      log?.info({ job: job.id, scan: payload.scanId, ref: payload.imageRef, attempt: job.attempts }, 'scan started');
      const report = await runScan(payload, r.abort.signal);
      if (r.dropped) return;
      await land(payload, report);
      // After landing, so the result is visible at once; a failure here never fails the scan.
      await publishResult(payload, report, r.abort.signal);
      if (!(await storage.jobs.complete(job.id, workerId))) {
        log?.warn({ job: job.id }, 'scan finished after its lease was lost; the result was kept');
      }
      opts.observer?.observeScan('succeeded', (Date.now() - started) / 1000);
      log?.info({ job: job.id, scan: payload.scanId, digest: report.artifact.digest ?? null }, 'scan succeeded');
    } catch (err) {
      if (r.dropped) return;
      const e = toPalisadeError(err, 'E_INTERNAL', payload.imageRef);
      const reason = e.describe();
      const after = await storage.jobs.fail(job.id, workerId, reason, { retryable: !PERMANENT.has(e.code) });
      if (after?.status === 'failed') {
        await storage.scans.fail(payload.scanId, reason);
        opts.observer?.observeScan('failed', (Date.now() - started) / 1000);
        log?.warn({ job: job.id, scan: payload.scanId, reason }, 'scan failed');
      } else if (after) {
        opts.observer?.observeScan('retried', (Date.now() - started) / 1000);
        log?.warn(
          { job: job.id, scan: payload.scanId, reason, retryAt: after.runAt },
          'scan attempt failed; will retry',
        );
      }
    } finally {
      clearInterval(heartbeat);
    }
  };

  const runScan = async (payload: ScanJobPayload, signal: AbortSignal): Promise<ScanReport> => {
    const tempDir = join(opts.cacheDir, 'tmp');
    mkdirSync(tempDir, { recursive: true, mode: 0o700 });
    const source: SourceOptions = { tempDir, timeoutMs: opts.registryTimeoutMs ?? 60_000 };
    if (payload.registryId !== null) {
      const reg = await storage.registries.get(payload.registryId);
      // Palisade's own User-Agent, so the registry's notifications of these pulls are ignored.
      source.userAgent = PALISADE_USER_AGENT;
      if (reg) {
        source.insecure = reg.insecure;
        const creds = await storage.registries.credentials(reg.id);
        if (creds) source.credentials = { username: creds.username, password: creds.password };
      }
    }
    if (!source.credentials && !isLocalRef(payload.imageRef)) {
      // A server must not pick up whoever's ~/.docker/config.json happens to be on the host.
      source.dockerConfigPath = join(opts.cacheDir, 'no-docker-config.json');
    }
    const lease = opts.vulnDb.acquire();
    try {
      return await scan(payload.imageRef, {
        source,
        db: lease.db,
        cache: new FsLayerCache(opts.cacheDir),
        clock,
        signal,
      });
    } finally {
      lease.release();
    }
  };

  /** The report, the digest's packages and findings and the image row, all or nothing. */
  const land = async (payload: ScanJobPayload, report: ScanReport): Promise<void> => {
    const digest = report.artifact.digest;
    const named = namedDigest(payload.imageRef);
    await storage.withTransaction(async (tx) => {
      await tx.scans.succeed(payload.scanId, report, digest);
      if (digest === undefined) return; // a dir: scan has no digest to file its findings under
      const result = resultFromReport(report, payload.scanId);
      await tx.findings.replaceForDigest(digest, result);
      // A pushed image index is scanned through one of its platform manifests: file the result
      // under the digest that was pushed too, or the image row of the push would show nothing.
      if (named !== undefined && named !== digest) await tx.findings.replaceForDigest(named, result);
      const { registry, repository, tag } = imageIdentity(payload.imageRef);
      await tx.images.upsert({
        registry,
        repository,
        digest,
        ...(tag ? { tags: [tag] } : {}),
        seenAt: report.createdAt,
      });
    });
  };

  /**
   * Publish the report into the registry it came from, when that registry is registered and
   * publishing is on for it. Failures are logged and kept on the scan (its publishError, shown by
   * GET /api/v1/scans/{id}); they never fail the scan, and the stored report stays as scanned.
   */
  const publishResult = async (payload: ScanJobPayload, report: ScanReport, signal: AbortSignal): Promise<void> => {
    if (payload.registryId === null) return;
    const reg = await storage.registries.get(payload.registryId);
    if (!reg || !publishEnabled({ readOnly: reg.readOnly, publishReports: reg.publishResults })) return;
    const ref = parseReference(payload.imageRef);
    const subjectDigest = ref.digest ?? report.artifact.digest;
    if (subjectDigest === undefined) return;
    const key = `${reg.id}|${ref.repository}@${subjectDigest}`;
    const prev = publishing.get(key) ?? Promise.resolve();
    const run = prev.then(
      () => publishTo(reg, ref.repository, subjectDigest, report, signal),
      () => publishTo(reg, ref.repository, subjectDigest, report, signal),
    );
    publishing.set(key, run);
    try {
      const result = await run;
      log?.info(
        { scan: payload.scanId, digest: subjectDigest, report: result.digest, method: result.method },
        'report published to the registry',
      );
      if (result.notDeleted.length > 0)
        log?.warn({ scan: payload.scanId, notDeleted: result.notDeleted }, 'previous reports could not be deleted');
    } catch (err) {
      const reason = toPalisadeError(err, 'E_INTERNAL', payload.imageRef).describe();
      log?.warn({ scan: payload.scanId, reason }, 'publishing the report to the registry failed');
      await storage.scans
        .setPublishError(payload.scanId, reason)
        .catch((e: unknown) =>
          log?.error(
            { scan: payload.scanId, err: toPalisadeError(e).describe() },
            'recording the publish failure failed',
          ),
        );
    } finally {
      if (publishing.get(key) === run) publishing.delete(key);
    }
  };

  const publishTo = async (
    reg: Registry,
    repository: string,
    digest: string,
    report: ScanReport,
    signal: AbortSignal,
  ): Promise<PublishResult> => {
    const creds = await storage.registries.credentials(reg.id);
    const timeoutMs = opts.registryTimeoutMs ?? 60_000;
    const client = new RegistryClient(new URL(reg.url).host, {
      insecure: reg.insecure,
      userAgent: PALISADE_USER_AGENT,
      timeoutMs,
      // Never whoever's ~/.docker/config.json is on the host: only the registry's stored credentials.
      ...(creds ? { credentials: creds } : { dockerConfigPath: join(opts.cacheDir, 'no-docker-config.json') }),
    });
    const rc = createReportRegistryClient(client, {
      baseUrl: reg.url,
      insecureSkipVerify: reg.insecure,
      userAgent: PALISADE_USER_AGENT,
      timeoutMs,
      ...(creds ? { credentials: creds } : {}),
    });
    const manifest = await client.getManifest(repository, digest, ANY_MANIFEST_ACCEPT, { signal });
    return publish({
      client: rc,
      repository,
      subject: { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length },
      report,
      cyclonedx: writeReport(report, 'cyclonedx'),
      clock,
      signal,
    });
  };

  return {
    workerId,
    start() {
      if (state !== 'idle') return;
      state = 'running';
      lastRecovery = -Infinity;
      schedule(0);
    },
    wake() {
      schedule(0);
    },
    async stop(options = {}) {
      if (state === 'stopped' || state === 'idle') {
        state = 'stopped';
        return;
      }
      state = 'stopping';
      if (timer) clearTimeout(timer);
      const graceMs = options.graceMs ?? 30_000;
      const all = Promise.all([...active.values()].map((r) => r.done));
      let graceTimer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((res) => {
          graceTimer = setTimeout(() => res(true), graceMs);
        }),
      ]);
      if (graceTimer) clearTimeout(graceTimer);
      if (timedOut) {
        // Release what did not finish: back to the queue for the next start or another replica.
        for (const r of active.values()) {
          r.dropped = true;
          r.abort.abort();
          await storage.jobs
            .fail(r.job.id, workerId, 'released: server stopping', { retryable: true })
            .catch(() => null);
        }
        await Promise.all([...active.values()].map((r) => r.done));
      }
      state = 'stopped';
    },
    halt() {
      state = 'stopped';
      if (timer) clearTimeout(timer);
      for (const r of active.values()) {
        r.dropped = true;
        r.abort.abort();
      }
    },
    running: () => active.size,
  };
}

/** The digest a registry reference names (`repo@sha256:…`), if it names one. */
function namedDigest(ref: string): string | undefined {
  if (isLocalRef(ref)) return undefined;
  try {
    return parseReference(ref).digest;
  } catch {
    return undefined;
  }
}

/** Where an image is filed: registry host and repository for registry refs; `local` and the path otherwise. */
export function imageIdentity(ref: string): { registry: string; repository: string; tag: string | null } {
  if (isLocalRef(ref)) {
    const colon = ref.indexOf(':');
    const scheme = ref.slice(0, colon);
    const rest = ref.slice(colon + 1);
    // oci:DIR:tag: the tag is after the last colon when it does not look like part of a path.
    const m = scheme === 'oci' ? /^(.*):([\w][\w.-]{0,127})$/.exec(rest) : null;
    return m?.[1] && m[2]
      ? { registry: 'local', repository: `oci:${m[1]}`, tag: m[2] }
      : { registry: 'local', repository: ref, tag: null };
  }
  const p = parseReference(ref);
  return {
    registry: p.domain,
    repository: p.repository,
    tag: p.digest === undefined ? (p.tag ?? 'latest') : (p.tag ?? null),
  };
}
