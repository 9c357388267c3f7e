/**
 * Numbers the kernel records carry, as the names rules are written with: open flags,
 * mount flags, clone (namespace) flags, capabilities, ptrace requests, bpf commands and
 * program types. Values are Linux's UAPI constants (x86-64 and the generic ABI; the few
 * open flags that differ on arm64 are picked by architecture).
 */

/** Names of the set bits of `value` in table order; bits not in the table are dropped. */
function bitNames(value: number | bigint, table: readonly (readonly [bigint, string])[]): string[] {
  const v = BigInt(value);
  const out: string[] = [];
  for (const [bit, name] of table) if ((v & bit) === bit && bit !== 0n) out.push(name);
  return out;
}

const ARM64 = process.arch === 'arm64';

const OPEN_FLAGS: readonly (readonly [bigint, string])[] = [
  [0o100n, 'O_CREAT'],
  [0o200n, 'O_EXCL'],
  [0o400n, 'O_NOCTTY'],
  [0o1000n, 'O_TRUNC'],
  [0o2000n, 'O_APPEND'],
  [0o4000n, 'O_NONBLOCK'],
  [0o4010000n, 'O_SYNC'],
  [0o10000n, 'O_DSYNC'],
  [0o20000n, 'O_ASYNC'],
  [ARM64 ? 0o200000n : 0o40000n, 'O_DIRECT'],
  [ARM64 ? 0o400000n : 0o100000n, 'O_LARGEFILE'],
  [ARM64 ? 0o40000n : 0o200000n, 'O_DIRECTORY'],
  [ARM64 ? 0o100000n : 0o400000n, 'O_NOFOLLOW'],
  [0o1000000n, 'O_NOATIME'],
  [0o2000000n, 'O_CLOEXEC'],
  [0o10000000n, 'O_PATH'],
  [0o20000000n, 'O_TMPFILE'],
];

/** open(2) flags by name, access mode first (`O_RDONLY`, `O_WRONLY` or `O_RDWR`). */
export function openFlagNames(flags: number): string[] {
  const acc = flags & 3;
  const mode = acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : 'O_RDWR';
  const rest = bitNames(flags, OPEN_FLAGS).filter((n) => !(n === 'O_DSYNC' && (flags & 0o4000000) !== 0));
  return [mode, ...rest];
}

/** Opened for writing: write access, or creating or truncating the file. */
export function openIsWrite(flags: number): boolean {
  return (flags & 3) !== 0 || (flags & (0o100 | 0o1000)) !== 0;
}

const MOUNT_FLAGS: readonly (readonly [bigint, string])[] = [
  [1n, 'MS_RDONLY'],
  [2n, 'MS_NOSUID'],
  [4n, 'MS_NODEV'],
  [8n, 'MS_NOEXEC'],
  [16n, 'MS_SYNCHRONOUS'],
  [32n, 'MS_REMOUNT'],
  [64n, 'MS_MANDLOCK'],
  [128n, 'MS_DIRSYNC'],
  [256n, 'MS_NOSYMFOLLOW'],
  [1024n, 'MS_NOATIME'],
  [2048n, 'MS_NODIRATIME'],
  [4096n, 'MS_BIND'],
  [8192n, 'MS_MOVE'],
  [16384n, 'MS_REC'],
  [32768n, 'MS_SILENT'],
  [1n << 16n, 'MS_POSIXACL'],
  [1n << 17n, 'MS_UNBINDABLE'],
  [1n << 18n, 'MS_PRIVATE'],
  [1n << 19n, 'MS_SLAVE'],
  [1n << 20n, 'MS_SHARED'],
  [1n << 21n, 'MS_RELATIME'],
  [1n << 23n, 'MS_I_VERSION'],
  [1n << 24n, 'MS_STRICTATIME'],
  [1n << 25n, 'MS_LAZYTIME'],
];

/** mount(2) flags by name; the old MS_MGC_VAL magic in the high 16 bits is ignored. */
export function mountFlagNames(flags: bigint): string[] {
  const f = (flags & 0xffff0000n) === 0xc0ed0000n ? flags & 0xffffn : flags;
  return bitNames(f, MOUNT_FLAGS);
}

const CLONE_NS_FLAGS: readonly (readonly [bigint, string])[] = [
  [0x00000080n, 'CLONE_NEWTIME'],
  [0x00020000n, 'CLONE_NEWNS'],
  [0x02000000n, 'CLONE_NEWCGROUP'],
  [0x04000000n, 'CLONE_NEWUTS'],
  [0x08000000n, 'CLONE_NEWIPC'],
  [0x10000000n, 'CLONE_NEWUSER'],
  [0x20000000n, 'CLONE_NEWPID'],
  [0x40000000n, 'CLONE_NEWNET'],
];

export function namespaceFlagNames(flags: number): string[] {
  return bitNames(flags >>> 0, CLONE_NS_FLAGS);
}

const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** Capability set (kernel_cap_t bits) by name; bits past the known ones as `CAP_<n>`. */
export function capabilityNames(set: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if ((set >> BigInt(i)) & 1n) out.push(CAPABILITIES[i] ?? `CAP_${i}`);
  return out;
}

const PTRACE_REQUESTS: ReadonlyMap<number, string> = new Map([
  [0, 'PTRACE_TRACEME'],
  [1, 'PTRACE_PEEKTEXT'],
  [2, 'PTRACE_PEEKDATA'],
  [3, 'PTRACE_PEEKUSER'],
  [4, 'PTRACE_POKETEXT'],
  [5, 'PTRACE_POKEDATA'],
  [6, 'PTRACE_POKEUSER'],
  [7, 'PTRACE_CONT'],
  [8, 'PTRACE_KILL'],
  [9, 'PTRACE_SINGLESTEP'],
  [12, 'PTRACE_GETREGS'],
  [13, 'PTRACE_SETREGS'],
  [14, 'PTRACE_GETFPREGS'],
  [15, 'PTRACE_SETFPREGS'],
  [16, 'PTRACE_ATTACH'],
  [17, 'PTRACE_DETACH'],
  [24, 'PTRACE_SYSCALL'],
  [0x4200, 'PTRACE_SETOPTIONS'],
  [0x4201, 'PTRACE_GETEVENTMSG'],
  [0x4202, 'PTRACE_GETSIGINFO'],
  [0x4203, 'PTRACE_SETSIGINFO'],
  [0x4204, 'PTRACE_GETREGSET'],
  [0x4205, 'PTRACE_SETREGSET'],
  [0x4206, 'PTRACE_SEIZE'],
  [0x4207, 'PTRACE_INTERRUPT'],
  [0x4208, 'PTRACE_LISTEN'],
]);

export function ptraceRequestName(req: number): string {
  return PTRACE_REQUESTS.get(req) ?? `PTRACE_${req}`;
}

const BPF_CMDS = [
  'MAP_CREATE',
  'MAP_LOOKUP_ELEM',
  'MAP_UPDATE_ELEM',
  'MAP_DELETE_ELEM',
  'MAP_GET_NEXT_KEY',
  'PROG_LOAD',
  'OBJ_PIN',
  'OBJ_GET',
  'PROG_ATTACH',
  'PROG_DETACH',
  'PROG_TEST_RUN',
  'PROG_GET_NEXT_ID',
  'MAP_GET_NEXT_ID',
  'PROG_GET_FD_BY_ID',
  'MAP_GET_FD_BY_ID',
  'OBJ_GET_INFO_BY_FD',
  'PROG_QUERY',
  'RAW_TRACEPOINT_OPEN',
  'BTF_LOAD',
  'BTF_GET_FD_BY_ID',
  'TASK_FD_QUERY',
  'MAP_LOOKUP_AND_DELETE_ELEM',
  'MAP_FREEZE',
  'BTF_GET_NEXT_ID',
  'MAP_LOOKUP_BATCH',
  'MAP_LOOKUP_AND_DELETE_BATCH',
  'MAP_UPDATE_BATCH',
  'MAP_DELETE_BATCH',
  'LINK_CREATE',
  'LINK_UPDATE',
  'LINK_GET_FD_BY_ID',
  'LINK_GET_NEXT_ID',
  'ENABLE_STATS',
  'ITER_CREATE',
  'LINK_DETACH',
  'PROG_BIND_MAP',
  'TOKEN_CREATE',
] as const;

export function bpfCommandName(cmd: number): string {
  return `BPF_${BPF_CMDS[cmd] ?? `CMD_${cmd}`}`;
}

const BPF_PROG_TYPES = [
  'UNSPEC',
  'SOCKET_FILTER',
  'KPROBE',
  'SCHED_CLS',
  'SCHED_ACT',
  'TRACEPOINT',
  'XDP',
  'PERF_EVENT',
  'CGROUP_SKB',
  'CGROUP_SOCK',
  'LWT_IN',
  'LWT_OUT',
  'LWT_XMIT',
  'SOCK_OPS',
  'SK_SKB',
  'CGROUP_DEVICE',
  'SK_MSG',
  'RAW_TRACEPOINT',
  'CGROUP_SOCK_ADDR',
  'LWT_SEG6LOCAL',
  'LIRC_MODE2',
  'SK_REUSEPORT',
  'FLOW_DISSECTOR',
  'CGROUP_SYSCTL',
  'RAW_TRACEPOINT_WRITABLE',
  'CGROUP_SOCKOPT',
  'TRACING',
  'STRUCT_OPS',
  'EXT',
  'LSM',
  'SK_LOOKUP',
  'SYSCALL',
  'NETFILTER',
] as const;

export function bpfProgTypeName(t: number): string {
  return `BPF_PROG_TYPE_${BPF_PROG_TYPES[t] ?? String(t)}`;
}
