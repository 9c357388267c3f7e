/**
 * The C helper of `palisade simulate`: the few harmless actions a shell in the container cannot
 * do (a bounded TCP connect, a loopback-only host route, memfd exec, ptrace of its own child,
 * a user namespace, a loopback listen, loading a never-attached eBPF program). Kept as source
 * here, so the CLI bundle carries it; compiled statically on first use into the cache directory
 * (a static binary runs in any container image).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SIM_HELPER_SOURCE = String.raw`
/* palisade simulate helper: small, harmless actions the shell cannot do. Each one only
 * attempts the behaviour a detection looks for, inside a throwaway container. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Non-blocking TCP connect with a bound wait; prints what happened, never fails the run. */
static int do_connect(const char *addr, int port, int timeout_ms) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof *a6;
  } else {
    fprintf(stderr, "sim-helper: bad address %s\n", addr);
    return 2;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    perror("socket");
    return 2;
  }
  if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
    printf("connected\n");
  } else if (errno == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, timeout_ms);
    int err = 0;
    socklen_t el = sizeof err;
    if (n == 0) printf("timeout\n");
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) printf("connected\n");
    else printf("failed: %s\n", strerror(err));
  } else {
    printf("failed: %s\n", strerror(errno));
  }
  close(fd);
  return 0;
}

/* Host route for ADDR through the loopback device: in a network namespace with no other
 * interface the SYN is looped back and dropped, so it never leaves the machine. */
static int do_route_lo(const char *addr) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
  struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = AF_INET;
  mask->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &dst->sin_addr) != 1) {
    fprintf(stderr, "sim-helper: bad address %s\n", addr);
    return 2;
  }
  mask->sin_addr.s_addr = 0xffffffffu;
  rt.rt_flags = RTF_UP | RTF_HOST;
  rt.rt_dev = (char *)"lo";
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || ioctl(fd, SIOCADDRT, &rt) != 0) {
    perror("sim-helper: route via lo");
    return 2;
  }
  close(fd);
  return 0;
}

/* Copies /bin/true into an anonymous memory file and executes it from there. */
static int do_memfd_exec(void) {
  int src = open("/bin/true", O_RDONLY);
  int mfd = memfd_create("palisade-sim", MFD_CLOEXEC);
  if (src < 0 || mfd < 0) {
    perror("sim-helper: memfd");
    return 2;
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof buf)) > 0)
    if (write(mfd, buf, (size_t)n) != n) return 2;
  close(src);
  char *argv[] = {"palisade-sim-memfd", NULL};
  char *envp[] = {NULL};
  fexecve(mfd, argv, envp);
  perror("sim-helper: fexecve");
  return 2;
}

/* Attaches to its own child with PTRACE_ATTACH, then lets it go. */
static int do_ptrace_attach(void) {
  pid_t child = fork();
  if (child == 0) {
    alarm(5); /* bounded whatever happens to the parent */
    pause();
    _exit(0);
  }
  int rc = 0;
  if (ptrace(PTRACE_ATTACH, child, NULL, NULL) == 0) {
    waitpid(child, NULL, 0);
    ptrace(PTRACE_DETACH, child, NULL, NULL);
    printf("attached\n");
  } else {
    perror("sim-helper: ptrace attach");
    rc = 0;
  }
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return rc;
}

static int do_ptrace_traceme(void) {
  if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) perror("sim-helper: PTRACE_TRACEME");
  return 0;
}

/* A new user namespace (the first step of several container escapes). */
static int do_unshare(void) {
  if (unshare(CLONE_NEWUSER) != 0) perror("sim-helper: unshare");
  else printf("unshared\n");
  return 0;
}

/* A listening TCP socket on loopback (port chosen by the kernel), closed at once: what a bind
 * shell does first. Nothing ever connects. */
static int do_listen(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0) {
    perror("sim-helper: listen");
    return 0;
  }
  printf("listening\n");
  close(fd);
  return 0;
}

/* Loads the smallest eBPF program there is (a socket filter returning 0) and closes it: it is
 * never attached to anything. */
static int do_bpf_load(void) {
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof insns);
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = 2;
  attr.insns = (unsigned long)insns;
  attr.license = (unsigned long)"GPL";
  int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd < 0) perror("sim-helper: bpf(BPF_PROG_LOAD)");
  else {
    printf("loaded\n");
    close(fd);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "connect") == 0) return do_connect(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc >= 3 && strcmp(argv[1], "route-lo") == 0) return do_route_lo(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "memfd-exec") == 0) return do_memfd_exec();
  if (argc >= 2 && strcmp(argv[1], "ptrace-attach") == 0) return do_ptrace_attach();
  if (argc >= 2 && strcmp(argv[1], "ptrace-traceme") == 0) return do_ptrace_traceme();
  if (argc >= 2 && strcmp(argv[1], "unshare") == 0) return do_unshare();
  if (argc >= 2 && strcmp(argv[1], "listen") == 0) return do_listen();
  if (argc >= 2 && strcmp(argv[1], "bpf-load") == 0) return do_bpf_load();
  fprintf(stderr, "usage: sim-helper connect ADDR PORT TIMEOUT_MS | route-lo ADDR | memfd-exec | "
                  "ptrace-attach | ptrace-traceme | unshare | listen | bpf-load\n");
  return 2;
}
`;

/** Where the helper goes inside every scenario container. */
export const HELPER_IN_CONTAINER = '/palisade-sim/sim-helper';

export type HelperBuild = { ok: true; path: string } | { ok: false; reason: string };

export function simulateCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'palisade', 'simulate');
}

/** Compiles the helper once per source version (the file name carries its hash). */
export function buildHelper(cacheDir: string, compiler = 'cc'): HelperBuild {
  const hash = createHash('sha256').update(SIM_HELPER_SOURCE).digest('hex').slice(0, 16);
  const out = join(cacheDir, `sim-helper-${hash}`);
  if (existsSync(out)) return { ok: true, path: out };
  mkdirSync(cacheDir, { recursive: true });
  const src = join(cacheDir, `sim-helper-${hash}.c`);
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(src, SIM_HELPER_SOURCE);
  const r = spawnSync(compiler, ['-O2', '-static', '-o', tmp, src], { encoding: 'utf8', timeout: 120_000 });
  rmSync(src, { force: true });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    return { ok: false, reason: `cannot compile the simulation helper with ${compiler}: ${why}` };
  }
  renameSync(tmp, out);
  return { ok: true, path: out };
}
