import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sharedPath } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/php/index.js';
import { lockfile, nv, run } from '../npm/harness.js';

void describe('php cataloger', () => {
  void it('parses every composer fixture; the broken one warns naming the file', () => {
    for (const f of readdirSync(sharedPath('conformance', 'lockfiles', 'composer'))) {
      const r = run(cataloger, { 'app/composer.lock': lockfile('composer', f) });
      if (f === 'not-json.txt') assert.match(r.warnings[0] ?? '', /^app\/composer\.lock: invalid composer\.lock/);
      else assert.deepEqual(r.warnings, [], f);
    }
  });

  void it('composer.lock: packages and packages-dev, vendor/name purls, licenses', () => {
    const pkgs = run(cataloger, { 'app/composer.lock': lockfile('composer', 'two-packages.json') }).pkgs;
    assert.deepEqual(
      pkgs.map((p) => `${p.purl} ${p.metadata?.['dev'] ?? '-'} ${(p.licenses ?? []).join('|')}`),
      ['pkg:composer/sentry/sdk@2.0.4 - MIT', 'pkg:composer/theseer/tokenizer@1.1.3 true BSD-3-Clause'],
    );
  });

  void it('installed.json: Composer 1 array and Composer 2 object with dev-package-names', () => {
    const v1 = JSON.stringify([{ name: 'monolog/monolog', version: '1.27.1', license: ['MIT'] }, { name: 'nameless' }]);
    const v2 = JSON.stringify({
      packages: [
        { name: 'psr/log', version: '3.0.0', version_normalized: '3.0.0.0', license: ['MIT'] },
        { name: 'phpunit/phpunit', version: '10.5.0', license: ['BSD-3-Clause'] },
      ],
      dev: true,
      'dev-package-names': ['phpunit/phpunit'],
    });
    const r = run(cataloger, {
      'old/vendor/composer/installed.json': v1,
      'new/vendor/composer/installed.json': v2,
      'x/installed.json': v2,
    });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.pkgs.map((p) => `${p.purl} ${p.metadata?.['dev'] ?? '-'} ${p.locations[0]?.path}`),
      [
        'pkg:composer/monolog/monolog@1.27.1 - old/vendor/composer/installed.json',
        'pkg:composer/phpunit/phpunit@10.5.0 true new/vendor/composer/installed.json',
        'pkg:composer/psr/log@3.0.0 - new/vendor/composer/installed.json',
      ],
    );
  });

  void it('warns about malformed installed.json', () => {
    const r = run(cataloger, {
      'vendor/composer/installed.json': '{"packages": 3}',
      'a/vendor/composer/installed.json': '',
    });
    assert.deepEqual(nv(r.pkgs), []);
    assert.equal(r.warnings.length, 2);
  });
});
