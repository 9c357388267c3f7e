/**
 * Programs the live tests (and capture-fixtures) run to cause kernel events that no
 * shell tool causes on its own: small Python scripts for the system Python (ctypes, no
 * packages), and the podman invocation of the test image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { debianImage } from '@palisade/testkit';

export const PYTHON = '/usr/bin/python3';
export const LIVE_IMAGE = 'localhost/palisade-sensor-test:latest';

export function podmanRunArgs(): string[] {
  return ['run', '--rm', '--runtime', '/usr/sbin/runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
}

export function hasPodman(): boolean {
  return spawnSync('podman', ['--version']).status === 0;
}

/** Imports the Debian test image into podman once. */
export function ensureLiveImage(): void {
  if (spawnSync('podman', ['image', 'exists', LIVE_IMAGE]).status !== 0) {
    execFileSync('podman', ['import', debianImage().layer, LIVE_IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** argv[1] = memfd name: copies /bin/true into a memfd and executes it (fexecve). */
export const PY_MEMFD_EXEC = [
  'import os,sys',
  'fd=os.memfd_create(sys.argv[1])',
  'os.write(fd,open("/bin/true","rb").read())',
  'os.execve(fd,["palisade-memfd-run",sys.argv[1]],{})',
].join('\n');

/** Starts /bin/sleep, waits until it has exec'd, PTRACE_ATTACHes, detaches, kills it; prints its pid. */
export const PY_PTRACE_ATTACH = [
  'import ctypes,os,signal,time',
  'libc=ctypes.CDLL(None,use_errno=True)',
  'libc.ptrace.restype=ctypes.c_long',
  'libc.ptrace.argtypes=[ctypes.c_long,ctypes.c_long,ctypes.c_void_p,ctypes.c_void_p]',
  'pid=os.fork()',
  'if pid==0:',
  '  os.execv("/bin/sleep",["/bin/sleep","30"])',
  'for _ in range(500):',
  '  if os.readlink("/proc/%d/exe"%pid).endswith("/sleep"): break',
  '  time.sleep(0.01)',
  'r=libc.ptrace(16,pid,None,None)',
  'os.waitpid(pid,0)',
  'libc.ptrace(17,pid,None,None)',
  'os.kill(pid,signal.SIGKILL)',
  'os.waitpid(pid,0)',
  'print(pid,r)',
].join('\n');

/** BPF_PROG_LOAD of "r0 = 0; exit" as a socket filter; prints the fd (or -1). */
export const PY_BPF_PROG_LOAD = [
  'import ctypes,platform,struct',
  'libc=ctypes.CDLL(None,use_errno=True)',
  'insns=(ctypes.c_uint64*2)(0xb7,0x95)',
  'lic=ctypes.create_string_buffer(b"GPL")',
  'attr=ctypes.create_string_buffer(128)',
  'struct.pack_into("IIQQ",attr,0,1,2,ctypes.addressof(insns),ctypes.addressof(lic))',
  'nr=280 if platform.machine()=="aarch64" else 321',
  'print(libc.syscall(nr,5,attr,128))',
].join('\n');

/** setns(fd, 0) into the parent's UTS namespace (run it under `unshare -u`); prints the result. */
export const PY_SETNS_ANY = [
  'import ctypes,os',
  'libc=ctypes.CDLL(None,use_errno=True)',
  'fd=os.open("/proc/%d/ns/uts"%os.getppid(),os.O_RDONLY)',
  'print(libc.setns(fd,0),fd)',
].join('\n');
