/**
 * File watch patterns: which paths produce file.open / file.unlink / file.truncate events.
 * They are matched in the kernel against the path of the opened file (symlinks resolved,
 * as the process sees it: a container's own /etc/shadow), so the thousands of other opens
 * a second never reach user space.
 */
import { PalisadeError } from '@palisade/core';

/** open: every open; write: opens for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC);
 * erase: unlink, truncate/ftruncate, and open with O_TRUNC (reported as file.open). */
export type FileWatchOp = 'open' | 'write' | 'erase';

export interface FileWatch {
  /**
   * A path prefix starting with '/', in which '*' matches within one path component
   * ('/home/x/.ssh/' for '/home/STAR/.ssh/'), or '*' followed by a suffix the path must end with
   * ('*' + '/.bash_history'). At most 59 bytes after the leading '*'.
   */
  pattern: string;
  on: readonly FileWatchOp[];
}

export const MAX_FILE_WATCHES = 64;
const MAX_PATTERN_BYTES = 59;

/**
 * What the built-in rules look at: credential files, keys and tokens (any open),
 * persistence and escape files (writes), logs and shell history (erasure).
 */
export const DEFAULT_FILE_WATCHES: readonly FileWatch[] = [
  // Credentials read.
  { pattern: '/etc/shadow', on: ['open'] },
  { pattern: '/etc/gshadow', on: ['open'] },
  { pattern: '/etc/security/opasswd', on: ['open'] },
  { pattern: '/etc/sudoers', on: ['open', 'erase'] },
  { pattern: '/root/.ssh/', on: ['open'] },
  { pattern: '/home/*/.ssh/', on: ['open'] },
  { pattern: '/etc/ssh/ssh_host_', on: ['open'] },
  { pattern: '/var/lib/kubelet/kubeconfig', on: ['open'] },
  { pattern: '/var/lib/kubelet/pki/', on: ['open'] },
  { pattern: '/etc/kubernetes/', on: ['open'] },
  { pattern: '/var/run/secrets/kubernetes.io/serviceaccount/', on: ['open'] },
  { pattern: '/run/secrets/kubernetes.io/serviceaccount/', on: ['open'] },
  { pattern: '/root/.aws/', on: ['open'] },
  { pattern: '/home/*/.aws/', on: ['open'] },
  { pattern: '/root/.config/gcloud/', on: ['open'] },
  { pattern: '/home/*/.config/gcloud/', on: ['open'] },
  { pattern: '/root/.azure/', on: ['open'] },
  { pattern: '/home/*/.azure/', on: ['open'] },
  { pattern: '/proc/*/environ', on: ['open'] },
  { pattern: '/proc/*/mem', on: ['open'] },
  { pattern: '/proc/*/task/*/environ', on: ['open'] },
  { pattern: '/proc/*/task/*/mem', on: ['open'] },
  // Persistence, tampering and escapes: writes only.
  { pattern: '/etc/crontab', on: ['write'] },
  { pattern: '/etc/cron.', on: ['write'] },
  { pattern: '/etc/anacrontab', on: ['write'] },
  { pattern: '/var/spool/cron/', on: ['write'] },
  { pattern: '/etc/ld.so.preload', on: ['write'] },
  { pattern: '/etc/passwd', on: ['write'] },
  { pattern: '/etc/group', on: ['write'] },
  { pattern: '/bin/', on: ['write'] },
  { pattern: '/sbin/', on: ['write'] },
  { pattern: '/usr/bin/', on: ['write'] },
  { pattern: '/usr/sbin/', on: ['write'] },
  { pattern: '/usr/local/bin/', on: ['write'] },
  { pattern: '/usr/local/sbin/', on: ['write'] },
  { pattern: '/proc/sys/kernel/core_pattern', on: ['write'] },
  { pattern: '*/release_agent', on: ['write'] },
  { pattern: '*/notify_on_release', on: ['write'] },
  // Evidence removal.
  { pattern: '/var/log/', on: ['erase'] },
  { pattern: '*/.bash_history', on: ['erase'] },
  { pattern: '*/.zsh_history', on: ['erase'] },
  { pattern: '*/.ash_history', on: ['erase'] },
  { pattern: '*/.sh_history', on: ['erase'] },
  { pattern: '*/.history', on: ['erase'] },
  { pattern: '*/.python_history', on: ['erase'] },
  { pattern: '*/.mysql_history', on: ['erase'] },
  { pattern: '*/.psql_history', on: ['erase'] },
  { pattern: '*/.node_repl_history', on: ['erase'] },
];

const OP_LETTER: Record<FileWatchOp, string> = { open: 'r', write: 'w', erase: 'e' };

function invalid(w: FileWatch, index: number, why: string): PalisadeError {
  return new PalisadeError('E_INPUT', `file watch ${index} ('${w.pattern}'): ${why}`, {
    subject: 'sensor fileWatches',
  });
}

/** Throws a PalisadeError (E_INPUT) naming the first bad pattern. */
export function validateFileWatches(watches: readonly FileWatch[]): void {
  if (watches.length > MAX_FILE_WATCHES)
    throw new PalisadeError('E_INPUT', `${watches.length} file watches, at most ${MAX_FILE_WATCHES}`, {
      subject: 'sensor fileWatches',
    });
  watches.forEach((w, i) => {
    if (typeof w.pattern !== 'string') throw invalid(w, i, 'pattern must be a string');
    if (!Array.isArray(w.on) || w.on.length === 0)
      throw invalid(w, i, "'on' must list at least one of open, write, erase");
    for (const op of w.on) if (!(op in OP_LETTER)) throw invalid(w, i, `unknown operation '${String(op)}'`);
    const suffix = w.pattern.startsWith('*');
    const body = suffix ? w.pattern.slice(1) : w.pattern;
    if (!suffix && !w.pattern.startsWith('/')) throw invalid(w, i, "must start with '/' (prefix) or '*' (suffix)");
    if (suffix && body.includes('*')) throw invalid(w, i, "a suffix pattern has one leading '*' only");
    const bytes = Buffer.byteLength(body);
    if (bytes === 0 || bytes > MAX_PATTERN_BYTES) throw invalid(w, i, `must be 1..${MAX_PATTERN_BYTES} bytes`);
    if (body.includes('\0')) throw invalid(w, i, 'contains a NUL byte');
  });
}

/** The loader's --watch arguments for these patterns (validated first). */
export function watchArgs(watches: readonly FileWatch[]): string[] {
  validateFileWatches(watches);
  const args: string[] = [];
  for (const w of watches) {
    const letters = [...new Set(w.on)].map((op) => OP_LETTER[op]).join('');
    args.push('--watch', `${letters}:${w.pattern}`);
  }
  return args;
}
