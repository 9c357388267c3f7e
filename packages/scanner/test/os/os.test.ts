import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@palisade/testkit';
import type { OsInfo } from '@palisade/core';
import { osDetector, parseKeyValues, parseReleaseLine, unquoteValue } from '../../src/os/index.js';
import { fileTreeFrom } from '../../src/catalogers/filetree.js';
import { loadRoot } from './load-root.js';

function detectFixture(name: string): OsInfo | undefined {
  return osDetector.detect(loadRoot(fixturePath('scanner', 'os', name), (f) => osDetector.wants(f)));
}

void test('Debian 12: etc/os-release is a symlink to usr/lib/os-release (this machine’s real files)', () => {
  assert.deepEqual(detectFixture('debian12'), {
    family: 'debian',
    id: 'debian',
    version: '12',
    codename: 'bookworm',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
  });
});

void test('this machine’s live /etc/os-release gives the same answer as its fixture copy', () => {
  const live = fileTreeFrom({ 'usr/lib/os-release': readFileSync('/usr/lib/os-release') }, undefined, {
    'etc/os-release': '../usr/lib/os-release',
  });
  assert.deepEqual(osDetector.detect(live), detectFixture('debian12'));
});

void test('Debian testing without VERSION_ID takes the version from debian_version', () => {
  const os = detectFixture('debian-sid');
  assert.equal(os?.family, 'debian');
  assert.equal(os?.version, 'trixie/sid');
  assert.equal(os?.codename, 'trixie');
});

void test('distroless is Debian for matching', () => {
  assert.deepEqual(detectFixture('distroless12'), {
    family: 'debian',
    id: 'debian',
    version: '12',
    codename: 'bookworm',
    prettyName: 'Distroless',
  });
});

void test('Alpine: full point release from alpine-release', () => {
  assert.deepEqual(detectFixture('alpine318'), {
    family: 'alpine',
    id: 'alpine',
    version: '3.18.4',
    prettyName: 'Alpine Linux v3.18',
  });
  assert.deepEqual(detectFixture('alpine-legacy'), { family: 'alpine', id: 'alpine', version: '3.15.4' });
});

void test('Ubuntu: os-release wins over debian_version ("bookworm/sid")', () => {
  const os = detectFixture('ubuntu2204');
  assert.equal(os?.family, 'ubuntu');
  assert.equal(os?.version, '22.04');
  assert.equal(os?.codename, 'jammy');
  assert.equal(os?.prettyName, 'Ubuntu 22.04.3 LTS');
});

void test('Ubuntu without os-release: lsb-release, not debian_version', () => {
  assert.deepEqual(detectFixture('ubuntu-lsb-only'), {
    family: 'ubuntu',
    id: 'ubuntu',
    version: '22.04',
    codename: 'jammy',
    prettyName: 'Ubuntu 22.04.3 LTS',
  });
});

void test('RHEL, Fedora, Amazon Linux 2023, Wolfi from os-release', () => {
  assert.deepEqual(detectFixture('rhel94'), {
    family: 'rhel',
    id: 'rhel',
    version: '9.4',
    prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)',
  });
  const fedora = detectFixture('fedora42');
  assert.equal(fedora?.family, 'fedora');
  assert.equal(fedora?.version, '42');
  // VERSION_CODENAME="" and "42 (Container Image)" is no codename.
  assert.equal(fedora?.codename, undefined);
  const amzn = detectFixture('amzn2023');
  assert.equal(amzn?.family, 'amzn');
  assert.equal(amzn?.version, '2023');
  assert.deepEqual(detectFixture('wolfi'), { family: 'wolfi', id: 'wolfi', version: '20230201', prettyName: 'Wolfi' });
});

void test('legacy Red Hat family one-liners: CentOS 7 (through symlinks), Amazon Linux 2', () => {
  assert.deepEqual(detectFixture('centos7-legacy'), {
    family: 'centos',
    id: 'centos',
    version: '7.6.1810',
    codename: 'core',
    prettyName: 'CentOS Linux release 7.6.1810 (Core)',
  });
  const amzn2 = detectFixture('amzn2-legacy');
  assert.equal(amzn2?.family, 'amzn');
  assert.equal(amzn2?.version, '2');
  assert.equal(amzn2?.codename, 'karoo');
});

void test('a binary where os-release should be: no OS, no crash', () => {
  assert.equal(detectFixture('garbage'), undefined);
  assert.equal(osDetector.detect(fileTreeFrom({})), undefined);
});

void test('old Debian without VERSION_CODENAME: codename from VERSION', () => {
  const os = osDetector.detect(
    fileTreeFrom({
      'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 8 (jessie)"\nID=debian\nVERSION_ID="8"\nVERSION="8 (jessie)"\n',
    }),
  );
  assert.equal(os?.codename, 'jessie');
  assert.equal(os?.version, '8');
});

void test('an unknown distro keeps its id; ID_LIKE picks the family', () => {
  const os = osDetector.detect(
    fileTreeFrom({ 'etc/os-release': 'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.2"\n' }),
  );
  assert.equal(os?.family, 'ubuntu');
  assert.equal(os?.id, 'linuxmint');
  const odd = osDetector.detect(fileTreeFrom({ 'etc/os-release': 'ID=nixos\nVERSION_ID=23.11\n' }));
  assert.equal(odd?.family, 'nixos');
});

void test('os-release quoting: double quotes with escapes, single quotes, comments, CRLF', () => {
  assert.equal(unquoteValue('"a \\"b\\" \\\\ \\$c"'), 'a "b" \\ $c');
  assert.equal(unquoteValue('"keep \\n as is"'), 'keep \\n as is');
  assert.equal(unquoteValue("'lit \\\" eral'"), 'lit \\" eral');
  assert.equal(unquoteValue('bare\\ word # comment'), 'bare word');
  assert.equal(unquoteValue('"a"\'b\'c'), 'abc');
  const kv = parseKeyValues('# comment\r\nID="x"\r\n  \r\nNOT A LINE\r\n=novalue\r\nVERSION_ID=\'1.0\'\r\n');
  assert.deepEqual(
    [...kv],
    [
      ['ID', 'x'],
      ['VERSION_ID', '1.0'],
    ],
  );
});

void test('release one-liners', () => {
  assert.deepEqual(parseReleaseLine('Red Hat Enterprise Linux Server release 7.9 (Maipo)\n'), {
    name: 'Red Hat Enterprise Linux Server',
    version: '7.9',
    codename: 'Maipo',
  });
  assert.deepEqual(parseReleaseLine('Fedora release 38 (Thirty Eight)'), {
    name: 'Fedora',
    version: '38',
    codename: 'Thirty Eight',
  });
  assert.equal(parseReleaseLine('nothing here'), undefined);
});

void test('wants: only release files, by exact path and a size bound', () => {
  assert.equal(osDetector.wants({ path: 'etc/os-release', size: 300, mode: 0o644 }), true);
  assert.equal(osDetector.wants({ path: 'usr/lib/os-release', size: 300, mode: 0o644 }), true);
  assert.equal(osDetector.wants({ path: 'etc/os-release.bak', size: 300, mode: 0o644 }), false);
  assert.equal(osDetector.wants({ path: 'x/etc/os-release', size: 300, mode: 0o644 }), false);
  assert.equal(osDetector.wants({ path: 'etc/os-release', size: 10_000_000, mode: 0o644 }), false);
});
