import type { Plugin, ScanReport } from '@palisade/core';

/** Options every writer accepts; each writer ignores what does not concern it. */
export interface WriteOptions {
  /** Table only: colour severities with ANSI escapes (the CLI sets it for a TTY without NO_COLOR). */
  color?: boolean;
  /** Table only: longest title shown before it is cut with "…" (default 60 characters). */
  maxTitleWidth?: number;
}

/** One output format. `write` is pure: equal reports and options give byte-equal output. */
export interface ReportWriter extends Plugin {
  /** Media type of the output, for files and HTTP responses. */
  readonly mediaType: string;
  /** File name suffix, without the dot (e.g. "sarif", "cdx.json"). */
  readonly fileExtension: string;
  readonly description: string;
  write(report: ScanReport, options: WriteOptions): string;
}
