// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Palisade drift enforcement, kernel side. A task in a container (pid namespace level > 0)
 * that executes a file living on an overlayfs upper layer runs something that was not in
 * its image: binary drift. Unless an allow rule written by user space covers the file's
 * path for the task's cgroup (or globally), the exec is stopped:
 *
 *   lsm/bprm_check_security  (ENF_MECH_LSM)    returns -EPERM; the exec fails, nothing runs.
 *   tp_btf/sched_process_exec (ENF_MECH_SIGNAL) sends SIGKILL; the exec has replaced the
 *       image, but the signal is fatal and delivered before the return to user space, so
 *       not one instruction of the drifted binary runs. Used where BPF LSM programs cannot
 *       be loaded (see docs/sensor.md: trampoline programs are refused on some kernels).
 *
 * Each stop is reported as one enf_stop record in a ring buffer. CO-RE: no kernel module,
 * offsets relocated by libbpf at load time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "enforce.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define EPERM 1
#define SIGKILL 9

/* Fixed before load by the helper. */
const volatile __u32 cfg_audit = 0;
const volatile __u32 cfg_self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} stops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENF_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ENF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct enf_rule);
} rules SEC(".maps");

/* Index 0: mask of the rules that apply to every container. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} global_mask SEC(".maps");

/* kernfs id of a cgroup directory -> mask of the rules that apply to it and below. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} cgroup_masks SEC(".maps");

/* Per-CPU scratch: the path is assembled right to left in buf, so the verifier can bound
 * every access with a mask; too big for the 512-byte BPF stack. */
struct scratch {
	char buf[2 * ENF_PATH_LEN];
	char path[ENF_PATH_LEN];
	char cgroup[ENF_CGROUP_NAMES][ENF_CGROUP_NAME_LEN];
	__u64 cgroup_kn_id;
	__u32 cgroup_depth;
	__u32 path_len;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* kernfs_node->parent became __parent in 6.15: both flavours, libbpf picks what exists. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static __always_inline void count(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	if (v)
		*v += 1;
}

/* True when the file is on the upper layer of an overlay mount: written (or copied up)
 * after the container started, i.e. not as the image's layers have it. */
static __always_inline bool on_upper_layer(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return false;
	if (BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return false;
	/* The overlay inode embeds the VFS inode: container_of with a CO-RE offset. */
	struct ovl_inode *oi =
		(struct ovl_inode *)((void *)inode - bpf_core_field_offset(struct ovl_inode, vfs_inode));
	return BPF_CORE_READ(oi, __upperdentry) != NULL;
}

/* The file's path relative to the root of its mount (the container's root filesystem for
 * an overlay upper-layer file), assembled leaf to root into s->buf, then copied to s->path.
 * When the file is not on the mount the task's root is on (an overlay the container mounted
 * itself, say at /m), the walk stops at that mount's root and the mount point is missing:
 * /m/usr/local/bin/x would read /usr/local/bin/x. That path is flagged truncated as well. */
static __always_inline void build_path(struct scratch *s, struct file *file, struct task_struct *task)
{
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	__u32 pos = ENF_PATH_LEN;

	s->flags &= ~ENF_F_PATH_TRUNCATED;
	if (BPF_CORE_READ(file, f_path.mnt) != BPF_CORE_READ(task, fs, root.mnt))
		s->flags |= ENF_F_PATH_TRUNCATED;
	s->buf[ENF_PATH_LEN] = 0;
	for (int i = 0; i < ENF_PATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d)
			break;
		__u32 len = BPF_CORE_READ(d, d_name.len);
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		if (len == 0 || len >= ENF_PATH_LEN / 2 || pos < len + 1) {
			s->flags |= ENF_F_PATH_TRUNCATED;
			break;
		}
		pos -= len;
		/* A name that cannot be read leaves stale bytes from an earlier exec: not a path. */
		if (bpf_probe_read_kernel(&s->buf[pos & (ENF_PATH_LEN - 1)], len & (ENF_PATH_LEN / 2 - 1), name)) {
			s->flags |= ENF_F_PATH_TRUNCATED;
			pos += len;
			break;
		}
		pos -= 1;
		s->buf[pos & (ENF_PATH_LEN - 1)] = '/';
		d = parent;
		if (i == ENF_PATH_DEPTH - 1 && BPF_CORE_READ(d, d_parent) != d)
			s->flags |= ENF_F_PATH_TRUNCATED;
	}
	if (pos == ENF_PATH_LEN) {
		pos -= 1;
		s->buf[pos & (ENF_PATH_LEN - 1)] = '/';
	}
	s->path_len = ENF_PATH_LEN - pos;
	bpf_probe_read_kernel(s->path, ENF_PATH_LEN, &s->buf[pos & (ENF_PATH_LEN - 1)]);
}

/* Mask of the rules for the task: the global mask OR the masks of its cgroup and
 * ancestors. Also records the cgroup names (leaf first) for the stop record. */
static __always_inline __u64 rules_for_task(struct scratch *s, struct task_struct *task)
{
	__u32 zero = 0;
	__u64 mask = 0;
	__u64 *g = bpf_map_lookup_elem(&global_mask, &zero);
	if (g)
		mask = *g;

	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	s->flags &= ~(ENF_F_CGROUP_TRUNCATED | ENF_F_CGROUP_V1);
	if (!kn || !kn_parent(kn)) {
		/* In the v2 root: a cgroup v1 host; use the memory controller's hierarchy, which
		 * every runtime sets up (the same choice as the sensor). */
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		if (id >= 0 && id < CGROUP_SUBSYS_COUNT) {
			struct kernfs_node *v1 = BPF_CORE_READ(task, cgroups, subsys[id], cgroup, kn);
			if (v1 && kn_parent(v1)) {
				kn = v1;
				s->flags |= ENF_F_CGROUP_V1;
			}
		}
	}
	s->cgroup_kn_id = kn ? BPF_CORE_READ(kn, id) : 0;
	s->cgroup_depth = 0;
	for (int i = 0; i < ENF_CGROUP_DEPTH; i++) {
		if (!kn)
			break;
		struct kernfs_node *parent = kn_parent(kn);
		if (!parent)
			break; /* the root: never a container */
		__u64 id = BPF_CORE_READ(kn, id);
		__u64 *m = bpf_map_lookup_elem(&cgroup_masks, &id);
		if (m)
			mask |= *m;
		if (i < ENF_CGROUP_NAMES) {
			bpf_probe_read_kernel_str(s->cgroup[i], ENF_CGROUP_NAME_LEN, BPF_CORE_READ(kn, name));
			s->cgroup_depth = i + 1;
		}
		kn = parent;
		if (i == ENF_CGROUP_DEPTH - 1 && kn_parent(kn))
			s->flags |= ENF_F_CGROUP_TRUNCATED;
	}
	return mask;
}

struct match_ctx {
	__u64 mask;
	struct scratch *s;
	bool matched;
};

static long match_rule(__u64 i, struct match_ctx *c)
{
	if (!(c->mask & (1ull << (i & 63))))
		return 0;
	__u32 key = i;
	struct enf_rule *r = bpf_map_lookup_elem(&rules, &key);
	if (!r)
		return 1;
	__u32 kind = r->kind;
	__u32 len = r->len;
	if (kind == ENF_RULE_ANY) {
		c->matched = true;
		return 1;
	}
	if (kind != ENF_RULE_EXACT && kind != ENF_RULE_PREFIX)
		return 0;
	/* Fail closed: a truncated path is only its leaf end (a 130-byte component, a 33rd
	 * level or a mount point cuts the walk), and that end can look like an allowed directory
	 * (/tmp/<long>/usr/local/bin/x reads /usr/local/bin/x). Only an any-path rule allows it. */
	if (c->s->flags & ENF_F_PATH_TRUNCATED)
		return 0;
	if (len == 0 || len >= ENF_RULE_PATH_LEN || len > c->s->path_len)
		return 0;
	if (kind == ENF_RULE_EXACT && len != c->s->path_len)
		return 0;
	for (int j = 0; j < ENF_RULE_PATH_LEN; j++) {
		if (j >= len)
			break;
		if (r->path[j] != c->s->path[j])
			return 0;
	}
	c->matched = true;
	return 1;
}

/* The common decision. Returns the action to take (0 = let the exec through). */
static __always_inline __u32 judge(struct linux_binprm *bprm, __u32 stop_action)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (cfg_self_tgid && tgid == cfg_self_tgid)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u32 level = BPF_CORE_READ(task, thread_pid, level);
	if (level == 0)
		return 0; /* host task */
	count(ENF_CNT_EXECS);
	struct file *file = BPF_CORE_READ(bprm, file);
	if (!file || !on_upper_layer(file))
		return 0;
	count(ENF_CNT_UPPER);

	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	s->flags = 0;
	build_path(s, file, task);
	struct match_ctx c = { .mask = rules_for_task(s, task), .s = s, .matched = false };
	if (c.mask)
		bpf_loop(ENF_MAX_RULES, match_rule, &c, 0);
	if (c.matched) {
		count(ENF_CNT_ALLOWED);
		return 0;
	}
	count(ENF_CNT_STOPPED);
	__u32 action = cfg_audit ? ENF_ACT_AUDIT : stop_action;

	struct enf_stop *e = bpf_ringbuf_reserve(&stops, sizeof(*e), 0);
	if (!e) {
		count(ENF_CNT_LOST); /* the report is lost, the decision stands */
		return cfg_audit ? 0 : action;
	}
	__u64 ugid = bpf_get_current_uid_gid();
	e->version = ENF_VERSION;
	e->type = ENF_REC_STOP;
	e->size = sizeof(*e);
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->tgid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)ugid;
	e->pidns_level = level;
	e->cgroup_kn_id = s->cgroup_kn_id;
	e->action = action;
	e->flags = s->flags;
	e->cgroup_depth = s->cgroup_depth;
	e->path_len = s->path_len;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel(e->cgroup, sizeof(e->cgroup), s->cgroup);
	bpf_probe_read_kernel(e->path, sizeof(e->path), s->path);
	bpf_ringbuf_submit(e, 0);
	return cfg_audit ? 0 : action;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(enforce_lsm, struct linux_binprm *bprm, int ret)
{
	if (ret != 0)
		return ret; /* already denied by an earlier LSM */
	return judge(bprm, ENF_ACT_DENIED) ? -EPERM : 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(enforce_signal, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (judge(bprm, ENF_ACT_KILLED))
		bpf_send_signal(SIGKILL);
	return 0;
}
