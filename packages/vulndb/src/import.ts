/** `palisade db import PATH…`: read feeds from files and folders, build the DB atomically. */
import { PalisadeError } from '@palisade/core';
import { Collector } from './importers/collect.js';
import { docsOf } from './importers/load.js';
import { importers } from './importers/registry.js';
import type { FeedImporter, SourceDoc } from './importers/types.js';
import { writeDbAtomically } from './store/write.js';

export interface ImportOptions {
  /** Build time written into the DB (default: now). */
  now?: Date;
  /** Called for each skipped record or file. */
  onWarning?: (message: string) => void;
  /** Warnings kept in the summary (default 200; the count is always exact). */
  maxWarnings?: number;
}

export interface ImportSummary {
  dbPath: string;
  builtAt: string;
  /** Documents read (files, archive entries). */
  documents: number;
  /** Documents skipped: unreadable, corrupt or in no known format. */
  documentsSkipped: number;
  feeds: Array<{ id: string; records: number; skipped: number; withdrawn: number; updatedAt: string }>;
  warnings: string[];
  warningCount: number;
}

function importerFor(doc: SourceDoc): FeedImporter | undefined {
  return importers.all().find((i) => i.sniff(doc));
}

/** Read every path into a Collector. */
export function collectPaths(
  paths: readonly string[],
  options: ImportOptions = {},
): { collector: Collector; documents: number; skipped: number } {
  const c = new Collector(options.maxWarnings ?? 200, options.onWarning);
  let documents = 0;
  let skipped = 0;
  const ctx = {
    skipFile: (subject: string, reason: string): void => {
      skipped++;
      c.warn(`${subject}: skipped: ${reason}`);
    },
  };
  for (const path of paths) {
    for (const doc of docsOf(path, ctx)) {
      documents++;
      const imp = importerFor(doc);
      if (imp) {
        imp.import(doc, c);
        continue;
      }
      if (doc.subject === path) {
        throw new PalisadeError(
          'E_UNSUPPORTED',
          'not a known vulnerability feed format (OSV, Debian tracker, Alpine secdb, KEV, EPSS, Red Hat)',
          {
            subject: path,
          },
        );
      }
      ctx.skipFile(doc.subject, 'not a known vulnerability feed format');
    }
  }
  return { collector: c, documents, skipped };
}

/**
 * Import feeds from files/folders/archives into a new DB at `dbPath`. Formats are detected per
 * document. The previous DB stays untouched unless the whole import succeeds.
 */
export async function importPaths(
  paths: readonly string[],
  dbPath: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  if (paths.length === 0) throw new PalisadeError('E_INPUT', 'no input paths given', { subject: dbPath });
  const { collector: c, documents, skipped } = collectPaths(paths, options);
  if (c.isEmpty()) {
    throw new PalisadeError('E_INPUT', 'no vulnerability records found in the given paths', {
      subject: paths.join(', '),
    });
  }
  const builtAt = (options.now ?? new Date()).toISOString();
  writeDbAtomically(dbPath, c, builtAt);
  // Yield once so callers awaiting many imports interleave with I/O callbacks.
  await Promise.resolve();
  return {
    dbPath,
    builtAt,
    documents,
    documentsSkipped: skipped,
    feeds: [...c.stats.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([id, s]) => ({
        id,
        records: s.records,
        skipped: s.skipped,
        withdrawn: s.withdrawn,
        updatedAt: s.date ?? builtAt,
      })),
    warnings: c.warnings,
    warningCount: c.warningCount,
  };
}
