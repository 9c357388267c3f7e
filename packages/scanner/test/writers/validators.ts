/**
 * Validators built from the official schemas vendored under fixtures/writers/schemas (see
 * SOURCES.md there), and from docs/report-schema.json for Palisade's own json format.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { fixturePath, repoRoot } from '@palisade/testkit';

type FormatsPlugin = (ajv: Ajv | Ajv2020) => unknown;
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as unknown as FormatsPlugin;

function schema(name: string): AnySchemaObject {
  return JSON.parse(readFileSync(fixturePath('scanner', 'writers', 'schemas', name), 'utf8')) as AnySchemaObject;
}

// CycloneDX uses the RFC 3987/6531 formats, which ajv-formats does not ship. These checks are
// deliberately strict: no whitespace or control characters in IRIs, a local@domain address.
function addIriFormats(ajv: Ajv): void {
  ajv.addFormat('iri-reference', /^[^\s\u0000-\u001f\u007f<>"{}|\\^`]*$/u);
  ajv.addFormat('iri', /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f<>"{}|\\^`]*$/u);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/u);
}

export interface Validator {
  (doc: unknown): boolean;
  errors?: ErrorObject[] | null;
}

let cache: Record<string, ValidateFunction> | undefined;

function build(): Record<string, ValidateFunction> {
  // Draft-07 schemas (CycloneDX 1.6, SPDX 2.3). strict:false because the official schemas carry
  // annotation keywords ajv does not know ("meta:enum", "deprecated").
  const ajv07 = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv07);
  addIriFormats(ajv07);
  ajv07.addSchema(schema('spdx.schema.json'), 'spdx.schema.json');
  ajv07.addSchema(schema('jsf-0.82.schema.json'), 'jsf-0.82.schema.json');
  const cyclonedx = ajv07.compile(schema('bom-1.6.schema.json'));
  const spdx = ajv07.compile(schema('spdx-schema-2.3.json'));

  // SARIF 2.1.0 is a draft-04 schema; ajv 8 reads it once its draft-04 "id" becomes "$id" and the
  // draft-04 meta-schema reference is dropped. SARIF uses no keyword whose meaning changed.
  const sarifSchema = schema('sarif-schema-2.1.0.json') as Record<string, unknown>;
  const draft04Id = String(sarifSchema['id']);
  delete sarifSchema['$schema'];
  delete sarifSchema['id'];
  const ajvSarif = new Ajv({ allErrors: true, strict: false });
  addFormats(ajvSarif);
  const sarif = ajvSarif.compile({ ...sarifSchema, $id: draft04Id } as AnySchemaObject);

  const ajv2020 = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv2020);
  const reportSchema = JSON.parse(
    readFileSync(join(repoRoot(), 'docs', 'report-schema.json'), 'utf8'),
  ) as AnySchemaObject;
  const json = ajv2020.compile(reportSchema);
  return { cyclonedx, spdx, sarif, json };
}

/** The validator for a writer id (json, sarif, cyclonedx, spdx). */
export function validatorFor(format: 'json' | 'sarif' | 'cyclonedx' | 'spdx'): Validator {
  cache ??= build();
  const v = cache[format];
  if (!v) throw new Error(`no validator for ${format}`);
  return v;
}

/** Short text of validation errors, for assertion messages. */
export function errorText(v: Validator): string {
  return (v.errors ?? [])
    .slice(0, 10)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
}
