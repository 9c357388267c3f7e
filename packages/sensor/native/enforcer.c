// SPDX-License-Identifier: Apache-2.0
/*
 * palisade-drift-enforcer: loads the drift enforcement programs (bpf/enforce.bpf.c, through
 * the bpftool skeleton), keeps their allow rules as told on stdin, and copies stop records
 * to stdout as [u32 LE length][record] frames (layout in bpf/enforce.h).
 *
 * Mechanism: --mechanism lsm (BPF LSM, exec fails with EPERM), signal (SIGKILL at
 * sched_process_exec) or auto (default: LSM, and signal when the kernel refuses the LSM
 * program; the ready record says which one runs and, if not LSM, the errno of the refusal).
 *
 * stdin: one command per line, each answered by an ACK record carrying the line's number:
 *   rule <index> exact|prefix <path>    rule <index> any    rule <index> unused
 *   global <hex mask>                   cgroup <kernfs id> <hex mask>   (mask 0 deletes)
 *   counters                            quit
 * EOF on stdin ends the helper (it cannot outlive its parent). When it ends, the programs
 * are detached: enforcement stops with the helper (fail-open, documented).
 * Options: --mechanism auto|lsm|signal  --audit (report, never stop)  --counters-ms N.
 */
#include <errno.h>
#include <poll.h>
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
#include "enforce.h"
#include "enforce.skel.h"

static volatile sig_atomic_t stop_requested;
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
	fputs("palisade-drift-enforcer: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static unsigned char outbuf[64 * 1024];
static size_t outlen;

static void flush_out(void)
{
	size_t off = 0;
	while (off < outlen && !out_broken) {
		ssize_t n = write(STDOUT_FILENO, outbuf + off, outlen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			out_broken = 1;
			break;
		}
		off += (size_t)n;
	}
	outlen = 0;
}

/* Largest record a frame can carry: the frame (4-byte length + record) must fit outbuf. */
#define MAX_RECORD (sizeof(outbuf) - 4)

static void emit(const void *data, __u32 len)
{
	if (len > MAX_RECORD)
		return; /* cannot be framed; callers never pass one (on_record filters) */
	if (outlen + 4 + len > sizeof(outbuf))
		flush_out();
	unsigned char *p = outbuf + outlen;
	p[0] = len & 0xff;
	p[1] = (len >> 8) & 0xff;
	p[2] = (len >> 16) & 0xff;
	p[3] = (len >> 24) & 0xff;
	memcpy(p + 4, data, len);
	outlen += 4 + len;
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
	/* A record of the full 64 KiB would overflow outbuf by its 4-byte length prefix. */
	if (size >= 8 && size <= MAX_RECORD)
		emit(data, (__u32)size);
	return 0;
}

static void emit_counters(struct enforce_bpf *skel, int ncpu)
{
	struct enf_counters c;
	memset(&c, 0, sizeof(c));
	c.version = ENF_VERSION;
	c.type = ENF_REC_COUNTERS;
	c.size = sizeof(c);
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	if (!vals)
		die("out of memory");
	int fd = bpf_map__fd(skel->maps.counters);
	for (__u32 k = 0; k < ENF_NCOUNTERS; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) != 0)
			continue;
		for (int i = 0; i < ncpu; i++)
			c.kernel[k] += vals[i];
	}
	free(vals);
	emit(&c, sizeof(c));
}

static void ack(__u32 seq, int status, const char *fmt, ...)
{
	struct enf_ack a;
	memset(&a, 0, sizeof(a));
	a.version = ENF_VERSION;
	a.type = ENF_REC_ACK;
	a.size = sizeof(a);
	a.seq = seq;
	a.status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a.message, sizeof(a.message), fmt, ap);
	va_end(ap);
	emit(&a, sizeof(a));
}

static int parse_u64(const char *s, int base, __u64 *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || !end || end == s || *end != 0)
		return -1;
	*out = v;
	return 0;
}

/* Applies one command line; answers with an ACK record. */
static void command(struct enforce_bpf *skel, int ncpu, __u32 seq, char *line)
{
	char *save = NULL;
	char *verb = strtok_r(line, " ", &save);
	if (!verb) {
		ack(seq, EINVAL, "empty command");
		return;
	}
	if (!strcmp(verb, "rule")) {
		char *idx = strtok_r(NULL, " ", &save);
		char *kind = strtok_r(NULL, " ", &save);
		char *path = save && *save ? save : NULL; /* the rest of the line: paths may hold spaces */
		__u64 i;
		if (!idx || !kind || parse_u64(idx, 10, &i) || i >= ENF_MAX_RULES) {
			ack(seq, EINVAL, "rule needs an index below %d and a kind", ENF_MAX_RULES);
			return;
		}
		struct enf_rule r;
		memset(&r, 0, sizeof(r));
		if (!strcmp(kind, "exact") || !strcmp(kind, "prefix")) {
			if (!path || path[0] != '/' || strlen(path) >= ENF_RULE_PATH_LEN) {
				ack(seq, EINVAL, "rule path must be absolute and shorter than %d bytes", ENF_RULE_PATH_LEN);
				return;
			}
			r.kind = !strcmp(kind, "exact") ? ENF_RULE_EXACT : ENF_RULE_PREFIX;
			r.len = (__u32)strlen(path);
			memcpy(r.path, path, r.len);
		} else if (!strcmp(kind, "any")) {
			r.kind = ENF_RULE_ANY;
		} else if (strcmp(kind, "unused") != 0) {
			ack(seq, EINVAL, "unknown rule kind '%s' (exact, prefix, any, unused)", kind);
			return;
		}
		__u32 key = (__u32)i;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.rules), &key, &r, BPF_ANY)) {
			ack(seq, errno, "rule update failed: %s", strerror(errno));
			return;
		}
		ack(seq, 0, "rule %u set", key);
	} else if (!strcmp(verb, "global")) {
		char *m = strtok_r(NULL, " ", &save);
		__u64 mask;
		__u32 zero = 0;
		if (!m || parse_u64(m, 16, &mask)) {
			ack(seq, EINVAL, "global needs a hex mask");
			return;
		}
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.global_mask), &zero, &mask, BPF_ANY)) {
			ack(seq, errno, "global mask update failed: %s", strerror(errno));
			return;
		}
		ack(seq, 0, "global mask set");
	} else if (!strcmp(verb, "cgroup")) {
		char *id = strtok_r(NULL, " ", &save);
		char *m = strtok_r(NULL, " ", &save);
		__u64 kn, mask;
		if (!id || !m || parse_u64(id, 10, &kn) || parse_u64(m, 16, &mask)) {
			ack(seq, EINVAL, "cgroup needs a decimal kernfs id and a hex mask");
			return;
		}
		int fd = bpf_map__fd(skel->maps.cgroup_masks);
		int err = mask ? bpf_map_update_elem(fd, &kn, &mask, BPF_ANY) : bpf_map_delete_elem(fd, &kn);
		if (err && !(mask == 0 && errno == ENOENT)) {
			ack(seq, errno, "cgroup mask update failed: %s", strerror(errno));
			return;
		}
		ack(seq, 0, "cgroup mask set");
	} else if (!strcmp(verb, "counters")) {
		emit_counters(skel, ncpu);
		ack(seq, 0, "counters sent");
	} else if (!strcmp(verb, "quit")) {
		stop_requested = 1;
		ack(seq, 0, "quitting");
	} else {
		ack(seq, EINVAL, "unknown command '%.40s'", verb);
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* Opens and loads the skeleton with only the program of `mech`. Returns NULL with *err. */
static struct enforce_bpf *load(int mech, int audit, int *err)
{
	struct enforce_bpf *skel = enforce_bpf__open();
	if (!skel) {
		*err = errno;
		return NULL;
	}
	skel->rodata->cfg_audit = (__u32)audit;
	skel->rodata->cfg_self_tgid = (__u32)getpid();
	bpf_program__set_autoload(skel->progs.enforce_lsm, mech == ENF_MECH_LSM);
	bpf_program__set_autoload(skel->progs.enforce_signal, mech == ENF_MECH_SIGNAL);
	int e = enforce_bpf__load(skel);
	if (e) {
		*err = -e;
		enforce_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

int main(int argc, char **argv)
{
	int want = 0; /* 0 = auto */
	int audit = 0;
	long counters_ms = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--audit")) {
			audit = 1;
			continue;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("option %s needs a value", a);
		if (!strcmp(a, "--mechanism")) {
			if (!strcmp(v, "auto"))
				want = 0;
			else if (!strcmp(v, "lsm"))
				want = ENF_MECH_LSM;
			else if (!strcmp(v, "signal"))
				want = ENF_MECH_SIGNAL;
			else
				die("unknown mechanism '%s' (auto, lsm, signal)", v);
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
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	libbpf_set_print(libbpf_print);

	int lsm_errno = 0, err = 0;
	int mech = want ? want : ENF_MECH_LSM;
	struct enforce_bpf *skel = load(mech, audit, &err);
	if (!skel && mech == ENF_MECH_LSM) {
		lsm_errno = err;
		if (want == ENF_MECH_LSM)
			die("loading the BPF LSM program failed: %s (BPF LSM needs 'bpf' in /sys/kernel/security/lsm and a kernel that allows BPF trampolines)",
			    strerror(err));
		fprintf(stderr, "palisade-drift-enforcer: BPF LSM program refused (%s); using SIGKILL at sched_process_exec\n",
			strerror(err));
		mech = ENF_MECH_SIGNAL;
		skel = load(mech, audit, &err);
	}
	if (!skel)
		die("loading the BPF programs failed: %s (root or CAP_BPF+CAP_PERFMON+CAP_MAC_ADMIN needed, kernel BTF)",
		    strerror(err));
	err = enforce_bpf__attach(skel);
	if (err)
		die("attaching the BPF programs failed: %s", strerror(-err));

	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.stops), on_record, NULL, NULL);
	if (!rb)
		die("ring buffer setup failed: %s", strerror(errno));
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		die("cannot count CPUs");

	struct enf_ready ready = {
		.version = ENF_VERSION,
		.type = ENF_REC_READY,
		.size = sizeof(ready),
		.helper_pid = (__u32)getpid(),
		.mechanism = (__u32)mech,
		.audit = (__u32)audit,
		.lsm_errno = lsm_errno,
	};
	ready.realtime_ns = clock_ns(CLOCK_REALTIME);
	ready.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	emit(&ready, sizeof(ready));
	flush_out();

	/* Command lines are assembled across reads; an over-long line is answered as an error. */
	char line[1024];
	size_t linelen = 0;
	int overlong = 0;
	__u32 seq = 0;
	struct pollfd fds[2] = {
		{ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	__u64 next_counters = counters_ms ? clock_ns(CLOCK_MONOTONIC) + (__u64)counters_ms * 1000000ull : 0;
	while (!stop_requested && !out_broken) {
		int n = poll(fds, 2, 200);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		ring_buffer__consume(rb);
		if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char in[512];
			ssize_t r = read(STDIN_FILENO, in, sizeof(in));
			if (r <= 0) {
				if (r == 0 || errno != EINTR)
					stop_requested = 1;
			} else {
				for (ssize_t i = 0; i < r; i++) {
					if (in[i] != '\n') {
						if (linelen < sizeof(line) - 1)
							line[linelen++] = in[i];
						else
							overlong = 1;
						continue;
					}
					line[linelen] = 0;
					seq++;
					/* Stops caused before the command are sent before its answer. */
					ring_buffer__consume(rb);
					if (overlong)
						ack(seq, E2BIG, "command longer than %zu bytes", sizeof(line) - 1);
					else
						command(skel, ncpu, seq, line);
					linelen = 0;
					overlong = 0;
				}
			}
		}
		if (next_counters && clock_ns(CLOCK_MONOTONIC) >= next_counters) {
			emit_counters(skel, ncpu);
			next_counters = clock_ns(CLOCK_MONOTONIC) + (__u64)counters_ms * 1000000ull;
		}
		flush_out();
	}
	ring_buffer__consume(rb);
	emit_counters(skel, ncpu);
	flush_out();
	ring_buffer__free(rb);
	enforce_bpf__destroy(skel);
	return 0;
}
