/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire format shared by the eBPF programs (palisade.bpf.c), the loader helper
 * (native/loader.c) and the TypeScript decoder (src/records.ts). Every record is a
 * fixed-layout little-endian struct that starts with {version, type, size}; the decoder
 * reads fields at fixed offsets, so any change here must bump PAL_VERSION and be mirrored
 * in src/records.ts (the _Static_asserts below pin the offsets the decoder relies on).
 *
 * Include after vmlinux.h (BPF side) or <linux/types.h> (user side): only __u8.. __u64
 * and __s32 are used.
 */
#ifndef PALISADE_H
#define PALISADE_H

#define PAL_VERSION 1

/* Record types coming from the kernel. */
#define PAL_REC_EXEC 1
#define PAL_REC_CONNECT 2
#define PAL_REC_EXIT 3
#define PAL_NTYPES 4 /* index 0 unused, so counters are indexed by record type */

/* Record types made by the loader itself (never by the kernel). */
#define PAL_REC_READY 0x100
#define PAL_REC_COUNTERS 0x101

/* Per-type counter kinds kept in the per-CPU array map `counters` (index type*NKINDS+kind). */
#define PAL_CNT_SEEN 0     /* the hook ran for a task that passed the self filter */
#define PAL_CNT_FILTERED 1 /* dropped on purpose by an in-kernel filter */
#define PAL_CNT_DROPPED 2  /* ring buffer full: bpf_ringbuf_reserve failed */
#define PAL_CNT_NKINDS 3
#define PAL_NCOUNTERS (PAL_NTYPES * PAL_CNT_NKINDS)

/* Bit masks for the type filter (1 << record type). */
#define PAL_TYPE_BIT(t) (1u << (t))

/* Container/host filter modes. */
#define PAL_MODE_ALL 0
#define PAL_MODE_CONTAINER 1 /* only tasks outside the initial pid namespace */
#define PAL_MODE_HOST 2      /* only tasks in the initial pid namespace */

/* Record flags. */
#define PAL_F_ARGS_TRUNCATED (1u << 0)
#define PAL_F_CGROUP_TRUNCATED (1u << 1) /* deeper than PAL_CGROUP_DEPTH levels */
#define PAL_F_CGROUP_V1 (1u << 2)        /* path taken from the v1 memory hierarchy */
#define PAL_F_FILENAME_TRUNCATED (1u << 3)

#define PAL_COMM_LEN 16
#define PAL_CGROUP_DEPTH 6 /* slots, leaf first */
#define PAL_CGROUP_NAME_LEN 128
#define PAL_FILENAME_LEN 256
#define PAL_ARGS_LEN 512
#define PAL_MAX_PREFIXES 4
#define PAL_PREFIX_LEN 64

struct pal_hdr {
	__u16 version;
	__u16 type;
	__u32 size;          /* of the whole record */
	__u64 ts_boot_ns;    /* bpf_ktime_get_boot_ns() */
	__u32 tgid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 pidns_level;   /* 0 = initial pid namespace (host) */
	__u64 cgroup_id;     /* cgroup v2 id (inode number of the cgroup directory) */
	__u32 flags;
	__u32 cgroup_depth;  /* slots of cgroup[] filled, leaf first */
	char comm[PAL_COMM_LEN];
	char cgroup[PAL_CGROUP_DEPTH][PAL_CGROUP_NAME_LEN];
};

struct pal_exec {
	struct pal_hdr h;
	__u32 args_len;      /* bytes of args[] used: NUL-separated argv */
	__u32 old_tid;
	char filename[PAL_FILENAME_LEN];
	char args[PAL_ARGS_LEN];
};

struct pal_connect {
	struct pal_hdr h;
	__u16 family;        /* AF_INET (2) or AF_INET6 (10) */
	__u16 dport;         /* host order */
	__u16 sport;         /* host order; 0 when not bound yet (see palisade.bpf.c) */
	__u16 pad;
	__u32 protocol;      /* IPPROTO_TCP (6) */
	__u32 pad2;
	__u8 saddr[16];      /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

struct pal_exit {
	struct pal_hdr h;
	__u32 exit_code;     /* raw wait status: (code << 8) | signal */
	__u32 pad;
};

/* Loader records. */
struct pal_ready {
	__u16 version;
	__u16 type;
	__u32 size;
	__u32 loader_pid;
	__u32 types_mask;    /* record types attached */
	__u64 realtime_ns;   /* CLOCK_REALTIME and CLOCK_BOOTTIME read together, */
	__u64 boottime_ns;   /* so user space can turn ts_boot_ns into wall time */
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

_Static_assert(sizeof(struct pal_hdr) == 840, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, cgroup_id) == 40, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, comm) == 56, "pal_hdr layout");
_Static_assert(__builtin_offsetof(struct pal_hdr, cgroup) == 72, "pal_hdr layout");
_Static_assert(sizeof(struct pal_exec) == 1616, "pal_exec layout");
_Static_assert(__builtin_offsetof(struct pal_exec, filename) == 848, "pal_exec layout");
_Static_assert(__builtin_offsetof(struct pal_exec, args) == 1104, "pal_exec layout");
_Static_assert(sizeof(struct pal_connect) == 888, "pal_connect layout");
_Static_assert(__builtin_offsetof(struct pal_connect, saddr) == 856, "pal_connect layout");
_Static_assert(sizeof(struct pal_exit) == 848, "pal_exit layout");
_Static_assert(sizeof(struct pal_ready) == 32, "pal_ready layout");
_Static_assert(sizeof(struct pal_counters) == 32 + 8 * PAL_NCOUNTERS, "pal_counters layout");

#endif
