/**
 * Runtime events and the alerts raised on them. One event shape is shared by the eBPF
 * sensor (which produces process, file, network and kernel events) and Kubernetes audit-log
 * detection (which produces `k8s.audit`), so a single rule engine and a single alert
 * pipeline serve both. Events are plain JSON (recorded as JSONL, replayed in tests and
 * benchmarks); field names are the ones rule conditions use (`proc.exe`, `container.image`).
 */
import type { Severity } from './severity.js';

/** One ancestor of a process, nearest first (parent, grandparent, …). */
export interface ProcessAncestor {
  pid: number;
  exe: string;
  argv: string[];
}

/** The process that caused an event, as the sensor saw it at the time of the event. */
export interface ProcessContext {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  /** Absolute path of the executable image (after exec for `process.exec`). */
  exe: string;
  /** Basename of `exe`: kept apart so rules need not split paths per event. */
  name: string;
  argv: string[];
  cwd: string;
  /** Controlling terminal device number; 0 when the process has none. */
  tty: number;
  ancestry: ProcessAncestor[];
  /**
   * Set when the executable is on an overlayfs mount (a container's root file system):
   * true when the file lives in the writable upper layer, i.e. it was created or modified
   * after the container started (binary drift); false when it comes from the image layers.
   */
  exeUpperLayer?: boolean;
}

/** The container a process runs in. Absent on events from host processes. */
export interface ContainerContext {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  runtime: string;
  /** False when the sensor saw a container id but could not (yet) ask the runtime about it. */
  resolved: boolean;
  privileged?: boolean;
}

/** The pod a container belongs to, when the node agent could resolve it. */
export interface KubernetesContext {
  pod: string;
  namespace: string;
  workloadKind?: string;
  workloadName?: string;
  serviceAccount?: string;
}

interface EventBase<T extends string> {
  /** Unique per event on its node (sensor sequence number or audit id). */
  id: string;
  type: T;
  /** RFC 3339 time the kernel (or API server) recorded the event. */
  time: string;
  node: string;
  container?: ContainerContext;
  k8s?: KubernetesContext;
}

interface ProcessEventBase<T extends string> extends EventBase<T> {
  proc: ProcessContext;
}

export interface NetworkInfo {
  family: 'ipv4' | 'ipv6' | 'unix';
  protocol: 'tcp' | 'udp' | 'unix';
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
}

export interface FileInfo {
  path: string;
  /** Open flags by name (`O_RDONLY`, `O_CREAT`, …); empty for unlink/truncate. */
  flags: string[];
  /** True when opened for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC). */
  write: boolean;
}

export type ProcessExecEvent = ProcessEventBase<'process.exec'>;
export interface ProcessExitEvent extends ProcessEventBase<'process.exit'> {
  exit: { code: number; signal: number };
}
export interface NetworkEvent extends ProcessEventBase<'network.connect' | 'network.accept' | 'network.listen'> {
  net: NetworkInfo;
}
export interface FileEvent extends ProcessEventBase<'file.open' | 'file.unlink' | 'file.truncate'> {
  file: FileInfo;
}
export interface PtraceEvent extends ProcessEventBase<'process.ptrace'> {
  ptrace: { request: string; targetPid: number; targetExe: string };
}
export interface MountEvent extends ProcessEventBase<'fs.mount'> {
  mount: { source: string; target: string; fsType: string; flags: string[] };
}
export interface NamespaceEvent extends ProcessEventBase<'ns.unshare' | 'ns.setns'> {
  /** Namespace kinds by clone flag name (`CLONE_NEWNS`, `CLONE_NEWUSER`, …). */
  ns: { flags: string[] };
}
export interface ModuleLoadEvent extends ProcessEventBase<'kernel.module_load'> {
  module: { name: string; path: string };
}
export interface MemfdExecEvent extends ProcessEventBase<'process.memfd_exec'> {
  memfd: { name: string };
}
export interface CredEvent extends ProcessEventBase<'cred.setuid' | 'cred.capset'> {
  /** New ids (setuid) or capability sets by name (capset); fields not changed are absent. */
  cred: { uid?: number; gid?: number; effective?: string[]; permitted?: string[] };
}
export interface BpfEvent extends ProcessEventBase<'bpf.call'> {
  bpf: { cmd: string; progType: string };
}

/** One Kubernetes API server audit record (audit.k8s.io/v1 Event, the fields rules use). */
export interface AuditInfo {
  auditId: string;
  stage: string;
  verb: string;
  user: { username: string; groups: string[] };
  sourceIPs: string[];
  userAgent: string;
  objectRef: { resource: string; namespace: string; name: string; subresource: string; apiGroup: string };
  responseCode: number;
  /** The request body, when the audit policy records it. */
  requestObject?: unknown;
}
export interface K8sAuditEvent extends EventBase<'k8s.audit'> {
  audit: AuditInfo;
}

export type RuntimeEvent =
  | ProcessExecEvent
  | ProcessExitEvent
  | NetworkEvent
  | FileEvent
  | PtraceEvent
  | MountEvent
  | NamespaceEvent
  | ModuleLoadEvent
  | MemfdExecEvent
  | CredEvent
  | BpfEvent
  | K8sAuditEvent;

export type RuntimeEventType = RuntimeEvent['type'];

export const RUNTIME_EVENT_TYPES: readonly RuntimeEventType[] = [
  'process.exec',
  'process.exit',
  'network.connect',
  'network.accept',
  'network.listen',
  'file.open',
  'file.unlink',
  'file.truncate',
  'process.ptrace',
  'fs.mount',
  'ns.unshare',
  'ns.setns',
  'kernel.module_load',
  'process.memfd_exec',
  'cred.setuid',
  'cred.capset',
  'bpf.call',
  'k8s.audit',
];

export function isRuntimeEventType(s: string): s is RuntimeEventType {
  return (RUNTIME_EVENT_TYPES as readonly string[]).includes(s);
}

/** A MITRE ATT&CK reference: tactic by name and id, technique (or sub-technique) id. */
export interface MitreRef {
  tactic: string;
  tacticId: string;
  technique: string;
}

export interface Alert {
  /** stableId(rule id, event id): replaying the same events gives the same alert ids. */
  id: string;
  ruleId: string;
  severity: Severity;
  title: string;
  /** The rule's output template filled from the event. */
  output: string;
  /** The values of the fields named in the output template, by field path. */
  fields: Record<string, string>;
  mitre: MitreRef[];
  tags: string[];
  events: RuntimeEvent[];
  /** Time of the (last) triggering event. */
  time: string;
  /** True when the sensor prevented the action (drift enforcement), not only reported it. */
  blocked?: boolean;
}
