import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeCgroupPath } from '../src/index.js';

const ID = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

test('container ids from the cgroup layouts of podman, docker, containerd, CRI-O and kubelet', () => {
  const cases: [string, ReturnType<typeof attributeCgroupPath>][] = [
    [`/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
    [`/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
    [`/libpod_parent/libpod-${ID}`, { id: ID, runtime: 'podman' }],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
    [`/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
    [`/docker/${ID}`, { id: ID, runtime: 'docker' }],
    [`/system.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: 'containerd' }],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12345678_1234_1234_1234_123456789abc.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: 'containerd', podUid: '12345678-1234-1234-1234-123456789abc' },
    ],
    [
      `/kubepods.slice/kubepods-pod12345678_1234_1234_1234_123456789abc.slice/crio-${ID}.scope`,
      { id: ID, runtime: 'cri-o', podUid: '12345678-1234-1234-1234-123456789abc' },
    ],
    [
      `/kubepods/besteffort/pod12345678-1234-1234-1234-123456789abc/${ID}`,
      { id: ID, runtime: 'kubernetes', podUid: '12345678-1234-1234-1234-123456789abc' },
    ],
  ];
  for (const [path, want] of cases) assert.deepEqual(attributeCgroupPath(path), want, path);
});

test('host cgroups and look-alikes are not containers', () => {
  for (const path of [
    '/',
    '/user.slice/user-0.slice/session-1.scope',
    '/system.slice/containerd.service',
    `/machine.slice/libpod-conmon-${ID}.scope`,
    '/process_api/c042d4ca76397006ad3c4943fa2a8201', // 32 hex: not a container id
    `/docker-${ID.slice(1)}.scope`,
    `/system.slice/docker-${ID.toUpperCase()}.scope`,
  ]) {
    assert.equal(attributeCgroupPath(path), undefined, path);
  }
});

test('the innermost container wins when runtimes nest', () => {
  const outer = 'b'.repeat(64);
  assert.deepEqual(attributeCgroupPath(`/system.slice/docker-${outer}.scope/machine.slice/libpod-${ID}.scope`), {
    id: ID,
    runtime: 'podman',
  });
});
