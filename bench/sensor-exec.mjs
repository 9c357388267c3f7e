// bench sensor-exec: 5,000 execs/s from podman containers for 20 s with the real sensor attached
// (loader + decoder + the built-in rules, as `palisade sensor collect` runs them). Counts every
// tagged exec the containers made against what the sensor delivered and to which container it
// attributed it, reads the drop counters (kernel ring buffer, user-space queue), the collector's
// CPU (node + loader, and the BPF programs' own run time from kernel bpf_stats) per 1,000
// events/s, and its peak RSS against the 296 MiB limit. Prints figures; never asserts.
// Run as root: `npm run bench -- sensor-exec [rate] [seconds] [containers]`.
//
// The other sensor benchmarks import the helpers below; main() runs only when executed.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { work, testkit } from './lib.mjs';
import { Sensor } from '../packages/sensor/dist/src/index.js';
import { RuleEngine, builtinRuleSources } from '../packages/rules/dist/src/index.js';

// Never execFileSync while the sensor runs: a blocked event loop stops reading the loader's
// pipe, and the kernel then drops events (the benchmark would measure itself).
export const execFileAsync = promisify(execFile);
export const IMAGE = 'localhost/palisade-sensor-test:latest';
export const MIB = 1024 * 1024;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// The load driver: posix_spawn()s `target TAG IDX SEQ` at a fixed rate from an absolute start
// time (so several containers start together), reaping children as it goes; prints how many it
// started and how long that took. `target` is the same static binary run as "true".
const EXECLOAD_C = String.raw`
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static long long now_ns(int clk) { struct timespec t; clock_gettime(clk, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "run") != 0) return 0; /* the exec target: exit at once */
  if (argc < 7) { fprintf(stderr, "usage: execload run RATE SECONDS START_EPOCH_MS TAG IDX\n"); return 2; }
  double rate = atof(argv[2]); double secs = atof(argv[3]); long long start_ms = atoll(argv[4]);
  char *tag = argv[5], *idx = argv[6];
  struct sigaction sa = { .sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT }; /* no zombies */
  sigaction(SIGCHLD, &sa, NULL);
  long long wait_ns = start_ms * 1000000LL - now_ns(CLOCK_REALTIME);
  if (wait_ns > 0) { struct timespec w = { wait_ns / 1000000000LL, wait_ns % 1000000000LL }; nanosleep(&w, NULL); }
  long long total = (long long)(rate * secs), t0 = now_ns(CLOCK_MONOTONIC), done = 0, failed = 0;
  char seq[32]; char *args[] = { "/palisade-bench/execload", tag, idx, seq, NULL };
  for (long long i = 0; i < total; i++) {
    long long due = t0 + (long long)(i * 1e9 / rate);
    long long ahead = due - now_ns(CLOCK_MONOTONIC);
    if (ahead > 50000) { struct timespec w = { ahead / 1000000000LL, ahead % 1000000000LL }; nanosleep(&w, NULL); }
    snprintf(seq, sizeof seq, "%lld", i);
    pid_t pid;
    if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) == 0) done++; else failed++;
  }
  double took = (now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
  printf("%lld %lld %.3f\n", done, failed, took);
  return 0;
}
`;

/** Compiles a C source (static) into bench/.work once per content. */
export function compileC(name, source) {
  mkdirSync(work, { recursive: true });
  const src = join(work, `${name}.c`);
  const bin = join(work, name);
  if (existsSync(bin) && existsSync(src) && readFileSync(src, 'utf8') === source) return bin;
  writeFileSync(src, source);
  execFileSync('cc', ['-O2', '-static', '-o', bin, src, '-lpthread'], { stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

/** The Debian test image in podman's local storage (imported from the testkit rootfs layer). */
export function ensureImage() {
  if (spawnSync('podman', ['image', 'exists', IMAGE]).status === 0) return;
  execFileSync('podman', ['import', testkit.debianImage().layer, IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function requireRoot(name) {
  if (process.getuid?.() !== 0) {
    console.log(`${name}: needs root (eBPF programs, containers); not run`);
    process.exit(0);
  }
}

/** utime+stime of a process in seconds, from /proc/<pid>/stat. */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

export function procRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function bpfPrograms() {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

/** Ids of the BPF programs loaded now (taken before the sensor starts, to tell its own apart). */
export function bpfProgramIds() {
  return new Set((bpfPrograms() ?? []).map((p) => p.id));
}

/**
 * Kernel run time of the programs not in `before` (needs kernel.bpf_stats_enabled=1). This
 * bpftool cannot name a program's owner pid, so a sensor started by someone else at the same
 * time would be counted too.
 */
export function bpfRunTimeNs(before) {
  const progs = bpfPrograms();
  if (!progs) return undefined;
  let ns = 0;
  let cnt = 0;
  for (const p of progs) {
    if (before.has(p.id)) continue;
    ns += p.run_time_ns ?? 0;
    cnt += p.run_cnt ?? 0;
  }
  return { ns, cnt };
}

/** Turns on kernel BPF run-time accounting for the duration; returns the restore function. */
export function enableBpfStats() {
  const path = '/proc/sys/kernel/bpf_stats_enabled';
  try {
    const before = readFileSync(path, 'utf8').trim();
    writeFileSync(path, '1');
    return () => writeFileSync(path, before);
  } catch {
    return () => undefined;
  }
}

/**
 * The collector as `sensor collect` runs it: the sensor, every event through the rule engine,
 * plus a per-event hook for the benchmark's counting. Samples CPU and RSS of node + loader.
 */
export async function startCollector(sensorOptions, onEvent) {
  // Knobs for finding where drops come from: BENCH_RINGBUF_KB (ring buffer size),
  // BENCH_RULES=0 (skip rule evaluation), BENCH_QUEUE (user-space queue capacity).
  const env = process.env;
  const opts = { ...sensorOptions };
  if (env.BENCH_RINGBUF_KB) opts.ringBufferKb = Number(env.BENCH_RINGBUF_KB);
  if (env.BENCH_QUEUE) opts.queueCapacity = Number(env.BENCH_QUEUE);
  const evaluate = env.BENCH_RULES !== '0';
  console.log(
    `collector: ring buffer ${opts.ringBufferKb ?? 4096} KiB, queue ${opts.queueCapacity ?? 8192}, rules ${evaluate ? 'on' : 'off'}`,
  );
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  if (errors.length > 0) throw new Error(`rule load errors: ${errors.length}`);
  const progsBefore = bpfProgramIds();
  const sensor = await Sensor.start(opts);
  const loaderPid = sensor.loaderPid;
  let alerts = 0;
  let events = 0;
  const consumed = (async () => {
    for await (const ev of sensor.events()) {
      events++;
      if (evaluate) alerts += engine.evaluate(ev).length;
      onEvent(ev);
    }
  })();
  let peakRss = 0;
  let peakNode = 0;
  let peakLoader = 0;
  const sample = () => {
    const nodeRss = process.memoryUsage.rss();
    const loaderRss = procRssBytes(loaderPid);
    peakNode = Math.max(peakNode, nodeRss);
    peakLoader = Math.max(peakLoader, loaderRss);
    peakRss = Math.max(peakRss, nodeRss + loaderRss);
  };
  const sampler = setInterval(sample, 100);
  // Where the loader waits, sampled every 5 ms: blocked writing the pipe means node is the
  // bottleneck; waiting in poll means the loader keeps up with the kernel.
  const wchan = new Map();
  const wchanSampler = setInterval(() => {
    let w;
    try {
      const state = readFileSync(`/proc/${loaderPid}/stat`, 'utf8').split(') ')[1]?.[0];
      w = state === 'R' ? 'running' : readFileSync(`/proc/${loaderPid}/wchan`, 'utf8') || state;
    } catch {
      return;
    }
    wchan.set(w, (wchan.get(w) ?? 0) + 1);
  }, 5);
  let cpu0;
  return {
    sensor,
    loaderPid,
    /** Marks the start of the measured window. */
    mark() {
      cpu0 = { node: process.cpuUsage(), loader: procCpuSeconds(loaderPid), bpf: bpfRunTimeNs(progsBefore) };
      sample();
    },
    /** CPU seconds since mark(): node process, loader, BPF programs (kernel, in the exec'ing tasks). */
    cpuSinceMark() {
      const n = process.cpuUsage(cpu0.node);
      const bpf = bpfRunTimeNs(progsBefore);
      return {
        node: (n.user + n.system) / 1e6,
        loader: procCpuSeconds(loaderPid) - cpu0.loader,
        bpf: bpf && cpu0.bpf ? (bpf.ns - cpu0.bpf.ns) / 1e9 : undefined,
        bpfRuns: bpf && cpu0.bpf ? bpf.cnt - cpu0.bpf.cnt : undefined,
      };
    },
    async stop() {
      sample();
      clearInterval(sampler);
      clearInterval(wchanSampler);
      const counters = await sensor.stop();
      await consumed;
      return { counters, alerts, events, peakRss, peakNode, peakLoader, loaderWaits: wchan };
    },
  };
}

export function fmt(n, digits = 0) {
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printCounters(counters) {
  for (const [t, k] of Object.entries(counters.byType)) {
    if (k.seen === 0 && k.decoded === 0) continue;
    console.log(
      `  ${t.padEnd(16)} seen=${k.seen} filtered=${k.filteredInKernel} dropped-kernel=${k.droppedInKernel} decoded=${k.decoded} dropped-user=${k.droppedInUserspace}`,
    );
  }
}

export function printLoaderWaits(label, waits) {
  const total = [...waits.values()].reduce((a, b) => a + b, 0);
  const parts = [...waits]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([w, n]) => `${w} ${fmt((100 * n) / Math.max(1, total), 1)} %`);
  console.log(`${label} loader state (5 ms samples): ${parts.join(', ')}`);
}

export function printCollectorCost(label, cpu, wallSecs, eventsPerSec, mem) {
  const cores = (cpu.node + cpu.loader) / wallSecs;
  const perK = eventsPerSec > 0 ? (cores * 1000) / (eventsPerSec / 1000) : 0;
  console.log(
    `${label} collector CPU: node ${fmt(cpu.node, 2)} s + loader ${fmt(cpu.loader, 2)} s over ${fmt(wallSecs, 1)} s = ${fmt(cores * 1000)} millicores ` +
      `at ${fmt(eventsPerSec)} events/s => ${fmt(perK, 1)} millicores per 1,000 events/s (limit 360m)`,
  );
  if (cpu.bpf !== undefined) {
    console.log(
      `${label} BPF programs in the kernel: ${fmt(cpu.bpf, 3)} s over ${fmt(cpu.bpfRuns)} runs (${fmt((cpu.bpf * 1e9) / Math.max(1, cpu.bpfRuns))} ns/run), charged to the traced tasks`,
    );
  }
  console.log(
    `${label} collector peak RSS: ${fmt(mem.peakRss / MIB, 1)} MiB (node ${fmt(mem.peakNode / MIB, 1)} + loader ${fmt(mem.peakLoader / MIB, 1)}) vs limit 296 MiB`,
  );
}

async function main() {
  requireRoot('sensor-exec');
  const rate = Number(process.argv[2] ?? 5000);
  const seconds = Number(process.argv[3] ?? 20);
  const containers = Number(process.argv[4] ?? 4);
  ensureImage();
  const driver = compileC('execload', EXECLOAD_C);
  const tag = `palisade-bench-${randomBytes(4).toString('hex')}`;

  // Per container index: tagged execs seen, and how many were attributed to that container.
  const seen = new Array(containers).fill(0);
  const attributed = new Array(containers).fill(0);
  const ids = new Array(containers).fill('');
  let execEvents = 0;
  const collector = await startCollector({ mode: 'container' }, (ev) => {
    if (ev.type !== 'process.exec') return;
    execEvents++;
    if (ev.proc.argv[1] !== tag) return;
    const i = Number(ev.proc.argv[2]);
    seen[i]++;
    if (ids[i] && ev.container?.id === ids[i]) attributed[i]++;
  });

  const startAt = Date.now() + 4000 + containers * 500;
  for (let i = 0; i < containers; i++) {
    const { stdout } = await execFileAsync('podman', [
      'run',
      '-d',
      '--pull',
      'never',
      '--runtime',
      '/usr/sbin/runc',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      '--network',
      'none',
      '-v',
      `${driver}:/palisade-bench/execload:ro`,
      IMAGE,
      '/palisade-bench/execload',
      'run',
      String(rate / containers),
      String(seconds),
      String(startAt),
      tag,
      String(i),
    ]);
    ids[i] = stdout.trim();
  }
  const wait = startAt - Date.now();
  if (wait < 0) console.log(`warning: containers started ${-wait} ms after the planned start`);
  await sleep(Math.max(0, wait));
  collector.mark();
  const t0 = performance.now();
  let generated = 0;
  let failed = 0;
  let driverSecs = 0;
  for (const id of ids) {
    await execFileAsync('podman', ['wait', id]);
    const { stdout } = await execFileAsync('podman', ['logs', id]);
    const [done, bad, took] = stdout.trim().split(/\s+/).map(Number);
    generated += done;
    failed += bad;
    driverSecs = Math.max(driverSecs, took);
  }
  await collector.sensor.requestCounters();
  const wall = (performance.now() - t0) / 1000;
  const cpu = collector.cpuSinceMark();
  const res = await collector.stop();
  for (const id of ids) spawnSync('podman', ['rm', '-f', id], { stdio: 'ignore' });

  const seenTotal = seen.reduce((a, b) => a + b, 0);
  const attributedTotal = attributed.reduce((a, b) => a + b, 0);
  const k = res.counters.byType;
  const kernelDrops = Object.values(k).reduce((a, t) => a + t.droppedInKernel, 0);
  const userDrops = Object.values(k).reduce((a, t) => a + t.droppedInUserspace, 0);
  const eventsPerSec = res.events / wall;
  console.log(
    `sensor-exec: ${containers} containers, target ${fmt(rate)} execs/s for ${seconds} s: generated ${fmt(generated)} (${failed} failed) in ${fmt(driverSecs, 2)} s = ${fmt(generated / driverSecs)} execs/s`,
  );
  console.log(
    `sensor-exec: seen ${fmt(seenTotal)} / ${fmt(generated)} tagged execs (${fmt((100 * seenTotal) / Math.max(1, generated), 2)} %), ` +
      `attributed to the right container ${fmt(attributedTotal)} (${fmt((100 * attributedTotal) / Math.max(1, generated), 2)} %)`,
  );
  console.log(
    `sensor-exec: drops: kernel ring buffer ${fmt(kernelDrops)}, user-space queue ${fmt(userDrops)}; decode errors ${res.counters.decodeErrors}; alerts ${fmt(res.alerts)}`,
  );
  printCounters(res.counters);
  printCollectorCost('sensor-exec:', cpu, wall, eventsPerSec, res);
  printLoaderWaits('sensor-exec:', res.loaderWaits);
  console.log(`sensor-exec: ${fmt(res.events)} events delivered (${fmt(execEvents)} exec) in ${fmt(wall, 1)} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const restore = enableBpfStats();
  try {
    await main();
  } finally {
    restore();
  }
}
