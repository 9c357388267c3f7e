/**
 * docs/posture-checks.md is the check catalogue generated from the registry (id, severity,
 * title, frameworks). This test fails when the registry and the page differ, and rewrites
 * the page only under UPDATE_GOLDEN=1:
 *
 *   UPDATE_GOLDEN=1 node --test packages/posture/dist/test/catalogue-doc.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@palisade/testkit';
import { CHECKS, type Check } from '../src/index.js';

const PAGE = join(repoRoot(), 'docs', 'posture-checks.md');

function cell(values: readonly string[] | undefined): string {
  return values && values.length > 0 ? values.join(', ').replace(/\|/g, '\\|') : '—';
}

function row(c: Check): string[] {
  const pss = c.pss ? `${c.pss.level} \`${c.pss.control}\` (v1.${c.pss.since}+)` : '—';
  return [
    `\`${c.id}\``,
    c.severity,
    c.title.replace(/\|/g, '\\|'),
    pss,
    cell(c.frameworks.CIS),
    cell(c.frameworks.NSA),
    cell(c.frameworks.MITRE),
  ];
}

/** A Markdown table with aligned columns, as Prettier writes it (the page stays Prettier-clean). */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function catalogue(checks: readonly Check[]): string {
  const cis = new Set(checks.flatMap((c) => c.frameworks.CIS ?? []));
  const byCis = [...cis].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return [
    '# Posture check catalogue',
    '',
    '<!-- Generated from the check registry (packages/posture/src/checks.ts) by',
    '     packages/posture/test/catalogue-doc.test.ts; run it with UPDATE_GOLDEN=1 to rewrite. -->',
    '',
    `Every built-in check of \`palisade posture scan\` (${checks.length}), in registry order, with the controls it`,
    'maps to. What each check judges and why: [posture.md](posture.md); `palisade posture checks -f json` prints',
    'the same catalogue with descriptions and remediations.',
    '',
    ...table(['id', 'severity', 'title', 'PSS', 'CIS', 'NSA/CISA', 'MITRE ATT&CK'], checks.map(row)),
    '',
    '## By CIS Kubernetes Benchmark control',
    '',
    ...table(
      ['CIS', 'checks'],
      byCis.map((id) => [
        id,
        checks
          .filter((c) => c.frameworks.CIS?.includes(id))
          .map((c) => `\`${c.id}\``)
          .join(', '),
      ]),
    ),
    '',
  ].join('\n');
}

test('docs/posture-checks.md is the catalogue of the registry', () => {
  const text = catalogue(CHECKS);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(PAGE, text);
  assert.ok(existsSync(PAGE), `${PAGE} missing (run with UPDATE_GOLDEN=1)`);
  assert.equal(readFileSync(PAGE, 'utf8'), text, 'docs/posture-checks.md is stale: rerun with UPDATE_GOLDEN=1');
});
