/**
 * Strict validation of a runtime ingest batch. The shape is declared once with small checkers;
 * each checker validates a value (throwing a PalisadeError whose subject is the exact path, such
 * as `body.alerts[3].events[0].proc.pid`) and describes itself as JSON Schema for the OpenAPI
 * document, so the document and the check cannot drift apart.
 *
 * Hand-made rather than the app's Ajv: that one coerces types (`"12"` → 12, `"bash"` → ["bash"])
 * for query strings, and a sensor's batch must be taken as sent or refused.
 */
import { INGEST_LIMITS, PalisadeError, RUNTIME_EVENT_TYPES, SEVERITIES, type RuntimeIngestBatch } from '@palisade/core';
import type { JsonSchema } from '../http/schemas.js';

export interface Checker {
  /** Throws E_INPUT naming `path` when `v` does not fit. */
  check(v: unknown, path: string): void;
  schema: JsonSchema;
}

function fail(path: string, message: string): never {
  throw new PalisadeError('E_INPUT', message, { subject: path });
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Longest string taken anywhere in a batch: a command line, a path, a message. */
const MAX_STRING = 32 * 1024;

/**
 * Deepest nesting taken inside a passed-through JSON value (an audit record's request body).
 * Kubernetes objects are a dozen levels deep; past this, serializing the value again (storage,
 * the JetStream message) would overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * NUL is valid JSON (`\u0000`) but PostgreSQL text cannot hold it: refused here, at the path,
 * rather than by the database on every retry.
 */
function checkNoNul(v: string, path: string): void {
  if (v.includes('\u0000')) fail(path, 'must not contain NUL characters (\\u0000)');
}

function str(opts: { max?: number; min?: number; pattern?: RegExp; description?: string } = {}): Checker {
  const max = opts.max ?? MAX_STRING;
  const min = opts.min ?? 0;
  return {
    check(v, path) {
      if (typeof v !== 'string') fail(path, `must be a string, not ${kind(v)}`);
      if (v.length > max) fail(path, `must be at most ${max} characters`);
      checkNoNul(v, path);
      if (v.length < min) fail(path, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
      if (opts.pattern && !opts.pattern.test(v)) fail(path, `must match ${opts.pattern.source}`);
    },
    schema: {
      type: 'string',
      maxLength: max,
      ...(min > 0 ? { minLength: min } : {}),
      ...(opts.pattern ? { pattern: opts.pattern.source } : {}),
      ...(opts.description ? { description: opts.description } : {}),
    },
  };
}

function int(min = 0, max = Number.MAX_SAFE_INTEGER): Checker {
  return {
    check(v, path) {
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `must be an integer, not ${kind(v)}`);
      if (v < min || v > max) fail(path, `must be between ${min} and ${max}`);
    },
    schema: { type: 'integer', minimum: min, maximum: max },
  };
}

const bool: Checker = {
  check(v, path) {
    if (typeof v !== 'boolean') fail(path, `must be a boolean, not ${kind(v)}`);
  },
  schema: { type: 'boolean' },
};

/**
 * Any JSON value (the audit record's request body, which Palisade passes through), at most
 * MAX_JSON_DEPTH deep and without NUL in any string or key. Walked with an explicit stack, so
 * the check itself cannot overflow whatever the input.
 */
const anyJson: Checker = {
  check(root, rootPath) {
    const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: root, path: rootPath, depth: 0 }];
    // Bounded by the body: every value is pushed once.
    while (stack.length > 0) {
      const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
      if (typeof v === 'string') {
        checkNoNul(v, path);
        continue;
      }
      if (typeof v !== 'object' || v === null) continue;
      if (depth >= MAX_JSON_DEPTH) fail(path, `nested deeper than ${MAX_JSON_DEPTH} levels`);
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 });
        continue;
      }
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i] as [string, unknown];
        if (k.includes('\u0000')) fail(path, 'keys must not contain NUL characters (\\u0000)');
        stack.push({ v: child, path: `${path}.${k.length > 64 ? `${k.slice(0, 64)}…` : k}`, depth: depth + 1 });
      }
    }
  },
  schema: { description: `any JSON value, at most ${MAX_JSON_DEPTH} levels deep` },
};

function oneOf(values: readonly string[], what = 'one of'): Checker {
  const set = new Set(values);
  return {
    check(v, path) {
      if (typeof v !== 'string') fail(path, `must be a string, not ${kind(v)}`);
      if (!set.has(v)) fail(path, `unknown value '${v.slice(0, 64)}': must be ${what} ${values.join(', ')}`);
    },
    schema: { type: 'string', enum: [...values] },
  };
}

/** RFC 3339 date-time (what Date.parse reads unambiguously). */
const time: Checker = {
  check(v, path) {
    if (typeof v !== 'string') fail(path, `must be an RFC 3339 time string, not ${kind(v)}`);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(v) || Number.isNaN(Date.parse(v)))
      fail(path, `must be an RFC 3339 time like 2026-03-01T10:00:00.000Z, not '${v.slice(0, 40)}'`);
  },
  schema: { type: 'string', format: 'date-time' },
};

function arr(item: Checker, maxItems: number, minItems = 0): Checker {
  return {
    check(v, path) {
      if (!Array.isArray(v)) fail(path, `must be an array, not ${kind(v)}`);
      if (v.length > maxItems) fail(path, `must have at most ${maxItems} items`);
      if (v.length < minItems) fail(path, `must have at least ${minItems} item${minItems === 1 ? '' : 's'}`);
      for (let i = 0; i < v.length; i++) item.check(v[i], `${path}[${i}]`);
    },
    schema: { type: 'array', items: item.schema, maxItems, ...(minItems > 0 ? { minItems } : {}) },
  };
}

type Props = Record<string, Checker>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(required: Props, optional: Props = {}): Checker {
  const all: Props = { ...required, ...optional };
  const requiredKeys = Object.keys(required);
  return {
    check(v, path) {
      if (!isRecord(v)) fail(path, `must be an object, not ${kind(v)}`);
      for (const k of requiredKeys) if (v[k] === undefined) fail(`${path}.${k}`, 'required');
      for (const k of Object.keys(v)) {
        const c = all[k];
        if (c === undefined) fail(`${path}.${k}`, 'unknown field');
        if (v[k] === undefined) continue;
        c.check(v[k], `${path}.${k}`);
      }
    },
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(all).map(([k, c]) => [k, c.schema])),
      required: requiredKeys,
    },
  };
}

/** An object of string keys to values of one kind (alert fields, counters by event type). */
function record(value: Checker, maxKeys: number, keyPattern?: RegExp): Checker {
  return {
    check(v, path) {
      if (!isRecord(v)) fail(path, `must be an object, not ${kind(v)}`);
      const keys = Object.keys(v);
      if (keys.length > maxKeys) fail(path, `must have at most ${maxKeys} keys`);
      for (const k of keys) {
        if (k.length > 256) fail(path, 'keys must be at most 256 characters');
        if (k.includes('\u0000')) fail(path, 'keys must not contain NUL characters (\\u0000)');
        if (keyPattern && !keyPattern.test(k)) fail(path, `key '${k.slice(0, 64)}' must match ${keyPattern.source}`);
        value.check(v[k], `${path}.${k}`);
      }
    },
    schema: {
      type: 'object',
      additionalProperties: value.schema,
      maxProperties: maxKeys,
      ...(keyPattern ? { propertyNames: { pattern: keyPattern.source } } : {}),
    },
  };
}

const strings = (max: number): Checker => arr(str(), max);

// ---------- events ----------

const ancestor = obj({ pid: int(), exe: str(), argv: strings(1024) });

const proc = obj(
  {
    pid: int(),
    ppid: int(),
    uid: int(0, 0xffffffff),
    gid: int(0, 0xffffffff),
    exe: str(),
    name: str(),
    argv: strings(1024),
    cwd: str(),
    tty: int(0, 0xffffffff),
    ancestry: arr(ancestor, 64),
  },
  { exeUpperLayer: bool },
);

const container = obj(
  {
    id: str({ max: 256 }),
    name: str({ max: 512 }),
    image: str({ max: 1024 }),
    imageDigest: str({ max: 256 }),
    runtime: str({ max: 64 }),
    resolved: bool,
  },
  { privileged: bool },
);

const k8s = obj(
  { pod: str({ max: 253 }), namespace: str({ max: 253 }) },
  { workloadKind: str({ max: 64 }), workloadName: str({ max: 253 }), serviceAccount: str({ max: 253 }) },
);

const net = obj({
  family: oneOf(['ipv4', 'ipv6', 'unix']),
  protocol: oneOf(['tcp', 'udp', 'unix']),
  srcAddr: str({ max: 256 }),
  srcPort: int(0, 65535),
  dstAddr: str({ max: 256 }),
  dstPort: int(0, 65535),
});

const audit = obj(
  {
    auditId: str({ max: 256 }),
    stage: str({ max: 64 }),
    verb: str({ max: 64 }),
    user: obj({ username: str({ max: 1024 }), groups: strings(256) }),
    sourceIPs: strings(64),
    userAgent: str({ max: 1024 }),
    objectRef: obj({
      resource: str({ max: 253 }),
      namespace: str({ max: 253 }),
      name: str({ max: 253 }),
      subresource: str({ max: 253 }),
      apiGroup: str({ max: 253 }),
    }),
    responseCode: int(0, 999),
  },
  { requestObject: anyJson },
);

/** What each event type carries beyond the common fields. */
const EVENT_PAYLOAD: Record<string, Props> = {
  'process.exec': { proc },
  'process.exit': { proc, exit: obj({ code: int(0, 255), signal: int(0, 255) }) },
  'network.connect': { proc, net },
  'network.accept': { proc, net },
  'network.listen': { proc, net },
  'file.open': { proc, file: obj({ path: str(), flags: strings(64), write: bool }) },
  'file.unlink': { proc, file: obj({ path: str(), flags: strings(64), write: bool }) },
  'file.truncate': { proc, file: obj({ path: str(), flags: strings(64), write: bool }) },
  'process.ptrace': {
    proc,
    ptrace: obj({ request: str({ max: 64 }), targetPid: int(), targetExe: str() }),
  },
  'fs.mount': {
    proc,
    mount: obj({ source: str(), target: str(), fsType: str({ max: 64 }), flags: strings(64) }),
  },
  'ns.unshare': { proc, ns: obj({ flags: strings(32) }) },
  'ns.setns': { proc, ns: obj({ flags: strings(32) }) },
  'kernel.module_load': { proc, module: obj({ name: str({ max: 256 }), path: str() }) },
  'process.memfd_exec': { proc, memfd: obj({ name: str({ max: 256 }) }) },
  'cred.setuid': {
    proc,
    cred: obj({}, { uid: int(0, 0xffffffff), gid: int(0, 0xffffffff), effective: strings(64), permitted: strings(64) }),
  },
  'cred.capset': {
    proc,
    cred: obj({}, { uid: int(0, 0xffffffff), gid: int(0, 0xffffffff), effective: strings(64), permitted: strings(64) }),
  },
  'bpf.call': { proc, bpf: obj({ cmd: str({ max: 64 }), progType: str({ max: 64 }) }) },
  'k8s.audit': { audit },
};

function eventChecker(): Checker {
  const variants = new Map<string, Checker>();
  for (const type of RUNTIME_EVENT_TYPES) {
    const payload = EVENT_PAYLOAD[type];
    if (payload === undefined) throw new PalisadeError('E_INTERNAL', `no payload schema for ${type}`);
    variants.set(
      type,
      obj(
        {
          id: str({ min: 1, max: 256 }),
          type: { check() {}, schema: { const: type } },
          time,
          node: str({ max: 253 }),
          ...payload,
        },
        { container, k8s },
      ),
    );
  }
  return {
    check(v, path) {
      if (!isRecord(v)) fail(path, `must be an object, not ${kind(v)}`);
      const t = v['type'];
      if (t === undefined) fail(`${path}.type`, 'required');
      if (typeof t !== 'string') fail(`${path}.type`, `must be a string, not ${kind(t)}`);
      const variant = variants.get(t);
      if (variant === undefined)
        fail(`${path}.type`, `unknown event type '${t.slice(0, 64)}' (known: ${RUNTIME_EVENT_TYPES.join(', ')})`);
      variant.check(v, path);
    },
    schema: { type: 'object', oneOf: [...variants.values()].map((c) => c.schema) },
  };
}

const event = eventChecker();

/** Events in one alert: the engine raises an alert on one event; a correlating rule on a few. */
export const MAX_EVENTS_PER_ALERT = 100;

const alert = obj(
  {
    id: str({ min: 1, max: 256 }),
    ruleId: str({ min: 1, max: 256 }),
    severity: oneOf(SEVERITIES),
    title: str({ max: 1024 }),
    output: str(),
    fields: record(str(), 256),
    mitre: arr(obj({ tactic: str({ max: 256 }), tacticId: str({ max: 64 }), technique: str({ max: 64 }) }), 64),
    tags: strings(64),
    events: arr(event, MAX_EVENTS_PER_ALERT, 1),
    time,
  },
  { blocked: bool },
);

const kubeEvent = obj({
  uid: str({ min: 1, max: 256 }),
  time,
  type: str({ max: 64 }),
  reason: str({ max: 256 }),
  message: str(),
  namespace: str({ max: 253 }),
  involved: obj({ kind: str({ max: 64 }), name: str({ max: 253 }), namespace: str({ max: 253 }) }),
  count: int(),
});

const containerRecordFields = obj(
  {
    // The id a node's sensor reads from the cgroup path: no `containerd://` scheme.
    containerId: str({ min: 1, max: 256, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/ }),
    containerName: str({ max: 253 }),
    pod: str({ min: 1, max: 253 }),
    namespace: str({ min: 1, max: 253 }),
    node: str({ max: 253 }),
    workloadKind: str({ max: 64 }),
    workloadName: str({ max: 253 }),
    serviceAccount: str({ max: 253 }),
    image: str({ max: 1024 }),
    imageDigest: str({ max: 256 }),
    podUid: str({ max: 128 }),
  },
  {
    startedAt: time,
    deleted: {
      check(v, path) {
        if (v !== true) fail(path, 'must be true when present (omit it for a live container)');
      },
      schema: { const: true },
    },
  },
);

/** A KubeContainerRecord: its fields, and a workload named by both kind and name or by neither. */
const containerRecord: Checker = {
  check(v, path) {
    containerRecordFields.check(v, path);
    const r = v as { workloadKind: string; workloadName: string };
    if ((r.workloadKind === '') !== (r.workloadName === ''))
      fail(`${path}.workloadName`, 'workloadKind and workloadName must both be set or both be empty');
  },
  schema: containerRecordFields.schema,
};

/** An event type name as a sensor counts it (`process.exec`): each distinct one is a stored row per node. */
const COUNTER_KEY = /^[A-Za-z0-9._-]{1,64}$/;

const counters = obj({
  seen: record(int(), 64, COUNTER_KEY),
  kernelDrops: int(),
  userDrops: int(),
  spoolDrops: int(),
});

const batch = obj(
  {
    batchId: str({ min: 1, max: 128, pattern: /^[A-Za-z0-9._:-]+$/ }),
    source: oneOf(['collector', 'inventory']),
    node: str({ min: 1, max: 253 }),
    sensorVersion: str({ max: 64 }),
    sentAt: time,
    alerts: arr(alert, INGEST_LIMITS.maxItems),
    events: arr(event, INGEST_LIMITS.maxItems),
  },
  {
    kubeEvents: arr(kubeEvent, INGEST_LIMITS.maxItems),
    containers: arr(containerRecord, INGEST_LIMITS.maxItems),
    counters,
  },
);

/** The arrays whose items count against INGEST_LIMITS.maxItems. */
export const INGEST_ITEM_ARRAYS = ['alerts', 'events', 'kubeEvents', 'containers'] as const;

/** The JSON Schema of a batch (for the OpenAPI document). */
export const INGEST_BATCH_SCHEMA: JsonSchema = {
  ...batch.schema,
  description: `RuntimeIngestBatch (packages/core/src/ingest.ts). At most ${INGEST_LIMITS.maxItems} alerts + events + kubeEvents + containers (inventory batches only) and ${INGEST_LIMITS.maxBytes} bytes decompressed; may be sent with Content-Encoding: gzip.`,
};

/** Counts the items first (cheap, and a too-large batch is 413 however wrong its items are), then checks everything. */
export function validateIngestBatch(body: unknown, path = 'body'): RuntimeIngestBatch {
  if (!isRecord(body)) fail(path, `must be a JSON object, not ${kind(body)}`);
  let items = 0;
  for (const k of INGEST_ITEM_ARRAYS) {
    const v = body[k];
    if (Array.isArray(v)) items += v.length;
  }
  if (items > INGEST_LIMITS.maxItems) {
    throw new PalisadeError(
      'E_TOO_LARGE',
      `${items} items (alerts + events + kubeEvents + containers) is over the limit of ${INGEST_LIMITS.maxItems} per batch (INGEST_LIMITS.maxItems): split the batch`,
      { subject: path },
    );
  }
  batch.check(body, path);
  // Container context is the cluster-level collector's: a node's collector sees only its own.
  if (body['containers'] !== undefined && body['source'] !== 'inventory')
    fail(`${path}.containers`, 'only inventory batches (source "inventory") carry containers');
  return body as unknown as RuntimeIngestBatch;
}
