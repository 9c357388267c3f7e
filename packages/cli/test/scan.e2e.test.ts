/**
 * End to end through the CLI: a real OCI image (two layers, a whiteout), a DB imported from real
 * advisories in ../shared/vulndata, and every output path a CI pipeline uses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath, tempDir, writeOciLayout, type LayoutResult } from '@palisade/testkit';
import type { ScanReport } from '@palisade/core';
import { run } from './helpers.js';

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
const STATUS = [
  'Package: chromium',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 97.0.4692.99-1~deb11u2',
  'Source: chromium',
  '',
  'Package: base-files',
  'Status: install ok installed',
  'Architecture: amd64',
  'Version: 12.4+deb12u5',
  '',
].join('\n');

let dir: { path: string; cleanup: () => void };
let db: string;
let image: LayoutResult;
let ref: string;

before(async () => {
  dir = tempDir();
  db = join(dir.path, 'vuln.db');
  const imp = await run([
    'db',
    'import',
    '--db',
    db,
    sharedPath('vulndata', 'samples', 'debian-tracker-vunnel-debian.json'),
    sharedPath('vulndata', 'samples', 'ghsa-npm'),
    sharedPath('vulndata', 'samples', 'kev-epss'),
  ]);
  assert.equal(imp.code, 0, imp.stderr);
  image = writeOciLayout(join(dir.path, 'layout'), 'v1', [
    {
      layers: [
        {
          files: [
            { path: 'etc', type: 'dir' },
            { path: 'etc/os-release', content: OS_RELEASE },
            { path: 'var/lib/dpkg/status', content: STATUS },
            { path: 'app/node_modules/left-pad/package.json', content: '{"name":"left-pad","version":"1.3.0"}' },
          ],
        },
        {
          files: [
            {
              path: 'app/node_modules/lodash/package.json',
              content: '{"name":"lodash","version":"4.17.20","license":"MIT"}',
            },
            { path: 'app/node_modules/.wh.left-pad' },
          ],
        },
      ],
    },
  ]);
  ref = `oci:${join(dir.path, 'layout')}:v1`;
});

after(() => dir.cleanup());

function scanArgs(...extra: string[]): string[] {
  return ['scan', 'image', ref, '--db', db, '--cache-dir', join(dir.path, 'cache'), ...extra];
}

test('scan image finds distro and language vulnerabilities with fix versions and layers', async () => {
  const r = await run(scanArgs('--format', 'json'));
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ScanReport;
  assert.equal(report.artifact.os?.family, 'debian');
  assert.equal(report.artifact.digest, image.digest);
  const names = report.packages.map((p) => `${p.type}:${p.name}@${p.version}`);
  assert.ok(names.includes('deb:chromium@97.0.4692.99-1~deb11u2'), names.join(' '));
  assert.ok(names.includes('npm:lodash@4.17.20'));
  assert.ok(!names.some((n) => n.startsWith('npm:left-pad')), 'the whiteout removed left-pad');
  const lodash = report.packages.find((p) => p.name === 'lodash');
  assert.equal(lodash?.locations[0]?.layerDigest, image.images[0]?.layers[1]?.digest);

  const chromium = report.vulnerabilities.find((v) => v.package.name === 'chromium' && v.id === 'CVE-2022-0456');
  assert.ok(chromium, 'chromium CVE-2022-0456 (bookworm: fixed in 98.0.4758.80-1)');
  assert.equal(chromium.status, 'fixed');
  assert.deepEqual(chromium.fixedVersions, ['98.0.4758.80-1']);
  const lodashVuln = report.vulnerabilities.find((v) => v.package.name === 'lodash' && v.id === 'CVE-2021-23337');
  assert.ok(lodashVuln, 'lodash CVE-2021-23337 via GHSA-35jh-r3h4-6jhm');
  assert.ok(lodashVuln.aliases.includes('GHSA-35jh-r3h4-6jhm'));
  assert.deepEqual(lodashVuln.fixedVersions, ['4.17.21']);
});

test('--exit-code fails the gate only while findings remain; --severity and --vex narrow them', async () => {
  const gate = await run(scanArgs('--format', 'json', '--exit-code', '3'));
  assert.equal(gate.code, 3);
  const report = JSON.parse(gate.stdout) as ScanReport;
  const severities = new Set(report.vulnerabilities.map((v) => v.severity));
  // A severity no finding has: nothing remains, so the gate passes.
  const absent = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'].find(
    (s) => !severities.has(s as never),
  );
  assert.ok(absent, 'the fixture leaves at least one severity unused');
  const none = await run(scanArgs('--format', 'json', '--exit-code', '3', '--severity', absent));
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual((JSON.parse(none.stdout) as ScanReport).vulnerabilities, []);
  // One present severity: exactly its findings remain and the gate fails.
  const present = [...severities][0] ?? 'unknown';
  const only = await run(scanArgs('--format', 'json', '--exit-code', '3', '--severity', present));
  assert.equal(only.code, 3);
  const kept = (JSON.parse(only.stdout) as ScanReport).vulnerabilities;
  assert.equal(kept.length, report.vulnerabilities.filter((v) => v.severity === present).length);
  assert.ok(kept.every((v) => v.severity === present));
  // --ignore-unfixed keeps only findings with a fixed version.
  const fixedOnly = await run(scanArgs('--format', 'json', '--ignore-unfixed'));
  assert.ok((JSON.parse(fixedOnly.stdout) as ScanReport).vulnerabilities.every((v) => v.fixedVersions.length > 0));
  const vex = {
    '@context': 'https://openvex.dev/ns/v0.2.0',
    '@id': 'https://example.com/vex/1',
    author: 'test',
    timestamp: '2024-01-01T00:00:00Z',
    version: 1,
    statements: report.vulnerabilities.map((v) => ({
      vulnerability: { name: v.id },
      products: [{ '@id': v.package.purl }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
    })),
  };
  const vexFile = join(dir.path, 'all.vex.json');
  writeFileSync(vexFile, JSON.stringify(vex));
  const suppressed = await run(scanArgs('--format', 'json', '--exit-code', '3', '--vex', vexFile));
  assert.equal(suppressed.code, 0, suppressed.stderr);
  const after = JSON.parse(suppressed.stdout) as ScanReport;
  assert.ok(
    after.vulnerabilities.length > 0 && after.vulnerabilities.every((v) => v.suppressed?.status === 'not_affected'),
  );
});

test('every output format is written, to stdout or --output', async () => {
  for (const format of ['table', 'sarif', 'cyclonedx', 'spdx']) {
    const out = join(dir.path, `report.${format}`);
    const r = await run(scanArgs('--format', format, '--output', out));
    assert.equal(r.code, 0, `${format}: ${r.stderr}`);
    const text = readFileSync(out, 'utf8');
    assert.ok(text.includes('lodash'), `${format} output names lodash`);
  }
  const sbom = await run(['sbom', ref, '--format', 'cyclonedx', '--cache-dir', join(dir.path, 'cache')]);
  assert.equal(sbom.code, 0, sbom.stderr);
  const bom = JSON.parse(sbom.stdout) as { bomFormat: string; components: unknown[] };
  assert.equal(bom.bomFormat, 'CycloneDX');
  assert.ok(bom.components.length >= 3);
});

test('bad inputs end in one line naming the input, exit code 2, no stack trace', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['scan', 'image', `oci:${join(dir.path, 'nope')}`, '--db', db], /nope/],
    [
      ['scan', 'image', ref, '--db', join(dir.path, 'missing.db')],
      /missing\.db: no vulnerability database: run `palisade db update`/,
    ],
    [['scan', 'image', ref, '--db', db, '--vex', join(dir.path, 'missing.vex')], /missing\.vex/],
    [['db', 'import', '--db', join(dir.path, 'x.db'), join(dir.path, 'no-such-feed')], /no-such-feed/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('a layer whose bytes do not match its digest fails the scan naming the layer', async () => {
  const bad = tempDir();
  try {
    const layout = writeOciLayout(bad.path, 'v1', [
      { layers: [{ files: [{ path: 'etc/os-release', content: OS_RELEASE }] }] },
    ]);
    const layer = layout.images[0]?.layers[0];
    assert.ok(layer);
    const blobPath = join(bad.path, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = readFileSync(blobPath);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    writeFileSync(blobPath, bytes);
    const r = await run(['sbom', `oci:${bad.path}:v1`, '--no-cache']);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(layer.digest.slice(0, 19)), r.stderr);
    assert.equal(
      readdirSync(bad.path).sort().join(','),
      'blobs,index.json,oci-layout',
      'nothing written into the layout',
    );
  } finally {
    bad.cleanup();
  }
});

test('a malformed dpkg status or package.json fails closed naming the file; --allow-unreadable accepts', async () => {
  const bad = tempDir();
  try {
    writeOciLayout(bad.path, 'v1', [
      {
        layers: [
          {
            files: [
              { path: 'etc/os-release', content: OS_RELEASE },
              {
                path: 'var/lib/dpkg/status',
                content:
                  'Package: ok\nStatus: install ok installed\nVersion: 1.0\n\nthis is not a stanza\n\u0000\u0001\n',
              },
              { path: 'app/node_modules/broken/package.json', content: '{"name": "broken", "version": ' },
            ],
          },
        ],
      },
    ]);
    const ref2 = `oci:${bad.path}:v1`;
    const out = join(bad.path, 'sbom.json');
    const r = await run(['sbom', ref2, '--format', 'json', '--output', out, '--no-cache']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /app\/node_modules\/broken\/package\.json/);
    assert.match(r.stderr, /var\/lib\/dpkg\/status/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const report = JSON.parse(readFileSync(out, 'utf8')) as ScanReport;
    assert.ok(
      report.packages.some((p) => p.name === 'ok'),
      'what could be read is still reported',
    );
    assert.ok((report.unreadable ?? []).length >= 2);
    const allowed = await run(['sbom', ref2, '--format', 'json', '--no-cache', '--allow-unreadable']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /^warning: .*broken\/package\.json/m);
  } finally {
    bad.cleanup();
  }
});

test('--output to a device writes in place and never replaces the device node', async () => {
  const d = tempDir();
  try {
    const dev = join(d.path, 'null');
    execFileSync('mknod', ['-m', '666', dev, 'c', '1', '3']);
    const r = await run(['sbom', ref, '--format', 'json', '--output', dev, '--cache-dir', join(dir.path, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(statSync(dev).isCharacterDevice(), 'still a character device');
    assert.deepEqual(readdirSync(d.path), ['null'], 'no temp file left beside it');
  } finally {
    d.cleanup();
  }
});
