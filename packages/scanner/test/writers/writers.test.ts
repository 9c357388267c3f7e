import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PalisadeError, type ScanReport } from '@palisade/core';
import {
  createWriterRegistry,
  requireWriter,
  SBOM_FORMATS,
  writeReport,
  writerRegistry,
} from '../../src/writers/registry.js';
import { displayWidth, truncate } from '../../src/writers/table.js';
import { emptyReport, IMAGE_DIGEST, inventoryReport, sampleReport } from './sample.js';

type Json = Record<string, unknown>;
const parse = (format: string, report: ScanReport = sampleReport()): Json =>
  JSON.parse(writeReport(report, format)) as Json;
const ESC = '\u001b[';

// ----- registry ---------------------------------------------------------------------------

test('registry lists the five writers with media types and extensions', () => {
  assert.deepEqual(writerRegistry.ids(), ['table', 'json', 'sarif', 'cyclonedx', 'spdx']);
  for (const w of writerRegistry.all()) {
    assert.ok(w.mediaType.length > 0 && w.fileExtension.length > 0 && w.version >= 1, w.id);
  }
  assert.equal(writerRegistry.require('sarif').mediaType, 'application/sarif+json');
  assert.match(createWriterRegistry().fingerprint(), /^cyclonedx@1,json@1,sarif@1,spdx@1,table@1$/);
});

test('an unknown format is E_INPUT naming it and listing the known ones', () => {
  assert.throws(
    () => writeReport(sampleReport(), 'xml'),
    (e: unknown) =>
      e instanceof PalisadeError &&
      e.code === 'E_INPUT' &&
      e.subject === '--format xml' &&
      e.message === 'unknown output format "xml" (known: table, json, sarif, cyclonedx, spdx)',
  );
  // palisade sbom accepts only the inventory formats.
  assert.throws(() => requireWriter('sarif', SBOM_FORMATS), /known: cyclonedx, spdx, json/);
  assert.equal(requireWriter('spdx', SBOM_FORMATS).id, 'spdx');
});

test('writers are deterministic and do not depend on input order', () => {
  const a = sampleReport();
  const b = sampleReport();
  b.packages.reverse();
  b.vulnerabilities.reverse();
  for (const f of writerRegistry.ids()) assert.equal(writeReport(a, f), writeReport(b, f), f);
});

test('writers do not modify the report they are given', () => {
  const r = sampleReport();
  const before = JSON.stringify(r);
  for (const f of writerRegistry.ids()) writeReport(r, f, { color: true });
  assert.equal(JSON.stringify(r), before);
});

// ----- table ------------------------------------------------------------------------------

test('table: header names artifact, OS, digest, counts; suppressed are only counted', () => {
  const out = writeReport(sampleReport(), 'table');
  assert.match(out, /^Artifact: registry\.example\.com\/team\/web-api:1\.4\.2 \(registry\)$/m);
  assert.match(out, new RegExp(`^Digest: +${IMAGE_DIGEST}$`, 'm'));
  assert.match(out, /^OS: +Debian GNU\/Linux 12 \(bookworm\)$/m);
  assert.match(out, /^Vulnerabilities: 7 \(critical: 1, high: 3, medium: 1, low: 0, negligible: 1, unknown: 1\)$/m);
  assert.match(out, /^2 suppressed by VEX$/m);
  assert.doesNotMatch(out, /CVE-2023-2650|CVE-2024-99999/, 'suppressed findings are not listed');
  assert.ok(!out.includes(ESC), 'no ANSI escapes without color');
  for (const type of ['deb', 'golang', 'maven', 'npm', 'pypi'])
    assert.match(out, new RegExp(`^${type} \\(\\d+ vulnerabilit`, 'm'));
});

test('table: columns line up, most severe first, no trailing spaces', () => {
  const out = writeReport(sampleReport(), 'table');
  const lines = out.split('\n');
  const head = lines.findIndex((l) => l.startsWith('PACKAGE'));
  const block = lines.slice(head, lines.indexOf('', head));
  const col = (l: string): number => (l.indexOf('CVE-') >= 0 ? displayWidth(l.slice(0, l.indexOf('CVE-'))) : -1);
  const idCol = displayWidth(block[0]!.slice(0, block[0]!.indexOf('ID')));
  for (const row of block.slice(2)) assert.equal(col(row), idCol, row);
  const sevs = block.slice(2).map((r) => /(critical|high|medium|low|negligible|unknown)/.exec(r)?.[1]);
  assert.deepEqual(sevs, ['high', 'high', 'negligible']);
  for (const l of lines) assert.equal(l, l.trimEnd());
});

test('table: colours severities only when asked, without breaking alignment', () => {
  const plain = writeReport(sampleReport(), 'table', { color: false });
  const coloured = writeReport(sampleReport(), 'table', { color: true });
  assert.ok(coloured.includes(`${ESC}1;31mcritical`), 'critical in bold red');
  assert.equal(coloured.replace(/\u001b\[[0-9;]*m/g, ''), plain);
});

test('table: long titles are cut with an ellipsis, unicode counted by display width', () => {
  const r = sampleReport();
  const v = r.vulnerabilities.find((x) => x.id === 'CVE-2024-99999')!;
  delete v.suppressed;
  const out = writeReport(r, 'table', { maxTitleWidth: 30 });
  const row = out.split('\n').find((l) => l.includes('CVE-2024-99999'))!;
  assert.ok(row.endsWith('…'), row);
  assert.ok(displayWidth(row.slice(row.indexOf('Prototype'))) <= 30);
  assert.equal(truncate('日本語のタイトル', 7), '日本語…');
  assert.equal(displayWidth('日本語'), 6);
  assert.equal(truncate('short', 10), 'short');
});

test('table: an empty scan says so', () => {
  const scanned = { ...emptyReport(), db: { schemaVersion: 1, builtAt: '2024-06-01T00:00:00Z', feeds: [] } };
  const out = writeReport(scanned, 'table');
  assert.match(out, /^OS: +unknown$/m);
  assert.match(out, /^No vulnerabilities found\.$/m);
  assert.doesNotMatch(out, /suppressed/);
});

test('table: an inventory-only report (sbom) lists packages per type with layer and path', () => {
  const r = inventoryReport();
  const out = writeReport(r, 'table');
  assert.doesNotMatch(out, /Vulnerabilities:/);
  for (const p of r.packages) {
    const row = out.split('\n').find((l) => l.startsWith(p.name + ' ') && l.includes(p.version));
    assert.ok(row, `row for ${p.name}`);
    assert.ok(row.includes(p.locations[0]?.path ?? '?'), row);
  }
  assert.match(out, /^NAME +VERSION +LAYER +PATH$/m);
});

// ----- json -------------------------------------------------------------------------------

test('json: the report itself, keys sorted at every level, 2-space indent', () => {
  const text = writeReport(sampleReport(), 'json');
  const doc = JSON.parse(text) as ScanReport;
  assert.equal(doc.schemaVersion, 1);
  assert.equal(doc.vulnerabilities.length, 9, 'suppressed findings stay in the json, marked');
  assert.equal(doc.vulnerabilities.filter((v) => v.suppressed).length, 2);
  assert.ok(text.startsWith('{\n  "artifact": {\n'));
  const check = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(check);
    if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      assert.deepEqual(keys, [...keys].sort());
      Object.values(v).forEach(check);
    }
  };
  check(doc);
});

// ----- sarif ------------------------------------------------------------------------------

interface SarifRule {
  id: string;
  helpUri?: string;
  help: { text: string; markdown: string };
  properties: Json;
  defaultConfiguration: { level: string };
}
interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations?: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
  suppressions?: Array<Json>;
}

function sarifRun(report = sampleReport()): { rules: SarifRule[]; results: SarifResult[]; properties: Json } {
  const runs = parse('sarif', report)['runs'] as Array<{
    tool: { driver: { rules: SarifRule[] } };
    results: SarifResult[];
    properties: Json;
  }>;
  const run = runs[0]!;
  return { rules: run.tool.driver.rules, results: run.results, properties: run.properties };
}

test('sarif: one rule per vulnerability id with help and security-severity', () => {
  const { rules } = sarifRun();
  assert.equal(new Set(rules.map((r) => r.id)).size, rules.length);
  assert.equal(rules.length, 9);
  const log4j = rules.find((r) => r.id === 'CVE-2021-44228')!;
  assert.equal(log4j.properties['security-severity'], '10.0');
  assert.equal(log4j.helpUri, 'https://github.com/advisories/GHSA-jfh8-c2jp-5v3q');
  assert.match(log4j.help.markdown, /CISA KEV/);
  assert.equal(log4j.defaultConfiguration.level, 'error');
  // No CVSS score: the severity decides, in GitHub's bucket for it.
  assert.equal(rules.find((r) => r.id === 'CVE-2023-45288')!.properties['security-severity'], '0.0');
});

test('sarif: results point at the package file, name the image, carry VEX suppressions', () => {
  const { rules, results, properties } = sarifRun();
  assert.equal(properties['imageName'], 'registry.example.com/team/web-api:1.4.2');
  for (const r of results) {
    assert.equal(rules[r.ruleIndex]!.id, r.ruleId);
    assert.match(r.message.text, /in image registry\.example\.com\/team\/web-api:1\.4\.2/);
  }
  const lodash = results.find((r) => r.ruleId === 'CVE-2021-23337')!;
  assert.equal(lodash.locations![0]!.physicalLocation.artifactLocation.uri, 'app/node_modules/lodash/package.json');
  assert.equal(lodash.level, 'error');
  const uni = results.find((r) => r.ruleId === 'CVE-2024-99999')!;
  assert.equal(
    uni.locations![0]!.physicalLocation.artifactLocation.uri,
    'app/node_modules/%40%C3%A9quipe/%C3%BCnicode%20lib/package.json',
  );
  assert.equal(uni.suppressions?.[0]?.['kind'], 'external');
  assert.equal(results.filter((r) => r.suppressions).length, 2);
  assert.equal(results.find((r) => r.ruleId === 'CVE-2019-1010022')!.level, 'note');
});

test('sarif: one result per location of a package', () => {
  const r = sampleReport();
  const lodash = r.packages.find((p) => p.name === 'lodash')!;
  lodash.locations.push({ path: 'srv/other/node_modules/lodash/package.json' });
  const results = sarifRun(r).results.filter((x) => x.ruleId === 'CVE-2021-23337');
  assert.deepEqual(
    results.map((x) => x.locations![0]!.physicalLocation.artifactLocation.uri),
    ['app/node_modules/lodash/package.json', 'srv/other/node_modules/lodash/package.json'],
  );
});

// ----- cyclonedx --------------------------------------------------------------------------

interface CdxVuln {
  id: string;
  ratings: Array<{ method: string; vector?: string; score?: number; severity?: string }>;
  analysis?: Json;
  affects: Array<{ ref: string; versions: Json[] }>;
  properties?: Array<{ name: string; value: string }>;
  references?: Json[];
}

test('cyclonedx: image as container component, packages with purl and layer/path properties', () => {
  const bom = parse('cyclonedx');
  const meta = bom['metadata'] as { component: Json; timestamp: string };
  assert.equal(meta.component['type'], 'container');
  assert.equal(meta.component['name'], 'registry.example.com/team/web-api:1.4.2');
  assert.equal(meta.timestamp, '2024-06-01T12:34:56Z');
  const comps = bom['components'] as Array<{
    'bom-ref': string;
    purl: string;
    properties: Array<{ name: string; value: string }>;
  }>;
  assert.equal(comps.length, 9);
  const lodash = comps.find((c) => c.purl === 'pkg:npm/lodash@4.17.20')!;
  assert.ok(
    lodash.properties.some(
      (p) => p.name === 'palisade:location:0:path' && p.value === 'app/node_modules/lodash/package.json',
    ),
  );
  assert.ok(lodash.properties.some((p) => p.name === 'palisade:location:0:layerDigest'));
});

test('cyclonedx: ratings with every CVSS method, vectors and scores; KEV and EPSS kept', () => {
  const vulns = parse('cyclonedx')['vulnerabilities'] as CdxVuln[];
  const methods = new Set(vulns.flatMap((v) => v.ratings.map((r) => r.method)));
  for (const m of ['CVSSv2', 'CVSSv3', 'CVSSv31', 'CVSSv4', 'other']) assert.ok(methods.has(m), m);
  const log4j = vulns.find((v) => v.id === 'CVE-2021-44228')!;
  assert.deepEqual(
    log4j.ratings.find((r) => r.method === 'CVSSv2'),
    { method: 'CVSSv2', score: 9.3, severity: 'high', source: { name: 'nvd' }, vector: 'AV:N/AC:M/Au:N/C:C/I:C/A:C' },
  );
  assert.deepEqual(log4j.references, [{ id: 'GHSA-jfh8-c2jp-5v3q', source: { name: 'GitHub' } }]);
  assert.ok(log4j.properties!.some((p) => p.name === 'palisade:kev:dateAdded' && p.value === '2021-12-10'));
  assert.ok(log4j.properties!.some((p) => p.name === 'palisade:epss:score' && p.value === '0.97565'));
  const neg = vulns.find((v) => v.id === 'CVE-2019-1010022')!;
  assert.equal(neg.ratings[0]!.severity, 'info', 'negligible is spelled info');
});

test('cyclonedx: VEX-suppressed findings carry an analysis; affects point at components', () => {
  const bom = parse('cyclonedx');
  const refs = new Set((bom['components'] as Array<{ 'bom-ref': string }>).map((c) => c['bom-ref']));
  const vulns = bom['vulnerabilities'] as CdxVuln[];
  for (const v of vulns) for (const a of v.affects) assert.ok(refs.has(a.ref), a.ref);
  const uni = vulns.find((v) => v.id === 'CVE-2024-99999')!;
  assert.deepEqual(uni.analysis, {
    state: 'not_affected',
    justification: 'code_not_reachable',
    detail:
      'VEX vex/app.openvex.json: not_affected; vulnerable_code_not_in_execute_path; Le code vulnérable n’est jamais appelé.',
  });
  assert.equal(vulns.find((v) => v.id === 'CVE-2023-2650')!.analysis?.['state'], 'resolved');
  assert.equal(vulns.filter((v) => v.analysis).length, 2);
});

test('cyclonedx and spdx: an inventory-only report has no vulnerabilities section', () => {
  const bom = parse('cyclonedx', inventoryReport());
  assert.equal(bom['vulnerabilities'], undefined);
  assert.equal((bom['components'] as unknown[]).length, 9);
  const spdx = parse('spdx', inventoryReport());
  const refs = (spdx['packages'] as Array<{ externalRefs?: Array<{ referenceCategory: string }> }>).flatMap(
    (p) => p.externalRefs ?? [],
  );
  assert.ok(refs.every((r) => r.referenceCategory !== 'SECURITY'));
});

// ----- spdx -------------------------------------------------------------------------------

interface SpdxPkg {
  SPDXID: string;
  name: string;
  versionInfo: string;
  downloadLocation: string;
  licenseDeclared: string;
  licenseConcluded: string;
  externalRefs?: Array<{ referenceCategory: string; referenceType: string; referenceLocator: string }>;
  primaryPackagePurpose?: string;
}

test('spdx: document, image package, deterministic SPDXIDs, DESCRIBES/CONTAINS', () => {
  const doc = parse('spdx');
  assert.equal(doc['spdxVersion'], 'SPDX-2.3');
  assert.equal((doc['creationInfo'] as Json)['created'], '2024-06-01T12:34:56Z');
  const pkgs = doc['packages'] as SpdxPkg[];
  assert.equal(pkgs[0]!.primaryPackagePurpose, 'CONTAINER');
  assert.equal(new Set(pkgs.map((p) => p.SPDXID)).size, pkgs.length);
  for (const p of pkgs) {
    assert.match(p.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
    assert.equal(p.downloadLocation, 'NOASSERTION');
  }
  assert.ok(
    pkgs.some((p) => p.SPDXID.startsWith('SPDXRef-Package-npm-equipe-unicode-lib-')),
    'accents folded, not dropped',
  );
  const rels = doc['relationships'] as Array<{
    spdxElementId: string;
    relationshipType: string;
    relatedSpdxElement: string;
  }>;
  assert.deepEqual(rels[0], {
    spdxElementId: 'SPDXRef-DOCUMENT',
    relationshipType: 'DESCRIBES',
    relatedSpdxElement: 'SPDXRef-Image',
  });
  assert.equal(rels.filter((r) => r.relationshipType === 'CONTAINS').length, 9);
  assert.equal(parse('spdx')['documentNamespace'], doc['documentNamespace']);
});

test('spdx: purl refs, SPDX license expressions, LicenseRefs defined once each', () => {
  const doc = parse('spdx');
  const pkgs = doc['packages'] as SpdxPkg[];
  const byName = (n: string): SpdxPkg => pkgs.find((p) => p.name === n)!;
  assert.deepEqual(byName('lodash').externalRefs![0], {
    referenceCategory: 'PACKAGE-MANAGER',
    referenceType: 'purl',
    referenceLocator: 'pkg:npm/lodash@4.17.20',
  });
  assert.equal(byName('regex').licenseDeclared, 'MIT OR Apache-2.0');
  assert.equal(byName('libc6').licenseDeclared, 'LGPL-2.1-or-later AND LicenseRef-GPL-2');
  assert.equal(byName('stdlib').licenseDeclared, 'NOASSERTION');
  const infos = doc['hasExtractedLicensingInfos'] as Array<{ licenseId: string; name: string }>;
  const used = new Set(pkgs.flatMap((p) => p.licenseDeclared.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? []));
  assert.deepEqual(new Set(infos.map((i) => i.licenseId)), used);
  // "GPL-2+" and "GPL 2+" reduce to the same slug: they must still get distinct refs.
  assert.equal(new Set(infos.map((i) => i.name)).size, infos.length);
});

test('spdx and cyclonedx: a createdAt that is not a date is E_INPUT', () => {
  const r = { ...emptyReport(), createdAt: 'yesterday' };
  for (const f of ['spdx', 'cyclonedx']) {
    assert.throws(
      () => writeReport(r, f),
      (e: unknown) => e instanceof PalisadeError && e.code === 'E_INPUT' && /createdAt "yesterday"/.test(e.message),
    );
  }
});
