import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sharedPath } from '@palisade/testkit';
import { cataloger } from '../../src/catalogers/dotnet/index.js';
import { lockfile, nv, run } from '../npm/harness.js';

// Shape of a real `dotnet publish` output: the app itself is a `project` library.
const DEPS = JSON.stringify({
  runtimeTarget: { name: '.NETCoreApp,Version=v8.0', signature: '' },
  compilationOptions: {},
  targets: {
    '.NETCoreApp,Version=v8.0': {
      'MyApp/1.0.0': { dependencies: { 'Newtonsoft.Json': '13.0.3', Serilog: '3.1.1' }, runtime: { 'MyApp.dll': {} } },
      'Newtonsoft.Json/13.0.3': {
        runtime: { 'lib/net6.0/Newtonsoft.Json.dll': { assemblyVersion: '13.0.0.0', fileVersion: '13.0.3.27908' } },
      },
      'Serilog/3.1.1': { runtime: { 'lib/net7.0/Serilog.dll': {} } },
    },
  },
  libraries: {
    'MyApp/1.0.0': { type: 'project', serviceable: false, sha512: '' },
    'Newtonsoft.Json/13.0.3': {
      type: 'package',
      serviceable: true,
      sha512: 'sha512-HrC5BXdl00IP9zeV+0Z848QWPAoCr9P3bDEZguI+gkLcBKAOxix/tLEAAHC+UvDNPv4a2d18lOReHMOagPa+zQ==',
      path: 'newtonsoft.json/13.0.3',
    },
    'Serilog/3.1.1': { type: 'package', serviceable: true, sha512: 'sha512-x', path: 'serilog/3.1.1' },
    'Microsoft.NETCore.App.Ref/8.0.0': { type: 'referenceassembly', serviceable: false, sha512: '' },
  },
});

void describe('dotnet cataloger', () => {
  void it('reads package libraries of a deps.json, not projects or reference assemblies', () => {
    const r = run(cataloger, { 'app/MyApp.deps.json': DEPS });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.pkgs.map((p) => p.purl),
      ['pkg:nuget/Newtonsoft.Json@13.0.3', 'pkg:nuget/Serilog@3.1.1'],
    );
    assert.equal(r.pkgs[0]?.foundBy, 'dotnet');
  });

  void it('warns about malformed deps.json', () => {
    const r = run(cataloger, { 'a/x.deps.json': '{', 'b/y.deps.json': '{"targets": {}}' });
    assert.deepEqual(r.pkgs, []);
    assert.match(r.warnings[0] ?? '', /^a\/x\.deps\.json: invalid deps\.json/);
    assert.match(r.warnings[1] ?? '', /^b\/y\.deps\.json: /);
  });

  void it('parses every NuGet packages.lock.json fixture', () => {
    for (const f of readdirSync(sharedPath('conformance', 'lockfiles', 'nuget'))) {
      const r = run(cataloger, { 'app/packages.lock.json': lockfile('nuget', f) });
      // not-json is broken; v0 is a lockfile version NuGet never wrote.
      if (f === 'not-json.txt' || f === 'empty.v0.json')
        assert.match(r.warnings[0] ?? '', /^app\/packages\.lock\.json: /, f);
      else assert.deepEqual(r.warnings, [], f);
    }
    const mixed = run(cataloger, {
      'app/packages.lock.json': lockfile('nuget', 'two-frameworks-mixed-packages.v1.json'),
    }).pkgs;
    assert.deepEqual(nv(mixed), ['Test.Core@6.0.5', 'Test.System@0.13.0-beta4', 'Test.System@2.15.0']);
  });
});
