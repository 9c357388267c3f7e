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
 *           the helper cannot outlive the process that spawned it.
 *   SIGTERM/SIGINT: flush, emit a final counters record, detach, exit 0.
 *
 * Options: --types exec,connect,exit  --mode all|container|host  --prefix PATH (repeat,
 * up to 4; filters exec by filename prefix)  --ringbuf-kb N  --counters-ms N (0 = off).
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
static unsigned char outbuf[256 * 1024];
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

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static __u32 parse_types(const char *s)
{
	__u32 mask = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "exec"))
			mask |= PAL_TYPE_BIT(PAL_REC_EXEC);
		else if (!strcmp(t, "connect"))
			mask |= PAL_TYPE_BIT(PAL_REC_CONNECT);
		else if (!strcmp(t, "exit"))
			mask |= PAL_TYPE_BIT(PAL_REC_EXIT);
		else
			die("unknown event type '%s' (exec, connect, exit)", t);
	}
	free(copy);
	return mask;
}

int main(int argc, char **argv)
{
	__u32 types = PAL_TYPE_BIT(PAL_REC_EXEC) | PAL_TYPE_BIT(PAL_REC_CONNECT) | PAL_TYPE_BIT(PAL_REC_EXIT);
	__u32 mode = PAL_MODE_ALL;
	const char *prefixes[PAL_MAX_PREFIXES];
	__u32 nprefixes = 0;
	long ringbuf_kb = 4096, counters_ms = 1000;

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
		} else if (!strcmp(a, "--ringbuf-kb")) {
			ringbuf_kb = strtol(v, NULL, 10);
			/* The ring buffer must be a power-of-two number of pages. */
			if (ringbuf_kb < 4 || ringbuf_kb > 1024 * 1024 || (ringbuf_kb & (ringbuf_kb - 1)))
				die("--ringbuf-kb must be a power of two between 4 and 1048576");
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
	bpf_map__set_max_entries(skel->maps.events, (__u32)ringbuf_kb * 1024);
	/* Programs for types not asked for are not loaded at all. */
	bpf_program__set_autoload(skel->progs.handle_exec, !!(types & PAL_TYPE_BIT(PAL_REC_EXEC)));
	bpf_program__set_autoload(skel->progs.handle_connect, !!(types & PAL_TYPE_BIT(PAL_REC_CONNECT)));
	bpf_program__set_autoload(skel->progs.handle_exit, !!(types & PAL_TYPE_BIT(PAL_REC_EXIT)));

	int err = palisade_bpf__load(skel);
	if (err)
		die("loading BPF programs failed: %s (root or CAP_BPF+CAP_PERFMON needed, kernel BTF at /sys/kernel/btf/vmlinux)",
		    strerror(-err));
	err = palisade_bpf__attach(skel);
	if (err)
		die("attaching BPF programs failed: %s", strerror(-err));

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
		.types_mask = types,
	};
	ready.realtime_ns = clock_ns(CLOCK_REALTIME);
	ready.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	emit(&ready, sizeof(ready));
	flush_out();

	struct pollfd fds[2] = {
		{ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	__u64 next_counters = counters_ms ? clock_ns(CLOCK_MONOTONIC) + (__u64)counters_ms * 1000000ull : 0;
	while (!stop_requested && !out_broken) {
		/* Bounded wait so periodic counters go out even when nothing happens. */
		int n = poll(fds, 2, 200);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		/* Consume whatever is there regardless of why poll returned. */
		if (ring_buffer__consume(rb) < 0 && !stop_requested)
			fprintf(stderr, "palisade-sensor-loader: ring buffer consume failed\n");
		if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char cmds[64];
			ssize_t r = read(STDIN_FILENO, cmds, sizeof(cmds));
			if (r <= 0) {
				if (r == 0 || errno != EINTR)
					stop_requested = 1; /* parent closed stdin: go away */
			} else {
				for (ssize_t i = 0; i < r; i++) {
					if (cmds[i] == 'c')
						emit_counters(skel, ncpu);
					else if (cmds[i] == 'q')
						stop_requested = 1;
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
	ring_buffer__free(rb);
	palisade_bpf__destroy(skel);
	return 0;
}
