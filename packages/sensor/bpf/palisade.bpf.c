// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Palisade runtime sensor, kernel side. CO-RE: field offsets come from the running
 * kernel's BTF (vmlinux.h is generated at build time, relocations are resolved by libbpf
 * at load time), so one object runs on every kernel with BTF and no kernel module.
 *
 * Hooks (all BTF tracepoints: no kprobes, no trampolines, no kernel module):
 * tp_btf/sched_process_exec (exec), tp_btf/inet_sock_set_state (TCP connect, as the
 * CLOSE -> SYN_SENT transition), tp_btf/sched_process_exit (exit of a thread-group leader). Each event is one fixed-layout record (palisade.h)
 * reserved in place in a BPF ring buffer: no text formatting in the kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "palisade.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

/* Configuration, fixed before load by the loader (read-only data: the verifier treats it
 * as constants, so disabled branches cost nothing). */
const volatile __u32 cfg_types = PAL_TYPE_BIT(PAL_REC_EXEC) | PAL_TYPE_BIT(PAL_REC_CONNECT) |
				 PAL_TYPE_BIT(PAL_REC_EXIT);
const volatile __u32 cfg_mode = PAL_MODE_ALL;
const volatile __u32 cfg_self_tgid = 0;
const volatile __u32 cfg_nprefixes = 0;
const volatile char cfg_prefixes[PAL_MAX_PREFIXES][PAL_PREFIX_LEN] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024); /* the loader may resize before load */
} events SEC(".maps");

/* Per-CPU so counting never contends; the loader sums over CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* kernfs_node->parent was renamed __parent in 6.15; both flavours let libbpf pick the
 * field that exists on the running kernel, whichever kernel vmlinux.h came from. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline void count(__u32 type, __u32 kind)
{
	__u32 key = type * PAL_CNT_NKINDS + kind;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		*v += 1; /* per-CPU slot, no atomics needed */
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static __always_inline __u32 pidns_level(struct task_struct *task)
{
	return BPF_CORE_READ(task, thread_pid, level);
}

/* Type, self and container/host filters: everything that can be decided before
 * reserving ring-buffer space. Returns false when the event must not be emitted. */
static __always_inline bool pass_early(__u32 type, struct task_struct *task, __u32 tgid)
{
	if (!(cfg_types & PAL_TYPE_BIT(type)))
		return false;
	if (cfg_self_tgid && tgid == cfg_self_tgid)
		return false; /* never report the loader's own activity */
	count(type, PAL_CNT_SEEN);
	if (cfg_mode != PAL_MODE_ALL) {
		bool in_container = pidns_level(task) > 0;
		if ((cfg_mode == PAL_MODE_CONTAINER) != in_container) {
			count(type, PAL_CNT_FILTERED);
			return false;
		}
	}
	return true;
}

static __always_inline void fill_cgroup(struct pal_hdr *h, struct task_struct *task)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	struct kernfs_node *parent = kn ? kn_parent(kn) : NULL;

	h->cgroup_id = bpf_get_current_cgroup_id();
	if (!parent) {
		/* In the root of the v2 hierarchy: on a cgroup v1 (or hybrid) host the container
		 * runtime may only have used the v1 controllers, so take the memory controller's
		 * cgroup, which every runtime sets up. */
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		if (id >= 0 && id < CGROUP_SUBSYS_COUNT) {
			kn = BPF_CORE_READ(task, cgroups, subsys[id], cgroup, kn);
			parent = kn ? kn_parent(kn) : NULL;
			if (parent)
				h->flags |= PAL_F_CGROUP_V1;
		}
	}
	h->cgroup_depth = 0;
	for (int i = 0; i < PAL_CGROUP_DEPTH; i++) {
		if (!kn)
			break;
		parent = kn_parent(kn);
		if (!parent)
			break; /* kn is the root: its name is not part of the path */
		const char *name = BPF_CORE_READ(kn, name);
		bpf_probe_read_kernel_str(h->cgroup[i], PAL_CGROUP_NAME_LEN, name);
		h->cgroup_depth = i + 1;
		kn = parent;
	}
	if (kn && kn_parent(kn))
		h->flags |= PAL_F_CGROUP_TRUNCATED;
}

static __always_inline void fill_hdr(struct pal_hdr *h, __u32 type, __u32 size, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();

	h->version = PAL_VERSION;
	h->type = type;
	h->size = size;
	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)ugid;
	h->gid = ugid >> 32;
	h->pidns_level = pidns_level(task);
	h->flags = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	fill_cgroup(h, task);
}

/* True when `s` starts with one of the configured prefixes (or none is configured). */
static __always_inline bool match_prefix(const char *s)
{
	if (cfg_nprefixes == 0)
		return true;
	for (int p = 0; p < PAL_MAX_PREFIXES; p++) {
		if (p >= cfg_nprefixes)
			break;
		bool ok = true;
		for (int i = 0; i < PAL_PREFIX_LEN; i++) {
			char c = cfg_prefixes[p][i];
			if (c == 0)
				break;
			if (s[i] != c) {
				ok = false;
				break;
			}
		}
		if (ok)
			return true;
	}
	return false;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!pass_early(PAL_REC_EXEC, task, tgid))
		return 0;

	struct pal_exec *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(PAL_REC_EXEC, PAL_CNT_DROPPED);
		return 0;
	}
	fill_hdr(&e->h, PAL_REC_EXEC, sizeof(*e), task);
	e->old_tid = old_pid;

	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	if (n == sizeof(e->filename))
		e->h.flags |= PAL_F_FILENAME_TRUNCATED; /* may also be exactly full; rare */
	if (n < 0)
		e->filename[0] = 0;

	/* Path-prefix filter needs the filename, so it runs after reserving; a filtered
	 * record is discarded, which frees the space without waking user space. */
	if (!match_prefix(e->filename)) {
		count(PAL_REC_EXEC, PAL_CNT_FILTERED);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}

	/* argv as the new image sees it: the NUL-separated strings between arg_start and
	 * arg_end of the new mm, bounded to PAL_ARGS_LEN bytes. */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > PAL_ARGS_LEN) {
		len = PAL_ARGS_LEN;
		e->h.flags |= PAL_F_ARGS_TRUNCATED;
	}
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)arg_start) == 0)
		e->args_len = len;

	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define IPPROTO_TCP 6

/*
 * TCP connect: the CLOSE -> SYN_SENT transition, which tcp_v4_connect/tcp_v6_connect make
 * in the context of the connecting process (so current is the right task and its cgroup
 * is the right container). fentry/fexit on tcp_v{4,6}_connect would see the chosen source
 * port, but trampolines are refused on some kernels (EPERM here) and kprobes are often
 * compiled out, while BTF tracepoints are always there. Cost of the choice: the ephemeral
 * source port is assigned just after this transition, so sport is 0 unless the socket was
 * bound before connect().
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_connect, const struct sock *sk, const int oldstate, const int newstate)
{
	if (oldstate != TCP_CLOSE || newstate != TCP_SYN_SENT)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!pass_early(PAL_REC_CONNECT, task, tgid))
		return 0;

	struct pal_connect *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(PAL_REC_CONNECT, PAL_CNT_DROPPED);
		return 0;
	}
	fill_hdr(&e->h, PAL_REC_CONNECT, sizeof(*e), task);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	e->protocol = IPPROTO_TCP;
	e->pad = 0;
	e->pad2 = 0;
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		/* A v6 socket connecting to a v4-mapped address shows up here as AF_INET6
		 * with ::ffff:a.b.c.d addresses; the decoder keeps them as v6. */
		/* &array: the macro reads sizeof(*dst) bytes, so pass the whole 16-byte array. */
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	/* One record per process, not per thread. */
	if ((__u32)pid_tgid != tgid)
		return 0;
	if (!pass_early(PAL_REC_EXIT, task, tgid))
		return 0;

	struct pal_exit *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(PAL_REC_EXIT, PAL_CNT_DROPPED);
		return 0;
	}
	fill_hdr(&e->h, PAL_REC_EXIT, sizeof(*e), task);
	/* For a group exit (exit_group, fatal signal) the status is the group's. */
	unsigned int sflags = BPF_CORE_READ(task, signal, flags);
	if (sflags & 0x00000004 /* SIGNAL_GROUP_EXIT */)
		e->exit_code = BPF_CORE_READ(task, signal, group_exit_code);
	else
		e->exit_code = BPF_CORE_READ(task, exit_code);
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
