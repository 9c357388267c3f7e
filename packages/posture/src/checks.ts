/**
 * The catalogue: every posture check Palisade runs, data and code together. Pod Security
 * Standards checks follow pod-security-admission control by control and version by version
 * (a control's behaviour at policy v1.N is the newest revision at or below N); the workload
 * checks after them are the hygiene checks users expect from Polaris, Kubescape and Trivy.
 */
import type { Check, CheckContext, Violation } from './check.js';
import { arrAt, boolAt, isObject, numAt, objAt, strAt, type JsonObject } from './path.js';
import {
  annotations,
  containerSc,
  eachContainer,
  inUserNamespace,
  isWindowsPod,
  onPod,
  podSc,
  versioned,
} from './pss-helpers.js';
import { containersOf, type PodView } from './workload.js';
import { RBAC_CHECKS } from './rbac-checks.js';
import { EXPOSURE_CHECKS } from './exposure.js';
import { CIS_NSA_CHECKS } from './cis-nsa-checks.js';

// ------------------------------------------------------------------ PSS data

/** Capabilities baseline lets a container add (upstream `capabilities_allowed_1_0`). */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** SELinux types baseline allows, by the policy minor they were added in. */
const SELINUX_TYPES: ReadonlyArray<readonly [number, readonly string[]]> = [
  [0, ['', 'container_t', 'container_init_t', 'container_kvm_t']],
  [31, ['container_engine_t']],
];

/** Safe sysctls, by the policy minor they became safe in. */
const SAFE_SYSCTLS: ReadonlyArray<readonly [number, readonly string[]]> = [
  [
    0,
    [
      'kernel.shm_rmid_forced',
      'net.ipv4.ip_local_port_range',
      'net.ipv4.tcp_syncookies',
      'net.ipv4.ping_group_range',
      'net.ipv4.ip_unprivileged_port_start',
    ],
  ],
  [27, ['net.ipv4.ip_local_reserved_ports']],
  [
    29,
    [
      'net.ipv4.tcp_keepalive_time',
      'net.ipv4.tcp_fin_timeout',
      'net.ipv4.tcp_keepalive_intvl',
      'net.ipv4.tcp_keepalive_probes',
    ],
  ],
  [32, ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']],
  [37, ['net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat']],
];

/** Volume types restricted allows; `image` was allowed in place (every policy version), as upstream did. */
const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

function setAt(table: ReadonlyArray<readonly [number, readonly string[]]>, version: number): Set<string> {
  const out = new Set<string>();
  for (const [min, names] of table) if (version >= min) for (const n of names) out.add(n);
  return out;
}

// ------------------------------------------------------------------ PSS baseline

function hostNamespaces(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    (['hostNetwork', 'hostPID', 'hostIPC'] as const)
      .filter((f) => pod.spec[f] === true)
      .map((f) => ({
        path: [...pod.specPath, f],
        message: `${f} is true: the pod shares the node's ${f.slice(4)} namespace`,
      })),
  );
}

function privileged(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const { sc, path } = containerSc(c);
      if (boolAt(sc, 'privileged') !== true) return undefined;
      return { path: [...path, 'privileged'], message: `container "${c.name}" runs privileged` };
    }),
  );
}

function addedCapabilities(c: {
  c: JsonObject;
  path: readonly (string | number)[];
}): Array<{ cap: string; path: Array<string | number> }> {
  const caps = objAt(objAt(c.c, 'securityContext'), 'capabilities');
  return arrAt(caps, 'add').flatMap((cap, i) =>
    typeof cap === 'string' ? [{ cap, path: [...c.path, 'securityContext', 'capabilities', 'add', i] }] : [],
  );
}

function capabilitiesBaseline(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) =>
      addedCapabilities(c)
        .filter(({ cap }) => !BASELINE_CAPABILITIES.has(cap))
        .map(({ cap, path }) => ({
          path,
          message: `container "${c.name}" adds capability ${cap}, which baseline does not allow`,
        })),
    ),
  );
}

function hostPathVolumes(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    arrAt(pod.spec, 'volumes').flatMap((v, i) =>
      isObject(v) && v.hostPath !== undefined && v.hostPath !== null
        ? [
            {
              path: [...pod.specPath, 'volumes', i, 'hostPath'],
              message: `volume "${strAt(v, 'name') ?? i}" mounts a host path`,
            },
          ]
        : [],
    ),
  );
}

function hostPorts(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) =>
      arrAt(c.c, 'ports').flatMap((p, i) => {
        const hp = numAt(p, 'hostPort');
        return hp !== undefined && hp !== 0
          ? [{ path: [...c.path, 'ports', i, 'hostPort'], message: `container "${c.name}" binds host port ${hp}` }]
          : [];
      }),
    ),
  );
}

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

function appArmorProfile(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) => {
    const out: Violation[] = [];
    // The field (v1.30 API) and the deprecated annotation are both judged, at every policy version, as upstream.
    const fieldBad = (sc: JsonObject | undefined): boolean => {
      const t = strAt(objAt(sc, 'appArmorProfile'), 'type');
      return t !== undefined && t !== 'RuntimeDefault' && t !== 'Localhost';
    };
    const ps = podSc(pod);
    if (fieldBad(ps.sc))
      out.push({
        path: [...ps.path, 'appArmorProfile', 'type'],
        message: 'the pod sets an AppArmor profile other than RuntimeDefault or Localhost',
      });
    out.push(
      ...eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        return fieldBad(sc)
          ? {
              path: [...path, 'appArmorProfile', 'type'],
              message: `container "${c.name}" sets an AppArmor profile other than RuntimeDefault or Localhost`,
            }
          : undefined;
      }),
    );
    for (const a of annotations(pod, APPARMOR_ANNOTATION)) {
      if (a.value === '' || a.value === 'runtime/default' || a.value.startsWith('localhost/')) continue;
      out.push({
        path: a.path,
        message: `AppArmor annotation for "${a.key.slice(APPARMOR_ANNOTATION.length)}" is "${a.value}"`,
      });
    }
    return out;
  });
}

function seLinuxOptions(obj: JsonObject, ctx: CheckContext): Violation[] {
  const allowed = setAt(SELINUX_TYPES, ctx.pssVersion);
  return onPod(obj, (pod) => {
    const judge = (sc: JsonObject | undefined, path: readonly (string | number)[], who: string): Violation[] => {
      const opts = objAt(sc, 'seLinuxOptions');
      if (!opts) return [];
      const out: Violation[] = [];
      const type = strAt(opts, 'type');
      if (type !== undefined && !allowed.has(type))
        out.push({ path: [...path, 'seLinuxOptions', 'type'], message: `${who} sets SELinux type "${type}"` });
      for (const f of ['user', 'role'] as const) {
        const v = strAt(opts, f);
        if (v !== undefined && v !== '')
          out.push({ path: [...path, 'seLinuxOptions', f], message: `${who} sets SELinux ${f} "${v}"` });
      }
      return out;
    };
    const ps = podSc(pod);
    return [
      ...judge(ps.sc, ps.path, 'the pod'),
      ...eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        return judge(sc, path, `container "${c.name}"`);
      }),
    ];
  });
}

function unmaskedProcMount(pod: PodView): Violation[] {
  return eachContainer(pod, (c) => {
    const { sc, path } = containerSc(c);
    const pm = strAt(sc, 'procMount');
    return pm !== undefined && pm !== 'Default'
      ? { path: [...path, 'procMount'], message: `container "${c.name}" sets procMount ${pm}` }
      : undefined;
  });
}

function procMountBaseline(obj: JsonObject, ctx: CheckContext): Violation[] {
  // From v1.35 a pod in a user namespace may unmask /proc: its root is not the node's root.
  const relax = ctx.pssVersion >= 35;
  return onPod(obj, (pod) => (relax && inUserNamespace(pod) ? [] : unmaskedProcMount(pod)));
}

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';

function seccompBaselineAnnotations(pod: PodView): Violation[] {
  return [...annotations(pod, SECCOMP_POD_ANNOTATION), ...annotations(pod, SECCOMP_CONTAINER_ANNOTATION)]
    .filter((a) => a.value === 'unconfined')
    .map((a) => ({ path: a.path, message: `seccomp annotation ${a.key} is "unconfined"` }));
}

function seccompBaselineFields(pod: PodView): Violation[] {
  const bad = (sc: JsonObject | undefined): boolean => strAt(objAt(sc, 'seccompProfile'), 'type') === 'Unconfined';
  const ps = podSc(pod);
  const out: Violation[] = bad(ps.sc)
    ? [{ path: [...ps.path, 'seccompProfile', 'type'], message: 'the pod sets seccompProfile Unconfined' }]
    : [];
  return out.concat(
    eachContainer(pod, (c) => {
      const { sc, path } = containerSc(c);
      return bad(sc)
        ? { path: [...path, 'seccompProfile', 'type'], message: `container "${c.name}" sets seccompProfile Unconfined` }
        : undefined;
    }),
  );
}

function seccompBaseline(obj: JsonObject, ctx: CheckContext): Violation[] {
  // Before v1.19 seccomp was set by annotations; from v1.19 by the securityContext field.
  const impl = versioned(ctx.pssVersion, [
    [0, seccompBaselineAnnotations],
    [19, seccompBaselineFields],
  ]);
  return impl ? onPod(obj, impl) : [];
}

function sysctls(obj: JsonObject, ctx: CheckContext): Violation[] {
  const safe = setAt(SAFE_SYSCTLS, ctx.pssVersion);
  return onPod(obj, (pod) => {
    const ps = podSc(pod);
    return arrAt(ps.sc, 'sysctls').flatMap((s, i) => {
      const name = strAt(s, 'name') ?? '';
      return safe.has(name)
        ? []
        : [{ path: [...ps.path, 'sysctls', i, 'name'], message: `sysctl "${name}" is not in the safe set` }];
    });
  });
}

function windowsHostProcess(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) => {
    const hp = (sc: JsonObject | undefined): boolean => boolAt(objAt(sc, 'windowsOptions'), 'hostProcess') === true;
    const ps = podSc(pod);
    const out: Violation[] = hp(ps.sc)
      ? [{ path: [...ps.path, 'windowsOptions', 'hostProcess'], message: 'the pod runs as a Windows HostProcess' }]
      : [];
    return out.concat(
      eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        return hp(sc)
          ? {
              path: [...path, 'windowsOptions', 'hostProcess'],
              message: `container "${c.name}" runs as a Windows HostProcess`,
            }
          : undefined;
      }),
    );
  });
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const HOOKS = ['postStart', 'preStop'] as const;

function hostProbesAndHostLifecycle(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const handlers: Array<{ h: unknown; path: Array<string | number> }> = [
        ...PROBES.map((p) => ({ h: c.c[p], path: [...c.path, p] })),
        ...HOOKS.map((h) => ({ h: objAt(c.c, 'lifecycle')?.[h], path: [...c.path, 'lifecycle', h] })),
      ];
      const out: Violation[] = [];
      for (const { h, path } of handlers) {
        for (const action of ['httpGet', 'tcpSocket'] as const) {
          const host = strAt(objAt(h, action), 'host');
          if (host !== undefined && host !== '')
            out.push({
              path: [...path, action, 'host'],
              message: `container "${c.name}" probes or hooks host "${host}"`,
            });
        }
      }
      return out;
    }),
  );
}

// ------------------------------------------------------------------ PSS restricted

function restrictedVolumes(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    arrAt(pod.spec, 'volumes').flatMap((v, i) => {
      if (!isObject(v)) return [];
      // A volume with no source is defaulted to emptyDir by the API server, so it passes.
      const bad = Object.keys(v).filter((k) => k !== 'name' && !RESTRICTED_VOLUME_TYPES.has(k) && v[k] !== null);
      return bad.map((k) => ({
        path: [...pod.specPath, 'volumes', i, k],
        message: `volume "${strAt(v, 'name') ?? i}" has type ${k}, which restricted does not allow`,
      }));
    }),
  );
}

function allowPrivilegeEscalation(obj: JsonObject, ctx: CheckContext): Violation[] {
  return onPod(obj, (pod) => {
    if (ctx.pssVersion >= 25 && isWindowsPod(pod)) return [];
    return eachContainer(pod, (c) => {
      const { sc, path } = containerSc(c);
      if (boolAt(sc, 'allowPrivilegeEscalation') === false) return undefined;
      return {
        path: [...path, 'allowPrivilegeEscalation'],
        message: `container "${c.name}" does not set allowPrivilegeEscalation: false`,
      };
    });
  });
}

function runAsNonRoot(obj: JsonObject, ctx: CheckContext): Violation[] {
  return onPod(obj, (pod) => {
    // From v1.35 a user-namespaced pod's root is unprivileged on the node, so upstream skips it.
    if (ctx.pssVersion >= 35 && inUserNamespace(pod)) return [];
    const ps = podSc(pod);
    const podValue = boolAt(ps.sc, 'runAsNonRoot');
    const out: Violation[] =
      podValue === false ? [{ path: [...ps.path, 'runAsNonRoot'], message: 'the pod sets runAsNonRoot: false' }] : [];
    return out.concat(
      eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        const v = boolAt(sc, 'runAsNonRoot');
        if (v === false)
          return { path: [...path, 'runAsNonRoot'], message: `container "${c.name}" sets runAsNonRoot: false` };
        if (v === undefined && podValue !== true)
          return {
            path: [...path, 'runAsNonRoot'],
            message: `container "${c.name}" may run as root: runAsNonRoot is not true for it or the pod`,
          };
        return undefined;
      }),
    );
  });
}

function runAsUser(obj: JsonObject, ctx: CheckContext): Violation[] {
  return onPod(obj, (pod) => {
    if (ctx.pssVersion >= 35 && inUserNamespace(pod)) return [];
    const ps = podSc(pod);
    const out: Violation[] =
      numAt(ps.sc, 'runAsUser') === 0
        ? [{ path: [...ps.path, 'runAsUser'], message: 'the pod sets runAsUser: 0' }]
        : [];
    return out.concat(
      eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        return numAt(sc, 'runAsUser') === 0
          ? { path: [...path, 'runAsUser'], message: `container "${c.name}" sets runAsUser: 0` }
          : undefined;
      }),
    );
  });
}

function seccompRestricted(obj: JsonObject, ctx: CheckContext): Violation[] {
  const ok = (t: string | undefined): boolean => t === 'RuntimeDefault' || t === 'Localhost';
  return onPod(obj, (pod) => {
    if (ctx.pssVersion >= 25 && isWindowsPod(pod)) return [];
    const ps = podSc(pod);
    const podType = strAt(objAt(ps.sc, 'seccompProfile'), 'type');
    const out: Violation[] =
      podType !== undefined && !ok(podType)
        ? [{ path: [...ps.path, 'seccompProfile', 'type'], message: `the pod sets seccompProfile ${podType}` }]
        : [];
    return out.concat(
      eachContainer(pod, (c) => {
        const { sc, path } = containerSc(c);
        const t = strAt(objAt(sc, 'seccompProfile'), 'type');
        if (t !== undefined)
          return ok(t)
            ? undefined
            : { path: [...path, 'seccompProfile', 'type'], message: `container "${c.name}" sets seccompProfile ${t}` };
        if (ok(podType)) return undefined;
        return {
          path: [...path, 'seccompProfile', 'type'],
          message: `container "${c.name}" has no seccompProfile RuntimeDefault or Localhost, and neither has the pod`,
        };
      }),
    );
  });
}

function capabilitiesRestricted(obj: JsonObject, ctx: CheckContext): Violation[] {
  return onPod(obj, (pod) => {
    if (ctx.pssVersion >= 25 && isWindowsPod(pod)) return [];
    return eachContainer(pod, (c) => {
      const out: Violation[] = [];
      const { sc, path } = containerSc(c);
      const caps = objAt(sc, 'capabilities');
      if (!arrAt(caps, 'drop').includes('ALL')) {
        out.push({
          path: [...path, 'capabilities', 'drop'],
          message: `container "${c.name}" does not drop ALL capabilities`,
        });
      }
      for (const { cap, path: p } of addedCapabilities(c)) {
        if (cap !== 'NET_BIND_SERVICE')
          out.push({
            path: p,
            message: `container "${c.name}" adds capability ${cap}; restricted allows only NET_BIND_SERVICE`,
          });
      }
      return out;
    });
  });
}

function procMountRestricted(obj: JsonObject): Violation[] {
  return onPod(obj, unmaskedProcMount);
}

// ------------------------------------------------------------------ workload hygiene

/** Regular containers only: init containers run to completion, probes and limits matter less there. */
function regularContainers(pod: PodView): ReturnType<typeof containersOf> {
  return containersOf(pod, ['containers']);
}

function missingResource(kind: 'limits' | 'requests', resource: 'cpu' | 'memory') {
  return (obj: JsonObject): Violation[] =>
    onPod(obj, (pod) =>
      regularContainers(pod).flatMap((c) => {
        const res = objAt(c.c, 'resources');
        const set = objAt(res, kind);
        if (set && set[resource] !== undefined && set[resource] !== null && set[resource] !== '') return [];
        return [
          {
            path: [...c.path, 'resources', kind, resource],
            message: `container "${c.name}" has no ${resource} ${kind === 'limits' ? 'limit' : 'request'}`,
          },
        ];
      }),
    );
}

/** Jobs run to completion: liveness and readiness do not apply to them. */
function isBatch(obj: JsonObject): boolean {
  return obj.kind === 'Job' || obj.kind === 'CronJob';
}

function missingProbe(probe: 'livenessProbe' | 'readinessProbe') {
  return (obj: JsonObject): Violation[] =>
    isBatch(obj)
      ? []
      : onPod(obj, (pod) =>
          regularContainers(pod).flatMap((c) =>
            isObject(c.c[probe])
              ? []
              : [{ path: [...c.path, probe], message: `container "${c.name}" has no ${probe}` }],
          ),
        );
}

function readOnlyRootFilesystem(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const { sc, path } = containerSc(c);
      if (boolAt(sc, 'readOnlyRootFilesystem') === true) return undefined;
      return {
        path: [...path, 'readOnlyRootFilesystem'],
        message: `container "${c.name}" has a writable root filesystem`,
      };
    }),
  );
}

/** Split an image reference into its tag and digest (registry host ports are not tags). */
export function imageParts(image: string): { tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const name = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const tag = colon >= 0 ? name.slice(colon + 1) : undefined;
  return { ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function imageTagLatest(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const image = strAt(c.c, 'image');
      if (image === undefined) return undefined;
      const { tag, digest } = imageParts(image);
      if (digest !== undefined || (tag !== undefined && tag !== 'latest')) return undefined;
      return {
        path: [...c.path, 'image'],
        message: `container "${c.name}" uses image "${image}" ${tag ? 'tagged latest' : 'with no tag'}`,
      };
    }),
  );
}

function imageDigestMissing(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const image = strAt(c.c, 'image');
      if (image === undefined || imageParts(image).digest !== undefined) return undefined;
      return { path: [...c.path, 'image'], message: `container "${c.name}" image "${image}" is not pinned by digest` };
    }),
  );
}

function defaultNamespace(obj: JsonObject): Violation[] {
  const ns = strAt(objAt(obj, 'metadata'), 'namespace');
  return ns === 'default'
    ? [{ path: ['metadata', 'namespace'], message: `${String(obj.kind)} is in the default namespace` }]
    : [];
}

/** Capabilities that give a container control of the node or its network (case-insensitive, CAP_ prefix optional). */
const DANGEROUS_CAPABILITIES = new Set([
  'ALL',
  'SYS_ADMIN',
  'NET_ADMIN',
  'SYS_MODULE',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_BOOT',
  'SYS_TIME',
  'DAC_READ_SEARCH',
  'BPF',
  'PERFMON',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'NET_RAW',
  'SYSLOG',
  'LINUX_IMMUTABLE',
]);

function normCap(cap: string): string {
  return cap.toUpperCase().replace(/^CAP_/, '');
}

function dangerousCapabilities(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) =>
      addedCapabilities(c)
        .filter(({ cap }) => DANGEROUS_CAPABILITIES.has(normCap(cap)))
        .map(({ cap, path }) => ({ path, message: `container "${c.name}" adds dangerous capability ${cap}` })),
    ),
  );
}

/** What container runtimes grant by default: dropping all of these is as good as dropping ALL. */
const DEFAULT_RUNTIME_CAPABILITIES = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

function capabilitiesNotDropped(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) => {
      const { sc, path } = containerSc(c);
      const caps = objAt(sc, 'capabilities');
      const dropped = new Set(
        arrAt(caps, 'drop')
          .filter((d): d is string => typeof d === 'string')
          .map(normCap),
      );
      if (dropped.has('ALL') || DEFAULT_RUNTIME_CAPABILITIES.every((d) => dropped.has(d))) return undefined;
      return {
        path: [...path, 'capabilities', 'drop'],
        message: `container "${c.name}" keeps the runtime's default capabilities`,
      };
    }),
  );
}

const SENSITIVE_ENV_NAME =
  /(passw(or)?d|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|_key$|^key$|key_content|credential)/i;
const SENSITIVE_ENV_VALUE = /-----?BEGIN [A-Z ]*PRIVATE KEY-----?|---BEGIN [A-Z ]*PRIVATE KEY---|\bAKIA[0-9A-Z]{16}\b/;

function secretsInEnv(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) =>
    eachContainer(pod, (c) =>
      arrAt(c.c, 'env').flatMap((e, i) => {
        const name = strAt(e, 'name') ?? '';
        const value = strAt(e, 'value');
        // Only literal values leak: valueFrom a Secret is the fix, not the problem.
        if (value === undefined || value === '') return [];
        if (!SENSITIVE_ENV_NAME.test(name) && !SENSITIVE_ENV_VALUE.test(value)) return [];
        return [
          {
            path: [...c.path, 'env', i, 'value'],
            message: `container "${c.name}" sets ${name} to a literal value that looks like a secret`,
          },
        ];
      }),
    ),
  );
}

function automountServiceAccountToken(obj: JsonObject): Violation[] {
  return onPod(obj, (pod) => {
    const own = pod.spec.automountServiceAccountToken;
    if (own === false) return [];
    const path = [...pod.specPath, 'automountServiceAccountToken'];
    if (own === true) return [{ path, message: 'the pod mounts its service account token' }];
    // Unset on the pod: the ServiceAccount decides, when it is part of the input.
    const saName = strAt(pod.spec, 'serviceAccountName') ?? strAt(pod.spec, 'serviceAccount') ?? 'default';
    const namespace = strAt(objAt(obj, 'metadata'), 'namespace');
    return [
      {
        path,
        message: `the pod mounts the token of service account "${saName}" (automountServiceAccountToken is not false)`,
        unless: {
          kind: 'ServiceAccount',
          namespace,
          name: saName,
          holds: (sa) => sa.automountServiceAccountToken === false,
        },
      },
    ];
  });
}

// ------------------------------------------------------------------ the list

const PSS_DOC = 'https://kubernetes.io/docs/concepts/security/pod-security-standards/';

export const CHECKS: readonly Check[] = [
  {
    id: 'pss-host-namespaces',
    version: 1,
    severity: 'high',
    title: 'Host namespaces are shared',
    description: `Sharing the node's network, PID or IPC namespace lets a pod see and reach host processes and traffic. ${PSS_DOC}`,
    remediation: 'Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).',
    frameworks: {
      PSS: ['baseline:hostNamespaces'],
      CIS: ['5.2.3', '5.2.4', '5.2.5'],
      NSA: ['Pod security: host namespaces'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'hostNamespaces', since: 0 },
    check: hostNamespaces,
  },
  {
    id: 'pss-privileged',
    version: 1,
    severity: 'critical',
    title: 'Privileged container',
    description: 'A privileged container has every capability and all host devices: it is root on the node.',
    remediation:
      'Remove securityContext.privileged (or set it to false) and grant only the capabilities the container needs.',
    frameworks: {
      PSS: ['baseline:privileged'],
      CIS: ['5.2.2'],
      NSA: ['Pod security: privileged containers'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'privileged', since: 0 },
    check: privileged,
  },
  {
    id: 'pss-capabilities-baseline',
    version: 1,
    severity: 'high',
    title: 'Capability added beyond the baseline set',
    description:
      'Baseline lets a container add only the capabilities a container runtime grants by default (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT).',
    remediation: 'Remove the capability from securityContext.capabilities.add.',
    frameworks: {
      PSS: ['baseline:capabilities_baseline'],
      CIS: ['5.2.9'],
      NSA: ['Pod security: capabilities'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'capabilities_baseline', since: 0 },
    check: capabilitiesBaseline,
  },
  {
    id: 'pss-host-path-volumes',
    version: 1,
    severity: 'high',
    title: 'hostPath volume',
    description:
      'A hostPath volume exposes the node filesystem to the pod; writable, it is a way out of the container.',
    remediation: 'Replace the hostPath volume with a PersistentVolumeClaim, emptyDir, configMap or secret volume.',
    frameworks: {
      PSS: ['baseline:hostPathVolumes'],
      CIS: ['5.2.12'],
      NSA: ['Pod security: hostPath mounts'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'hostPathVolumes', since: 0 },
    check: hostPathVolumes,
  },
  {
    id: 'pss-host-ports',
    version: 1,
    severity: 'medium',
    title: 'Host port',
    description: 'A hostPort binds the port on the node itself, bypassing network policy and limiting scheduling.',
    remediation: 'Remove ports[].hostPort and expose the container through a Service.',
    frameworks: { PSS: ['baseline:hostPorts'], CIS: ['5.2.13'], NSA: ['Network separation'], MITRE: ['T1133'] },
    pss: { level: 'baseline', control: 'hostPorts', since: 0 },
    check: hostPorts,
  },
  {
    id: 'pss-apparmor',
    version: 1,
    severity: 'medium',
    title: 'AppArmor profile disabled',
    description:
      'Overriding the default AppArmor profile (Unconfined, or an annotation other than runtime/default or localhost/*) removes a mandatory access control layer.',
    remediation:
      'Set securityContext.appArmorProfile.type to RuntimeDefault or Localhost, and remove unconfined AppArmor annotations.',
    frameworks: { PSS: ['baseline:appArmorProfile'], NSA: ['Pod security: AppArmor'], MITRE: ['T1611'] },
    pss: { level: 'baseline', control: 'appArmorProfile', since: 0 },
    check: appArmorProfile,
  },
  {
    id: 'pss-selinux',
    version: 1,
    severity: 'medium',
    title: 'SELinux options beyond the baseline',
    description:
      'Setting a custom SELinux user or role, or a type outside the container types, can escape SELinux confinement.',
    remediation:
      'Remove seLinuxOptions.user and .role and use a container type (container_t, container_init_t, container_kvm_t, container_engine_t from v1.31).',
    frameworks: { PSS: ['baseline:seLinuxOptions'], NSA: ['Pod security: SELinux'], MITRE: ['T1611'] },
    pss: { level: 'baseline', control: 'seLinuxOptions', since: 0 },
    check: seLinuxOptions,
  },
  {
    id: 'pss-proc-mount',
    version: 1,
    severity: 'medium',
    title: 'Unmasked /proc',
    description:
      'procMount other than Default exposes kernel interfaces that the default /proc masks hide. From v1.35 baseline allows it for pods in a user namespace (hostUsers: false).',
    remediation: 'Remove securityContext.procMount or set it to Default.',
    frameworks: { PSS: ['baseline:procMount'], NSA: ['Pod security'], MITRE: ['T1611'] },
    pss: { level: 'baseline', control: 'procMount', since: 0 },
    check: procMountBaseline,
  },
  {
    id: 'pss-seccomp-baseline',
    version: 1,
    severity: 'medium',
    title: 'Seccomp disabled',
    description:
      'An Unconfined seccomp profile lets the container make every system call. Judged by annotations before policy v1.19 and by the securityContext field from v1.19.',
    remediation:
      'Set securityContext.seccompProfile.type to RuntimeDefault (or Localhost) and remove "unconfined" seccomp annotations.',
    frameworks: {
      PSS: ['baseline:seccompProfile_baseline'],
      CIS: ['5.7.2'],
      NSA: ['Pod security: seccomp'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'seccompProfile_baseline', since: 0 },
    check: seccompBaseline,
  },
  {
    id: 'pss-sysctls',
    version: 1,
    severity: 'medium',
    title: 'Unsafe sysctl',
    description: 'Only namespaced sysctls known to be safe may be set; others change the node kernel for every pod.',
    remediation: 'Remove the sysctl from spec.securityContext.sysctls.',
    frameworks: { PSS: ['baseline:sysctls'], NSA: ['Pod security'], MITRE: ['T1611'] },
    pss: { level: 'baseline', control: 'sysctls', since: 0 },
    check: sysctls,
  },
  {
    id: 'pss-windows-host-process',
    version: 1,
    severity: 'critical',
    title: 'Windows HostProcess container',
    description: 'A Windows HostProcess container runs directly on the node with host access.',
    remediation: 'Remove securityContext.windowsOptions.hostProcess (or set it to false).',
    frameworks: {
      PSS: ['baseline:windowsHostProcess'],
      CIS: ['5.2.11'],
      NSA: ['Pod security: privileged containers'],
      MITRE: ['T1611'],
    },
    pss: { level: 'baseline', control: 'windowsHostProcess', since: 0 },
    check: windowsHostProcess,
  },
  {
    id: 'pss-host-probes',
    version: 1,
    severity: 'medium',
    title: 'Probe or lifecycle hook aimed at another host',
    description:
      'A host in an httpGet or tcpSocket probe or lifecycle hook makes the kubelet connect to an arbitrary address (server-side request forgery from the node). Policy v1.34 and later.',
    remediation: 'Remove the host field from httpGet and tcpSocket probes and lifecycle hooks.',
    frameworks: { PSS: ['baseline:hostProbesAndHostLifecycle'], MITRE: ['T1090'] },
    pss: { level: 'baseline', control: 'hostProbesAndHostLifecycle', since: 34 },
    check: hostProbesAndHostLifecycle,
  },
  {
    id: 'pss-restricted-volumes',
    version: 1,
    severity: 'medium',
    title: 'Volume type not allowed by restricted',
    description:
      'Restricted allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes.',
    remediation: 'Use a PersistentVolumeClaim (or one of the allowed types) instead.',
    frameworks: { PSS: ['restricted:restrictedVolumes'], NSA: ['Pod security'], MITRE: ['T1611'] },
    pss: { level: 'restricted', control: 'restrictedVolumes', since: 0, overrides: ['hostPathVolumes'] },
    check: restrictedVolumes,
  },
  {
    id: 'pss-allow-privilege-escalation',
    version: 1,
    severity: 'medium',
    title: 'Privilege escalation allowed',
    description:
      'Unless allowPrivilegeEscalation is false, a process can gain more privileges than its parent (setuid binaries). Policy v1.8 and later; Windows pods exempt from v1.25.',
    remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
    frameworks: {
      PSS: ['restricted:allowPrivilegeEscalation'],
      CIS: ['5.2.6'],
      NSA: ['Pod security: privilege escalation'],
      MITRE: ['T1548'],
    },
    pss: { level: 'restricted', control: 'allowPrivilegeEscalation', since: 8 },
    check: allowPrivilegeEscalation,
  },
  {
    id: 'pss-run-as-non-root',
    version: 1,
    severity: 'medium',
    title: 'Container may run as root',
    description:
      'runAsNonRoot must be true for the pod or every container. From v1.35 pods in a user namespace are exempt.',
    remediation: 'Set securityContext.runAsNonRoot: true on the pod and run the image as a non-zero UID.',
    frameworks: {
      PSS: ['restricted:runAsNonRoot'],
      CIS: ['5.2.7'],
      NSA: ['Pod security: non-root containers'],
      MITRE: ['T1611'],
    },
    pss: { level: 'restricted', control: 'runAsNonRoot', since: 0 },
    check: runAsNonRoot,
  },
  {
    id: 'pss-run-as-user',
    version: 1,
    severity: 'medium',
    title: 'Container runs as UID 0',
    description:
      'runAsUser: 0 runs the process as root. Policy v1.23 and later; from v1.35 pods in a user namespace are exempt.',
    remediation: 'Set runAsUser to a non-zero UID or remove it.',
    frameworks: {
      PSS: ['restricted:runAsUser'],
      CIS: ['5.2.7'],
      NSA: ['Pod security: non-root containers'],
      MITRE: ['T1611'],
    },
    pss: { level: 'restricted', control: 'runAsUser', since: 23 },
    check: runAsUser,
  },
  {
    id: 'pss-seccomp-restricted',
    version: 1,
    severity: 'medium',
    title: 'No seccomp profile',
    description:
      'Restricted requires seccompProfile RuntimeDefault or Localhost on the pod or on every container. Policy v1.19 and later; Windows pods exempt from v1.25.',
    remediation: 'Set spec.securityContext.seccompProfile.type: RuntimeDefault.',
    frameworks: {
      PSS: ['restricted:seccompProfile_restricted'],
      CIS: ['5.7.2'],
      NSA: ['Pod security: seccomp'],
      MITRE: ['T1611'],
    },
    pss: {
      level: 'restricted',
      control: 'seccompProfile_restricted',
      since: 19,
      overrides: ['seccompProfile_baseline'],
    },
    check: seccompRestricted,
  },
  {
    id: 'pss-capabilities-restricted',
    version: 1,
    severity: 'medium',
    title: 'Capabilities not dropped',
    description:
      'Restricted requires every container to drop ALL capabilities and add back at most NET_BIND_SERVICE. Policy v1.22 and later; Windows pods exempt from v1.25.',
    remediation: 'Set securityContext.capabilities.drop: ["ALL"] and add only NET_BIND_SERVICE if needed.',
    frameworks: {
      PSS: ['restricted:capabilities_restricted'],
      CIS: ['5.2.8', '5.2.9', '5.2.10'],
      NSA: ['Pod security: capabilities'],
      MITRE: ['T1611'],
    },
    pss: { level: 'restricted', control: 'capabilities_restricted', since: 22, overrides: ['capabilities_baseline'] },
    check: capabilitiesRestricted,
  },
  {
    id: 'pss-proc-mount-restricted',
    version: 1,
    severity: 'medium',
    title: 'Unmasked /proc (restricted)',
    description:
      'Restricted forbids procMount other than Default even for pods in a user namespace. Policy v1.35 and later.',
    remediation: 'Remove securityContext.procMount or set it to Default.',
    frameworks: { PSS: ['restricted:procMount_restricted'], NSA: ['Pod security'], MITRE: ['T1611'] },
    pss: { level: 'restricted', control: 'procMount_restricted', since: 35, overrides: ['procMount'] },
    check: procMountRestricted,
  },
  {
    id: 'workload-cpu-limits',
    version: 1,
    severity: 'low',
    title: 'No CPU limit',
    description: 'Without a CPU limit one container can starve the others on its node.',
    remediation: 'Set resources.limits.cpu.',
    frameworks: { NSA: ['Pod security: resource policies'], MITRE: ['T1496'] },
    check: missingResource('limits', 'cpu'),
  },
  {
    id: 'workload-memory-limits',
    version: 1,
    severity: 'medium',
    title: 'No memory limit',
    description: 'Without a memory limit one container can exhaust node memory and get other pods evicted.',
    remediation: 'Set resources.limits.memory.',
    frameworks: { NSA: ['Pod security: resource policies'], MITRE: ['T1496', 'T1499'] },
    check: missingResource('limits', 'memory'),
  },
  {
    id: 'workload-cpu-requests',
    version: 1,
    severity: 'low',
    title: 'No CPU request',
    description: 'Without a CPU request the scheduler cannot place the pod sensibly and it is first to be throttled.',
    remediation: 'Set resources.requests.cpu.',
    frameworks: { NSA: ['Pod security: resource policies'] },
    check: missingResource('requests', 'cpu'),
  },
  {
    id: 'workload-memory-requests',
    version: 1,
    severity: 'low',
    title: 'No memory request',
    description: 'Without a memory request the scheduler cannot place the pod sensibly and it is first to be evicted.',
    remediation: 'Set resources.requests.memory.',
    frameworks: { NSA: ['Pod security: resource policies'] },
    check: missingResource('requests', 'memory'),
  },
  {
    id: 'workload-liveness-probe',
    version: 1,
    severity: 'low',
    title: 'No liveness probe',
    description: 'Without a liveness probe a hung container is never restarted. Jobs and CronJobs are not checked.',
    remediation: 'Add a livenessProbe to the container.',
    frameworks: {},
    check: missingProbe('livenessProbe'),
  },
  {
    id: 'workload-readiness-probe',
    version: 1,
    severity: 'low',
    title: 'No readiness probe',
    description:
      'Without a readiness probe traffic is sent to the container before it can serve. Jobs and CronJobs are not checked.',
    remediation: 'Add a readinessProbe to the container.',
    frameworks: {},
    check: missingProbe('readinessProbe'),
  },
  {
    id: 'workload-read-only-root-fs',
    version: 1,
    severity: 'low',
    title: 'Writable root filesystem',
    description: 'A writable root filesystem lets an intruder drop tools and persist changes in the container.',
    remediation:
      'Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the application writes.',
    frameworks: { NSA: ['Pod security: immutable container file systems'], MITRE: ['T1105'] },
    check: readOnlyRootFilesystem,
  },
  {
    id: 'workload-image-tag-latest',
    version: 1,
    severity: 'medium',
    title: 'Image tag is latest or missing',
    description:
      'An image with no tag or the latest tag can change under the same name: what runs is not what was reviewed or scanned.',
    remediation: 'Use an explicit version tag, better a digest (image@sha256:…).',
    frameworks: { NSA: ['Building secure container images'], MITRE: ['T1525'] },
    check: imageTagLatest,
  },
  {
    id: 'workload-image-digest',
    version: 1,
    severity: 'low',
    title: 'Image not pinned by digest',
    description: 'A tag can be moved to another image; only a digest names exactly what was scanned.',
    remediation: 'Reference the image by digest (image:tag@sha256:…).',
    frameworks: { NSA: ['Building secure container images'], MITRE: ['T1525'] },
    check: imageDigestMissing,
  },
  {
    id: 'workload-default-namespace',
    version: 1,
    severity: 'low',
    title: 'Object in the default namespace',
    description:
      'The default namespace gets no dedicated policies, quotas or RBAC; workloads there mix with everything else. Only an explicit metadata.namespace: default is reported.',
    remediation: 'Create a namespace for the application and set metadata.namespace.',
    frameworks: { CIS: ['5.7.1', '5.7.4'], NSA: ['Namespaces'] },
    check: defaultNamespace,
  },
  {
    id: 'workload-dangerous-capabilities',
    version: 1,
    severity: 'high',
    title: 'Dangerous capability added',
    description:
      'Capabilities such as ALL, SYS_ADMIN, NET_ADMIN, SYS_PTRACE or SYS_MODULE give control of the node or its network (compared case-insensitively, with or without CAP_).',
    remediation: 'Remove the capability from securityContext.capabilities.add.',
    frameworks: { CIS: ['5.2.9'], NSA: ['Pod security: capabilities'], MITRE: ['T1611'] },
    check: dangerousCapabilities,
  },
  {
    id: 'workload-capabilities-not-dropped',
    version: 1,
    severity: 'low',
    title: 'Default capabilities kept',
    description:
      'A container keeps the capabilities the runtime grants by default unless it drops ALL (or every one of them).',
    remediation: 'Set securityContext.capabilities.drop: ["ALL"].',
    frameworks: { CIS: ['5.2.8', '5.2.10'], NSA: ['Pod security: capabilities'], MITRE: ['T1611'] },
    check: capabilitiesNotDropped,
  },
  {
    id: 'workload-secrets-in-env',
    version: 1,
    severity: 'high',
    title: 'Secret in an environment variable',
    description:
      'A password, token or key written as a literal env value is readable by anyone who can read the manifest or the pod spec.',
    remediation:
      'Move the value into a Secret and mount it as a file (or, second best, reference it with env[].valueFrom.secretKeyRef).',
    frameworks: { CIS: ['5.4.1'], NSA: ['Secrets'], MITRE: ['T1552.007'] },
    check: secretsInEnv,
  },
  {
    id: 'workload-automount-sa-token',
    version: 1,
    severity: 'medium',
    title: 'Service account token automounted',
    description:
      "A pod that mounts its service account token gives anyone who compromises it the account's API access. The pod's own setting wins; when unset, the ServiceAccount's (if it is in the input) decides.",
    remediation:
      'Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it talks to the API server.',
    frameworks: { CIS: ['5.1.6'], NSA: ['Pod security: service account tokens'], MITRE: ['T1528'] },
    lookups: ['ServiceAccount'],
    check: automountServiceAccountToken,
  },
  // Cross-object checks: RBAC risk (rbac-checks.ts) and exposure (exposure.ts).
  ...RBAC_CHECKS,
  ...EXPOSURE_CHECKS,
  // The rest of CIS section 5 and the NSA/CISA guide (cis-nsa-checks.ts).
  ...CIS_NSA_CHECKS,
];
