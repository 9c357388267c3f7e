import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PalisadeError } from '@palisade/core';
import { formatReference, manifestReference, parseReference } from '../../src/ref.js';
import { parseChallenge } from '../../src/registry/auth.js';
import { normalizePlatform, selectPlatform } from '../../src/registry/platform.js';

const D = 'sha256:' + 'ab'.repeat(32);

void test('a bare name is library/<name>:latest on Docker Hub', () => {
  const r = parseReference('nginx');
  assert.equal(r.registry, 'registry-1.docker.io');
  assert.equal(r.domain, 'docker.io');
  assert.equal(r.repository, 'library/nginx');
  assert.equal(r.tag, 'latest');
  assert.equal(r.digest, undefined);
  assert.equal(formatReference(r), 'docker.io/library/nginx:latest');
  assert.equal(formatReference(r, true), 'nginx:latest');
});

void test('user repos on Docker Hub keep their path; index.docker.io is docker.io', () => {
  assert.equal(parseReference('bitnami/redis:7').repository, 'bitnami/redis');
  const r = parseReference('index.docker.io/library/alpine:3.19');
  assert.equal(r.domain, 'docker.io');
  assert.equal(r.registry, 'registry-1.docker.io');
  assert.equal(r.repository, 'library/alpine');
});

void test('hosts with ports, localhost and IPs', () => {
  const a = parseReference('host:5000/a/b:tag');
  assert.deepEqual([a.registry, a.repository, a.tag], ['host:5000', 'a/b', 'tag']);
  const b = parseReference('localhost/app');
  assert.deepEqual([b.registry, b.repository, b.tag], ['localhost', 'app', 'latest']);
  const c = parseReference('127.0.0.1:5000/team/app:1.0');
  assert.deepEqual([c.registry, c.repository, c.tag], ['127.0.0.1:5000', 'team/app', '1.0']);
  const d = parseReference('ghcr.io/org/tool');
  assert.deepEqual([d.registry, d.repository], ['ghcr.io', 'org/tool']);
});

void test('digests: alone, and winning over a tag', () => {
  const a = parseReference(`host/repo@${D}`);
  assert.equal(a.digest, D);
  assert.equal(a.tag, undefined);
  assert.equal(manifestReference(a), D);
  const b = parseReference(`repo:tag@${D}`);
  assert.equal(b.tag, 'tag');
  assert.equal(b.digest, D);
  assert.equal(manifestReference(b), D);
  assert.equal(formatReference(b), `docker.io/library/repo:tag@${D}`);
});

void test('invalid references are E_INPUT naming the reference', () => {
  const bad = [
    '',
    'Nginx',
    'host/Repo:1',
    'repo:bad tag',
    'repo:-x',
    'repo@sha256:abc',
    `repo@md5:${'a'.repeat(32)}`,
    'host:5000/',
    'a//b',
    'repo@' + D.toUpperCase(),
    'x'.repeat(300),
  ];
  for (const ref of bad) {
    assert.throws(
      () => parseReference(ref),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_INPUT' && e.subject === ref,
      `expected E_INPUT for ${JSON.stringify(ref)}`,
    );
  }
  assert.throws(() => parseReference('host/Repo'), /lowercase/);
});

void test('an uppercase first component is a registry host, not a repository', () => {
  const r = parseReference('MyHost/app');
  assert.equal(r.registry, 'MyHost');
  assert.equal(r.repository, 'app');
});

void test('WWW-Authenticate challenges are parsed with quoted values', () => {
  const ch = parseChallenge(
    'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
  );
  assert.equal(ch?.scheme, 'bearer');
  assert.deepEqual(ch?.params, {
    realm: 'https://auth.example.com/token',
    service: 'registry.example.com',
    scope: 'repository:a/b:pull,push',
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
    scheme: 'basic',
    params: { realm: 'Registry Realm' },
  });
  assert.equal(parseChallenge(undefined), undefined);
});

void test('platform matching follows containerd: arm64 is v8, arm is v7, older arm variants are a fallback', () => {
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), {
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'x86_64' }), { os: 'linux', architecture: 'amd64' });
  const list = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    { os: 'linux', architecture: 'arm', variant: 'v6' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
  ];
  assert.equal(selectPlatform({ os: 'linux', architecture: 'arm64' }, list), 1);
  assert.equal(selectPlatform({ os: 'linux', architecture: 'arm' }, list), 3);
  assert.equal(selectPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, list), 2);
  assert.equal(selectPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }, list.slice(0, 3)), 2);
  assert.equal(selectPlatform({ os: 'linux', architecture: 's390x' }, list), -1);
  assert.equal(selectPlatform({ os: 'linux', architecture: 'arm64' }, [{ os: 'linux', architecture: 'arm64' }]), 0);
});
