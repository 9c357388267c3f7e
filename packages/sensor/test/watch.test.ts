import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPalisadeError } from '@palisade/core';
import {
  capabilityNames,
  DEFAULT_FILE_WATCHES,
  mountFlagNames,
  namespaceFlagNames,
  openFlagNames,
  openIsWrite,
  validateFileWatches,
  watchArgs,
  type FileWatch,
} from '../src/index.js';

test('default watches become loader arguments: letters for operations, patterns as given', () => {
  const args = watchArgs(DEFAULT_FILE_WATCHES);
  assert.equal(args.length, 2 * DEFAULT_FILE_WATCHES.length);
  assert.ok(DEFAULT_FILE_WATCHES.length <= 64);
  assert.deepEqual(args.slice(0, 2), ['--watch', 'r:/etc/shadow']);
  assert.ok(args.includes('re:/etc/sudoers'));
  assert.ok(args.includes('e:*/.bash_history'));
  assert.ok(args.includes('w:/usr/bin/'));
  assert.deepEqual(watchArgs([{ pattern: '/x', on: ['erase', 'open', 'open'] }]), ['--watch', 'er:/x']);
});

test('bad watch patterns are refused with the pattern named', () => {
  const bad: [FileWatch[], RegExp][] = [
    [[{ pattern: 'etc/shadow', on: ['open'] }], /watch 0 \('etc\/shadow'\): must start with/],
    [
      [
        { pattern: '/ok', on: ['open'] },
        { pattern: '*/a*b', on: ['open'] },
      ],
      /watch 1 .*one leading '\*'/,
    ],
    [[{ pattern: '/x', on: [] }], /at least one of open, write, erase/],
    [[{ pattern: '/x', on: ['read' as 'open'] }], /unknown operation 'read'/],
    [[{ pattern: '/' + 'a'.repeat(59), on: ['open'] }], /1\.\.59 bytes/],
    [[{ pattern: '*', on: ['open'] }], /1\.\.59 bytes/],
    [Array.from({ length: 65 }, () => ({ pattern: '/x', on: ['open'] as const })), /65 file watches, at most 64/],
  ];
  for (const [w, re] of bad) {
    assert.throws(
      () => validateFileWatches(w),
      (e: unknown) => isPalisadeError(e) && e.code === 'E_INPUT' && re.test(e.message),
      String(re),
    );
  }
});

test('flag and capability names', () => {
  assert.deepEqual(openFlagNames(0o1101), ['O_WRONLY', 'O_CREAT', 'O_TRUNC']);
  assert.deepEqual(openFlagNames(0o2000000), ['O_RDONLY', 'O_CLOEXEC']);
  assert.deepEqual(openFlagNames(0o4010002), ['O_RDWR', 'O_SYNC']);
  assert.equal(openIsWrite(0), false);
  assert.equal(openIsWrite(0o1000), true, 'O_TRUNC on a read-only open still destroys content');
  assert.deepEqual(mountFlagNames(0xc0ed0000n | 4096n | 16384n), ['MS_BIND', 'MS_REC']);
  assert.deepEqual(namespaceFlagNames(0x10020000), ['CLONE_NEWNS', 'CLONE_NEWUSER']);
  assert.deepEqual(capabilityNames((1n << 21n) | 1n | (1n << 50n)), ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_50']);
});
