// bench sensor-exec: 5,000 execs/s from podman containers for 20 s with the real sensor attached
// (loader + decoder + the built-in rules, as `palisade sensor collect` runs them). Counts every
// tagged exec the containers made against what the sensor delivered and to which container it
// attributed it, reads the drop counters (kernel ring buffer, user-space queue), the collector's
// CPU (node + loader, and the BPF programs' own run time from kernel bpf_stats) per 1,000
// events/s, and its peak RSS against the 296 MiB limit. Prints figures; never asserts.
// Run as root: `npm run bench -- sensor-exec [rate] [seconds] [containers]`.
//
// On a small machine the load generator may not reach the target rate (it competes with the
// collector for the same cores), so two capacity figures follow that do not compete with it:
// the user-space pipeline (framing, decoding, conversion, container attribution, queue and the
// built-in rules) replaying real captured records on one core, and the kernel side's measured
// BPF time per event times the target rate. BENCH_SENSOR=0 runs the generator alone (the
// rate this machine reaches without the sensor).
//
// The other sensor benchmarks import the helpers below; main() runs only when executed.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { root, work, testkit } from './lib.mjs';
import { FrameReader, RecordPipeline, Sensor } from '../packages/sensor/dist/src/index.js';
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

// Asynchronous: bpftool takes a while on a busy machine, and blocking node's event loop while
// the sensor runs stops it reading the loader (the benchmark would cause its own drops).
async function bpfPrograms() {
  try {
    const { stdout } = await execFileAsync('bpftool', ['prog', 'show', '--json'], { maxBuffer: 64 << 20 });
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** Ids of the BPF programs loaded now (taken before the sensor starts, to tell its own apart). */
export async function bpfProgramIds() {
  return new Set(((await bpfPrograms()) ?? []).map((p) => p.id));
}

/**
 * Kernel run time of the programs not in `before` (needs kernel.bpf_stats_enabled=1). This
 * bpftool cannot name a program's owner pid, so a sensor started by someone else at the same
 * time would be counted too.
 */
export async function bpfRunTimeNs(before) {
  const progs = await bpfPrograms();
  if (!progs) return undefined;
  let ns = 0;
  let cnt = 0;
  const byName = new Map();
  for (const p of progs) {
    if (before.has(p.id)) continue;
    ns += p.run_time_ns ?? 0;
    cnt += p.run_cnt ?? 0;
    const prev = byName.get(p.name) ?? { ns: 0, cnt: 0 };
    byName.set(p.name, { ns: prev.ns + (p.run_time_ns ?? 0), cnt: prev.cnt + (p.run_cnt ?? 0) });
  }
  return { ns, cnt, byName };
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
  // BENCH_RULES=0 (skip rule evaluation), BENCH_QUEUE (user-space queue capacity),
  // BENCH_BATCH_MS (the loader's batching window).
  const env = process.env;
  const opts = { ...sensorOptions };
  if (env.BENCH_RINGBUF_KB) opts.ringBufferKb = Number(env.BENCH_RINGBUF_KB);
  if (env.BENCH_QUEUE) opts.queueCapacity = Number(env.BENCH_QUEUE);
  if (env.BENCH_BATCH_MS) opts.batchMs = Number(env.BENCH_BATCH_MS);
  const evaluate = env.BENCH_RULES !== '0';
  console.log(
    `collector: ring buffer ${opts.ringBufferKb ?? 16384} KiB, batch ${opts.batchMs ?? 5} ms, queue ${opts.queueCapacity ?? 8192}, rules ${evaluate ? 'on' : 'off'}`,
  );
  const { engine, errors } = RuleEngine.fromSources(builtinRuleSources());
  if (errors.length > 0) throw new Error(`rule load errors: ${errors.length}`);
  const progsBefore = await bpfProgramIds();
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
  // Once a second: kernel drops so far, and how long a counters request takes to come back
  // through the stream (the loader answers after draining the ring buffer, so this is how far
  // behind node is), and the event loop's lag. Tells when drops happen and why.
  const timeline = [];
  let lagMax = 0;
  let lastTick = performance.now();
  const lagSampler = setInterval(() => {
    const now = performance.now();
    lagMax = Math.max(lagMax, now - lastTick - 50);
    lastTick = now;
  }, 50);
  let probing = false;
  const t0 = performance.now();
  const prober = setInterval(() => {
    if (probing) return;
    probing = true;
    const asked = performance.now();
    void sensor.requestCounters().then((c) => {
      const drops = Object.values(c.byType).reduce((a, t) => a + t.droppedInKernel, 0);
      timeline.push({ t: (asked - t0) / 1000, streamLagMs: performance.now() - asked, loopLagMs: lagMax, drops });
      lagMax = 0;
      probing = false;
    });
  }, 1000);
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
    async mark() {
      cpu0 = { node: process.cpuUsage(), loader: procCpuSeconds(loaderPid), bpf: await bpfRunTimeNs(progsBefore) };
      sample();
    },
    /** CPU seconds since mark(): node process, loader, BPF programs (kernel, in the exec'ing tasks). */
    async cpuSinceMark() {
      const n = process.cpuUsage(cpu0.node);
      const loader = procCpuSeconds(loaderPid) - cpu0.loader;
      const bpf = await bpfRunTimeNs(progsBefore);
      const programs = [];
      for (const [name, v] of bpf?.byName ?? []) {
        const was = cpu0.bpf?.byName.get(name) ?? { ns: 0, cnt: 0 };
        if (v.cnt > was.cnt) programs.push({ name, ns: v.ns - was.ns, cnt: v.cnt - was.cnt });
      }
      programs.sort((a, b) => b.ns - a.ns);
      return {
        node: (n.user + n.system) / 1e6,
        loader,
        bpf: bpf && cpu0.bpf ? (bpf.ns - cpu0.bpf.ns) / 1e9 : undefined,
        bpfRuns: bpf && cpu0.bpf ? bpf.cnt - cpu0.bpf.cnt : undefined,
        programs,
      };
    },
    async stop() {
      sample();
      clearInterval(sampler);
      clearInterval(lagSampler);
      clearInterval(prober);
      clearInterval(wchanSampler);
      const counters = await sensor.stop();
      await consumed;
      return { counters, alerts, events, peakRss, peakNode, peakLoader, loaderWaits: wchan, timeline };
    },
  };
}

/** The sensor's captured records (packages/sensor/test/fixtures, from the real loader). */
export function fixture(name) {
  return readFileSync(join(root, 'packages', 'sensor', 'test', 'fixtures', `${name}.bin`));
}

function framed(payload) {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([len, payload]);
}

/**
 * A loader stream to replay: ready, then `count` rounds of `records(i)` (each a list of record
 * buffers, made unique per round by the caller), framed as the loader frames them.
 */
export function replayStream(prelude, count, records) {
  const parts = [framed(fixture('ready')), ...prelude.map(framed)];
  for (let i = 0; i < count; i++) for (const r of records(i)) parts.push(framed(r));
  return Buffer.concat(parts);
}

/** Sets a record's tgid and tid (header offsets 16 and 20), in a copy. */
export function withPid(record, pid) {
  const b = Buffer.from(record);
  b.writeUInt32LE(pid, 16);
  b.writeUInt32LE(pid, 20);
  return b;
}

/**
 * User-space capacity: the stream through FrameReader (64 KiB chunks, as the socket delivers
 * them) → RecordPipeline (decode, cgroup attribution, conversion, queue) → an async consumer
 * running the built-in rules, as fast as one core goes. Nothing else of the benchmark runs
 * meanwhile, so it does not compete with the load generator. Returns events per CPU second.
 */
export async function replayCapacity(label, stream, expectedEvents) {
  const { engine } = RuleEngine.fromSources(builtinRuleSources());
  const best = { perCpuSec: 0, events: 0, cpu: 0 };
  for (let round = 0; round < 3; round++) {
    const pipeline = new RecordPipeline({ node: 'bench', queueCapacity: 8192 });
    const reader = new FrameReader();
    let events = 0;
    let alerts = 0;
    const consumed = (async () => {
      for await (const ev of pipeline.queue) {
        events++;
        alerts += engine.evaluate(ev).length;
      }
    })();
    const cpu0 = process.cpuUsage();
    for (let off = 0; off < stream.length; off += 65536) {
      for (const f of reader.push(stream.subarray(off, off + 65536))) pipeline.onFrame(f);
      // Let the consumer drain (a chunk holds far fewer events than the queue's capacity).
      await new Promise((resolve) => setImmediate(resolve));
    }
    pipeline.queue.close();
    await consumed;
    const used = process.cpuUsage(cpu0);
    const cpu = (used.user + used.system) / 1e6;
    const c = pipeline.counters();
    const dropped = Object.values(c.byType).reduce((a, t) => a + t.droppedInUserspace, 0);
    if (events !== expectedEvents || dropped > 0 || c.decodeErrors > 0 || c.cgroups.misses > 0) {
      console.log(
        `${label} replay: ${events} events of ${expectedEvents}, ${dropped} dropped, ${c.decodeErrors} decode errors, ${c.cgroups.misses} cgroup misses (alerts ${alerts})`,
      );
    }
    if (events / cpu > best.perCpuSec) Object.assign(best, { perCpuSec: events / cpu, events, cpu });
  }
  console.log(
    `${label} user-space capacity (replay of captured records, best of 3, one core): ${fmt(best.events)} events in ${fmt(best.cpu, 2)} CPU s = ` +
      `${fmt(best.perCpuSec)} events per CPU second => ${fmt(1e6 / best.perCpuSec, 1)} millicores per 1,000 events/s (framing, decode, attribution, conversion, queue, rules)`,
  );
  return best.perCpuSec;
}

/**
 * The kernel side's cost at the target rate: the run time of the programs a `unit` runs (from
 * kernel bpf_stats, measured live) per unit made, times the target rate. On a saturated
 * machine it is an upper bound: interrupts, the CPUs contending for the ring buffer's lock and
 * the host's scheduling of the vCPUs all count as run time.
 */
export function printKernelCapacity(label, cpu, programs, units, unit, target) {
  const runs = (cpu.programs ?? []).filter((p) => programs.includes(p.name));
  if (runs.length === 0 || units <= 0) return;
  const ns = runs.reduce((a, p) => a + p.ns, 0);
  const nsPer = ns / units;
  console.log(
    `${label} kernel side: ${fmt(nsPer)} ns of BPF per ${unit} (${programs.join(' + ')}, ${fmt(runs.reduce((a, p) => a + p.cnt, 0) / units, 1)} runs per ${unit}) => ` +
      `${fmt((target * nsPer) / 1e6, 1)} millicores at ${fmt(target)} ${unit}s/s, spread over the tasks making them`,
  );
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

/** Seconds in which the kernel dropped records, with how far behind node was then. */
export function printTimeline(label, timeline) {
  const worst = timeline.reduce((a, p) => Math.max(a, p.streamLagMs), 0);
  const loop = timeline.reduce((a, p) => Math.max(a, p.loopLagMs), 0);
  const bad = [];
  for (let i = 1; i < timeline.length; i++) {
    const p = timeline[i];
    const d = p.drops - timeline[i - 1].drops;
    if (d > 0)
      bad.push(`t=${fmt(p.t)} s +${fmt(d)} (stream lag ${fmt(p.streamLagMs)} ms, loop lag ${fmt(p.loopLagMs)} ms)`);
  }
  console.log(
    `${label} stream lag (counters request → answer through the stream, once a second): max ${fmt(worst)} ms (event loop lag max ${fmt(loop)} ms); seconds with kernel drops: ${bad.length ? bad.join('; ') : 'none'}`,
  );
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
    const top = (cpu.programs ?? [])
      .slice(0, 6)
      .map((p) => `${p.name} ${fmt(p.cnt)} × ${fmt(p.ns / p.cnt)} ns`)
      .join(', ');
    console.log(`${label} BPF programs by time: ${top}`);
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
  const sensorOn = process.env.BENCH_SENSOR !== '0';
  const collector = !sensorOn
    ? undefined
    : await startCollector({ mode: 'container' }, (ev) => {
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
  // The BPF baseline just before the start (its run time is taken per program, and only the
  // exec and exit programs are charged to the execs).
  await sleep(Math.max(0, wait - 1500));
  await collector?.mark();
  await sleep(Math.max(0, startAt - Date.now()));
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
  if (!collector) {
    for (const id of ids) spawnSync('podman', ['rm', '-f', id], { stdio: 'ignore' });
    console.log(
      `sensor-exec (generator alone, no sensor): ${containers} containers, target ${fmt(rate)} execs/s for ${seconds} s: generated ${fmt(generated)} (${failed} failed) in ${fmt(driverSecs, 2)} s = ${fmt(generated / driverSecs)} execs/s`,
    );
    return;
  }
  await collector.sensor.requestCounters();
  const wall = (performance.now() - t0) / 1000;
  const cpu = await collector.cpuSinceMark();
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
  printTimeline('sensor-exec:', res.timeline);
  console.log(`sensor-exec: ${fmt(res.events)} events delivered (${fmt(execEvents)} exec) in ${fmt(wall, 1)} s`);
  const cg = res.counters.cgroups;
  console.log(
    `sensor-exec: cgroup paths sent by the kernel ${fmt(cg.emittedInKernel)} (dropped ${fmt(cg.droppedInKernel)}), received ${fmt(cg.paths)}, events with an unknown key ${fmt(cg.misses)}`,
  );
  printKernelCapacity('sensor-exec:', cpu, ['handle_exec', 'handle_exit'], generated, 'exec', rate);
  await replayExecs(rate);
}

/**
 * Replays a container's exec + exit pair (the captured records, a fresh pid each time) through
 * the user-space pipeline and rules: its capacity in execs/s against the target rate.
 */
export async function replayExecs(rate) {
  const exec = fixture('exec-container');
  const exit = Buffer.alloc(88); // an exit record of the same container: exec's header, type 3
  exec.copy(exit, 0, 0, 80);
  exit.writeUInt16LE(3, 2);
  exit.writeUInt32LE(88, 4);
  const rounds = 30000;
  const stream = replayStream([fixture('cgroup-container')], rounds, (i) => [
    withPid(exec, 100000 + i),
    withPid(exit, 100000 + i),
  ]);
  const perCpuSec = await replayCapacity('sensor-exec:', stream, 2 * rounds);
  console.log(
    `sensor-exec: => one core decodes, attributes and evaluates ≈ ${fmt(perCpuSec / 2)} execs/s (exec + exit events); ${fmt(rate)} execs/s would take ≈ ${fmt((2 * rate * 1000) / perCpuSec)} millicores`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const restore = enableBpfStats();
  try {
    await main();
  } finally {
    restore();
  }
}
