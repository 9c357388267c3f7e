/**
 * The one list of report writers. Adding a format means adding it here; ids are unique
 * (PluginRegistry throws on a duplicate) and the registry's fingerprint names every version.
 */
import { PalisadeError, PluginRegistry, type ScanReport } from '@palisade/core';
import { cyclonedxWriter } from './cyclonedx.js';
import { jsonWriter } from './json.js';
import { sarifWriter } from './sarif.js';
import { spdxWriter } from './spdx.js';
import { tableWriter } from './table.js';
import type { ReportWriter, WriteOptions } from './types.js';

export function createWriterRegistry(): PluginRegistry<ReportWriter> {
  return new PluginRegistry<ReportWriter>('report writers', [
    tableWriter,
    jsonWriter,
    sarifWriter,
    cyclonedxWriter,
    spdxWriter,
  ]);
}

/** The shared registry (writers are stateless, so one instance serves every call). */
export const writerRegistry: PluginRegistry<ReportWriter> = createWriterRegistry();

/** Formats `palisade sbom` accepts: the inventory formats. */
export const SBOM_FORMATS: readonly string[] = ['cyclonedx', 'spdx', 'json'];

/** The writer for a format name, or E_INPUT naming the format and listing the known ones. */
export function requireWriter(format: string, allowed: readonly string[] = writerRegistry.ids()): ReportWriter {
  const writer = allowed.includes(format) ? writerRegistry.get(format) : undefined;
  if (!writer) {
    throw new PalisadeError('E_INPUT', `unknown output format "${format}" (known: ${allowed.join(', ')})`, {
      subject: `--format ${format}`,
    });
  }
  return writer;
}

/** Write a report in the named format. */
export function writeReport(report: ScanReport, format: string, options: WriteOptions = {}): string {
  return requireWriter(format).write(report, options);
}
