/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire format of the drift enforcer: the eBPF programs (enforce.bpf.c), the enforcer
 * helper (native/enforcer.c) and the TypeScript side (src/drift-enforcer.ts). Records are
 * fixed-layout little-endian structs starting with {version, type, size}, framed on the
 * helper's stdout as [u32 LE length][record], the same framing as the sensor loader.
 * Any layout change bumps ENF_VERSION and is mirrored in src/drift-enforcer.ts (the
 * _Static_asserts pin the offsets the decoder uses).
 *
 * Include after vmlinux.h (BPF side) or <linux/types.h> (user side).
 */
#ifndef PALISADE_ENFORCE_H
#define PALISADE_ENFORCE_H

#define ENF_VERSION 1

/* Record types. */
#define ENF_REC_STOP 1        /* kernel: an exec of an upper-layer file was stopped (or would be) */
#define ENF_REC_READY 0x100   /* helper: programs attached, mechanism chosen */
#define ENF_REC_COUNTERS 0x101
#define ENF_REC_ACK 0x102     /* helper: answer to one command line on stdin */

/* How a drift exec is stopped. */
#define ENF_MECH_LSM 1    /* lsm/bprm_check_security returns -EPERM: exec fails, nothing runs */
#define ENF_MECH_SIGNAL 2 /* tp_btf/sched_process_exec sends SIGKILL: the exec succeeded but the
                           * task dies before its first user-space instruction */

/* Action in a stop record. */
#define ENF_ACT_DENIED 1 /* LSM denied the exec with -EPERM */
#define ENF_ACT_KILLED 2 /* SIGKILL sent at sched_process_exec */
#define ENF_ACT_AUDIT 3  /* audit mode: would have been stopped, was let through */

/* Stop record flags. */
#define ENF_F_PATH_TRUNCATED (1u << 0)   /* deeper than ENF_PATH_DEPTH, longer than ENF_PATH_LEN, a
                                          * component of ENF_PATH_LEN / 2 bytes or more, or on a
                                          * mount other than the task's root: only the leaf end is
                                          * known, and only any-path rules allow it */
#define ENF_F_CGROUP_TRUNCATED (1u << 1) /* more ancestors than ENF_CGROUP_DEPTH */
#define ENF_F_CGROUP_V1 (1u << 2)        /* cgroup path taken from the v1 memory hierarchy */

/* Per-CPU counters (index). */
#define ENF_CNT_EXECS 0   /* execs by tasks in a container (pid namespace level > 0) */
#define ENF_CNT_UPPER 1   /* ... of a file on an overlay upper layer (drift) */
#define ENF_CNT_ALLOWED 2 /* ... allowed by a rule */
#define ENF_CNT_STOPPED 3 /* ... stopped (or audited) */
#define ENF_CNT_LOST 4    /* stop records lost: ring buffer full (the stop itself still happened) */
#define ENF_NCOUNTERS 5

/* Allow rules: an array of ENF_MAX_RULES; a task's applicable rules are the bits of the
 * global mask OR the masks of its cgroup and every ancestor cgroup (by kernfs id). */
#define ENF_MAX_RULES 64
#define ENF_RULE_UNUSED 0
#define ENF_RULE_EXACT 1  /* path == rule */
#define ENF_RULE_PREFIX 2 /* path starts with rule */
#define ENF_RULE_ANY 3    /* every path (an image or namespace allowed as a whole) */
#define ENF_RULE_PATH_LEN 128

#define ENF_COMM_LEN 16
#define ENF_PATH_LEN 256
#define ENF_PATH_DEPTH 32      /* dentries walked */
#define ENF_CGROUP_DEPTH 8     /* ancestors whose masks are looked up */
#define ENF_CGROUP_NAMES 4     /* of which the names are recorded, leaf first */
#define ENF_CGROUP_NAME_LEN 128

struct enf_rule {
	__u32 kind;
	__u32 len; /* bytes of path used, < ENF_RULE_PATH_LEN */
	char path[ENF_RULE_PATH_LEN];
};

struct enf_stop {
	__u16 version;
	__u16 type;
	__u32 size;
	__u64 ts_boot_ns;
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 pidns_level;
	__u64 cgroup_kn_id; /* kernfs id of the task's cgroup (v2, or v1 memory with the flag) */
	__u32 action;
	__u32 flags;
	__u32 cgroup_depth; /* slots of cgroup[] filled, leaf first */
	__u32 path_len;
	char comm[ENF_COMM_LEN];
	char cgroup[ENF_CGROUP_NAMES][ENF_CGROUP_NAME_LEN];
	char path[ENF_PATH_LEN]; /* path inside the container's root filesystem */
};

struct enf_ready {
	__u16 version;
	__u16 type;
	__u32 size;
	__u32 helper_pid;
	__u32 mechanism;  /* ENF_MECH_* */
	__u32 audit;      /* 1: stops are only reported */
	__s32 lsm_errno;  /* why the LSM mechanism is not used (0 when it is) */
	__u64 realtime_ns;
	__u64 boottime_ns;
};

struct enf_counters {
	__u16 version;
	__u16 type;
	__u32 size;
	__u64 kernel[ENF_NCOUNTERS];
};

struct enf_ack {
	__u16 version;
	__u16 type;
	__u32 size;
	__u32 seq;     /* 1-based number of the command line */
	__s32 status;  /* 0 = done, otherwise a positive errno */
	char message[112];
};

_Static_assert(sizeof(struct enf_rule) == 136, "enf_rule layout");
_Static_assert(__builtin_offsetof(struct enf_stop, cgroup_kn_id) == 32, "enf_stop layout");
_Static_assert(__builtin_offsetof(struct enf_stop, comm) == 56, "enf_stop layout");
_Static_assert(__builtin_offsetof(struct enf_stop, cgroup) == 72, "enf_stop layout");
_Static_assert(__builtin_offsetof(struct enf_stop, path) == 584, "enf_stop layout");
_Static_assert(sizeof(struct enf_stop) == 840, "enf_stop layout");
_Static_assert(sizeof(struct enf_ready) == 40, "enf_ready layout");
_Static_assert(sizeof(struct enf_counters) == 8 + 8 * ENF_NCOUNTERS, "enf_counters layout");
_Static_assert(sizeof(struct enf_ack) == 128, "enf_ack layout");

#endif
