// SPDX-License-Identifier: Apache-2.0
/*
 * palisade-sensor-loader: loads the Palisade eBPF programs (via the bpftool-generated
 * skeleton), attaches them, and copies ring-buffer records to stdout as length-prefixed
 * binary frames: [u32 little-endian length][record bytes]. Decoding is done in
 * TypeScript; this helper never formats events as text.
 *
 * Protocol:
 *   stdout: frames. First a PAL_REC_READY record once every program is attached, then
 *           kernel records, and a PAL_REC_COUNTERS record every --counters-ms and on
 *           request. Diagnostics (libbpf warnings, errors) go to stderr as text.
 *   stdin:  'c' = emit a counters record now; 'q' or EOF = exit. Exiting on EOF means
 *           the helper cannot outlive the process that spawned it. 'f' + 16 hex digits +
 *           '\n' = forget that cgroup key (user space dropped its path): the kernel side
 *           sends the path again the next time a record carries the key.
 *   SIGTERM/SIGINT: flush, emit a final counters record, detach, exit 0.
 *
 * Options: --types exec,connect,...  (names below; default exec,connect,exit)
 *          --mode all|container|host
 *          --prefix PATH        exec filename prefix filter (repeat, up to 4)
 *          --watch ON:PATTERN   file pattern (repeat, up to 64). ON is a set of letters:
 *                               r = every open, w = opens for writing, e = erase (unlink,
 *                               truncate, open with O_TRUNC). PATTERN is a path prefix in
 *                               which '*' matches within one component (/home/x/.ssh/), or
 *                               '*' then a suffix matched at the end of the path.
 *          --ringbuf-kb N  (power of two, default 16384)
 *          --batch-ms N    read the ring buffer every N ms while records flow (default 5;
 *                          backing off to 20*N, at most 200 ms, when none come), the kernel
 *                          waking the loader early only for a backlog of 1/16 of the ring
 *                          buffer. Waking a reader per record costs the traced task more
 *                          than writing the record (an inter-processor interrupt). 0: the
 *                          kernel wakes the loader for the first record after each read.
 *          --counters-ms N (0 = off).
 * Syscall tracepoints need tracefs: when it is not mounted the loader mounts it at
 * /sys/kernel/tracing. A program whose hook the kernel lacks (init_module without
 * CONFIG_MODULES, open(2) on arm64) is skipped; the ready record tells which types are
 * attached.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "palisade.h"
#include "palisade.skel.h"

static volatile sig_atomic_t stop_requested;
static __u64 records_out;
static int out_broken;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("palisade-sensor-loader: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* Output buffer: frames are batched and written once per poll round, so a burst of events
 * costs few syscalls. When the reader is slow, write() blocks, the ring buffer fills and
 * the kernel counts the drops: back-pressure ends in a counter, never in unbounded memory. */
static unsigned char outbuf[1024 * 1024];
static size_t outlen;

static void flush_out(void)
{
	size_t off = 0;
	while (off < outlen && !out_broken) {
		ssize_t n = write(STDOUT_FILENO, outbuf + off, outlen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			out_broken = 1; /* EPIPE: the reader is gone */
			break;
		}
		off += (size_t)n;
	}
	outlen = 0;
}

static void emit(const void *data, __u32 len)
{
	if (outlen + 4 + len > sizeof(outbuf))
		flush_out();
	unsigned char *p = outbuf + outlen;
	p[0] = len & 0xff;
	p[1] = (len >> 8) & 0xff;
	p[2] = (len >> 16) & 0xff;
	p[3] = (len >> 24) & 0xff;
	memcpy(p + 4, data, len);
	outlen += 4 + len;
	records_out++;
}

/* A bigger stdout buffer lets the loader keep reading the ring buffer while the reader is
 * busy for a moment. Node hands a child a unix socketpair as its "pipe", other parents a
 * real pipe; both are tried. Best effort: without CAP_NET_ADMIN the socket buffer stays
 * capped by net.core.wmem_max, a pipe by fs.pipe-max-size. */
static void enlarge_stdout(void)
{
	int size = 4 * 1024 * 1024;
	if (setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == 0)
		return;
	if (errno != ENOTSOCK) {
		setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		return;
	}
	if (fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1024 * 1024) < 0)
		fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 256 * 1024);
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= 8 && size <= 64 * 1024)
		emit(data, (__u32)size);
	return 0;
}

static void emit_counters(struct palisade_bpf *skel, int ncpu)
{
	struct pal_counters c;
	memset(&c, 0, sizeof(c));
	c.version = PAL_VERSION;
	c.type = PAL_REC_COUNTERS;
	c.size = sizeof(c);
	c.realtime_ns = clock_ns(CLOCK_REALTIME);
	c.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	if (!vals)
		die("out of memory");
	int fd = bpf_map__fd(skel->maps.counters);
	for (__u32 k = 0; k < PAL_NCOUNTERS; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) != 0)
			continue;
		for (int i = 0; i < ncpu; i++)
			c.kernel[k] += vals[i];
	}
	free(vals);
	c.records_out = records_out + 1; /* counts this record too */
	emit(&c, sizeof(c));
}

/* Commands on stdin, one byte each except 'f' + 16 hex digits + '\n' (forget a cgroup key),
 * which may arrive split over reads. */
struct stdin_parser {
	int in_forget; /* digits of a forget command read so far + 1; 0 = none pending */
	__u64 key;
};

/* Feeds one byte; returns the command completed by it ('c', 'q', 'f') or 0. */
static int stdin_command(struct stdin_parser *p, char ch)
{
	if (p->in_forget) {
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d >= 0 && p->in_forget <= 16) {
			p->key = (p->key << 4) | (__u64)d;
			p->in_forget++;
			return 0;
		}
		int done = ch == '\n' && p->in_forget == 17;
		p->in_forget = 0;
		if (done)
			return 'f';
		/* Malformed: dropped, and the byte is read as a command of its own. */
	}
	if (ch == 'f') {
		p->in_forget = 1;
		p->key = 0;
		return 0;
	}
	return ch == 'c' || ch == 'q' ? ch : 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

struct type_name {
	const char *name;
	__u32 type;
};

static const struct type_name TYPE_NAMES[] = {
	{ "exec", PAL_REC_EXEC },
	{ "connect", PAL_REC_CONNECT },
	{ "exit", PAL_REC_EXIT },
	{ "accept", PAL_REC_ACCEPT },
	{ "listen", PAL_REC_LISTEN },
	{ "open", PAL_REC_FILE_OPEN },
	{ "unlink", PAL_REC_FILE_UNLINK },
	{ "truncate", PAL_REC_FILE_TRUNCATE },
	{ "ptrace", PAL_REC_PTRACE },
	{ "mount", PAL_REC_MOUNT },
	{ "unshare", PAL_REC_UNSHARE },
	{ "setns", PAL_REC_SETNS },
	{ "module", PAL_REC_MODULE },
	{ "memfd_exec", PAL_REC_MEMFD_EXEC },
	{ "setuid", PAL_REC_SETUID },
	{ "capset", PAL_REC_CAPSET },
	{ "bpf", PAL_REC_BPF },
};
#define NTYPE_NAMES (sizeof(TYPE_NAMES) / sizeof(TYPE_NAMES[0]))

static __u32 parse_types(const char *s)
{
	__u32 mask = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		__u32 bit = 0;
		for (size_t i = 0; i < NTYPE_NAMES; i++)
			if (!strcmp(t, TYPE_NAMES[i].name))
				bit = PAL_TYPE_BIT(TYPE_NAMES[i].type);
		if (!bit)
			die("unknown event type '%s' (exec, connect, exit, accept, listen, open, unlink, truncate, "
			    "ptrace, mount, unshare, setns, module, memfd_exec, setuid, capset, bpf)",
			    t);
		mask |= bit;
	}
	free(copy);
	if (!mask)
		die("--types needs at least one event type");
	return mask;
}

/* --watch ON:PATTERN into a kernel pattern (see the header comment). */
static void parse_watch(const char *v, struct pal_pattern *p)
{
	const char *colon = strchr(v, ':');
	if (!colon || colon == v)
		die("--watch '%s': expected ON:PATTERN, ON being letters of r, w, e", v);
	memset(p, 0, sizeof(*p));
	for (const char *c = v; c < colon; c++) {
		if (*c == 'r')
			p->on |= PAL_ON_OPEN;
		else if (*c == 'w')
			p->on |= PAL_ON_WRITE;
		else if (*c == 'e')
			p->on |= PAL_ON_ERASE;
		else
			die("--watch '%s': unknown operation letter '%c' (r, w, e)", v, *c);
	}
	const char *pat = colon + 1;
	if (pat[0] == '*') {
		p->kind = PAL_PAT_SUFFIX;
		pat++;
		if (strchr(pat, '*'))
			die("--watch '%s': a suffix pattern has one leading '*' only", v);
	} else if (pat[0] != '/') {
		die("--watch '%s': the pattern must start with '/' (prefix) or '*' (suffix)", v);
	}
	size_t len = strlen(pat);
	if (len == 0 || len >= PAL_PATTERN_LEN)
		die("--watch '%s': the pattern must be 1..%d bytes", v, PAL_PATTERN_LEN - 1);
	p->len = (__u8)len;
	memcpy(p->s, pat, len);
}

/* Program name -> the record types it serves, and whether its hook may be missing on
 * some kernels without making the type unavailable. */
struct prog_info {
	const char *name;
	__u32 types;
	int optional;
};

#define T(x) PAL_TYPE_BIT(PAL_REC_##x)
static const struct prog_info PROGS[] = {
	{ "handle_exec", T(EXEC) | T(MEMFD_EXEC), 0 },
	{ "handle_connect", T(CONNECT), 0 },
	{ "handle_exit", T(EXIT), 0 },
	{ "sys_enter_connect", T(CONNECT), 0 },
	{ "sys_exit_connect", T(CONNECT), 0 },
	{ "sys_exit_accept", T(ACCEPT), 0 },
	{ "sys_exit_accept4", T(ACCEPT), 0 },
	{ "sys_enter_listen", T(LISTEN), 0 },
	{ "sys_exit_listen", T(LISTEN), 0 },
	{ "sys_enter_openat", T(FILE_OPEN), 0 },
	{ "sys_exit_openat", T(FILE_OPEN), 0 },
	{ "sys_enter_openat2", T(FILE_OPEN), 1 },
	{ "sys_exit_openat2", T(FILE_OPEN), 1 },
	{ "sys_enter_open", T(FILE_OPEN), 1 },
	{ "sys_exit_open", T(FILE_OPEN), 1 },
	{ "sys_enter_creat", T(FILE_OPEN), 1 },
	{ "sys_exit_creat", T(FILE_OPEN), 1 },
	{ "sys_enter_unlinkat", T(FILE_UNLINK), 0 },
	{ "sys_exit_unlinkat", T(FILE_UNLINK), 0 },
	{ "sys_enter_unlink", T(FILE_UNLINK), 1 },
	{ "sys_exit_unlink", T(FILE_UNLINK), 1 },
	{ "sys_enter_truncate", T(FILE_TRUNCATE), 0 },
	{ "sys_exit_truncate", T(FILE_TRUNCATE), 0 },
	{ "sys_enter_ftruncate", T(FILE_TRUNCATE), 0 },
	{ "sys_exit_ftruncate", T(FILE_TRUNCATE), 0 },
	{ "sys_enter_ptrace", T(PTRACE), 0 },
	{ "sys_exit_ptrace", T(PTRACE), 0 },
	{ "sys_enter_mount", T(MOUNT), 0 },
	{ "sys_exit_mount", T(MOUNT), 0 },
	{ "sys_enter_unshare", T(UNSHARE), 0 },
	{ "sys_exit_unshare", T(UNSHARE), 0 },
	{ "sys_enter_setns", T(SETNS), 0 },
	{ "sys_exit_setns", T(SETNS), 0 },
	/* Absent without CONFIG_MODULES: the type is then unavailable (none attached). */
	{ "sys_enter_finit_module", T(MODULE), 1 },
	{ "sys_exit_finit_module", T(MODULE), 1 },
	{ "sys_enter_init_module", T(MODULE), 1 },
	{ "sys_exit_init_module", T(MODULE), 1 },
	{ "sys_enter_setuid", T(SETUID), 0 },
	{ "sys_exit_setuid", T(SETUID), 0 },
	{ "sys_enter_setreuid", T(SETUID), 0 },
	{ "sys_exit_setreuid", T(SETUID), 0 },
	{ "sys_enter_setresuid", T(SETUID), 0 },
	{ "sys_exit_setresuid", T(SETUID), 0 },
	{ "sys_enter_setgid", T(SETUID), 0 },
	{ "sys_exit_setgid", T(SETUID), 0 },
	{ "sys_enter_setregid", T(SETUID), 0 },
	{ "sys_exit_setregid", T(SETUID), 0 },
	{ "sys_enter_setresgid", T(SETUID), 0 },
	{ "sys_exit_setresgid", T(SETUID), 0 },
	{ "sys_exit_capset", T(CAPSET), 0 },
	{ "sys_enter_bpf", T(BPF), 0 },
	{ "sys_exit_bpf", T(BPF), 0 },
};
#undef T
#define NPROGS (sizeof(PROGS) / sizeof(PROGS[0]))

static const struct prog_info *prog_info(const char *name)
{
	for (size_t i = 0; i < NPROGS; i++)
		if (!strcmp(PROGS[i].name, name))
			return &PROGS[i];
	return NULL;
}

/* Syscall tracepoints are attached through tracefs; mount it where libbpf looks. */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0)
		fprintf(stderr, "palisade-sensor-loader: cannot mount tracefs at /sys/kernel/tracing: %s\n",
			strerror(errno));
}

/* Detaching a tracepoint waits for an RCU grace period (~60 ms here); one after the other
 * that is seconds for ~50 hooks, so detach from several threads and let the waits overlap. */
#define DETACH_THREADS 8
struct detach_job {
	struct bpf_link **links;
	size_t n, first;
};

static void *detach_some(void *arg)
{
	struct detach_job *j = arg;
	for (size_t i = j->first; i < j->n; i += DETACH_THREADS)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

static void destroy_links(struct bpf_link **links, size_t n)
{
	pthread_t th[DETACH_THREADS];
	struct detach_job jobs[DETACH_THREADS];
	int started[DETACH_THREADS] = { 0 };
	for (size_t t = 0; t < DETACH_THREADS; t++) {
		jobs[t] = (struct detach_job){ .links = links, .n = n, .first = t };
		started[t] = pthread_create(&th[t], NULL, detach_some, &jobs[t]) == 0;
		if (!started[t])
			detach_some(&jobs[t]); /* no thread: do that share here */
	}
	for (size_t t = 0; t < DETACH_THREADS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
}

/* "tracepoint/CATEGORY/NAME" -> does tracefs have events/CATEGORY/NAME? */
static int tracepoint_exists(const char *sec)
{
	const char *tp = strchr(sec, '/');
	if (!tp)
		return 0;
	char path[256];
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s", tp + 1);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s", tp + 1);
	return access(path, F_OK) == 0;
}

int main(int argc, char **argv)
{
	__u32 types = PAL_TYPE_BIT(PAL_REC_EXEC) | PAL_TYPE_BIT(PAL_REC_CONNECT) | PAL_TYPE_BIT(PAL_REC_EXIT);
	__u32 mode = PAL_MODE_ALL;
	const char *prefixes[PAL_MAX_PREFIXES];
	__u32 nprefixes = 0;
	static struct pal_pattern patterns[PAL_MAX_PATTERNS];
	__u32 npatterns = 0;
	long ringbuf_kb = 16384, counters_ms = 1000, batch_ms = 5;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("option %s needs a value", a);
		if (!strcmp(a, "--types"))
			types = parse_types(v);
		else if (!strcmp(a, "--mode")) {
			if (!strcmp(v, "all"))
				mode = PAL_MODE_ALL;
			else if (!strcmp(v, "container"))
				mode = PAL_MODE_CONTAINER;
			else if (!strcmp(v, "host"))
				mode = PAL_MODE_HOST;
			else
				die("unknown mode '%s' (all, container, host)", v);
		} else if (!strcmp(a, "--prefix")) {
			if (nprefixes >= PAL_MAX_PREFIXES)
				die("at most %d --prefix options", PAL_MAX_PREFIXES);
			if (strlen(v) == 0 || strlen(v) >= PAL_PREFIX_LEN)
				die("--prefix must be 1..%d bytes", PAL_PREFIX_LEN - 1);
			prefixes[nprefixes++] = v;
		} else if (!strcmp(a, "--watch")) {
			if (npatterns >= PAL_MAX_PATTERNS)
				die("at most %d --watch options", PAL_MAX_PATTERNS);
			parse_watch(v, &patterns[npatterns++]);
		} else if (!strcmp(a, "--ringbuf-kb")) {
			ringbuf_kb = strtol(v, NULL, 10);
			/* The ring buffer must be a power-of-two number of pages. */
			if (ringbuf_kb < 4 || ringbuf_kb > 1024 * 1024 || (ringbuf_kb & (ringbuf_kb - 1)))
				die("--ringbuf-kb must be a power of two between 4 and 1048576");
		} else if (!strcmp(a, "--batch-ms")) {
			batch_ms = strtol(v, NULL, 10);
			if (batch_ms < 0 || batch_ms > 1000)
				die("--batch-ms must be between 0 and 1000");
		} else if (!strcmp(a, "--counters-ms")) {
			counters_ms = strtol(v, NULL, 10);
			if (counters_ms < 0)
				die("--counters-ms must be >= 0");
		} else
			die("unknown option %s", a);
		i++;
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR and the loop ends */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	libbpf_set_print(libbpf_print);

	struct palisade_bpf *skel = palisade_bpf__open();
	if (!skel)
		die("opening BPF object failed: %s", strerror(errno));
	skel->rodata->cfg_types = types;
	skel->rodata->cfg_mode = mode;
	skel->rodata->cfg_self_tgid = (__u32)getpid();
	skel->rodata->cfg_nprefixes = nprefixes;
	for (__u32 i = 0; i < nprefixes; i++)
		strncpy((char *)skel->rodata->cfg_prefixes[i], prefixes[i], PAL_PREFIX_LEN - 1);
	skel->rodata->cfg_npatterns = npatterns;
	memcpy((void *)skel->rodata->cfg_patterns, patterns, sizeof(patterns));
	bpf_map__set_max_entries(skel->maps.events, (__u32)ringbuf_kb * 1024);
	/* With batching the loader polls; the kernel wakes it early only for a backlog of a
	 * sixteenth of the ring buffer. Without, every record may wake it (adaptive). */
	skel->rodata->cfg_wakeup_bytes = batch_ms ? (__u64)ringbuf_kb * 1024 / 16 : 0;

	/* Programs for types not asked for are not loaded at all. */
	int need_tracefs = 0;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const struct prog_info *pi = prog_info(bpf_program__name(prog));
		if (!pi)
			die("program %s is missing from the loader's table", bpf_program__name(prog));
		int load = (pi->types & types) != 0;
		bpf_program__set_autoload(prog, load);
		if (load && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT)
			need_tracefs = 1;
	}
	if (need_tracefs)
		ensure_tracefs();
	/* A syscall tracepoint this kernel lacks (CONFIG_MODULES=n, no open(2) on arm64):
	 * not loaded at all, and its type counts as unavailable unless the hook is optional. */
	__u32 missing = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog) || bpf_program__type(prog) != BPF_PROG_TYPE_TRACEPOINT)
			continue;
		if (!tracepoint_exists(bpf_program__section_name(prog))) {
			const struct prog_info *pi = prog_info(bpf_program__name(prog));
			bpf_program__set_autoload(prog, 0);
			if (!pi->optional)
				missing |= pi->types;
		}
	}

	int err = palisade_bpf__load(skel);
	if (err)
		die("loading BPF programs failed: %s (root or CAP_BPF+CAP_PERFMON needed, kernel BTF at /sys/kernel/btf/vmlinux)",
		    strerror(-err));

	/* Attach one by one: a missing hook costs its type, not the whole sensor. */
	struct bpf_link *links[NPROGS];
	size_t nlinks = 0;
	__u32 attached = 0, failed = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		const struct prog_info *pi = prog_info(bpf_program__name(prog));
		struct bpf_link *l = bpf_program__attach(prog);
		if (!l) {
			int e = errno;
			if (!pi->optional)
				failed |= pi->types;
			fprintf(stderr, "palisade-sensor-loader: %s not attached: %s%s\n", bpf_program__name(prog),
				strerror(e), pi->optional ? " (optional hook)" : "");
			continue;
		}
		links[nlinks++] = l;
		attached |= pi->types;
	}
	__u32 types_attached = types & attached & ~failed & ~missing;
	if (!types_attached)
		die("no event type could be attached");

	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb)
		die("ring buffer setup failed: %s", strerror(errno));
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		die("cannot count CPUs");

	struct pal_ready ready = {
		.version = PAL_VERSION,
		.type = PAL_REC_READY,
		.size = sizeof(ready),
		.loader_pid = (__u32)getpid(),
		.types_mask = types_attached,
		.requested_mask = types,
		.npatterns = npatterns,
	};
	ready.realtime_ns = clock_ns(CLOCK_REALTIME);
	ready.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	emit(&ready, sizeof(ready));
	flush_out();

	enlarge_stdout();

	struct pollfd fds[2] = {
		{ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	struct stdin_parser in = { 0 };
	int keys_fd = bpf_map__fd(skel->maps.cgroup_keys);
	__u64 next_counters = counters_ms ? clock_ns(CLOCK_MONOTONIC) + (__u64)counters_ms * 1000000ull : 0;
	/* Poll period: batch_ms while records flow, doubling up to idle_ms when none came. */
	int idle_ms = batch_ms ? (batch_ms * 20 < 200 ? batch_ms * 20 : 200) : 200;
	int timeout = idle_ms;
	while (!stop_requested && !out_broken) {
		/* Bounded wait so periodic counters go out even when nothing happens. */
		int n = poll(fds, 2, timeout);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		/* Consume whatever is there regardless of why poll returned. */
		int got = ring_buffer__consume(rb);
		if (got < 0 && !stop_requested)
			fprintf(stderr, "palisade-sensor-loader: ring buffer consume failed\n");
		if (batch_ms)
			timeout = got > 0 ? (int)batch_ms : (timeout * 2 < idle_ms ? timeout * 2 : idle_ms);
		if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char cmds[256];
			ssize_t r = read(STDIN_FILENO, cmds, sizeof(cmds));
			if (r <= 0) {
				if (r == 0 || errno != EINTR)
					stop_requested = 1; /* parent closed stdin: go away */
			} else {
				for (ssize_t i = 0; i < r; i++) {
					int cmd = stdin_command(&in, cmds[i]);
					if (cmd == 'c')
						emit_counters(skel, ncpu);
					else if (cmd == 'q')
						stop_requested = 1;
					else if (cmd == 'f')
						bpf_map_delete_elem(keys_fd, &in.key); /* ENOENT: already gone */
				}
			}
		}
		if (next_counters && clock_ns(CLOCK_MONOTONIC) >= next_counters) {
			emit_counters(skel, ncpu);
			next_counters = clock_ns(CLOCK_MONOTONIC) + (__u64)counters_ms * 1000000ull;
		}
		flush_out();
	}

	/* Drain what the kernel already produced, then a final counters record. */
	ring_buffer__consume(rb);
	emit_counters(skel, ncpu);
	flush_out();
	/* End of stream for the reader now: detaching below takes an RCU grace period per
	 * tracepoint (seconds in all), and the reader need not wait for it. */
	close(STDOUT_FILENO);
	ring_buffer__free(rb);
	destroy_links(links, nlinks);
	palisade_bpf__destroy(skel);
	return 0;
}
