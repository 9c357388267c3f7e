import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stableId, type RuntimeEvent } from '@palisade/core';
import { RuleEngine, RuleLoadError, parseRuleSources } from '../src/index.js';

const BASE = `
lists:
  shells: [bash, sh]
  trusted_images: [docker.io/library/debug-tools]
macros:
  in_container: has(evt.container)
  is_shell: proc.name in shells
rules:
  - id: T-1
    title: Shell in container
    description: A shell ran in a container.
    severity: high
    mitre: { tactic: execution, technique: T1059.004 }
    events: [process.exec]
    condition: in_container && is_shell
    exceptions:
      - name: debug images
        field: container.image
        match: prefix
        values: trusted_images
      - name: ops namespace
        field: k8s.namespace
        values: [ops]
    output: "shell %proc.exe in %container.image (ns=%k8s.namespace)"
    tags: [shell]
  - id: T-2
    title: Shadow read
    severity: medium
    mitre: { tactic: credential-access, technique: T1003.008 }
    events: [file.open]
    condition: file.path == '/etc/shadow'
    output: "%file.path read by %proc.name"
`;

function exec(name: string, extra: Partial<RuntimeEvent> = {}): RuntimeEvent {
  return {
    id: `e-${name}`,
    type: 'process.exec',
    time: '2026-03-01T10:00:00.000Z',
    node: 'n1',
    proc: { pid: 10, ppid: 1, uid: 0, gid: 0, exe: `/bin/${name}`, name, argv: [name], cwd: '/', tty: 0, ancestry: [] },
    container: {
      id: 'c1',
      name: 'app',
      image: 'docker.io/library/nginx:1.27',
      imageDigest: 'sha256:00',
      runtime: 'containerd',
      resolved: true,
    },
    k8s: { pod: 'p', namespace: 'shop' },
    ...extra,
  } as RuntimeEvent;
}

function engineOf(...texts: string[]): { engine: RuleEngine; errors: RuleLoadError[] } {
  return RuleEngine.fromSources(texts.map((text, i) => ({ file: `f${i}.yaml`, text })));
}

test('rules fire, render their output and get deterministic ids', () => {
  const { engine, errors } = engineOf(BASE);
  assert.deepEqual(errors, []);
  const [a, ...rest] = engine.evaluate(exec('bash'));
  assert.equal(rest.length, 0);
  assert.ok(a);
  assert.equal(a.id, stableId('T-1', 'e-bash'));
  assert.equal(a.output, 'shell /bin/bash in docker.io/library/nginx:1.27 (ns=shop)');
  assert.deepEqual(a.fields, {
    'proc.exe': '/bin/bash',
    'container.image': 'docker.io/library/nginx:1.27',
    'k8s.namespace': 'shop',
  });
  assert.deepEqual(a.tags, ['shell']);
  assert.deepEqual(engine.evaluate(exec('ls')), []);
  // Host process: the macro's has() makes the condition false without an error.
  assert.deepEqual(engine.evaluate(exec('bash', { container: undefined, k8s: undefined })), []);
  assert.equal(engine.stats('T-1')?.errors, 0);
});

test('rules are indexed by event type: an event only meets rules that can match it', () => {
  const { engine } = engineOf(BASE);
  assert.deepEqual(
    engine.rulesFor('process.exec').map((r) => r.spec.id),
    ['T-1'],
  );
  assert.deepEqual(
    engine.rulesFor('file.open').map((r) => r.spec.id),
    ['T-2'],
  );
  assert.deepEqual(engine.rulesFor('bpf.call'), []);
  engine.evaluate(exec('bash'));
  assert.equal(engine.stats('T-1')?.evaluated, 1);
  assert.equal(engine.stats('T-2')?.evaluated, 0);
});

test('exceptions by image prefix (from a list) and by namespace', () => {
  const { engine } = engineOf(BASE);
  const debug = exec('bash', {
    container: {
      id: 'c',
      name: 'd',
      image: 'docker.io/library/debug-tools:1',
      imageDigest: '',
      runtime: 'containerd',
      resolved: true,
    },
  });
  assert.deepEqual(engine.evaluate(debug), []);
  assert.deepEqual(engine.evaluate(exec('bash', { k8s: { pod: 'p', namespace: 'ops' } })), []);
  assert.equal(engine.stats('T-1')?.excepted, 2);
  // An exception on a field the event lacks does not match (and does not hide the alert).
  assert.equal(engine.evaluate(exec('bash', { k8s: undefined })).length, 1);
});

test('later files override: replace a rule, patch it, append to lists, replace macros', () => {
  const user = `
lists:
  shells: { append: [zsh] }
  trusted_images: { append: [ghcr.io/acme/toolbox] }
rules:
  - id: T-2
    override: true
    enabled: false
`;
  const { engine, errors } = engineOf(BASE, user);
  assert.deepEqual(errors, []);
  assert.equal(engine.evaluate(exec('zsh')).length, 1, 'appended list item is used');
  const toolbox = exec('bash', {
    container: {
      id: 'c',
      name: 'd',
      image: 'ghcr.io/acme/toolbox:2',
      imageDigest: '',
      runtime: 'containerd',
      resolved: true,
    },
  });
  assert.deepEqual(engine.evaluate(toolbox), [], 'appended list widens the exception');
  assert.deepEqual(engine.rulesFor('file.open'), [], 'T-2 disabled by the override');

  const replace = `
macros:
  is_shell: proc.name == 'fish'
rules:
  - id: T-1
    title: Fish anywhere
    severity: low
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: is_shell
    output: fish
`;
  const r = engineOf(BASE, replace);
  assert.deepEqual(r.errors, []);
  const [a] = r.engine.evaluate(exec('fish', { container: undefined }));
  assert.equal(a?.severity, 'low');
  assert.deepEqual(r.engine.evaluate(exec('bash')), [], 'whole rule replaced, exceptions and all');
});

test('a YAML syntax error names file and line; the other files keep loading', () => {
  const broken = 'rules:\n  - id: X-1\n    title: [unclosed\n';
  const { engine, errors } = engineOf(BASE, broken);
  assert.equal(errors.length > 0, true);
  const e = errors[0] as RuleLoadError;
  assert.equal(e.file, 'f1.yaml');
  assert.ok(e.line >= 3, `line ${e.line}`);
  assert.match(e.describe(), /^f1\.yaml:\d+: YAML syntax error/);
  assert.equal(engine.rules.length, 2);
});

test('an invalid rule is reported with its line; the other rules in the file load', () => {
  const text = `rules:
  - id: B-1
    title: bad severity
    severity: urgent
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: "true"
    output: x
  - id: B-2
    title: bad condition
    severity: low
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: |
      proc.name == 'a' &&
        proc.argv.exists(x, x ==)
    output: x
  - id: B-3
    title: bad event type and tactic
    severity: low
    mitre: { tactic: hacking, technique: T1059 }
    events: [process.spawn]
    condition: "true"
    output: x
  - id: B-4
    title: fine
    severity: low
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: proc.name == 'ok'
    output: "%proc.nme"
  - id: B-5
    title: fine
    severity: low
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: proc.name == 'ok'
    output: ok %proc.name
`;
  const { engine, errors } = engineOf(text);
  const byRule = new Map(errors.map((e) => [e.ruleId, e]));
  assert.equal(byRule.get('B-1')?.line, 4);
  assert.match(byRule.get('B-1')?.reason ?? '', /severity/);
  assert.equal(byRule.get('B-2')?.line, 16);
  assert.match(byRule.get('B-2')?.reason ?? '', /condition 2:27: unexpected '\)'/);
  assert.match(byRule.get('B-3')?.reason ?? '', /unknown (MITRE tactic|event type)/);
  assert.deepEqual(
    engine.rules.map((r) => r.spec.id),
    ['B-4', 'B-5'],
  );
  assert.equal(
    engine
      .evaluate(exec('ok'))
      .map((a) => a.output)
      .join('|'),
    '<NA>|ok ok',
  );
});

test('evaluation errors make the condition false and are counted per rule', () => {
  const text = `rules:
  - id: E-1
    title: tty rule
    severity: low
    mitre: { tactic: execution, technique: T1059 }
    events: [process.exec]
    condition: container.privileged == true
    output: x
`;
  const { engine, errors } = engineOf(text);
  assert.deepEqual(errors, []);
  assert.deepEqual(engine.evaluate(exec('bash')), []);
  assert.equal(engine.stats('E-1')?.errors, 1);
  assert.match(engine.stats('E-1')?.lastError ?? '', /no such key: container\.privileged/);
  assert.equal(engine.errorCount(), 1);
});

test('override of an unknown rule and unknown fields are errors; parseRuleSources never throws', () => {
  const { errors } = parseRuleSources([
    {
      file: 'u.yaml',
      text: 'rules:\n  - id: NOPE\n    override: true\n    enabled: false\n  - id: Z\n    titel: typo\n',
    },
    { file: 'v.yaml', text: 'rulez: []\n' },
    { file: 'w.yaml', text: '- just a list\n' },
  ]);
  assert.deepEqual(
    errors.map((e) => e.describe()),
    [
      'u.yaml:2: rule NOPE: override: true, but no earlier file defines this rule',
      "u.yaml:6: rule Z: unknown field 'titel'",
      "v.yaml:1: unknown top-level key 'rulez' (expected lists, macros or rules)",
      'w.yaml:1: a rule file is a mapping with lists:, macros: and rules:',
    ],
  );
});
