/**
 * The `json` format: the ScanReport itself. It is Palisade's stable format (docs/report-schema.json):
 * keys sorted at every level, packages and findings in canonical order, 2-space indent, final newline,
 * so two scans of the same image diff cleanly.
 */
import type { ScanReport } from '@palisade/core';
import { sortedReport } from '../report/common.js';
import type { ReportWriter, WriteOptions } from './types.js';

/** JSON with object keys sorted recursively; array order is kept (it carries meaning). */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export const jsonWriter: ReportWriter = {
  id: 'json',
  version: 1,
  mediaType: 'application/vnd.palisade.report+json',
  fileExtension: 'json',
  description: "Palisade's own report (stable, see docs/report-schema.json)",
  write(report: ScanReport, _options: WriteOptions): string {
    return stableStringify(sortedReport(report));
  },
};
