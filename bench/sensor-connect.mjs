// bench sensor-connect: 20,000 TCP connects/s on 127.0.0.1 for 10 s from a small C client
// against a C server (accepts and closes), with the real sensor attached as `palisade sensor
// collect` runs it. Counts the connects the client made against the network.connect events the
// sensor delivered for them, reads the drop counters, the collector's CPU per 1,000 events/s and
// its peak RSS. Prints figures; never asserts. Run as root:
// `npm run bench -- sensor-connect [rate] [seconds]` (knobs: see startCollector in sensor-exec.mjs).
// As in sensor-exec, the user-space capacity (a replay of captured connect + accept records on
// one core) and the kernel side's BPF time per connect follow, neither competing with the
// load generator; BENCH_SENSOR=0 runs the generator alone.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  compileC,
  enableBpfStats,
  fixture,
  fmt,
  printKernelCapacity,
  replayCapacity,
  replayStream,
  withPid,
  printCollectorCost,
  printCounters,
  printLoaderWaits,
  printTimeline,
  requireRoot,
  startCollector,
} from './sensor-exec.mjs';

// One process: an accept thread that closes every connection, and a client that connects at a
// fixed rate and closes with SO_LINGER 0 (RST, so no TIME_WAIT exhausts the ephemeral ports).
// Prints: connects made, failures, seconds taken.
const CONNLOAD_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int lfd;
static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static void *acceptor(void *arg) {
  (void)arg;
  for (;;) { int c = accept(lfd, NULL, NULL); if (c >= 0) close(c); }
  return NULL;
}
int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: connload PORT RATE SECONDS\n"); return 2; }
  int port = atoi(argv[1]); double rate = atof(argv[2]); double secs = atof(argv[3]);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) { perror("listen"); return 2; }
  pthread_t th;
  pthread_create(&th, NULL, acceptor, NULL);
  struct linger lg = { 1, 0 };
  long long total = (long long)(rate * secs), t0 = now_ns(), done = 0, failed = 0;
  for (long long i = 0; i < total; i++) {
    long long ahead = t0 + (long long)(i * 1e9 / rate) - now_ns();
    if (ahead > 50000) { struct timespec w = { ahead / 1000000000LL, ahead % 1000000000LL }; nanosleep(&w, NULL); }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { failed++; continue; }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) done++; else failed++;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
  }
  printf("%lld %lld %.3f\n", done, failed, (now_ns() - t0) / 1e9);
  fflush(stdout);
  return 0;
}
`;

async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function main() {
  requireRoot('sensor-connect');
  const rate = Number(process.argv[2] ?? 20000);
  const seconds = Number(process.argv[3] ?? 10);
  const bin = compileC('connload', CONNLOAD_C);
  const port = await freePort();
  let clientPid = -1;
  let seen = 0;
  if (process.env.BENCH_SENSOR === '0') {
    const { made, took } = await runClient(bin, port, rate, seconds, () => undefined);
    console.log(
      `sensor-connect (generator alone, no sensor): target ${fmt(rate)} connects/s for ${seconds} s: made ${fmt(made)} in ${fmt(took, 2)} s = ${fmt(made / took)} connects/s`,
    );
    return;
  }
  const collector = await startCollector({ mode: 'all' }, (ev) => {
    if (ev.type === 'network.connect' && ev.proc.pid === clientPid && ev.net.dstPort === port) seen++;
  });
  await sleep(500);
  await collector.mark();
  const t0 = performance.now();
  const { made, failed, took } = await runClient(bin, port, rate, seconds, (pid) => (clientPid = pid));
  await collector.sensor.requestCounters();
  const wall = (performance.now() - t0) / 1000;
  const cpu = await collector.cpuSinceMark();
  const res = await collector.stop();
  const k = res.counters.byType;
  const kernelDrops = Object.values(k).reduce((a, t) => a + t.droppedInKernel, 0);
  const userDrops = Object.values(k).reduce((a, t) => a + t.droppedInUserspace, 0);
  console.log(
    `sensor-connect: target ${fmt(rate)} connects/s for ${seconds} s: made ${fmt(made)} (${failed} failed) in ${fmt(took, 2)} s = ${fmt(made / took)} connects/s`,
  );
  console.log(
    `sensor-connect: seen ${fmt(seen)} / ${fmt(made + failed)} connect attempts (${fmt((100 * seen) / Math.max(1, made + failed), 2)} %)`,
  );
  console.log(
    `sensor-connect: drops: kernel ring buffer ${fmt(kernelDrops)}, user-space queue ${fmt(userDrops)}; decode errors ${res.counters.decodeErrors}; alerts ${fmt(res.alerts)}`,
  );
  printCounters(res.counters);
  printCollectorCost('sensor-connect:', cpu, wall, res.events / wall, res);
  printLoaderWaits('sensor-connect:', res.loaderWaits);
  printTimeline('sensor-connect:', res.timeline);
  // Per connect: every TCP state change (both ends), connect(2) enter/exit, accept(2) exit.
  const connectPrograms = [
    'handle_connect',
    'sys_enter_connect',
    'sys_exit_connect',
    'sys_exit_accept',
    'sys_exit_accept4',
  ];
  printKernelCapacity('sensor-connect:', cpu, connectPrograms, made + failed, 'connect', rate);
  // User space: the captured loopback connect and accept records, as this benchmark makes them.
  const rounds = 100000;
  const stream = replayStream([fixture('cgroup-host')], rounds, () => [
    withPid(fixture('connect-ipv4'), 4242),
    withPid(fixture('accept-ipv4'), 4242),
  ]);
  const perCpuSec = await replayCapacity('sensor-connect:', stream, 2 * rounds);
  console.log(
    `sensor-connect: => one core decodes, attributes and evaluates ≈ ${fmt(perCpuSec / 2)} loopback connects/s (connect + accept events); ${fmt(rate)} connects/s would take ≈ ${fmt((2 * rate * 1000) / perCpuSec)} millicores`,
  );
}

/** Runs the C client/server; resolves with connects made, failed and seconds taken. */
async function runClient(bin, port, rate, seconds, onPid) {
  const child = spawn(bin, [String(port), String(rate), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  onPid(child.pid ?? -1);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  const [made, failed, took] = out.trim().split(/\s+/).map(Number);
  return { made, failed, took };
}

const restore = enableBpfStats();
try {
  await main();
} finally {
  restore();
}
