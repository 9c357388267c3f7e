/**
 * The readers' fast paths give the same objects and positions as the plain ones: a YAML List
 * document read item by item (split by indentation) and JSON findings located in one pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readManifestText, type ManifestEntry } from '../src/manifest.js';
import { locateJson, locateJsonMany } from '../src/json-scan.js';
import { splitYamlList } from '../src/yaml-split.js';
import type { FieldPath } from '../src/path.js';

const PATHS: FieldPath[] = [
  [],
  ['metadata', 'name'],
  ['spec', 'containers', 0, 'securityContext', 'privileged'],
  ['spec', 'containers', 1, 'image'],
  ['spec', 'containers', 0, 'resources', 'limits', 'cpu'], // missing: nearest parent
  ['data', 'blob'],
  ['metadata', 'annotations', 'a.b/c'],
];

function summary(entries: ManifestEntry[]): string[] {
  return entries.map((e) =>
    e.kind === 'error'
      ? `error ${e.value.line}: ${e.value.message}`
      : `${JSON.stringify(e.value.obj)} ${e.value.document} ${PATHS.map((p) => JSON.stringify(e.value.locate(p))).join(' ')}`,
  );
}

const LIST = [
  '# kubectl get -A -o yaml',
  'apiVersion: v1',
  'items:',
  '- apiVersion: v1',
  '  kind: Pod',
  '  metadata:',
  '    name: web',
  '    annotations:',
  '      a.b/c: "x"',
  '  spec:',
  '    containers:',
  '    - name: a',
  '      image: nginx',
  '      securityContext: {privileged: true}',
  '    - name: b',
  '      image: "redis:7"',
  '',
  '# a comment between items',
  '- apiVersion: v1',
  '  kind: ConfigMap',
  '  metadata: {name: cfg}',
  '  data:',
  '    blob: |',
  '      line one',
  '',
  '      line three: with - dashes',
  '- apiVersion: v1',
  '  kind: Pod',
  '  metadata:',
  '    name: yes-pod',
  '  spec:',
  '    hostIPC: yes',
  'kind: List',
  'metadata:',
  '  resourceVersion: ""',
  '',
].join('\n');

test('a YAML List read item by item equals the whole-document parse: objects, lines, columns', () => {
  const split = splitYamlList(LIST);
  assert.equal(split?.items.length, 3);
  const fast = summary([...readManifestText(LIST, 'l.yaml', { yamlListSplitFrom: 0 })]);
  const whole = summary([...readManifestText(LIST, 'l.yaml')]);
  assert.equal(fast.length, 3);
  assert.deepEqual(fast, whole);
  assert.match(fast[2] ?? '', /"hostIPC":true/, 'YAML 1.1 booleans, as Kubernetes reads them');
  // Indented sequence style (`items:\n  - …`) too.
  const indented = LIST.replace(/^(- |  )/gm, (m) => (m === '- ' ? '  - ' : '    '));
  assert.deepEqual(
    summary([...readManifestText(indented, 'l.yaml', { yamlListSplitFrom: 0 })]),
    summary([...readManifestText(indented, 'l.yaml')]),
  );
  assert.equal(splitYamlList(indented)?.items.length, 3);
});

test('shapes the splitter leaves to the whole-document parser', () => {
  assert.equal(splitYamlList(LIST.replace('blob: |', 'blob: &b |').replace('hostIPC: yes', 'hostIPC: *b')), undefined);
  assert.equal(splitYamlList('apiVersion: v1\nitems: [{kind: Pod}]\nkind: List\n'), undefined, 'flow items');
  assert.equal(splitYamlList(`${LIST}---\nkind: Pod\n`), undefined, 'several documents');
  assert.equal(splitYamlList('%YAML 1.1\n---\nitems:\n- a: 1\n'), undefined, 'directives');
  assert.equal(splitYamlList('kind: Pod\nmetadata: {}\n'), undefined, 'no items');
  // Not a List kind: the header check keeps it whole, so the result is the plain one.
  const notList = LIST.replace('kind: List', 'kind: Thing');
  assert.deepEqual(
    summary([...readManifestText(notList, 'n.yaml', { yamlListSplitFrom: 0 })]),
    summary([...readManifestText(notList, 'n.yaml')]),
  );
});

test('a malformed item is reported at its own line and the other items are still read', () => {
  const bad = LIST.replace('      image: nginx', '      image: [nginx');
  const entries = [...readManifestText(bad, 'b.yaml', { yamlListSplitFrom: 0 })];
  const errors = entries.filter((e) => e.kind === 'error');
  assert.equal(errors.length, 1);
  assert.ok(errors[0]?.kind === 'error' && (errors[0].value.line ?? 0) >= 13 && (errors[0].value.line ?? 0) <= 17);
  assert.equal(entries.filter((e) => e.kind === 'object').length, 2);
});

test('locateJsonMany answers as locateJson does, in one pass', () => {
  const text = JSON.stringify(
    {
      metadata: { name: 'web', annotations: { 'a.b/c': 'x' } },
      spec: {
        containers: [
          { name: 'a', securityContext: { privileged: true } },
          { name: 'b', image: 'r' },
        ],
      },
      data: { blob: 'y', 'es\\"c': 1 },
      dup: 1,
    },
    null,
    2,
  );
  const paths = [...PATHS, ['dup'], ['spec', 'containers', 5], ['nope', 'deeper']];
  assert.deepEqual(
    locateJsonMany(text, 0, paths),
    paths.map((p) => locateJson(text, 0, p)),
  );
});
