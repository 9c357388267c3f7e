/**
 * @palisade/sensor: eBPF runtime sensor. Kernel programs (bpf/palisade.bpf.c) and a native
 * loader (native/loader.c) are built by scripts/build-sensor.sh; this package spawns the
 * loader, decodes its binary records and produces @palisade/core runtime events.
 */
export * from './records.js';
export * from './cgroup.js';
export * from './queue.js';
export * from './convert.js';
export * from './pipeline.js';
export * from './sensor.js';
