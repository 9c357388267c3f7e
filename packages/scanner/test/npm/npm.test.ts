import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fixturePath, sharedPath } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/npm/index.js';
import { isInstalledManifest } from '../../src/catalogers/npm/installed.js';
import { parsePnpmKey } from '../../src/catalogers/npm/pnpm.js';
import { lockfile, nv, run } from './harness.js';

/** Every file under a fixture dir, keyed by its path relative to that dir. */
function treeOf(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p);
    }
  };
  walk(dir);
  return out;
}

const NM = 'usr/lib/node_modules/npm/node_modules';

void describe('npm cataloger: installed packages', () => {
  const global = treeOf(fixturePath('scanner', 'npm', 'global'));

  void it("reads npm's real global install with its bundled, scoped and nested dependencies", () => {
    const r = run(cataloger, global);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(nv(r.pkgs), [
      '@npmcli/fs@5.0.0',
      'abbrev@4.0.0',
      'minipass@3.3.6',
      'minipass-pipeline@1.2.4',
      'npm@11.19.1',
      'semver@7.8.5',
    ]);
    const fs = r.pkgs.find((p) => p.name === '@npmcli/fs');
    assert.equal(fs?.purl, 'pkg:npm/%40npmcli/fs@5.0.0');
    assert.deepEqual(fs?.licenses, ['ISC']);
    assert.equal(fs?.foundBy, 'npm');
    assert.equal(fs?.locations[0]?.path, `${NM}/@npmcli/fs/package.json`);
    assert.deepEqual(r.pkgs.find((p) => p.name === 'npm')?.licenses, ['Artistic-2.0']);
    assert.equal(
      r.pkgs.find((p) => p.name === 'minipass')?.locations[0]?.path,
      `${NM}/minipass-pipeline/node_modules/minipass/package.json`,
    );
  });

  void it('ignores package.json files that are not package roots', () => {
    const abbrev = global[`${NM}/abbrev/package.json`] as Buffer;
    const r = run(cataloger, {
      [`${NM}/abbrev/lib/package.json`]: abbrev,
      [`${NM}/abbrev/test/fixtures/node_modules/x/package.json`]: abbrev,
      'app/package.json': abbrev,
      [`${NM}/.bin/package.json`]: abbrev,
    });
    assert.deepEqual(r.kept, []);
    assert.deepEqual(r.pkgs, []);
  });

  void it('accepts pnpm virtual-store layouts and rejects partial paths', () => {
    assert.equal(isInstalledManifest('app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json'), true);
    assert.equal(isInstalledManifest('node_modules/@scope/name/package.json'), true);
    assert.equal(isInstalledManifest('node_modules/@scope/package.json'), false);
    assert.equal(isInstalledManifest('app/node_modules/.pnpm/lodash@4.17.21/package.json'), false);
    assert.equal(isInstalledManifest('app/node_modules/package.json'), false);
  });

  void it('warns about malformed and empty manifests, skips nameless ones, reads huge ones', () => {
    const huge = JSON.stringify({
      name: 'big',
      version: '1.0.0',
      license: { type: 'MIT' },
      readme: 'x'.repeat(4_000_000),
    });
    const r = run(cataloger, {
      'node_modules/broken/package.json': '{"name": "broken", "version": ',
      'node_modules/empty/package.json': '',
      'node_modules/noversion/package.json': '{"name": "noversion"}',
      'node_modules/array/package.json': '[1,2]',
      'node_modules/big/package.json': huge,
      'node_modules/legacy/package.json': JSON.stringify({
        name: 'legacy',
        version: '0.1.0',
        licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }],
      }),
    });
    assert.deepEqual(nv(r.pkgs), ['big@1.0.0', 'legacy@0.1.0']);
    assert.deepEqual(r.pkgs[0]?.licenses, ['MIT']);
    assert.deepEqual(r.pkgs[1]?.licenses, ['MIT', 'Apache-2.0']);
    assert.equal(r.warnings.length, 3);
    assert.ok(r.warnings.some((w) => w.startsWith('node_modules/broken/package.json: ') && w.includes('invalid JSON')));
    assert.ok(r.warnings.some((w) => w.startsWith('node_modules/empty/package.json: ') && w.includes('empty')));
    assert.ok(r.warnings.some((w) => w.startsWith('node_modules/array/package.json: ')));
  });

  void it('keeps only a small form of a manifest', () => {
    const huge = Buffer.from(JSON.stringify({ name: 'big', version: '1.0.0', readme: 'x'.repeat(100_000) }));
    const meta = { path: 'node_modules/big/package.json', size: huge.length, mode: 0o644 };
    assert.equal(cataloger.wants(meta), true);
    const reduced = cataloger.extract?.(meta, huge);
    assert.ok(reduced && reduced.length < 200);
  });
});

void describe('npm cataloger: lockfiles and deduplication', () => {
  const lock = lockfile('npm', 'two-packages.v2.json');

  void it('uses a lockfile only when no node_modules is installed beside it', () => {
    const r = run(cataloger, {
      'srv/app/package-lock.json': lock,
      'srv/app/node_modules/wrappy/package.json': '{"name":"wrappy","version":"1.0.2","license":"ISC"}',
      'srv/other/package-lock.json': lock,
    });
    assert.deepEqual(
      r.pkgs.map((p) => `${p.name}@${p.version} ${p.locations[0]?.path}`),
      [
        'supports-color@5.5.0 srv/other/package-lock.json',
        'wrappy@1.0.2 srv/app/node_modules/wrappy/package.json',
        'wrappy@1.0.2 srv/other/package-lock.json',
      ],
    );
  });

  void it('ignores lockfiles shipped inside node_modules', () => {
    assert.equal(cataloger.wants({ path: 'app/node_modules/x/package-lock.json', size: 10, mode: 0o644 }), false);
    assert.equal(cataloger.wants({ path: 'app/node_modules/x/yarn.lock', size: 10, mode: 0o644 }), false);
    assert.equal(cataloger.wants({ path: 'app/yarn.lock', size: 10, mode: 0o644 }), true);
    assert.equal(cataloger.wants({ path: 'app/pnpm-lock.yaml', size: 10, mode: 0o644 }), true);
    assert.equal(cataloger.wants({ path: 'app/npm-shrinkwrap.json', size: 10, mode: 0o644 }), true);
    assert.equal(cataloger.wants({ path: 'app/other.json', size: 10, mode: 0o644 }), false);
  });

  void it('warns on a package-lock of an unknown version and on a pnpm lockfile of an unknown version', () => {
    const r = run(cataloger, {
      'a/package-lock.json': '{"lockfileVersion": 7, "packages": {"node_modules/x": {"version": "1.0.0"}}}',
      'b/pnpm-lock.yaml': "lockfileVersion: '3.1'\npackages:\n  /x/1.0.0: {}\n",
    });
    assert.deepEqual(r.pkgs, []);
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0] ?? '', /^a\/package-lock\.json: unsupported package-lock lockfileVersion 7/);
    assert.match(r.warnings[1] ?? '', /^b\/pnpm-lock\.yaml: unsupported pnpm lockfileVersion/);
  });
});

void describe('npm cataloger: conformance lockfiles', () => {
  const sets: Array<[string, string]> = [
    ['npm', 'package-lock.json'],
    ['yarn', 'yarn.lock'],
    ['pnpm', 'pnpm-lock.yaml'],
  ];
  const broken = new Set(['npm/not-json.txt', 'pnpm/not-yaml.txt', 'pnpm/empty.yaml']);

  for (const [dir, name] of sets) {
    void it(`parses every ${dir} fixture; broken ones warn naming the file`, () => {
      for (const f of readdirSync(sharedPath('conformance', 'lockfiles', dir))) {
        const path = `proj/${name}`;
        const r = run(cataloger, { [path]: lockfile(dir, f) });
        if (broken.has(`${dir}/${f}`)) {
          assert.equal(r.warnings.length, 1, `${dir}/${f} should warn`);
          assert.ok(r.warnings[0]?.startsWith(`${path}: `));
        } else assert.deepEqual(r.warnings, [], `${dir}/${f} should not warn`);
        for (const p of r.pkgs) assert.ok(p.purl.startsWith('pkg:npm/') && p.version !== '', `${dir}/${f}: ${p.purl}`);
      }
    });
  }

  const one = (dir: string, file: string, name: string): ReturnType<typeof run> =>
    run(cataloger, { [`proj/${name}`]: lockfile(dir, file) });

  void it('package-lock v1 and v2: aliases resolve to the real package', () => {
    const expected = ['@babel/helper-validator-identifier@7.22.20', 'ansi-regex@5.0.1', 'ansi-regex@6.0.1'];
    assert.deepEqual(nv(one('npm', 'with-aliases.v1.json', 'package-lock.json').pkgs), expected);
    assert.deepEqual(nv(one('npm', 'with-aliases.v2.json', 'package-lock.json').pkgs), expected);
    const purls = one('npm', 'scoped-packages.v2.json', 'package-lock.json').pkgs.map((p) => p.purl);
    assert.deepEqual(purls, ['pkg:npm/%40babel/code-frame@7.0.0', 'pkg:npm/wrappy@1.0.2']);
  });

  void it('package-lock: nested copies, dev flags, local file: sources skipped', () => {
    assert.deepEqual(nv(one('npm', 'nested-dependencies.v1.json', 'package-lock.json').pkgs), [
      'postcss@6.0.23',
      'postcss@7.0.16',
      'postcss-calc@7.0.1',
      'supports-color@5.5.0',
      'supports-color@6.1.0',
    ]);
    const files = one('npm', 'files.v2.json', 'package-lock.json').pkgs;
    assert.deepEqual(nv(files), ['abbrev@1.0.9', 'abbrev@2.3.4']);
    assert.equal(files[0]?.metadata?.['dev'], 'true');
    const dev = one('npm', 'one-package-dev.v1.json', 'package-lock.json').pkgs;
    assert.deepEqual(
      dev.map((p) => p.metadata?.['dev']),
      ['true'],
    );
  });

  void it('yarn v1: multiple specs, quoted keys, aliases; file: entries skipped', () => {
    assert.deepEqual(nv(one('yarn', 'multiple-constraints.v1.lock', 'yarn.lock').pkgs), [
      '@babel/code-frame@7.12.13',
      'domelementtype@1.3.1',
    ]);
    assert.deepEqual(nv(one('yarn', 'with-quotes.v1.lock', 'yarn.lock').pkgs), [
      'concat-map@0.0.1',
      'concat-stream@1.6.2',
    ]);
    assert.deepEqual(nv(one('yarn', 'with-aliases.v1.lock', 'yarn.lock').pkgs), [
      '@babel/helper-validator-identifier@7.22.20',
      'ansi-regex@5.0.1',
      'ansi-regex@6.0.1',
    ]);
    assert.deepEqual(nv(one('yarn', 'files.v1.lock', 'yarn.lock').pkgs), ['etag@1.8.1', 'lodash@1.3.1']);
  });

  void it('yarn berry: resolution names the package; workspace and file entries skipped', () => {
    assert.deepEqual(nv(one('yarn', 'exclude-root.v2.lock', 'yarn.lock').pkgs), ['ansi-regex@6.1.0']);
    assert.deepEqual(nv(one('yarn', 'with-aliases.v2.lock', 'yarn.lock').pkgs), [
      '@babel/helper-validator-identifier@7.22.20',
      'ansi-regex@5.0.1',
      'ansi-regex@6.0.1',
    ]);
    assert.deepEqual(nv(one('yarn', 'files.v2.lock', 'yarn.lock').pkgs), []);
    assert.deepEqual(one('yarn', 'metadata-only.v2.lock', 'yarn.lock').pkgs, []);
  });

  void it('pnpm v5/v6/v9 keys, peer suffixes, explicit name/version, dev flags', () => {
    assert.deepEqual(nv(one('pnpm', 'exotic.yaml', 'pnpm-lock.yaml').pkgs), [
      '@foo/bar@1.0.0',
      '@foo/bar@1.1.0',
      'foo@1.0.0',
      'foo@1.1.0',
      'foo@1.2.0',
      'foo@1.3.0',
      'foo@1.4.0',
    ]);
    assert.deepEqual(nv(one('pnpm', 'peer-dependencies-v6.yaml', 'pnpm-lock.yaml').pkgs), [
      'js-tokens@4.0.0',
      'loose-envify@1.4.0',
      'react@18.2.0',
      'react-dom@18.2.0',
      'scheduler@0.23.0',
    ]);
    assert.deepEqual(nv(one('pnpm', 'peer-dependencies.v9.yaml', 'pnpm-lock.yaml').pkgs), [
      'acorn@8.11.3',
      'acorn-jsx@5.3.2',
    ]);
    assert.deepEqual(nv(one('pnpm', 'commits.v9.yaml', 'pnpm-lock.yaml').pkgs), [
      'ansi-regex@6.0.1',
      'is-number@7.0.0',
    ]);
    assert.deepEqual(nv(one('pnpm', 'tarball.yaml', 'pnpm-lock.yaml').pkgs), ['@my-org/my-package@3.2.3']);
    assert.deepEqual(one('pnpm', 'files.yaml', 'pnpm-lock.yaml').pkgs, []);
    const mixed = one('pnpm', 'mixed-groups.v6.yaml', 'pnpm-lock.yaml').pkgs;
    assert.deepEqual(
      mixed.map((p) => `${p.name} ${p.metadata?.['dev'] ?? '-'} ${p.metadata?.['optional'] ?? '-'}`),
      ['ansi-regex - -', 'is-number true -', 'uuid - true'],
    );
    const invalid = nv(one('pnpm', 'invalid-package-path.yaml', 'pnpm-lock.yaml').pkgs);
    assert.ok(
      invalid.includes('axios@1.2.5') && invalid.includes('pinia@2.0.28') && invalid.includes('@babel/parser@7.20.7'),
    );
  });

  void it('pnpm key forms', () => {
    assert.deepEqual(parsePnpmKey('/@babel/parser/7.20.7', 5), { name: '@babel/parser', version: '7.20.7' });
    assert.deepEqual(parsePnpmKey('/foo/1.4.0_@types+babel__core@7.1.14', 5), { name: 'foo', version: '1.4.0' });
    assert.deepEqual(parsePnpmKey('/react-dom@18.2.0(react@18.2.0)', 6), { name: 'react-dom', version: '18.2.0' });
    assert.deepEqual(parsePnpmKey('@scope/x@1.0.0(a@1.0.0)(b@2.0.0)', 9), { name: '@scope/x', version: '1.0.0' });
    assert.equal(parsePnpmKey('github.com/kevva/is-positive', 5), undefined);
  });
});
