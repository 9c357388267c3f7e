// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Palisade runtime sensor, kernel side. CO-RE: field offsets come from the running
 * kernel's BTF (vmlinux.h is generated at build time, relocations are resolved by libbpf
 * at load time), so one object runs on every kernel with BTF and no kernel module.
 *
 * Hooks: no kprobes and no fentry/fexit (compiled out or refused on some kernels), only
 * tracepoints:
 *   tp_btf/sched_process_exec    exec (+ memfd exec), with cwd, tty, overlay upper layer
 *   tp_btf/sched_process_exit    exit of a thread-group leader
 *   tp_btf/inet_sock_set_state   TCP connect (CLOSE -> SYN_SENT)
 *   tracepoint/syscalls/sys_{enter,exit}_*   everything else: the enter half stashes the
 *       arguments in a per-thread LRU hash, the exit half emits only when the call
 *       succeeded (failed calls are counted as filtered).
 * Each event is one fixed-layout record (palisade.h) reserved in place in a BPF ring
 * buffer: no text formatting in the kernel. Records carry a cgroup key; the cgroup's path
 * goes once per key in a record of its own (ensure_cgroup). Records are submitted without
 * waking the reader, which polls (submit). File events are filtered in the kernel
 * against a table of path patterns, so opens that match nothing never reach user space.
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
#define AT_FDCWD -100
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6
#define NSFS_MAGIC 0x6e736673
#define CLONE_NEW_MASK (0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000)
#define PATH_DEPTH 32 /* dentry levels walked before a path is called truncated */
#define PATH_MASK (PAL_PATH_LEN - 1)

/* Configuration, fixed before load by the loader (read-only data: the verifier treats it
 * as constants, so disabled branches cost nothing). */
const volatile __u32 cfg_types = PAL_TYPE_BIT(PAL_REC_EXEC) | PAL_TYPE_BIT(PAL_REC_CONNECT) |
				 PAL_TYPE_BIT(PAL_REC_EXIT);
const volatile __u32 cfg_mode = PAL_MODE_ALL;
const volatile __u32 cfg_self_tgid = 0;
const volatile __u32 cfg_nprefixes = 0;
const volatile char cfg_prefixes[PAL_MAX_PREFIXES][PAL_PREFIX_LEN] = {};
const volatile __u32 cfg_npatterns = 0;
/* Wake the loader only once this much is waiting (0: the kernel's adaptive wakeup). */
const volatile __u64 cfg_wakeup_bytes = 0;
const volatile struct pal_pattern cfg_patterns[PAL_MAX_PATTERNS] = {};
/* bpf(2) commands reported (bit = cmd): the ones that load or attach code or create
 * objects, not the map reads and writes agents make all the time. */
const volatile __u64 cfg_bpf_cmds = (1ull << 0) /* MAP_CREATE */ | (1ull << 5) /* PROG_LOAD */ |
				    (1ull << 8) /* PROG_ATTACH */ | (1ull << 9) /* PROG_DETACH */ |
				    (1ull << 17) /* RAW_TRACEPOINT_OPEN */ | (1ull << 18) /* BTF_LOAD */ |
				    (1ull << 28) /* LINK_CREATE */ | (1ull << 29) /* LINK_UPDATE */ |
				    (1ull << 36) /* TOKEN_CREATE */;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* the loader may resize before load */
} events SEC(".maps");

/* Per-CPU so counting never contends; the loader sums over CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Syscall arguments from enter to exit, per thread. LRU: a thread killed inside a syscall
 * never reaches the exit half, and its entry must not stay forever. */
struct stash {
	__u64 a[4];
	__u32 uid;
	__u32 gid;
	__u32 kind; /* record type of the syscall that stashed it */
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct stash);
} args SEC(".maps");

/* Cgroup keys whose path user space has been sent (see ensure_cgroup). LRU: a key that
 * drops out is simply sent again; user space keeps more keys than this and, when it
 * forgets one, tells the loader to delete it here. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_keys SEC(".maps");

/* Paths resolved at syscall entry (unlink, truncate, finit_module: the file may be gone at
 * exit), only for calls that matched a pattern, so this map stays small. */
struct pending {
	__u32 matched;
	__u32 pattern;
	__u32 flags; /* header flags (truncation) */
	__u32 pad;
	char path[PAL_PATH_LEN];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct pending);
} pending SEC(".maps");

/* Per-CPU scratch space for path building: too big for the 512-byte BPF stack. Both
 * buffers are twice PAL_PATH_LEN so that (offset & PATH_MASK) + (length & PATH_MASK)
 * always lies inside them, which is what the verifier checks. */
struct scratch {
	char walk[PAL_PATH_LEN * 2]; /* built backwards from the leaf */
	char path[PAL_PATH_LEN * 2]; /* the result, from index 0 */
	char tmp[PAL_PATH_LEN];      /* a user-space path argument */
	struct pending pend;
	struct pal_exec exec;        /* built here, then copied out at its packed size */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* kernfs_node->parent was renamed __parent in 6.15; both flavours let libbpf pick the
 * field that exists on the running kernel, whichever kernel vmlinux.h came from. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* overlayfs' in-memory inode (fs/overlayfs/ovl_entry.h). Declared here, not taken from
 * vmlinux.h, because overlay may be a module whose types vmlinux.h lacks; libbpf finds
 * the type in vmlinux or module BTF at load time. */
struct ovl_inode___pal {
	struct inode vfs_inode;
	struct dentry *__upperdentry;
} __attribute__((preserve_access_index));

/* Namespace type: ns_common.ns_type since 6.18, proc_ns_operations.type before. */
struct ns_common___new {
	u32 ns_type;
} __attribute__((preserve_access_index));
struct proc_ns_operations___old {
	int type;
} __attribute__((preserve_access_index));
struct ns_common___old {
	const struct proc_ns_operations___old *ops;
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

static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* Type, self and container/host filters: everything that can be decided before any
 * work. Returns false when the event must not be emitted. */
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

static __always_inline bool pass_current(__u32 type)
{
	return pass_early(type, current_task(), bpf_get_current_pid_tgid() >> 32);
}

/* The cgroup a record is attributed to: key and flags for the header, and how to find
 * the path again (the v2 cgroup, or the v1 memory cgroup). */
struct cg {
	__u64 id;  /* v2 id */
	__u64 key; /* pal_hdr.cgroup_key */
	__u32 flags;
	__u32 pad;
};

/* v1 memory cgroup of the task, or NULL (no memory controller). */
static __always_inline struct kernfs_node *v1_memory_kn(struct task_struct *task)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	if (id < 0 || id >= CGROUP_SUBSYS_COUNT)
		return NULL;
	return BPF_CORE_READ(task, cgroups, subsys[id], cgroup, kn);
}

static __always_inline void cgroup_of(struct task_struct *task, struct cg *cg)
{
	cg->id = bpf_get_current_cgroup_id();
	cg->key = cg->id;
	cg->flags = 0;
	cg->pad = 0;
	/* 1 is the root of the v2 hierarchy (kernfs ids start at 1 on 64-bit). A task there
	 * on a cgroup v1 (or hybrid) host may only have been placed by its runtime in the v1
	 * controllers, so take the memory controller's cgroup, which every runtime sets up. */
	if (cg->id != 1)
		return;
	struct kernfs_node *kn = v1_memory_kn(task);
	if (kn && kn_parent(kn)) {
		cg->key = BPF_CORE_READ(kn, id) | PAL_CGROUP_KEY_V1;
		cg->flags = PAL_F_CGROUP_V1;
	}
}

/*
 * Makes sure user space has the path of cg->key before a record carrying it: the first
 * time a key is seen (per the LRU map cgroup_keys), a PAL_REC_CGROUP record is written
 * ahead of the caller's record. The key goes into the map only after the path record is
 * submitted, so a record reserved on another CPU after it sees the key in the map lies
 * after the path record in the ring buffer. Returns 0 when the ring buffer is full: the
 * caller then drops its record too, so no record reaches user space with an unknown key.
 */
static __noinline int ensure_cgroup(struct task_struct *task, struct cg *cg)
{
	__u64 key = cg->key;
	if (bpf_map_lookup_elem(&cgroup_keys, &key))
		return 1;
	bool v1 = cg->flags & PAL_F_CGROUP_V1;
	struct kernfs_node *kn = v1 ? v1_memory_kn(task) : BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	/* The path and the key must name the same cgroup: if the task was moved since the key
	 * was read, the record describes where it is now. */
	__u64 now = kn ? BPF_CORE_READ(kn, id) | (v1 ? PAL_CGROUP_KEY_V1 : 0) : key;
	if (now != key) {
		key = now;
		cg->key = now;
		if (!v1)
			cg->id = now;
		if (bpf_map_lookup_elem(&cgroup_keys, &key))
			return 1;
	}
	struct pal_cgroup *c = bpf_ringbuf_reserve(&events, sizeof(*c), 0);
	if (!c) {
		count(PAL_REC_CGROUP, PAL_CNT_DROPPED);
		return 0;
	}
	c->version = PAL_VERSION;
	c->type = PAL_REC_CGROUP;
	c->size = sizeof(*c);
	c->key = key;
	c->flags = cg->flags;
	c->depth = 0;
	for (int i = 0; i < PAL_CGROUP_DEPTH; i++) {
		if (!kn)
			break;
		struct kernfs_node *parent = kn_parent(kn);
		if (!parent)
			break; /* kn is the root: its name is not part of the path */
		const char *name = BPF_CORE_READ(kn, name);
		if (bpf_probe_read_kernel_str(c->name[i], PAL_CGROUP_NAME_LEN, name) < 0)
			c->name[i][0] = 0;
		c->depth = i + 1;
		kn = parent;
	}
	if (kn && kn_parent(kn))
		c->flags |= PAL_F_CGROUP_TRUNCATED;
	bpf_ringbuf_submit(c, BPF_RB_NO_WAKEUP); /* the caller's record follows */
	__u8 one = 1;
	bpf_map_update_elem(&cgroup_keys, &key, &one, BPF_ANY);
	count(PAL_REC_CGROUP, PAL_CNT_SEEN);
	return 1;
}

static __noinline void fill_hdr(struct pal_hdr *h, __u32 type, __u32 size, struct task_struct *task,
				struct cg *cg)
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
	h->cgroup_id = cg->id;
	h->flags = cg->flags;
	h->pad = 0;
	h->cgroup_key = cg->key;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * Submits a record. Waking the reader costs more than writing the record (an irq_work,
 * which is an inter-processor interrupt: ~2 µs in a VM, more than the whole exit program),
 * and the kernel's adaptive wakeup does it for nearly every record when records come
 * one by one. So records go in silently and the loader polls the ring buffer every few ms
 * while records flow; only a backlog of cfg_wakeup_bytes wakes it at once.
 */
static __always_inline __u64 wakeup_flags(void)
{
	if (!cfg_wakeup_bytes)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP
										 : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *rec)
{
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* Reserves a record of `size` bytes (after the cgroup path record when the key is new) and
 * fills its header; counts a drop when the ring buffer is full. */
static __always_inline void *reserve(__u32 type, __u32 size, struct task_struct *task)
{
	struct cg cg;
	cgroup_of(task, &cg);
	if (!ensure_cgroup(task, &cg)) {
		count(type, PAL_CNT_DROPPED);
		return NULL;
	}
	struct pal_hdr *h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count(type, PAL_CNT_DROPPED);
		return NULL;
	}
	fill_hdr(h, type, size, task, &cg);
	return h;
}

/* ---- paths ---------------------------------------------------------------------------- */

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline struct mount *real_mount(struct vfsmount *m)
{
	return (struct mount *)((void *)m - bpf_core_field_offset(struct mount, mnt));
}

struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 pos;
	__u32 done;
};

/* One level of the walk below (a bpf_loop callback: verified once, not per level). */
static long walk_step(__u32 i, struct walk_ctx *w)
{
	struct scratch *s = get_scratch();
	if (!s)
		return 1;
	/* Locals, not w->x inside BPF_CORE_READ: the macro would relocate walk_ctx too. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	if (!dentry || (dentry == w->root_dentry && vfsmnt == w->root_mnt)) {
		w->done = 1;
		return 1;
	}
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || !mp || mp == mnt) {
			w->done = 1; /* the global root, or a detached tree */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mp;
		w->vfsmnt = (struct vfsmount *)((void *)mp + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	struct qstr q;
	BPF_CORE_READ_INTO(&q, dentry, d_name);
	__u32 len = q.len;
	__u32 pos = w->pos;
	/* Keep pos >= 1 so the final copy never reads PAL_PATH_LEN bytes. */
	if (len + 2 > pos)
		return 1; /* does not fit: done stays 0, the path is truncated */
	pos -= len;
	bpf_probe_read_kernel(&s->walk[pos & PATH_MASK], len & PATH_MASK, q.name);
	pos -= 1;
	s->walk[pos & PATH_MASK] = '/';
	w->pos = pos;
	w->dentry = parent;
	return 0;
}

/*
 * The path of (dentry, vfsmnt) as seen from the task's root (so a container process gets
 * its own view: /etc/shadow, not the overlay directory on the host), written to
 * s->path. Walks d_parent up to PATH_DEPTH levels, crossing mount points through
 * mnt_mountpoint/mnt_parent like d_path(). Returns the length (without the NUL); sets
 * PAL_F_PATH_TRUNCATED in *flags when the path did not fit or was too deep.
 */
static __noinline int walk_path(struct scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt,
				struct task_struct *task, __u32 *flags)
{
	struct walk_ctx w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = real_mount(vfsmnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.pos = PAL_PATH_LEN - 1,
		.done = 0,
	};
	s->walk[PAL_PATH_LEN - 1] = 0;
	bpf_loop(PATH_DEPTH, walk_step, &w, 0);
	if (!w.done)
		*flags |= PAL_F_PATH_TRUNCATED;
	__u32 pos = w.pos;
	if (pos > PAL_PATH_LEN - 1 || pos < 1)
		return -1;
	if (pos == PAL_PATH_LEN - 1) {
		pos--;
		s->walk[pos & PATH_MASK] = '/';
	}
	__u32 n = PAL_PATH_LEN - pos; /* with the NUL, 2..PAL_PATH_LEN-1 */
	bpf_probe_read_kernel(s->path, n & PATH_MASK, &s->walk[pos & PATH_MASK]);
	return (int)(n - 1);
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	if (fd < 0)
		return NULL;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline int file_path(struct scratch *s, struct file *f, struct task_struct *task, __u32 *flags)
{
	return walk_path(s, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), task, flags);
}

/*
 * Resolves a path argument of a *at() call to an absolute path in s->path: absolute
 * arguments as given, relative ones appended to the directory of `dfd` (or the cwd).
 * Not normalised ("..", symlinks stay as written). Returns the length or -1.
 */
static __noinline int resolve_at(struct scratch *s, struct task_struct *task, long dfd, const char *upath,
				 __u32 *flags)
{
	long n = bpf_probe_read_user_str(s->path, PAL_PATH_LEN, upath);
	if (n <= 0)
		return -1;
	if (s->path[0] == '/') {
		if (n == PAL_PATH_LEN)
			*flags |= PAL_F_PATH_TRUNCATED;
		return (int)(n - 1);
	}
	n = bpf_probe_read_user_str(s->tmp, PAL_PATH_LEN, upath);
	if (n <= 0)
		return -1;
	int len;
	if (dfd == AT_FDCWD) {
		len = walk_path(s, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), task, flags);
	} else {
		struct file *f = fd_file(task, dfd);
		if (!f)
			return -1;
		len = file_path(s, f, task, flags);
	}
	__u32 off = len;
	if (off > PAL_PATH_LEN - 3) {
		*flags |= PAL_F_PATH_TRUNCATED;
		return len;
	}
	if (off != 1) { /* "/" + name, not "//" + name */
		s->path[off & PATH_MASK] = '/';
		off++;
	}
	long m = bpf_probe_read_kernel_str(&s->path[off & PATH_MASK], (PAL_PATH_LEN - off) & PATH_MASK, s->tmp);
	if (m <= 0)
		return (int)off;
	if (off + m >= PAL_PATH_LEN - 1 && m > 1)
		*flags |= PAL_F_PATH_TRUNCATED;
	return (int)(off + m - 1);
}

/* ---- file pattern matching -------------------------------------------------------------- */

struct match_ctx {
	__u32 len;     /* of the path in scratch.path */
	__u32 want;    /* PAL_ON_* bits this operation counts as */
	__u32 pattern; /* out */
	__u32 matched; /* out: the pattern's PAL_ON_* bits, 0 = no match */
};

struct glob_ctx {
	__u64 pat;    /* pattern index */
	__u32 i;      /* position in the pattern */
	__u32 result; /* 0 = undecided, 1 = match, 2 = no match */
};

static __always_inline __u64 mask63(__u64 v)
{
	/* In asm: the compiler drops a C mask it can prove redundant, the verifier cannot. */
	asm volatile("%0 &= 63" : "+r"(v));
	return v;
}

/* One path character of a prefix match (a bpf_loop callback over the path). '*' matches a
 * run of characters other than '/', i.e. within one path component. */
static long glob_step(__u32 j, struct glob_ctx *g)
{
	struct scratch *s = get_scratch();
	if (!s) {
		g->result = 2;
		return 1;
	}
	const volatile char *pat = cfg_patterns[mask63(g->pat)].s;
	__u32 i = g->i;
	if (i >= PAL_PATTERN_LEN - 1) {
		g->result = 1;
		return 1;
	}
	char c = pat[mask63(i)];
	if (c == 0) {
		g->result = 1;
		return 1;
	}
	char d = s->path[j & PATH_MASK];
	if (c == '*') {
		if (d != 0 && d != '/')
			return 0; /* the star takes this character */
		i++;
		c = pat[mask63(i)];
		if (i >= PAL_PATTERN_LEN - 1 || c == 0) {
			g->result = 1;
			return 1;
		}
	}
	if (d != c) {
		g->result = 2;
		return 1;
	}
	g->i = i + 1;
	return 0;
}

static __always_inline bool match_prefix_glob(__u32 idx)
{
	struct glob_ctx g = { .pat = idx, .i = 0, .result = 0 };
	bpf_loop(PAL_PATH_LEN, glob_step, &g, 0);
	return g.result == 1;
}

static __always_inline bool match_suffix(const char *path, __u32 len, const volatile char *pat, __u32 plen)
{
	if (plen > len || plen > PAL_PATTERN_LEN)
		return false;
	__u32 base = len - plen;
	for (__u32 i = 0; i < PAL_PATTERN_LEN; i++) {
		if (i >= plen)
			return true;
		if (path[(base + i) & PATH_MASK] != pat[mask63(i)])
			return false;
	}
	return true;
}

static long match_one(__u32 idx, struct match_ctx *m)
{
	if (idx >= PAL_MAX_PATTERNS || idx >= cfg_npatterns)
		return 1;
	const volatile struct pal_pattern *p = &cfg_patterns[mask63(idx)];
	if (!(p->on & m->want))
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 1;
	bool ok;
	if (p->kind == PAL_PAT_SUFFIX)
		ok = match_suffix(s->path, m->len, p->s, p->len);
	else
		ok = match_prefix_glob(idx);
	if (ok) {
		m->pattern = idx;
		m->matched = p->on;
		return 1; /* first match wins */
	}
	return 0;
}

/* Looks the path in scratch.path up in the pattern table (bpf_loop: the callback is
 * verified once, however many patterns there are). */
static __always_inline __u32 match_path(__u32 len, __u32 want, __u32 *pattern)
{
	struct match_ctx m = { .len = len, .want = want };
	if (cfg_npatterns == 0)
		return 0;
	bpf_loop(PAL_MAX_PATTERNS, match_one, &m, 0);
	*pattern = m.pattern;
	return m.matched;
}

/* ---- stash ------------------------------------------------------------------------------- */

static __always_inline void stash_args(__u32 kind, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	__u64 key = bpf_get_current_pid_tgid();
	__u64 ugid = bpf_get_current_uid_gid();
	struct stash v = { .a = { a0, a1, a2, a3 }, .uid = (__u32)ugid, .gid = ugid >> 32, .kind = kind };
	bpf_map_update_elem(&args, &key, &v, BPF_ANY);
}

/* Takes the stashed arguments of this thread's syscall (copied: the entry is deleted).
 * The kind check drops an entry left by a thread that died inside another syscall and
 * whose id was reused. */
static __always_inline bool take_args(__u32 kind, struct stash *out)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct stash *v = bpf_map_lookup_elem(&args, &key);
	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&args, &key);
	return out->kind == kind;
}

/* ---- exec, exit, TCP connect ------------------------------------------------------------ */

/* True when `s` starts with one of the configured prefixes (or none is configured). */
static __always_inline bool match_exec_prefix(const char *s)
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

/* /proc/PID/stat's tty_nr: new_encode_dev(MKDEV(driver major, minor_start) + index). */
static __always_inline __u32 tty_nr(struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (!tty)
		return 0;
	__u32 major = BPF_CORE_READ(tty, driver, major);
	__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/*
 * Binary drift: an executable on overlayfs whose overlay inode has an upper dentry was
 * written (created or modified) in the container's writable layer after the container
 * started; one from the image only has lower dentries.
 */
static __always_inline __u32 exe_layer_flags(struct inode *inode)
{
	if (BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return 0;
	if (!bpf_core_type_exists(struct ovl_inode___pal))
		return PAL_EXEC_OVERLAY;
	struct ovl_inode___pal *oi =
		(void *)inode - bpf_core_field_offset(struct ovl_inode___pal, vfs_inode);
	if (BPF_CORE_READ(oi, __upperdentry))
		return PAL_EXEC_OVERLAY | PAL_EXEC_UPPER;
	return PAL_EXEC_OVERLAY;
}

/* A memfd is an unlinked tmpfs (or hugetlbfs) file whose dentry is named "memfd:NAME". */
static __always_inline bool is_memfd(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return false;
	if (BPF_CORE_READ(inode, __i_nlink) != 0)
		return false;
	char pfx[6] = {};
	bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	return pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':';
}

static __always_inline void emit_memfd_exec(struct task_struct *task, struct file *f)
{
	if (!pass_early(PAL_REC_MEMFD_EXEC, task, bpf_get_current_pid_tgid() >> 32))
		return;
	struct pal_memfd *e = reserve(PAL_REC_MEMFD_EXEC, sizeof(*e), task);
	if (!e)
		return;
	const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(e->name, sizeof(e->name), name + 6) < 0)
		e->name[0] = 0;
	submit(e);
}

/* Clamps a bpf_probe_read_*_str result to the bytes before the NUL, within cap. */
static __always_inline __u32 str_len(long n, __u32 cap)
{
	if (n <= 0)
		return 0;
	if (n > cap)
		n = cap;
	return (__u32)n - 1;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct file *file = BPF_CORE_READ(bprm, file);
	bool memfd = (cfg_types & PAL_TYPE_BIT(PAL_REC_MEMFD_EXEC)) && file && is_memfd(file);

	if (!pass_early(PAL_REC_EXEC, task, tgid))
		goto out;
	struct scratch *s = get_scratch();
	if (!s)
		goto out;
	/* Built in per-CPU scratch (the strings are packed, so the size is known only at the
	 * end) and copied out with bpf_ringbuf_output: the ring buffer never holds a half
	 * written record while the paths are walked. */
	struct pal_exec *e = &s->exec;
	e->h.flags = 0;

	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->data, PAL_FILENAME_LEN, filename);
	__u32 hflags = 0;
	if (n == PAL_FILENAME_LEN)
		hflags |= PAL_F_FILENAME_TRUNCATED; /* may also be exactly full; rare */
	__u32 fn_len = str_len(n, PAL_FILENAME_LEN);
	e->data[fn_len] = 0;

	/* Path-prefix filter (needs the filename). */
	if (!match_exec_prefix(e->data)) {
		count(PAL_REC_EXEC, PAL_CNT_FILTERED);
		goto out;
	}

	/* cwd right after the filename. */
	__u32 cwd_len = 0;
	{
		__u32 flags = 0;
		int plen = walk_path(s, BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), task,
				     &flags);
		if (plen >= PAL_CWD_LEN)
			flags |= PAL_F_PATH_TRUNCATED;
		if (plen >= 0)
			cwd_len = str_len(bpf_probe_read_kernel_str(&e->data[fn_len], PAL_CWD_LEN, s->path),
					  PAL_CWD_LEN);
		hflags |= flags;
	}

	/* argv as the new image sees it: the NUL-separated strings between arg_start and
	 * arg_end of the new mm, bounded to PAL_ARGS_LEN bytes, after the cwd. */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > PAL_ARGS_LEN) {
		len = PAL_ARGS_LEN;
		hflags |= PAL_F_ARGS_TRUNCATED;
	}
	__u32 off = fn_len + cwd_len;
	e->args_len = 0;
	if (len > 0 && off <= PAL_FILENAME_LEN + PAL_CWD_LEN - 2 &&
	    bpf_probe_read_user(&e->data[off], len, (void *)arg_start) == 0)
		e->args_len = len;

	e->old_tid = old_pid;
	e->tty = tty_nr(task);
	e->exec_flags = file ? exe_layer_flags(BPF_CORE_READ(file, f_inode)) : 0;
	if (memfd)
		e->exec_flags |= PAL_EXEC_MEMFD;
	e->filename_len = fn_len;
	e->cwd_len = cwd_len;
	e->pad = 0;

	struct cg cg;
	cgroup_of(task, &cg);
	if (!ensure_cgroup(task, &cg)) {
		count(PAL_REC_EXEC, PAL_CNT_DROPPED);
		goto out;
	}
	__u32 size = PAL_EXEC_FIXED + fn_len + cwd_len + e->args_len;
	fill_hdr(&e->h, PAL_REC_EXEC, size, task, &cg);
	e->h.flags |= hflags;
	if (size > sizeof(*e) || bpf_ringbuf_output(&events, e, size, wakeup_flags()) != 0)
		count(PAL_REC_EXEC, PAL_CNT_DROPPED);
out:
	/* After the exec record, so user space already knows the process's argv. */
	if (memfd)
		emit_memfd_exec(task, file);
	return 0;
}

#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

static __always_inline void fill_net(struct pal_connect *e, const struct sock *sk, __u16 family, __u32 protocol)
{
	e->family = family;
	e->protocol = protocol;
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
		/* A v6 socket talking to a v4-mapped address shows up as AF_INET6 with
		 * ::ffff:a.b.c.d addresses; the decoder keeps them as v6. &array: the macro
		 * reads sizeof(*dst) bytes, so pass the whole 16-byte array. */
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/*
 * TCP connect: the CLOSE -> SYN_SENT transition, which tcp_v4_connect/tcp_v6_connect make
 * in the context of the connecting process (so current is the right task and its cgroup
 * is the right container). Cost of the choice: the ephemeral source port is assigned just
 * after this transition, so sport is 0 unless the socket was bound before connect().
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

	struct pal_connect *e = reserve(PAL_REC_CONNECT, sizeof(*e), task);
	if (!e)
		return 0;
	fill_net(e, sk, BPF_CORE_READ(sk, __sk_common.skc_family), IPPROTO_TCP);
	submit(e);
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

	struct pal_exit *e = reserve(PAL_REC_EXIT, sizeof(*e), task);
	if (!e)
		return 0;
	/* For a group exit (exit_group, fatal signal) the status is the group's. */
	unsigned int sflags = BPF_CORE_READ(task, signal, flags);
	if (sflags & 0x00000004 /* SIGNAL_GROUP_EXIT */)
		e->exit_code = BPF_CORE_READ(task, signal, group_exit_code);
	else
		e->exit_code = BPF_CORE_READ(task, exit_code);
	e->pad = 0;
	submit(e);
	return 0;
}

/* ---- sockets: UDP connect, accept, listen ------------------------------------------------ */

static __always_inline struct sock *fd_sock(struct task_struct *task, long fd)
{
	struct file *f = fd_file(task, fd);
	if (!f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline bool inet_family(__u16 family)
{
	return family == AF_INET || family == AF_INET6;
}

/* Emits a socket record for fd (after the call, so addresses and ports are final). */
static __always_inline void emit_sock(__u32 type, long fd, int want_protocol)
{
	struct task_struct *task = current_task();
	struct sock *sk = fd_sock(task, fd);
	__u16 family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	__u16 protocol = sk ? BPF_CORE_READ(sk, sk_protocol) : 0;
	if (!sk || !inet_family(family) || (want_protocol && protocol != want_protocol)) {
		count(type, PAL_CNT_FILTERED); /* unix sockets, raw sockets, ... */
		return;
	}
	struct pal_connect *e = reserve(type, sizeof(*e), task);
	if (!e)
		return;
	fill_net(e, sk, family, protocol);
	submit(e);
}

/* connect(2) on a UDP socket (TCP connects come from inet_sock_set_state). Checked at
 * entry so that TCP connects do not pay for a stash entry. */
SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	if (!(cfg_types & PAL_TYPE_BIT(PAL_REC_CONNECT)))
		return 0;
	struct sock *sk = fd_sock(current_task(), (long)ctx->args[0]);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	if (!pass_current(PAL_REC_CONNECT))
		return 0;
	stash_args(PAL_REC_CONNECT, ctx->args[0], 0, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_CONNECT, &a))
		return 0;
	if (ctx->ret != 0) {
		count(PAL_REC_CONNECT, PAL_CNT_FILTERED);
		return 0;
	}
	emit_sock(PAL_REC_CONNECT, (long)a.a[0], IPPROTO_UDP);
	return 0;
}

static __always_inline int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (!pass_current(PAL_REC_ACCEPT))
		return 0;
	if (ctx->ret < 0) {
		count(PAL_REC_ACCEPT, PAL_CNT_FILTERED);
		return 0;
	}
	emit_sock(PAL_REC_ACCEPT, ctx->ret, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int sys_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_LISTEN))
		return 0;
	stash_args(PAL_REC_LISTEN, ctx->args[0], 0, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int sys_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_LISTEN, &a))
		return 0;
	if (ctx->ret != 0) {
		count(PAL_REC_LISTEN, PAL_CNT_FILTERED);
		return 0;
	}
	emit_sock(PAL_REC_LISTEN, (long)a.a[0], 0);
	return 0;
}

/* ---- files ------------------------------------------------------------------------------- */

static __always_inline void stash_open(__u64 flags)
{
	if (!pass_current(PAL_REC_FILE_OPEN))
		return;
	stash_args(PAL_REC_FILE_OPEN, flags, 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	stash_open(ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	stash_open(ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_creat")
int sys_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	stash_open(O_CREAT | O_WRONLY | O_TRUNC);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0; /* struct open_how starts with the u64 flags */
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]);
	stash_open(flags);
	return 0;
}

/* An open that succeeded: the path of the new fd (symlinks resolved, as the container
 * sees it) against the patterns. Unmatched opens end here. */
static __always_inline int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_FILE_OPEN, &a))
		return 0;
	if (ctx->ret < 0) {
		count(PAL_REC_FILE_OPEN, PAL_CNT_FILTERED);
		return 0;
	}
	struct task_struct *task = current_task();
	struct scratch *s = get_scratch();
	struct file *f = fd_file(task, ctx->ret);
	if (!s || !f) {
		count(PAL_REC_FILE_OPEN, PAL_CNT_FILTERED);
		return 0;
	}
	__u32 oflags = (__u32)a.a[0];
	__u32 flags = 0, pattern = 0;
	int len = file_path(s, f, task, &flags);
	__u32 want = PAL_ON_OPEN;
	if (oflags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))
		want |= PAL_ON_WRITE;
	if (oflags & O_TRUNC)
		want |= PAL_ON_ERASE;
	__u32 matched = len > 0 ? match_path(len, want, &pattern) : 0;
	if (!matched) {
		count(PAL_REC_FILE_OPEN, PAL_CNT_FILTERED);
		return 0;
	}
	struct pal_file *e = reserve(PAL_REC_FILE_OPEN, sizeof(*e), task);
	if (!e)
		return 0;
	e->h.flags |= flags;
	e->open_flags = oflags;
	e->matched = matched;
	e->pattern = pattern;
	e->pad = 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), s->path);
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_open")
int sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int sys_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx);
}

/* Keeps a resolved path that matched an erase pattern until the call returns. */
static __always_inline void pend_erase(__u32 type, struct scratch *s, int len, __u32 flags)
{
	__u32 pattern = 0;
	__u32 matched = len > 0 ? match_path(len, PAL_ON_ERASE, &pattern) : 0;
	if (!matched) {
		count(type, PAL_CNT_FILTERED);
		return;
	}
	s->pend.matched = matched;
	s->pend.pattern = pattern;
	s->pend.flags = flags;
	s->pend.pad = 0;
	bpf_probe_read_kernel_str(s->pend.path, sizeof(s->pend.path), s->path);
	__u64 key = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &key, &s->pend, BPF_ANY);
}

static __always_inline void pend_erase_at(__u32 type, long dfd, const char *upath)
{
	if (!pass_current(type))
		return;
	struct scratch *s = get_scratch();
	if (!s)
		return;
	__u32 flags = 0;
	int len = resolve_at(s, current_task(), dfd, upath, &flags);
	pend_erase(type, s, len, flags);
}

static __always_inline int emit_pending_file(__u32 type, long ret)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &key);
	if (!p)
		return 0;
	if (ret != 0) {
		count(type, PAL_CNT_FILTERED);
		bpf_map_delete_elem(&pending, &key);
		return 0;
	}
	struct pal_file *e = reserve(type, sizeof(*e), current_task());
	if (e) {
		e->h.flags |= p->flags;
		e->open_flags = 0;
		e->matched = p->matched;
		e->pattern = p->pattern;
		e->pad = 0;
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), p->path);
		submit(e);
	}
	bpf_map_delete_elem(&pending, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int sys_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	pend_erase_at(PAL_REC_FILE_UNLINK, (long)(int)ctx->args[0], (const char *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int sys_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	pend_erase_at(PAL_REC_FILE_UNLINK, AT_FDCWD, (const char *)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int sys_exit_unlinkat(struct trace_event_raw_sys_exit *ctx)
{
	return emit_pending_file(PAL_REC_FILE_UNLINK, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_unlink")
int sys_exit_unlink(struct trace_event_raw_sys_exit *ctx)
{
	return emit_pending_file(PAL_REC_FILE_UNLINK, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_truncate")
int sys_enter_truncate(struct trace_event_raw_sys_enter *ctx)
{
	pend_erase_at(PAL_REC_FILE_TRUNCATE, AT_FDCWD, (const char *)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int sys_enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_FILE_TRUNCATE))
		return 0;
	struct task_struct *task = current_task();
	struct scratch *s = get_scratch();
	struct file *f = fd_file(task, (long)(int)ctx->args[0]);
	if (!s || !f) {
		count(PAL_REC_FILE_TRUNCATE, PAL_CNT_FILTERED);
		return 0;
	}
	__u32 flags = 0;
	int len = file_path(s, f, task, &flags);
	pend_erase(PAL_REC_FILE_TRUNCATE, s, len, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_truncate")
int sys_exit_truncate(struct trace_event_raw_sys_exit *ctx)
{
	return emit_pending_file(PAL_REC_FILE_TRUNCATE, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_ftruncate")
int sys_exit_ftruncate(struct trace_event_raw_sys_exit *ctx)
{
	return emit_pending_file(PAL_REC_FILE_TRUNCATE, ctx->ret);
}

/* ---- ptrace ------------------------------------------------------------------------------ */

#define PTRACE_TRACEME 0
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

/* Requests that take control of or change another process; reads (PEEK*, GETREGS) are
 * what debuggers do all the time and are counted as filtered. */
static __always_inline bool ptrace_reported(long req)
{
	switch (req) {
	case PTRACE_TRACEME:
	case 4:  /* POKETEXT */
	case 5:  /* POKEDATA */
	case 6:  /* POKEUSER */
	case 13: /* SETREGS */
	case 15: /* SETFPREGS */
	case PTRACE_ATTACH:
	case 0x4205: /* SETREGSET */
	case PTRACE_SEIZE:
		return true;
	}
	return false;
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int sys_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_PTRACE))
		return 0;
	if (!ptrace_reported((long)ctx->args[0])) {
		count(PAL_REC_PTRACE, PAL_CNT_FILTERED);
		return 0;
	}
	stash_args(PAL_REC_PTRACE, ctx->args[0], ctx->args[1], 0, 0);
	return 0;
}

/* The tracee with pid `vpid` (in the caller's pid namespace) among current's tracees; a
 * successful attach has just put it at the head of current->ptraced. */
static __always_inline void find_tracee(struct task_struct *task, __u32 vpid, struct pal_ptrace *e)
{
	__u32 level = BPF_CORE_READ(task, thread_pid, level);
	void *head = (void *)task + bpf_core_field_offset(struct task_struct, ptraced);
	struct list_head *pos = BPF_CORE_READ(task, ptraced.next);
	for (int i = 0; i < 16; i++) {
		if (!pos || (void *)pos == head)
			break;
		struct task_struct *t = (void *)pos - bpf_core_field_offset(struct task_struct, ptrace_entry);
		struct pid *pid = BPF_CORE_READ(t, thread_pid);
		if (pid && BPF_CORE_READ(pid, level) >= level) {
			int nr = 0;
			bpf_probe_read_kernel(&nr, sizeof(nr),
					      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
						      (__u64)level * bpf_core_type_size(struct upid));
			if ((__u32)nr == vpid) {
				e->target_tgid = BPF_CORE_READ(t, tgid);
				BPF_CORE_READ_STR_INTO(&e->target_comm, t, comm);
				return;
			}
		}
		pos = BPF_CORE_READ(pos, next);
	}
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int sys_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_PTRACE, &a))
		return 0;
	if (ctx->ret < 0) {
		count(PAL_REC_PTRACE, PAL_CNT_FILTERED);
		return 0;
	}
	struct task_struct *task = current_task();
	struct pal_ptrace *e = reserve(PAL_REC_PTRACE, sizeof(*e), task);
	if (!e)
		return 0;
	e->request = (__s64)a.a[0];
	e->target_vpid = (__u32)a.a[1];
	e->target_tgid = 0;
	e->target_comm[0] = 0;
	if (e->request == PTRACE_TRACEME) {
		/* The tracer is the parent. */
		e->target_vpid = 0;
		e->target_tgid = BPF_CORE_READ(task, real_parent, tgid);
		BPF_CORE_READ_STR_INTO(&e->target_comm, task, real_parent, comm);
	} else {
		find_tracee(task, e->target_vpid, e);
	}
	submit(e);
	return 0;
}

/* ---- mount, namespaces, modules ---------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_mount")
int sys_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_MOUNT))
		return 0;
	/* dev_name, dir_name, type, flags: user pointers stay valid until the call returns. */
	stash_args(PAL_REC_MOUNT, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int sys_exit_mount(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_MOUNT, &a))
		return 0;
	if (ctx->ret != 0) {
		count(PAL_REC_MOUNT, PAL_CNT_FILTERED);
		return 0;
	}
	struct task_struct *task = current_task();
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	__u32 flags = 0;
	int tlen = resolve_at(s, task, AT_FDCWD, (const char *)a.a[1], &flags);
	struct pal_mount *e = reserve(PAL_REC_MOUNT, sizeof(*e), task);
	if (!e)
		return 0;
	e->flags = a.a[3];
	e->source[0] = 0;
	e->target[0] = 0;
	e->fstype[0] = 0;
	if (a.a[0] && bpf_probe_read_user_str(e->source, sizeof(e->source), (void *)a.a[0]) == sizeof(e->source))
		e->h.flags |= PAL_F_PATH2_TRUNCATED;
	if (a.a[2])
		bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), (void *)a.a[2]);
	if (tlen >= 0) {
		if (tlen >= PAL_STR_LEN)
			flags |= PAL_F_PATH_TRUNCATED;
		bpf_probe_read_kernel_str(e->target, sizeof(e->target), s->path);
	}
	e->h.flags |= flags;
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unshare")
int sys_enter_unshare(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_UNSHARE))
		return 0;
	if (!(ctx->args[0] & CLONE_NEW_MASK)) {
		count(PAL_REC_UNSHARE, PAL_CNT_FILTERED); /* CLONE_FILES, CLONE_FS, ...: no namespace */
		return 0;
	}
	stash_args(PAL_REC_UNSHARE, ctx->args[0], 0, 0, 0);
	return 0;
}

static __always_inline int emit_ns(__u32 type, long ret, __u32 nsflags, __s32 fd)
{
	if (ret != 0) {
		count(type, PAL_CNT_FILTERED);
		return 0;
	}
	struct pal_ns *e = reserve(type, sizeof(*e), current_task());
	if (!e)
		return 0;
	e->flags = nsflags;
	e->fd = fd;
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_unshare")
int sys_exit_unshare(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_UNSHARE, &a))
		return 0;
	return emit_ns(PAL_REC_UNSHARE, ctx->ret, (__u32)a.a[0], -1);
}

SEC("tracepoint/syscalls/sys_enter_setns")
int sys_enter_setns(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_SETNS))
		return 0;
	__u32 nstype = (__u32)ctx->args[1];
	if (nstype == 0) {
		/* "Any type": take it from the namespace file, /proc/PID/ns/X. */
		struct file *f = fd_file(current_task(), (long)(int)ctx->args[0]);
		struct inode *inode = f ? BPF_CORE_READ(f, f_inode) : NULL;
		if (inode && BPF_CORE_READ(inode, i_sb, s_magic) == NSFS_MAGIC) {
			void *ns = BPF_CORE_READ(inode, i_private);
			if (bpf_core_field_exists(struct ns_common___new, ns_type))
				nstype = BPF_CORE_READ((struct ns_common___new *)ns, ns_type);
			else
				nstype = BPF_CORE_READ((struct ns_common___old *)ns, ops, type);
		}
	}
	stash_args(PAL_REC_SETNS, ctx->args[0], nstype, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setns")
int sys_exit_setns(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_SETNS, &a))
		return 0;
	return emit_ns(PAL_REC_SETNS, ctx->ret, (__u32)a.a[1], (__s32)a.a[0]);
}

/* Modules: the syscalls exist only on kernels with CONFIG_MODULES; the loader tolerates
 * their tracepoints being absent and reports the type as unavailable. */
SEC("tracepoint/syscalls/sys_enter_finit_module")
int sys_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_MODULE))
		return 0;
	struct task_struct *task = current_task();
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct file *f = fd_file(task, (long)(int)ctx->args[0]);
	__u32 flags = 0;
	s->path[0] = 0;
	if (f)
		file_path(s, f, task, &flags);
	s->pend.matched = 0;
	s->pend.pattern = 0;
	s->pend.flags = flags ? PAL_F_PATH2_TRUNCATED : 0;
	s->pend.pad = 0;
	bpf_probe_read_kernel_str(s->pend.path, sizeof(s->pend.path), s->path);
	__u64 key = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &key, &s->pend, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int sys_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_MODULE))
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	s->pend.matched = 0;
	s->pend.pattern = 0;
	s->pend.flags = 0;
	s->pend.path[0] = 0;
	__u64 key = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &key, &s->pend, BPF_ANY);
	return 0;
}

static __always_inline int on_module_exit(long ret)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &key);
	if (!p)
		return 0;
	if (ret != 0) {
		count(PAL_REC_MODULE, PAL_CNT_FILTERED);
	} else {
		struct pal_module *e = reserve(PAL_REC_MODULE, sizeof(*e), current_task());
		if (e) {
			e->h.flags |= p->flags;
			e->name[0] = 0;
			bpf_probe_read_kernel_str(e->path, sizeof(e->path), p->path);
			submit(e);
		}
	}
	bpf_map_delete_elem(&pending, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int sys_exit_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	return on_module_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int sys_exit_init_module(struct trace_event_raw_sys_exit *ctx)
{
	return on_module_exit(ctx->ret);
}

/* ---- credentials --------------------------------------------------------------------------- */

/* Entry: remember which ids the call changes and the ids before it (the header of the
 * record reports the process as it was before the call). */
static __always_inline void stash_cred(__u32 which)
{
	if (!pass_current(PAL_REC_SETUID))
		return;
	stash_args(PAL_REC_SETUID, which, 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int sys_enter_setuid(void *ctx)
{
	stash_cred(PAL_CRED_UID);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_setreuid")
int sys_enter_setreuid(void *ctx)
{
	stash_cred(PAL_CRED_UID);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_setresuid")
int sys_enter_setresuid(void *ctx)
{
	stash_cred(PAL_CRED_UID);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_setgid")
int sys_enter_setgid(void *ctx)
{
	stash_cred(PAL_CRED_GID);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_setregid")
int sys_enter_setregid(void *ctx)
{
	stash_cred(PAL_CRED_GID);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_setresgid")
int sys_enter_setresgid(void *ctx)
{
	stash_cred(PAL_CRED_GID);
	return 0;
}

static __always_inline void fill_cred(struct pal_cred *e, struct task_struct *task, __u32 which)
{
	const struct cred *c = BPF_CORE_READ(task, cred);
	e->which = which;
	e->pad = 0;
	e->ruid = BPF_CORE_READ(c, uid.val);
	e->euid = BPF_CORE_READ(c, euid.val);
	e->suid = BPF_CORE_READ(c, suid.val);
	e->fsuid = BPF_CORE_READ(c, fsuid.val);
	e->rgid = BPF_CORE_READ(c, gid.val);
	e->egid = BPF_CORE_READ(c, egid.val);
	e->sgid = BPF_CORE_READ(c, sgid.val);
	e->fsgid = BPF_CORE_READ(c, fsgid.val);
	/* kernel_cap_t is one u64 since 6.3 and two u32 before: 8 bytes either way. */
	bpf_probe_read_kernel(&e->cap_effective, 8, (void *)c + bpf_core_field_offset(struct cred, cap_effective));
	bpf_probe_read_kernel(&e->cap_permitted, 8, (void *)c + bpf_core_field_offset(struct cred, cap_permitted));
	bpf_probe_read_kernel(&e->cap_inheritable, 8,
			      (void *)c + bpf_core_field_offset(struct cred, cap_inheritable));
}

static __always_inline int on_setid_exit(long ret)
{
	struct stash a;
	if (!take_args(PAL_REC_SETUID, &a))
		return 0;
	if (ret != 0) {
		count(PAL_REC_SETUID, PAL_CNT_FILTERED);
		return 0;
	}
	struct task_struct *task = current_task();
	struct pal_cred *e = reserve(PAL_REC_SETUID, sizeof(*e), task);
	if (!e)
		return 0;
	e->h.uid = a.uid;
	e->h.gid = a.gid;
	fill_cred(e, task, (__u32)a.a[0]);
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setuid")
int sys_exit_setuid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}
SEC("tracepoint/syscalls/sys_exit_setreuid")
int sys_exit_setreuid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}
SEC("tracepoint/syscalls/sys_exit_setresuid")
int sys_exit_setresuid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}
SEC("tracepoint/syscalls/sys_exit_setgid")
int sys_exit_setgid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}
SEC("tracepoint/syscalls/sys_exit_setregid")
int sys_exit_setregid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}
SEC("tracepoint/syscalls/sys_exit_setresgid")
int sys_exit_setresgid(struct trace_event_raw_sys_exit *ctx)
{
	return on_setid_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_capset")
int sys_exit_capset(struct trace_event_raw_sys_exit *ctx)
{
	if (!pass_current(PAL_REC_CAPSET))
		return 0;
	if (ctx->ret != 0) {
		count(PAL_REC_CAPSET, PAL_CNT_FILTERED);
		return 0;
	}
	struct task_struct *task = current_task();
	struct pal_cred *e = reserve(PAL_REC_CAPSET, sizeof(*e), task);
	if (!e)
		return 0;
	fill_cred(e, task, PAL_CRED_CAPS);
	submit(e);
	return 0;
}

/* ---- bpf(2) ------------------------------------------------------------------------------ */

SEC("tracepoint/syscalls/sys_enter_bpf")
int sys_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	if (!pass_current(PAL_REC_BPF))
		return 0;
	__u32 cmd = (__u32)ctx->args[0];
	if (cmd >= 64 || !(cfg_bpf_cmds & (1ull << cmd))) {
		count(PAL_REC_BPF, PAL_CNT_FILTERED);
		return 0;
	}
	__u32 prog_type = 0;
	if (cmd == 5 /* BPF_PROG_LOAD: union bpf_attr starts with prog_type */)
		bpf_probe_read_user(&prog_type, sizeof(prog_type), (void *)ctx->args[1]);
	stash_args(PAL_REC_BPF, cmd, prog_type, 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int sys_exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	struct stash a;
	if (!take_args(PAL_REC_BPF, &a))
		return 0;
	if (ctx->ret < 0) {
		count(PAL_REC_BPF, PAL_CNT_FILTERED);
		return 0;
	}
	struct pal_bpf *e = reserve(PAL_REC_BPF, sizeof(*e), current_task());
	if (!e)
		return 0;
	e->cmd = (__u32)a.a[0];
	e->prog_type = (__u32)a.a[1];
	submit(e);
	return 0;
}
