import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixturePath, sharedPath } from '@palisade/testkit';
import { normalizePyName } from '../../src/catalogers/python/common.js';
import { cataloger } from '../../src/catalogers/python/index.js';
import { logicalLines, pinnedRequirement } from '../../src/catalogers/python/requirements.js';
import { lockfile, nv, run } from '../npm/harness.js';

const SP = 'venv/lib/python3.11/site-packages';
const DP = 'deb/usr/lib/python3/dist-packages';
const fx = (rel: string): Buffer => readFileSync(fixturePath('scanner', 'python', rel));

void describe('python cataloger: installed distributions', () => {
  void it('reads real dist-info METADATA and egg-info PKG-INFO (directory and file forms)', () => {
    const files = {
      [`${SP}/attrs-26.1.0.dist-info/METADATA`]: fx(`${SP}/attrs-26.1.0.dist-info/METADATA`),
      [`${SP}/annotated_types-0.7.0.dist-info/METADATA`]: fx(`${SP}/annotated_types-0.7.0.dist-info/METADATA`),
      [`${DP}/PyJWT-2.6.0.egg-info/PKG-INFO`]: fx(`${DP}/PyJWT-2.6.0.egg-info/PKG-INFO`),
      [`${DP}/lazr.uri-1.0.6.egg-info/PKG-INFO`]: fx(`${DP}/lazr.uri-1.0.6.egg-info/PKG-INFO`),
      [`${DP}/crit-3.17.1-py3.11.egg-info`]: fx(`${DP}/crit-3.17.1-py3.11.egg-info`),
      [`${SP}/attrs-26.1.0.dist-info/RECORD`]: 'attrs/__init__.py,,\n',
    };
    const r = run(cataloger, files);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.pkgs.map((p) => `${p.purl} ${(p.licenses ?? []).join('|')}`),
      [
        'pkg:pypi/pyjwt@2.6.0 MIT',
        'pkg:pypi/annotated-types@0.7.0 MIT License',
        'pkg:pypi/attrs@26.1.0 MIT',
        'pkg:pypi/crit@3.17.1 GPLv2',
        'pkg:pypi/lazr-uri@1.0.6 LGPL v3',
      ],
    );
    assert.equal(r.pkgs[0]?.name, 'PyJWT');
    assert.equal(r.pkgs[0]?.locations[0]?.path, `${DP}/PyJWT-2.6.0.egg-info/PKG-INFO`);
    assert.equal(r.pkgs[0]?.foundBy, 'python');
  });

  void it('keeps only the header block of METADATA', () => {
    const data = Buffer.from('Metadata-Version: 2.1\nName: x\nVersion: 1\n\n' + 'long description\n'.repeat(10_000));
    const meta = { path: 'a/x-1.dist-info/METADATA', size: data.length, mode: 0o644 };
    assert.ok((cataloger.extract?.(meta, data)?.length ?? Infinity) < 100);
  });

  void it('warns about metadata without name or version, and empty files', () => {
    const r = run(cataloger, {
      'a/x-1.dist-info/METADATA': 'Metadata-Version: 2.1\nName: x\n',
      'a/y-1.dist-info/METADATA': '',
      'a/z-1.dist-info/METADATA': 'Name: bad name!\nVersion: 1\n',
    });
    assert.deepEqual(r.pkgs, []);
    assert.equal(r.warnings.length, 3);
    assert.ok(r.warnings.every((w) => w.startsWith('a/')));
  });

  void it('normalizes names per PEP 503', () => {
    assert.equal(normalizePyName('Zope.Interface'), 'zope-interface');
    assert.equal(normalizePyName('typing__extensions'), 'typing-extensions');
    assert.equal(normalizePyName('Foo-_.Bar'), 'foo-bar');
  });
});

void describe('python cataloger: requirements files', () => {
  void it('joins continuation lines the way pip does', () => {
    const pkgs = run(cataloger, { 'app/requirements.txt': lockfile('pip', 'line-continuation.txt') }).pkgs;
    assert.deepEqual(nv(pkgs), ['bar@4.5.6', 'baz@7.8.9', 'foo@1.2.3', 'qux@10.11.12']);
    assert.deepEqual(logicalLines('a==1\\\n.2\nb==3'), ['a==1.2', 'b==3']);
  });

  void it('keeps only pinned requirements; extras, markers, hashes and options handled', () => {
    assert.deepEqual(pinnedRequirement('Twisted[http2]==20.3.0  # via scrapy'), { name: 'Twisted', version: '20.3.0' });
    assert.deepEqual(pinnedRequirement('foo===1.0 ; python_version < "3.8"'), { name: 'foo', version: '1.0' });
    assert.deepEqual(pinnedRequirement('boto3==1.26.121 --hash=sha256:abc'), { name: 'boto3', version: '1.26.121' });
    assert.equal(pinnedRequirement('keyring >= 4.1.1'), undefined);
    assert.equal(pinnedRequirement('foo==1.*'), undefined);
    assert.equal(pinnedRequirement('foo==1.0,<2'), undefined);
    assert.equal(pinnedRequirement('-r other.txt'), undefined);
    assert.equal(pinnedRequirement('-e git+https://x/y.git#egg=y'), undefined);
    assert.equal(pinnedRequirement('./downloads/numpy-1.9.2-cp34-none-win32.whl'), undefined);
    const example = run(cataloger, { 'app/requirements.txt': lockfile('pip', 'file-format-example.txt') }).pkgs;
    assert.deepEqual(nv(example), ['docopt@0.6.1']);
    const names = run(cataloger, { 'app/requirements.txt': lockfile('pip', 'non-normalized-names.txt') }).pkgs;
    assert.deepEqual(
      names.map((p) => p.purl),
      ['pkg:pypi/pillow@1.0.0', 'pkg:pypi/twisted@20.3.0', 'pkg:pypi/zope-interface@5.4.0'],
    );
  });

  void it('catalogs each requirements file of a requirements/ dir once, without following -r', () => {
    const files: Record<string, Buffer> = {};
    for (const f of readdirSync(sharedPath('conformance', 'lockfiles', 'pip')))
      files[`app/requirements/${f}`] = lockfile('pip', f);
    const r = run(cataloger, files);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.kept.length, files ? Object.keys(files).length : 0);
    const self = r.pkgs.filter((p) => p.locations[0]?.path === 'app/requirements/cyclic-r-self.txt');
    assert.deepEqual(nv(self), ['pandas@0.23.4', 'requests@1.2.3']);
    assert.equal(cataloger.wants({ path: 'app/requirements-dev.txt', size: 1, mode: 0o644 }), true);
    assert.equal(cataloger.wants({ path: 'app/notes.txt', size: 1, mode: 0o644 }), false);
  });
});

void describe('python cataloger: lockfiles', () => {
  const sets: Array<[string, string, string[]]> = [
    ['pipenv', 'Pipfile.lock', ['not-json.txt']],
    ['poetry', 'poetry.lock', ['not-toml.txt']],
    ['pdm', 'pdm.lock', ['not-toml.txt']],
    ['uv', 'uv.lock', ['not-toml.txt', 'empty.lock']],
    ['pylock', 'pylock.toml', ['not-toml.txt']],
  ];
  for (const [dir, name, broken] of sets) {
    void it(`parses every ${dir} fixture; broken ones warn naming the file`, () => {
      for (const f of readdirSync(sharedPath('conformance', 'lockfiles', dir))) {
        const r = run(cataloger, { [`proj/${name}`]: lockfile(dir, f) });
        if (broken.includes(f)) {
          assert.equal(r.warnings.length, 1, `${dir}/${f}`);
          assert.ok(r.warnings[0]?.startsWith(`proj/${name}: `));
        } else assert.deepEqual(r.warnings, [], `${dir}/${f}`);
      }
    });
  }

  const one = (dir: string, f: string, name: string): ReturnType<typeof run> =>
    run(cataloger, { [`proj/${name}`]: lockfile(dir, f) });

  void it('Pipfile.lock: default and develop, git entries without version skipped', () => {
    const two = one('pipenv', 'two-packages.json', 'Pipfile.lock').pkgs;
    assert.deepEqual(
      two.map((p) => `${p.name}@${p.version}:${p.metadata?.['dev'] ?? '-'}`),
      ['itsdangerous@2.1.2:-', 'markupsafe@2.1.1:true'],
    );
    assert.deepEqual(one('pipenv', 'no-version.json', 'Pipfile.lock').pkgs, []);
  });

  void it('poetry, pdm, uv, pylock: exact packages', () => {
    assert.deepEqual(nv(one('poetry', 'two-packages.lock', 'poetry.lock').pkgs), [
      'proto-plus@1.22.0',
      'protobuf@4.21.5',
    ]);
    assert.equal(one('poetry', 'source-git.lock', 'poetry.lock').pkgs[0]?.metadata?.['source'], 'git');
    const pdm = one('pdm', 'dev-dependency.toml', 'pdm.lock').pkgs;
    assert.deepEqual(
      pdm.map((p) => `${p.name}:${p.metadata?.['dev'] ?? '-'}`),
      ['pyroute2:true', 'toml:-', 'win-inet-pton:true'],
    );
    // The project itself (source = { virtual = "." }) is not a dependency.
    assert.deepEqual(nv(one('uv', 'one-package.lock', 'uv.lock').pkgs), ['emoji@2.14.0']);
    assert.deepEqual(one('uv', 'no-dependencies.lock', 'uv.lock').pkgs, []);
    assert.deepEqual(nv(one('pylock', 'example.toml', 'pylock.toml').pkgs), [
      'attrs@25.1.0',
      'cattrs@24.1.2',
      'numpy@2.2.3',
    ]);
    assert.deepEqual(one('pylock', 'pip-just-self.toml', 'pylock.toml').pkgs, []);
  });

  void it('warns on a pylock of an unknown lock-version', () => {
    const r = run(cataloger, {
      'p/pylock.dev.toml': 'lock-version = "2.0"\n[[packages]]\nname = "a"\nversion = "1"\n',
    });
    assert.deepEqual(r.pkgs, []);
    assert.match(r.warnings[0] ?? '', /^p\/pylock\.dev\.toml: unsupported pylock lock-version/);
  });
});
