export type { ReportWriter, WriteOptions } from './types.js';
export { createWriterRegistry, writerRegistry, writeReport, requireWriter, SBOM_FORMATS } from './registry.js';
export { stableStringify } from './json.js';
