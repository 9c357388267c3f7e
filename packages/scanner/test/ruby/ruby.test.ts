import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixturePath, sharedPath } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/ruby/index.js';
import { lockfile, nv, run } from '../npm/harness.js';

const GEMS = 'usr/lib/ruby/gems/3.1.0/specifications';
const INTEGRATION = 'usr/share/rubygems-integration/all/specifications';
const fx = (rel: string): Buffer => readFileSync(fixturePath('scanner', 'ruby', rel));

void describe('ruby cataloger: installed gemspecs', () => {
  void it("reads Debian's real RubyGems-generated gemspecs, default gems included", () => {
    const r = run(cataloger, {
      [`${GEMS}/minitest-5.15.0.gemspec`]: fx(`${GEMS}/minitest-5.15.0.gemspec`),
      [`${GEMS}/default/bundler-2.3.27.gemspec`]: fx(`${GEMS}/default/bundler-2.3.27.gemspec`),
      [`${INTEGRATION}/rake-13.0.6.gemspec`]: fx(`${INTEGRATION}/rake-13.0.6.gemspec`),
      // A gemspec in a source checkout is not an installed gem.
      'src/app/mygem.gemspec': fx(`${INTEGRATION}/rake-13.0.6.gemspec`),
    });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.pkgs.map((p) => `${p.purl} ${(p.licenses ?? []).join('|')} ${p.locations[0]?.path}`),
      [
        `pkg:gem/bundler@2.3.27 MIT ${GEMS}/default/bundler-2.3.27.gemspec`,
        `pkg:gem/minitest@5.15.0 MIT ${GEMS}/minitest-5.15.0.gemspec`,
        `pkg:gem/rake@13.0.6 MIT ${INTEGRATION}/rake-13.0.6.gemspec`,
      ],
    );
    assert.equal(r.pkgs[0]?.foundBy, 'ruby');
  });

  void it('warns about a gemspec without a literal name or version', () => {
    const r = run(cataloger, {
      [`${GEMS}/x-1.gemspec`]: 'Gem::Specification.new do |s|\n  s.name = "x"\nend\n',
      [`${GEMS}/y-1.gemspec`]: '',
    });
    assert.deepEqual(r.pkgs, []);
    assert.equal(r.warnings.length, 2);
    assert.ok(r.warnings.every((w) => w.startsWith(`${GEMS}/`)));
  });
});

void describe('ruby cataloger: Gemfile.lock', () => {
  void it('parses every bundler fixture without warnings', () => {
    for (const f of readdirSync(sharedPath('conformance', 'lockfiles', 'bundler'))) {
      const r = run(cataloger, { 'app/Gemfile.lock': lockfile('bundler', f) });
      assert.deepEqual(r.warnings, [], f);
    }
  });

  void it('GEM and GIT specs, platform suffixes; PATH gems skipped', () => {
    const git = run(cataloger, { 'app/Gemfile.lock': lockfile('bundler', 'has-git-gem.lock') }).pkgs;
    assert.deepEqual(nv(git), [
      'concurrent-ruby@1.1.7',
      'hanami-controller@2.0.0.alpha1',
      'hanami-utils@2.0.0.alpha1',
      'rack@2.2.3',
      'transproc@1.1.1',
    ]);
    assert.equal(git[1]?.metadata?.['source'], 'git');
    const local = run(cataloger, { 'app/Gemfile.lock': lockfile('bundler', 'has-local-gem.lock') }).pkgs;
    assert.equal(
      local.some((p) => p.name === 'backbone-on-rails'),
      false,
    );
    assert.equal(local.length, 29); // the 29 GEM specs counted in the fixture
    const noko = local.find((p) => p.name === 'nokogiri');
    assert.equal(noko?.purl, 'pkg:gem/nokogiri@1.13.3?platform=x86_64-linux');
    assert.deepEqual(nv(run(cataloger, { 'app/Gemfile.lock': lockfile('bundler', 'one-gem.lock') }).pkgs), [
      'ast@2.4.2',
    ]);
  });

  void it('warns about a file that is not a Gemfile.lock', () => {
    const r = run(cataloger, { 'app/Gemfile.lock': '    rack (2.2.3)\n' });
    assert.deepEqual(r.pkgs, []);
    assert.match(r.warnings[0] ?? '', /^app\/Gemfile\.lock: /);
  });
});
