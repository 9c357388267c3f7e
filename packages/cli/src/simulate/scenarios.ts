/**
 * The catalogue of `palisade simulate`: harmless re-enactments of what the built-in rules
 * detect, each run in its own throwaway container. A scenario only *attempts* the behaviour
 * (a connect to a loopback port the simulator owns or to an address routed into the void of
 * an interface-less network namespace, a renamed copy of /bin/true, an empty file where a
 * persistence file would go) and names the rules that must fire on its container.
 *
 * Data, not code: `requires` lists the event types the expected rules need, so a scenario is
 * run as soon as the sensor produces them and reported as skipped until then.
 */
import type { RuntimeEventType } from '@palisade/core';
import { HELPER_IN_CONTAINER } from './helper.js';

export interface Scenario {
  id: string;
  title: string;
  /** Every one of these rules must raise an alert on the scenario's container. */
  expectedRuleIds: string[];
  /** Event types the sensor must produce for the expected rules to fire. */
  requires: RuntimeEventType[];
  /**
   * Command run in the container. `{port}` is replaced by the port of the simulator's own
   * loopback listener, `{helper}` by the path of the simulation helper.
   */
  command: string[];
  /**
   * `none`: a network namespace with only loopback (nothing can leave the machine);
   * `host`: loopback of the host, to reach the simulator's own listener.
   */
  network: 'none' | 'host';
  /** Capabilities added to the container (beyond the runtime's defaults). */
  capAdd?: string[];
  /** Needs the compiled helper mounted at {helper}. */
  helper?: boolean;
}

const H = '{helper}';
/** Runs a shell script in the container. */
const sh = (script: string): string[] => ['/bin/sh', '-c', script];
/** Installs a copy of /bin/true under a telling name and runs it with `args`. */
const renamedTrue = (path: string, args: string): string[] => sh(`cp /bin/true ${path} && exec ${path} ${args}`);
/** A TCP connect to an address that only exists as a host route on loopback (bounded wait). */
const voidConnect = (addr: string, port: number): string[] =>
  sh(`${H} route-lo ${addr} && ${H} connect ${addr} ${port} 300`);

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'reverse-shell-dev-tcp',
    title: 'Reverse shell through bash /dev/tcp to a loopback listener',
    expectedRuleIds: ['PAL-RT-002'],
    requires: ['process.exec'],
    command: ['/bin/bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/{port}; echo palisade-simulation >&3'],
    network: 'host',
  },
  {
    id: 'reverse-shell-perl',
    title: 'Perl one-liner reverse shell (IO::Socket::INET, exits before any shell)',
    expectedRuleIds: ['PAL-RT-053'],
    requires: ['process.exec'],
    command: [
      '/usr/bin/perl',
      '-e',
      'use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:{port}"); close $s if $s; exit 0; exec("/bin/sh");',
    ],
    network: 'host',
  },
  {
    id: 'crypto-miner',
    title: 'Crypto-miner started with a stratum pool URL',
    expectedRuleIds: ['PAL-RT-005'],
    requires: ['process.exec'],
    command: renamedTrue('/usr/local/bin/xmrig', '-o stratum+tcp://127.0.0.1:3333'),
    network: 'none',
  },
  {
    id: 'package-manager',
    title: 'Package manager run in a running container',
    expectedRuleIds: ['PAL-RT-006'],
    requires: ['process.exec'],
    command: ['/usr/bin/apt-get', '--version'],
    network: 'none',
  },
  {
    id: 'exec-from-tmp',
    title: 'Binary dropped in /tmp and executed',
    expectedRuleIds: ['PAL-RT-007'],
    requires: ['process.exec'],
    command: renamedTrue('/tmp/palisade-sim', ''),
    network: 'none',
  },
  {
    id: 'account-created',
    title: 'Local account created in a container',
    expectedRuleIds: ['PAL-RT-008'],
    requires: ['process.exec'],
    command: ['/usr/sbin/useradd', '-M', 'palisade-sim'],
    network: 'none',
  },
  {
    id: 'hidden-binary',
    title: 'Program with a hidden (dot) file name executed',
    expectedRuleIds: ['PAL-RT-009'],
    requires: ['process.exec'],
    command: renamedTrue('/root/.palisade-sim', ''),
    network: 'none',
  },
  {
    id: 'history-cleared',
    title: 'Shell history cleared with history -c',
    expectedRuleIds: ['PAL-RT-010'],
    requires: ['process.exec'],
    command: ['/bin/bash', '-c', 'history -c'],
    network: 'none',
  },
  {
    id: 'network-scanner',
    title: 'Network scanner (nmap) run in a container',
    expectedRuleIds: ['PAL-RT-011'],
    requires: ['process.exec'],
    command: renamedTrue('/usr/local/bin/nmap', '-sT 127.0.0.1'),
    network: 'none',
  },
  {
    id: 'download-piped-to-shell',
    title: 'Download piped into a shell (curl | sh; nothing is downloaded)',
    expectedRuleIds: ['PAL-RT-051'],
    requires: ['process.exec'],
    command: sh('curl -fsS http://127.0.0.1:9/install.sh | sh'),
    network: 'none',
  },
  {
    id: 'base64-payload',
    title: 'Base64-decoded payload piped into a shell (decodes to an echo)',
    expectedRuleIds: ['PAL-RT-052'],
    requires: ['process.exec'],
    command: sh('echo ZWNobyBwYWxpc2FkZS1zaW11bGF0aW9u | base64 -d | sh'),
    network: 'none',
  },
  {
    id: 'sshd-in-container',
    title: 'SSH daemon started in a container',
    expectedRuleIds: ['PAL-RT-056'],
    requires: ['process.exec'],
    command: renamedTrue('/usr/sbin/sshd', '-D'),
    network: 'none',
  },
  {
    id: 'crontab-edited',
    title: 'Cron table installed with crontab',
    expectedRuleIds: ['PAL-RT-057'],
    requires: ['process.exec'],
    command: renamedTrue('/usr/local/bin/crontab', '/tmp/palisade-sim.cron'),
    network: 'none',
  },
  {
    id: 'history-disabled',
    title: 'Shell history disabled with set +o history',
    expectedRuleIds: ['PAL-RT-059'],
    requires: ['process.exec'],
    command: ['/bin/bash', '-c', 'set +o history'],
    network: 'none',
  },
  {
    id: 'secret-search',
    title: 'File system searched for private keys',
    expectedRuleIds: ['PAL-RT-060'],
    requires: ['process.exec'],
    command: ['/bin/grep', '-r', '-l', '-s', 'PRIVATE KEY', '/etc/ssl'],
    network: 'none',
  },
  {
    id: 'debugfs',
    title: 'debugfs run in a container',
    expectedRuleIds: ['PAL-RT-062'],
    requires: ['process.exec'],
    command: ['/usr/sbin/debugfs', '-V'],
    network: 'none',
  },
  {
    id: 'seccomp-kill',
    title: 'Process killed by SIGSYS, as seccomp does (a child shell signals itself)',
    expectedRuleIds: ['PAL-RT-064'],
    requires: ['process.exit'],
    // Not the container's pid 1, which ignores signals it has no handler for.
    command: sh('sh -c "kill -SYS \\$\\$"; exit 0'),
    network: 'none',
  },
  {
    id: 'runtime-client',
    title: 'Container runtime client (crictl) run in a container',
    expectedRuleIds: ['PAL-RT-089'],
    requires: ['process.exec'],
    command: renamedTrue('/usr/local/bin/crictl', 'ps'),
    network: 'none',
  },
  {
    id: 'metadata-service',
    title: 'Cloud metadata service (169.254.169.254) contacted; the SYN cannot leave the container',
    expectedRuleIds: ['PAL-RT-030'],
    requires: ['network.connect'],
    command: voidConnect('169.254.169.254', 80),
    network: 'none',
    capAdd: ['NET_ADMIN'],
    helper: true,
  },
  {
    id: 'mining-pool-port',
    title: 'Stratum pool port contacted on a documentation address (TEST-NET-2, never leaves)',
    expectedRuleIds: ['PAL-RT-031'],
    requires: ['network.connect'],
    command: voidConnect('198.51.100.7', 3333),
    network: 'none',
    capAdd: ['NET_ADMIN'],
    helper: true,
  },
  {
    id: 'kubelet-contact',
    title: 'Kubelet port (10250) contacted from a container',
    expectedRuleIds: ['PAL-RT-032'],
    requires: ['network.connect'],
    command: [H, 'connect', '127.0.0.1', '10250', '300'],
    network: 'none',
    helper: true,
  },
  {
    id: 'read-shadow',
    title: 'Password hashes read (/etc/shadow)',
    expectedRuleIds: ['PAL-RT-020'],
    requires: ['file.open'],
    command: sh('cat /etc/shadow > /dev/null'),
    network: 'none',
  },
  {
    id: 'service-account-token-read',
    title: 'Service-account token read by a shell tool',
    expectedRuleIds: ['PAL-RT-022'],
    requires: ['file.open'],
    command: sh(
      'd=/var/run/secrets/kubernetes.io/serviceaccount; mkdir -p $d && echo palisade-sim > $d/token && cat $d/token > /dev/null',
    ),
    network: 'none',
  },
  {
    id: 'history-erased',
    title: 'Shell history file truncated',
    expectedRuleIds: ['PAL-RT-023'],
    requires: ['file.open'],
    command: sh(': > /root/.bash_history'),
    network: 'none',
  },
  {
    id: 'binary-drift',
    title: 'New binary written into /usr/local/bin of a running container',
    expectedRuleIds: ['PAL-RT-073'],
    requires: ['file.open'],
    command: sh('cp /bin/true /usr/local/bin/palisade-drift && /usr/local/bin/palisade-drift'),
    network: 'none',
  },
  {
    id: 'ld-preload',
    title: 'Dynamic linker preload file written (empty)',
    expectedRuleIds: ['PAL-RT-074'],
    requires: ['file.open'],
    command: sh(': > /etc/ld.so.preload'),
    network: 'none',
  },
  {
    id: 'authorized-keys',
    title: 'SSH authorized_keys written (empty)',
    expectedRuleIds: ['PAL-RT-075'],
    requires: ['file.open'],
    command: sh('mkdir -p /root/.ssh && : > /root/.ssh/authorized_keys'),
    network: 'none',
  },
  {
    id: 'cron-written',
    title: 'Cron configuration written (empty file)',
    expectedRuleIds: ['PAL-RT-066'],
    requires: ['file.open'],
    command: sh('mkdir -p /etc/cron.d && : > /etc/cron.d/palisade-sim'),
    network: 'none',
  },
  {
    id: 'sudoers-changed',
    title: 'Sudoers configuration written (empty file)',
    expectedRuleIds: ['PAL-RT-065'],
    requires: ['file.open'],
    command: sh('mkdir -p /etc/sudoers.d && : > /etc/sudoers.d/palisade-sim'),
    network: 'none',
  },
  {
    id: 'memfd-exec',
    title: 'Program executed from memory (memfd_create + fexecve of /bin/true)',
    expectedRuleIds: ['PAL-RT-042'],
    requires: ['process.memfd_exec'],
    command: [H, 'memfd-exec'],
    network: 'none',
    helper: true,
  },
  {
    id: 'ptrace-attach',
    title: 'ptrace attach to another process (its own child)',
    expectedRuleIds: ['PAL-RT-041'],
    requires: ['process.ptrace'],
    command: [H, 'ptrace-attach'],
    network: 'none',
    helper: true,
  },
  {
    id: 'ptrace-traceme',
    title: 'Anti-debugging with PTRACE_TRACEME',
    expectedRuleIds: ['PAL-RT-082'],
    requires: ['process.ptrace'],
    command: [H, 'ptrace-traceme'],
    network: 'none',
    helper: true,
  },
  {
    id: 'unshare-userns',
    title: 'New user namespace created in a container',
    expectedRuleIds: ['PAL-RT-078'],
    requires: ['ns.unshare'],
    command: [H, 'unshare'],
    network: 'none',
    helper: true,
  },
  {
    id: 'bind-shell-listen',
    title: 'netcat-named program listening on a port (a bind shell; loopback, closed at once)',
    expectedRuleIds: ['PAL-RT-076'],
    requires: ['network.listen'],
    command: sh(`cp ${H} /usr/local/bin/nc && /usr/local/bin/nc listen`),
    network: 'none',
    helper: true,
  },
  {
    id: 'bpf-program-load',
    title: 'eBPF program loaded from a container (a socket filter returning 0, never attached)',
    expectedRuleIds: ['PAL-RT-079'],
    requires: ['bpf.call'],
    command: [H, 'bpf-load'],
    network: 'none',
    // The runtime's default seccomp profile allows bpf() only with CAP_SYS_ADMIN.
    capAdd: ['SYS_ADMIN'],
    helper: true,
  },
];

/** The command with its placeholders filled in. */
export function scenarioCommand(s: Scenario, port: number): string[] {
  return s.command.map((a) => a.replaceAll('{port}', String(port)).replaceAll(H, HELPER_IN_CONTAINER));
}

/** Event types a scenario needs that the sensor does not produce (empty: it can run). */
export function missingEventTypes(s: Scenario, supported: readonly string[]): RuntimeEventType[] {
  return s.requires.filter((t) => !supported.includes(t));
}
