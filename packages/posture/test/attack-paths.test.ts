/**
 * Attack paths over a hand-written cluster (test/fixtures/attack-paths/cluster.yaml) with the
 * image vulnerability counts of image-vulns.json: the ranked paths and their one-sentence
 * explanations are compared with expected.json, which only the golden test below rewrites,
 * and only under UPDATE_GOLDEN=1:
 *
 *   UPDATE_GOLDEN=1 node --test packages/posture/dist/test/attack-paths.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { fixturePath, repoRoot } from '@palisade/testkit';
import { isPalisadeError } from '@palisade/core';
import {
  attackPathsOfObjects,
  normalizeImageRef,
  parseImageVulns,
  readManifestText,
  scanWithAttackPaths,
  writePostureReport,
  type AttackPath,
  type ImageVulnLookup,
  type JsonObject,
} from '../src/index.js';

type FormatsPlugin = (ajv: Ajv2020) => unknown;
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as unknown as FormatsPlugin;

const DIR = fixturePath('posture', 'attack-paths');
const CLUSTER = readFileSync(join(DIR, 'cluster.yaml'), 'utf8');
const VULNS = parseImageVulns(readFileSync(join(DIR, 'image-vulns.json'), 'utf8'), 'image-vulns.json');
const GOLDEN = join(DIR, 'expected.json');
const FIXED_CLOCK = { now: (): Date => new Date('2025-01-01T00:00:00Z') };

/** Attack paths of a manifest text; `null` = no vulnerability data at all. */
function pathsOf(text: string, lookup: ImageVulnLookup | null = VULNS.lookup, maxPaths?: number): AttackPath[] {
  const report = scanWithAttackPaths([{ file: 'cluster.yaml', text }], {
    clock: FIXED_CLOCK,
    attackPaths: {
      ...(lookup ? { imageVulnerabilities: lookup } : {}),
      ...(maxPaths !== undefined ? { maxPaths } : {}),
    },
  });
  assert.deepEqual(report.errors, []);
  assert.ok(report.attackPaths, 'the report has an attackPaths section');
  return report.attackPaths;
}

test('golden: ranked attack paths of the hand-written cluster', () => {
  const paths = pathsOf(CLUSTER);
  const text = JSON.stringify(paths, null, 2) + '\n';
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(GOLDEN, text);
  assert.ok(existsSync(GOLDEN), `golden file missing: ${GOLDEN} (run with UPDATE_GOLDEN=1)`);
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
});

test('paths are ranked by score and explained in one sentence', () => {
  const paths = pathsOf(CLUSTER);
  assert.deepEqual(
    paths.map(
      (p) =>
        `${p.rank} ${p.score} ${p.severity} ${p.workload.namespace}/${p.workload.name} → ${p.target.kind} ${p.target.name}`,
    ),
    [
      // A tie is broken by the chain of step ids (Ingress… before Service…).
      '1 90 critical monitoring/grafana → cluster cluster',
      '2 90 critical shop/web → node worker-1',
      '3 56 high shop/api → secrets *',
      '4 32 medium ops/node-exporter → node every node',
      '5 25 medium shop/blog → workload workload',
      '6 14 low ci/runner → namespace ci',
    ],
  );
  const web = paths.find((p) => p.workload.name === 'web');
  assert.equal(
    web?.explanation,
    "Internet-facing Deployment shop/web (LoadBalancer :443) runs image nginx:1.25 with 3 critical vulnerabilities (1 in KEV) and mounts the host's docker socket, which gives control of node worker-1.",
  );
  for (const p of paths) {
    // One sentence: a single full stop, at the end.
    assert.equal(p.explanation.split('. ').length, 1, p.explanation);
    assert.ok(p.explanation.endsWith('.'));
    assert.equal(p.score, Math.round(100 * p.factors.exposure * p.factors.exploitability * p.factors.impact));
    assert.deepEqual(
      p.steps.map((s) => s.kind).filter((k, i, a) => a.indexOf(k) === i),
      p.steps.map((s) => s.kind),
    );
    assert.equal(p.steps[0]?.kind, 'entry');
    assert.equal(p.steps.at(-1)?.kind, 'target');
  }
  // Edges carry MITRE techniques: exploit of the public app, escape to host via the socket.
  assert.deepEqual(
    web?.steps.map((s) => `${s.kind}:${s.edge?.mitre.join('+') ?? ''}`),
    ['entry:', 'workload:', 'image:T1190', 'privilege:T1610+T1611', 'target:T1611'],
  );
  assert.deepEqual(web?.steps[2]?.vulnerabilities, { critical: 3, high: 7, kev: 1, fixable: 9 });
});

test('no path for exposed-but-harmless, internal, or token-less workloads', () => {
  const names = new Set(pathsOf(CLUSTER).map((p) => p.workload.name));
  // static: public, clean image, no privileges; db: privileged but internal; admin: bound to
  // cluster-admin but does not mount its token, and its image is not in the vulnerability file.
  for (const n of ['static', 'db', 'admin']) assert.ok(!names.has(n), `unexpected path through ${n}`);
  // The cluster-wide grant includes the namespace one: shop/api has one path, to every Secret.
  assert.equal(pathsOf(CLUSTER).filter((p) => p.workload.name === 'api').length, 1);
});

test('without vulnerability data: privilege paths remain, ranked on unknown exploitability; no foothold paths', () => {
  const paths = pathsOf(CLUSTER, null);
  assert.deepEqual(
    paths.map((p) => `${p.workload.name} ${p.score} ${p.factors.exploitability}`),
    ['grafana 50 0.5', 'web 45 0.5', 'api 40 0.5', 'node-exporter 32 0.5', 'runner 24 0.5'],
  );
  assert.ok(paths.every((p) => !p.steps.some((s) => s.kind === 'image')));
  assert.equal(
    paths[1]?.explanation,
    "Internet-facing Deployment shop/web (LoadBalancer :443) mounts the host's docker socket, which gives control of node worker-1.",
  );
});

test('deterministic: the same paths, ids and ranks whatever the document order', () => {
  const docs = CLUSTER.split(/^---$/m);
  const reversed = [...docs].reverse().join('\n---\n');
  const a = pathsOf(CLUSTER);
  const b = pathsOf(reversed);
  assert.deepEqual(
    b.map((p) => [p.id, p.rank, p.explanation]),
    a.map((p) => [p.id, p.rank, p.explanation]),
  );
  assert.deepEqual(pathsOf(CLUSTER), a);
  // Ids are stable hashes of the chain of steps.
  assert.ok(a.every((p) => /^[0-9a-f]{16}$/.test(p.id)));
  assert.equal(new Set(a.map((p) => p.id)).size, a.length);
});

test('maxPaths keeps the top of the ranking', () => {
  const top = pathsOf(CLUSTER, VULNS.lookup, 2);
  assert.deepEqual(
    top.map((p) => p.rank),
    [1, 2],
  );
  assert.deepEqual(top, pathsOf(CLUSTER).slice(0, 2));
});

test('attackPathsOfObjects gives the same paths from plain objects', () => {
  const objects: JsonObject[] = [];
  for (const e of readManifestText(CLUSTER, 'cluster.yaml')) if (e.kind === 'object') objects.push(e.value.obj);
  const fromObjects = attackPathsOfObjects(objects, { imageVulnerabilities: VULNS.lookup });
  assert.deepEqual(
    fromObjects.map((p) => [p.id, p.explanation]),
    pathsOf(CLUSTER).map((p) => [p.id, p.explanation]),
  );
});

test('reports with attack paths validate against the schema; the table shows them', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(
    JSON.parse(readFileSync(join(repoRoot(), 'docs', 'posture-schema.json'), 'utf8')) as object,
  );
  const report = scanWithAttackPaths([{ file: 'cluster.yaml', text: CLUSTER }], {
    attackPaths: { imageVulnerabilities: VULNS.lookup },
  });
  assert.ok(!report.checks.includes('attack-paths'), 'the collector is not listed as a check');
  const json: unknown = JSON.parse(writePostureReport(report, 'json'));
  assert.ok(validate(json), JSON.stringify(validate.errors));
  const table = writePostureReport(report, 'table');
  assert.match(table, /^ATTACK PATHS$/m);
  assert.match(table, /^#2 CRITICAL 90 {2}Internet-facing Deployment shop\/web/m);
  // --pss-only runs no cross-object analysis: no attack paths section at all.
  const pssOnly = scanWithAttackPaths([{ file: 'cluster.yaml', text: CLUSTER }], { pssOnly: true });
  assert.equal(pssOnly.attackPaths, undefined);
  assert.doesNotMatch(writePostureReport(pssOnly, 'table'), /ATTACK PATHS/);
});

test('image vulnerability files: maps, scan reports, reference normalization, digests', () => {
  assert.equal(normalizeImageRef('nginx'), 'docker.io/library/nginx:latest');
  assert.equal(normalizeImageRef('grafana/grafana:9.0.0'), 'docker.io/grafana/grafana:9.0.0');
  assert.equal(normalizeImageRef('index.docker.io/library/nginx:1.25@sha256:ab'), 'docker.io/library/nginx:1.25');
  assert.equal(normalizeImageRef('localhost:5000/app:1'), 'localhost:5000/app:1');
  assert.equal(normalizeImageRef('ghcr.io/acme/api'), 'ghcr.io/acme/api:latest');
  assert.equal(VULNS.lookup('docker.io/library/nginx:1.25')?.critical, 3);
  assert.equal(VULNS.lookup('nginx:1.27')?.critical, 0);
  assert.equal(VULNS.lookup('nginx:1.26'), undefined);
  const digest = `sha256:${'1'.repeat(64)}`;
  assert.deepEqual(VULNS.lookup(`ghcr.io/acme/runner@${digest}`, digest), { critical: 0, high: 0, kev: 0, fixable: 0 });

  const report = {
    schemaVersion: 1,
    artifact: {
      name: 'registry.example.com/shop/web:2.0',
      kind: 'registry',
      digest: `sha256:${'2'.repeat(64)}`,
      layers: [],
    },
    packages: [],
    vulnerabilities: [
      { id: 'CVE-1', severity: 'critical', fixedVersions: ['1.1'], status: 'fixed', kev: { dateAdded: '2024-01-01' } },
      // The same CVE in a second package counts once.
      { id: 'CVE-1', severity: 'critical', fixedVersions: ['1.1'], status: 'fixed', kev: { dateAdded: '2024-01-01' } },
      { id: 'CVE-2', severity: 'high', fixedVersions: [], status: 'affected', epss: { score: 0.4, percentile: 0.9 } },
      { id: 'CVE-3', severity: 'medium', fixedVersions: [], status: 'affected' },
      {
        id: 'CVE-4',
        severity: 'critical',
        fixedVersions: [],
        status: 'affected',
        suppressed: { by: 'vex.json', status: 'not_affected' },
      },
    ],
    warnings: [],
  };
  const fromReport = parseImageVulns(JSON.stringify([report]), 'reports.json');
  const expected = { critical: 1, high: 1, medium: 1, low: 0, kev: 1, fixable: 1, epss: 0.4 };
  assert.deepEqual(fromReport.lookup('registry.example.com/shop/web:2.0'), expected);
  assert.deepEqual(fromReport.lookup('registry.example.com/shop/web:other', `sha256:${'2'.repeat(64)}`), expected);
  assert.deepEqual(
    parseImageVulns(JSON.stringify(report), 'r.json').lookup('registry.example.com/shop/web:2.0'),
    expected,
  );
});

test('bad image vulnerability files are refused with the file and what is wrong', () => {
  const cases: Array<[string, RegExp]> = [
    ['{ not json', /^not valid JSON: /],
    ['"text"', /^expected a JSON object mapping image references to counts/],
    ['{"nginx": {"critical": -1, "high": 0}}', /^"nginx"\.critical must be a non-negative integer, got -1$/],
    ['{"nginx": {"critical": 1}}', /^"nginx"\.high must be a non-negative integer, got nothing$/],
    ['{"nginx": 3}', /^"nginx" must be an object of counts/],
    [
      '{"nginx": {"critical": 1, "high": 0, "epss": 7}}',
      /^"nginx"\.epss must be a probability between 0 and 1, got 7$/,
    ],
    ['[{"name": "x"}]', /^\[0\] is not a Palisade scan report/],
    ['{"artifact": {}, "vulnerabilities": []}', /^\(report\)\.artifact names no image/],
    [
      '{"artifact": {"name": "x"}, "vulnerabilities": [{"id": "CVE-1"}]}',
      /has no id or severity: not a Palisade scan report/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseImageVulns(text, 'v.json'),
      (err: unknown) =>
        isPalisadeError(err) && err.code === 'E_INPUT' && err.subject === 'v.json' && re.test(err.message),
      text,
    );
  }
});
