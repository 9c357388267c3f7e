/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire format shared by the eBPF programs (palisade.bpf.c), the loader helper
 * (native/loader.c) and the TypeScript decoder (src/records.ts). Every record is a
 * fixed-layout little-endian struct that starts with {version, type, size}; the decoder
 * reads fields at fixed offsets, so any change here must bump PAL_VERSION and be mirrored
 * in src/records.ts (the _Static_asserts below pin the offsets the decoder relies on).
 * Strings are fixed-capacity NUL-terminated byte arrays; a string cut to its capacity sets
 * a truncation flag.
 *
 * Include after vmlinux.h (BPF side) or <linux/types.h> (user side): only __u8.. __u64
 * and __s64 are used.
 */
#ifndef PALISADE_H
#define PALISADE_H

/* 3: the header carries a cgroup key instead of the cgroup path; the path comes once per
 * cgroup in a PAL_REC_CGROUP record. */
#define PAL_VERSION 3

/* Record types coming from the kernel. */
#define PAL_REC_EXEC 1
#define PAL_REC_CONNECT 2 /* TCP (tp_btf) and UDP (connect(2) exit) */
#define PAL_REC_EXIT 3
#define PAL_REC_ACCEPT 4
#define PAL_REC_LISTEN 5
#define PAL_REC_FILE_OPEN 6
#define PAL_REC_FILE_UNLINK 7
#define PAL_REC_FILE_TRUNCATE 8
#define PAL_REC_PTRACE 9
#define PAL_REC_MOUNT 10
#define PAL_REC_UNSHARE 11
#define PAL_REC_SETNS 12
#define PAL_REC_MODULE 13
#define PAL_REC_MEMFD_EXEC 14
#define PAL_REC_SETUID 15 /* setuid/setreuid/setresuid and the gid calls */
#define PAL_REC_CAPSET 16
#define PAL_REC_BPF 17
/* The path of a cgroup key, emitted the first time the kernel side sees the key (and again
 * after the key left its LRU map or user space asked to forget it), always before the
 * first record that carries the key. Counters: SEEN = emitted, DROPPED = ring buffer full
 * (the record that needed it is then dropped too, so no record carries an unknown key). */
#define PAL_REC_CGROUP 18
#define PAL_NTYPES 19 /* index 0 unused, so counters are indexed by record type */

/* Record types made by the loader itself (never by the kernel). */
#define PAL_REC_READY 0x100
#define PAL_REC_COUNTERS 0x101

/* Per-type counter kinds kept in the per-CPU array map `counters` (index type*NKINDS+kind). */
#define PAL_CNT_SEEN 0     /* the hook ran for a task that passed the self filter */
#define PAL_CNT_FILTERED 1 /* dropped on purpose in the kernel: filter, failed call, no match */
#define PAL_CNT_DROPPED 2  /* ring buffer full: bpf_ringbuf_reserve failed */
#define PAL_CNT_NKINDS 3
#define PAL_NCOUNTERS (PAL_NTYPES * PAL_CNT_NKINDS)

/* Bit masks for the type filter (1 << record type). */
#define PAL_TYPE_BIT(t) (1u << (t))

/* Container/host filter modes. */
#define PAL_MODE_ALL 0
#define PAL_MODE_CONTAINER 1 /* only tasks outside the initial pid namespace */
#define PAL_MODE_HOST 2      /* only tasks in the initial pid namespace */

/* Header flags (pal_hdr.flags). */
#define PAL_F_ARGS_TRUNCATED (1u << 0)
#define PAL_F_CGROUP_TRUNCATED (1u << 1) /* pal_cgroup: deeper than PAL_CGROUP_DEPTH levels */
#define PAL_F_CGROUP_V1 (1u << 2)        /* key and path from the v1 memory hierarchy */
#define PAL_F_FILENAME_TRUNCATED (1u << 3)
#define PAL_F_PATH_TRUNCATED (1u << 4)  /* the record's main path (cwd, file path, mount target) */
#define PAL_F_PATH2_TRUNCATED (1u << 5) /* a second string (mount source, module path) */

/* pal_exec.exec_flags */
#define PAL_EXEC_OVERLAY (1u << 0) /* the executable is on an overlayfs mount */
#define PAL_EXEC_UPPER (1u << 1)   /* ... and has an upper-layer copy: written after start */
#define PAL_EXEC_MEMFD (1u << 2)   /* the executable is a memfd */

/* pal_cred.which */
#define PAL_CRED_UID (1u << 0)
#define PAL_CRED_GID (1u << 1)
#define PAL_CRED_CAPS (1u << 2)

/* File watch patterns (pal_pattern.on): which operations a pattern reports. */
#define PAL_ON_OPEN (1u << 0)  /* every successful open */
#define PAL_ON_WRITE (1u << 1) /* opens for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC) */
#define PAL_ON_ERASE (1u << 2) /* unlink, truncate/ftruncate, open with O_TRUNC */
#define PAL_PAT_PREFIX 0       /* path starts with s; '*' matches one path component */
#define PAL_PAT_SUFFIX 1       /* path ends with s */

#define PAL_COMM_LEN 16
#define PAL_CGROUP_DEPTH 8 /* slots, leaf first */
#define PAL_CGROUP_KEY_V1 (1ull << 63) /* set in keys of v1 memory cgroups (kernfs ids never reach it) */
#define PAL_CGROUP_NAME_LEN 128
#define PAL_FILENAME_LEN 256
#define PAL_ARGS_LEN 1024
#define PAL_CWD_LEN 256
#define PAL_PATH_LEN 512 /* file paths; power of two (the kernel masks offsets with it) */
#define PAL_STR_LEN 256  /* mount source/target, module path, memfd name */
#define PAL_FSTYPE_LEN 64
#define PAL_MODNAME_LEN 64
#define PAL_MAX_PREFIXES 4
#define PAL_PREFIX_LEN 64
#define PAL_MAX_PATTERNS 64
#define PAL_PATTERN_LEN 60

struct pal_hdr {
	__u16 version;
	__u16 type;
	__u32 size;          /* of the whole record */
	__u64 ts_boot_ns;    /* bpf_ktime_get_boot_ns() */
	__u32 tgid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;           /* real uid (for PAL_REC_SETUID: before the call) */
	__u32 gid;
	__u32 pidns_level;   /* 0 = initial pid namespace (host) */
	__u64 cgroup_id;     /* cgroup v2 id (inode number of the cgroup directory) */
	__u32 flags;
	__u32 pad;
	/* Which cgroup path (PAL_REC_CGROUP) applies: the v2 id, or, for a task in the v2
	 * root (cgroup v1 or hybrid hosts), the kernfs id of its v1 memory cgroup with
	 * PAL_CGROUP_KEY_V1 set. */
	__u64 cgroup_key;
	char comm[PAL_COMM_LEN];
};

/* PAL_REC_CGROUP: the path of one cgroup key, leaf first, without the hierarchy's root. */
struct pal_cgroup {
	__u16 version;
	__u16 type;
	__u32 size;
	__u64 key;           /* as in pal_hdr.cgroup_key */
	__u32 flags;         /* PAL_F_CGROUP_TRUNCATED, PAL_F_CGROUP_V1 */
	__u32 depth;         /* slots of name[] filled, leaf first */
	char name[PAL_CGROUP_DEPTH][PAL_CGROUP_NAME_LEN];
};

/* The one variable-size record: exec records are most of a busy node's volume, and their
 * strings are mostly short, so they travel packed (≈ 100-300 bytes instead of 1.6 KiB: the
 * ring buffer holds that many more of them). h.size = PAL_EXEC_FIXED + filename_len +
 * cwd_len + args_len. */
struct pal_exec {
	struct pal_hdr h;
	__u32 args_len;      /* bytes of argv in data: NUL-separated */
	__u32 old_tid;
	__u32 tty;           /* controlling tty as /proc/PID/stat tty_nr; 0 = none */
	__u32 exec_flags;    /* PAL_EXEC_* */
	__u16 filename_len;  /* bytes of the filename in data, no NUL */
	__u16 cwd_len;       /* bytes of the cwd after it, no NUL */
	__u32 pad;
	/* filename as passed to execve (may be relative), cwd relative to the task's root
	 * (container view), argv: back to back, only the bytes used are sent. */
	char data[PAL_FILENAME_LEN + PAL_CWD_LEN + PAL_ARGS_LEN];
};
#define PAL_EXEC_FIXED 104 /* bytes before data */

/* PAL_REC_CONNECT, PAL_REC_ACCEPT, PAL_REC_LISTEN. For accept, saddr/sport are the local
 * end and daddr/dport the peer; for listen, saddr/sport is the bound address. */
struct pal_connect {
	struct pal_hdr h;
	__u16 family;        /* AF_INET (2) or AF_INET6 (10) */
	__u16 dport;         /* host order */
	__u16 sport;         /* host order; 0 when not bound yet (TCP connect, see palisade.bpf.c) */
	__u16 pad;
	__u32 protocol;      /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u32 pad2;
	__u8 saddr[16];      /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct pal_exit {
	struct pal_hdr h;
	__u32 exit_code;     /* raw wait status: (code << 8) | signal */
	__u32 pad;
};

/* PAL_REC_FILE_OPEN, PAL_REC_FILE_UNLINK, PAL_REC_FILE_TRUNCATE */
struct pal_file {
	struct pal_hdr h;
	__u32 open_flags;    /* open(2) flags as passed (0 for unlink/truncate) */
	__u32 matched;       /* PAL_ON_* bits of the pattern that matched */
	__u32 pattern;       /* index of that pattern */
	__u32 pad;
	char path[PAL_PATH_LEN]; /* absolute, relative to the task's root */
};

struct pal_ptrace {
	struct pal_hdr h;
	__s64 request;
	__u32 target_vpid;   /* pid as the caller passed it (its own pid namespace) */
	__u32 target_tgid;   /* host pid of the target's process; 0 when not found */
	char target_comm[PAL_COMM_LEN];
};

struct pal_mount {
	struct pal_hdr h;
	__u64 flags;         /* MS_* as passed */
	char source[PAL_STR_LEN];
	char target[PAL_STR_LEN]; /* absolute when the call was relative to the cwd */
	char fstype[PAL_FSTYPE_LEN];
};

/* PAL_REC_UNSHARE (flags = CLONE_NEW* passed), PAL_REC_SETNS (flags = namespace type
 * joined: nstype as passed or, when 0, the type of the namespace file). */
struct pal_ns {
	struct pal_hdr h;
	__u32 flags;
	__s32 fd;            /* setns only */
};

struct pal_module {
	struct pal_hdr h;
	char name[PAL_MODNAME_LEN]; /* empty: user space derives it from path */
	char path[PAL_STR_LEN];     /* finit_module's file; empty for init_module */
};

struct pal_memfd {
	struct pal_hdr h;
	char name[PAL_STR_LEN];     /* memfd_create name (without the "memfd:" prefix) */
};

/* PAL_REC_SETUID and PAL_REC_CAPSET: credentials after the successful call. */
struct pal_cred {
	struct pal_hdr h;
	__u32 which;         /* PAL_CRED_*: what the call could change */
	__u32 pad;
	__u32 ruid, euid, suid, fsuid;
	__u32 rgid, egid, sgid, fsgid;
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
};

struct pal_bpf {
	struct pal_hdr h;
	__u32 cmd;
	__u32 prog_type;     /* BPF_PROG_LOAD only; else 0 */
};

/* Loader records. */
struct pal_ready {
	__u16 version;
	__u16 type;
	__u32 size;
	__u32 loader_pid;
	__u32 types_mask;    /* record types whose programs are all attached */
	__u64 realtime_ns;   /* CLOCK_REALTIME and CLOCK_BOOTTIME read together, */
	__u64 boottime_ns;   /* so user space can turn ts_boot_ns into wall time */
	__u32 requested_mask; /* record types asked for (the difference: kernel lacks a hook) */
	__u32 npatterns;     /* file watch patterns loaded */
};

struct pal_counters {
	__u16 version;
	__u16 type;
	__u32 size;
	__u64 realtime_ns;
	__u64 boottime_ns;
	__u64 records_out;   /* records the loader wrote to stdout */
	__u64 kernel[PAL_NCOUNTERS]; /* summed over CPUs, index type*NKINDS+kind */
};

/* One file watch pattern (kernel configuration, not a record). */
struct pal_pattern {
	__u8 len;
	__u8 kind;           /* PAL_PAT_* */
	__u8 on;             /* PAL_ON_* */
	__u8 pad;
	char s[PAL_PATTERN_LEN];
};

_Static_assert(sizeof(struct pal_hdr) == 80, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, cgroup_id) == 40, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, cgroup_key) == 56, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, comm) == 64, "pal_hdr layout");
_Static_assert(sizeof(struct pal_cgroup) == 24 + PAL_CGROUP_DEPTH * PAL_CGROUP_NAME_LEN, "pal_cgroup layout");
_Static_assert(sizeof(struct pal_exec) == 1640, "pal_exec layout");
_Static_assert(__builtin_offsetof(struct pal_exec, tty) == 88, "pal_exec layout");
_Static_assert(__builtin_offsetof(struct pal_exec, filename_len) == 96, "pal_exec layout");
_Static_assert(__builtin_offsetof(struct pal_exec, data) == PAL_EXEC_FIXED, "pal_exec layout");
_Static_assert(sizeof(struct pal_connect) == 128, "pal_connect layout");
_Static_assert(__builtin_offsetof(struct pal_connect, saddr) == 96, "pal_connect layout");
_Static_assert(sizeof(struct pal_exit) == 88, "pal_exit layout");
_Static_assert(sizeof(struct pal_file) == 608, "pal_file layout");
_Static_assert(__builtin_offsetof(struct pal_file, path) == 96, "pal_file layout");
_Static_assert(sizeof(struct pal_ptrace) == 112, "pal_ptrace layout");
_Static_assert(sizeof(struct pal_mount) == 664, "pal_mount layout");
_Static_assert(__builtin_offsetof(struct pal_mount, target) == 344, "pal_mount layout");
_Static_assert(__builtin_offsetof(struct pal_mount, fstype) == 600, "pal_mount layout");
_Static_assert(sizeof(struct pal_ns) == 88, "pal_ns layout");
_Static_assert(sizeof(struct pal_module) == 400, "pal_module layout");
_Static_assert(sizeof(struct pal_memfd) == 336, "pal_memfd layout");
_Static_assert(sizeof(struct pal_cred) == 144, "pal_cred layout");
_Static_assert(sizeof(struct pal_bpf) == 88, "pal_bpf layout");
_Static_assert(sizeof(struct pal_ready) == 40, "pal_ready layout");
_Static_assert(sizeof(struct pal_counters) == 32 + 8 * PAL_NCOUNTERS, "pal_counters layout");
_Static_assert(sizeof(struct pal_pattern) == 64, "pal_pattern layout");

#endif
