import type { Plugin } from '@palisade/core';
import type { ImportSink } from '../model.js';

/** One input document: a file, or one entry of an archive. */
export interface SourceDoc {
  /** Names the document in warnings and errors ("feeds/all.zip!GO-2020-0001.json"). */
  subject: string;
  /** Lower-case extension without ".gz" (".json", ".yaml", ".csv", ".txt", …). */
  ext: string;
  text: string;
  /** Parsed JSON/YAML content, when the extension or content says it is one. */
  data: unknown;
}

/** A feed importer: recognizes its format and turns documents into advisories. */
export interface FeedImporter extends Plugin {
  readonly description: string;
  /** True when `doc` is in this importer's format (checked in registry order). */
  sniff(doc: SourceDoc): boolean;
  /** Read every record; malformed records are reported to `sink.skip`, never thrown. */
  import(doc: SourceDoc, sink: ImportSink): void;
}
