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
export * from './watch.js';
export * from './syscall-names.js';
export * from './resolver.js';
export * from './runtimes/podman.js';
export * from './runtimes/docker.js';
export * from './runtimes/oci-state.js';
export * from './runtimes/kubernetes.js';
export { digestOf } from './runtimes/unix-http.js';
export * from './drift.js';
export * from './drift-enforcer.js';
export * from './transport.js';
export * from './transport-client.js';
export * from './transport-server.js';
export * from './spool.js';
export * from './ingest-client-proxy.js';
export * from './ingest-client.js';
export * from './metrics.js';
export * from './publisher.js';
export * from './collector.js';
export * from './inventory.js';
