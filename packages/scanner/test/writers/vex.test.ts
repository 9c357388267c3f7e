import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PalisadeError, type ScanReport, type VulnerabilityMatch } from '@palisade/core';
import { fixturePath } from '@palisade/testkit';
import { applyVex, loadVex, parseVex, purlMatches } from '../../src/report/vex.js';
import { remainingFindings } from '../../src/report/filter.js';
import { sampleReport } from './sample.js';

const vexFile = (name: string): string => fixturePath('scanner', 'writers', 'vex', name);

/** The sample report before any VEX was applied. */
function unsuppressed(): ScanReport {
  const r = sampleReport();
  return { ...r, vulnerabilities: r.vulnerabilities.map(({ suppressed: _s, ...v }) => v) };
}

function finding(r: ScanReport, id: string): VulnerabilityMatch {
  const v = r.vulnerabilities.find((x) => x.id === id);
  assert.ok(v, `finding ${id} present`);
  return v;
}

async function rejects(name: string, pattern: RegExp): Promise<void> {
  const path = vexFile(name);
  await assert.rejects(loadVex(path), (err: unknown) => {
    assert.ok(err instanceof PalisadeError, 'a PalisadeError');
    assert.equal(err.code, 'E_INPUT');
    assert.equal(err.subject, path, 'the error names the file');
    assert.match(err.message, pattern);
    return true;
  });
}

test('loadVex reads an OpenVEX 0.2.0 document', async () => {
  const doc = await loadVex(vexFile('app.openvex.json'));
  assert.equal(doc.source, vexFile('app.openvex.json'));
  assert.equal(doc['@id'], 'https://example.com/vex/web-api-2024-06-01');
  assert.equal(doc.statements.length, 5);
  assert.equal(doc.statements[0]?.justification, 'vulnerable_code_not_in_execute_path');
  assert.equal(doc.statements[0]?.effectiveTime, Date.parse('2024-06-01T10:00:00Z'));
});

test('not_affected via image product + subcomponent, via alias, via versionless purl', async () => {
  const doc = await loadVex(vexFile('app.openvex.json'));
  const out = applyVex(unsuppressed(), [doc]);
  const log4j = finding(out, 'CVE-2021-44228');
  assert.deepEqual(log4j.suppressed, {
    by: vexFile('app.openvex.json'),
    status: 'not_affected',
    justification: 'vulnerable_code_not_in_execute_path',
    statement: 'JNDI lookups are disabled with log4j2.formatMsgNoLookups=true.',
  });
  // The statement names GHSA-35jh-r3h4-6jhm, an alias of the finding CVE-2021-23337.
  assert.equal(finding(out, 'CVE-2021-23337').suppressed?.status, 'not_affected');
  assert.equal(
    finding(out, 'CVE-2019-1010022').suppressed?.justification,
    'vulnerable_code_cannot_be_controlled_by_adversary',
  );
});

test('under_investigation keeps a finding; a purl with other qualifiers does not match', async () => {
  const doc = await loadVex(vexFile('app.openvex.json'));
  const out = applyVex(unsuppressed(), [doc]);
  assert.equal(finding(out, 'CVE-2024-5535').suppressed, undefined);
  // The statement is for arch=arm64; the installed libc6 is amd64.
  assert.equal(finding(out, 'CVE-2023-4911').suppressed, undefined);
  assert.equal(remainingFindings(out), out.vulnerabilities.length - 3);
});

test('applyVex is pure and keeps suppressed findings in the report', async () => {
  const input = unsuppressed();
  const before = JSON.stringify(input);
  const out = applyVex(input, [await loadVex(vexFile('app.openvex.json'))]);
  assert.equal(JSON.stringify(input), before);
  assert.equal(out.vulnerabilities.length, input.vulnerabilities.length);
});

test('later statements win: by timestamp, then by order', async () => {
  const docs = [await loadVex(vexFile('app.openvex.json')), await loadVex(vexFile('override.openvex.json'))];
  const out = applyVex(unsuppressed(), docs);
  // Newer "affected" re-opens log4j.
  assert.equal(finding(out, 'CVE-2021-44228').suppressed, undefined);
  // Same time: the later "affected" statement beats the earlier not_affected one.
  assert.equal(finding(out, 'CVE-2023-32681').suppressed, undefined);
  // An older "fixed" (statement timestamp) loses to the newer under_investigation.
  assert.equal(finding(out, 'CVE-2024-5535').suppressed, undefined);
  // Untouched by the override document.
  assert.equal(finding(out, 'CVE-2021-23337').suppressed?.status, 'not_affected');

  // Document order alone does not decide: swapping the files gives the same result.
  const swapped = applyVex(unsuppressed(), [...docs].reverse());
  assert.deepEqual(
    swapped.vulnerabilities.map((v) => [v.id, v.suppressed?.status]),
    out.vulnerabilities.map((v) => [v.id, v.suppressed?.status]),
  );
});

test('fixed status suppresses; image named by oci purl needs the same digest', () => {
  const doc = parseVex(
    {
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2024-06-01T00:00:00Z',
      statements: [
        {
          vulnerability: { name: 'CVE-2024-5535' },
          products: [{ '@id': 'pkg:oci/web-api@sha256%3A0000' }],
          status: 'fixed',
        },
        {
          vulnerability: { name: 'CVE-2023-45288' },
          products: [
            { '@id': 'pkg:oci/other-name@sha256%3A4f7e3c1b2a5d6e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b' },
          ],
          status: 'fixed',
        },
      ],
    },
    'inline.json',
  );
  const out = applyVex(unsuppressed(), [doc]);
  assert.equal(finding(out, 'CVE-2024-5535').suppressed, undefined, 'other digest: not this image');
  assert.deepEqual(finding(out, 'CVE-2023-45288').suppressed, { by: 'inline.json', status: 'fixed' });
});

test('statements about other vulnerabilities change nothing', () => {
  const doc = parseVex(
    {
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2024-06-01T00:00:00Z',
      statements: [
        {
          vulnerability: { name: 'CVE-1999-0001' },
          products: [{ '@id': 'registry.example.com/team/web-api:1.4.2' }],
          status: 'fixed',
        },
      ],
    },
    'other.json',
  );
  const input = unsuppressed();
  assert.deepEqual(applyVex(input, [doc]), input);
});

test('purlMatches: qualifiers, versions, non-purls', () => {
  const pkg = 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12';
  assert.equal(purlMatches('pkg:deb/debian/libc6@2.36-9%2Bdeb12u1', pkg), true);
  assert.equal(purlMatches('pkg:deb/debian/libc6@2.36-9+deb12u1', pkg), true, 'unencoded + is the same version');
  assert.equal(purlMatches('pkg:deb/debian/libc6', pkg), true, 'no version: any version');
  assert.equal(purlMatches('pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?distro=debian-12&arch=amd64', pkg), true);
  assert.equal(purlMatches('pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=arm64&distro=debian-12', pkg), false);
  assert.equal(purlMatches('pkg:deb/debian/libc6@2.36-9%2Bdeb12u2', pkg), false);
  assert.equal(purlMatches('pkg:deb/ubuntu/libc6@2.36-9%2Bdeb12u1', pkg), false);
  assert.equal(purlMatches('https://example.com/libc6', pkg), false);
});

test('malformed VEX files are E_INPUT errors naming the file', async () => {
  await rejects('truncated.openvex.json', /not valid JSON/);
  await rejects('no-statements.openvex.json', /statements is missing/);
  await rejects(
    'unknown-status.openvex.json',
    /statements\[0\]\.status "wont_fix" is unknown \(known: not_affected, affected, fixed, under_investigation\)/,
  );
  await rejects(
    'not-affected-unjustified.openvex.json',
    /statements\[0\] has status not_affected but neither justification nor impact_statement/,
  );
  await rejects('bad-justification.openvex.json', /justification "we_think_it_is_fine" is unknown/);
  await rejects('csaf-not-openvex.json', /@context must be an OpenVEX context/);
});

test('a missing VEX file is E_NOT_FOUND naming it', async () => {
  const path = vexFile('does-not-exist.json');
  await assert.rejects(
    loadVex(path),
    (err: unknown) => err instanceof PalisadeError && err.code === 'E_NOT_FOUND' && err.subject === path,
  );
});

test('statement-level problems name the statement and field', () => {
  const base = { '@context': 'https://openvex.dev/ns/v0.2.0', timestamp: '2024-06-01T00:00:00Z' };
  const bad = (statements: unknown[]): unknown => ({ ...base, statements });
  assert.throws(
    () => parseVex(bad([{ products: [{ '@id': 'x' }], status: 'fixed' }]), 'f.json'),
    /statements\[0\]\.vulnerability is missing/,
  );
  assert.throws(
    () => parseVex(bad([{ vulnerability: { name: 'CVE-1' }, status: 'fixed' }]), 'f.json'),
    /statements\[0\]\.products is missing or empty/,
  );
  assert.throws(
    () =>
      parseVex(
        bad([{ vulnerability: { name: 'CVE-1' }, products: ['x'], status: 'fixed', timestamp: 'yesterday' }]),
        'f.json',
      ),
    /statements\[0\]\.timestamp "yesterday" is not an RFC 3339 timestamp/,
  );
  assert.throws(() => parseVex({ ...base, timestamp: undefined, statements: [] }, 'f.json'), /timestamp is missing/);
  assert.throws(
    () => parseVex([], 'f.json'),
    (e: unknown) => e instanceof PalisadeError && e.subject === 'f.json',
  );
});
