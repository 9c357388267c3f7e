/** `palisade db update`: download the current feeds (resumable), then import them atomically. */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { importPaths, type ImportOptions, type ImportSummary } from '../import.js';
import { DEFAULT_FEEDS, feedUrl, type FeedSource, type FeedUrlOptions } from './feeds.js';
import { downloadFile, type Progress } from './download.js';

export interface UpdateOptions extends FeedUrlOptions, ImportOptions {
  /** Where downloads (and their `.part` files) live; default `<db dir>/downloads`. */
  downloadDir?: string;
  /** Feed ids to fetch (default: all of DEFAULT_FEEDS). */
  feeds?: readonly string[];
  /** Extra or replacement feed definitions. */
  sources?: readonly FeedSource[];
  onProgress?: (p: Progress) => void;
  attempts?: number;
  timeoutMs?: number;
}

export interface UpdateSummary extends ImportSummary {
  downloaded: Array<{ feed: string; url: string; file: string }>;
}

function selected(o: UpdateOptions): FeedSource[] {
  const all = o.sources ?? DEFAULT_FEEDS;
  if (o.feeds === undefined) return [...all];
  return all.filter((f) => o.feeds?.includes(f.id));
}

export async function updateDb(dbPath: string, options: UpdateOptions = {}): Promise<UpdateSummary> {
  const dir = options.downloadDir ?? join(dirname(dbPath), 'downloads');
  const downloaded: UpdateSummary['downloaded'] = [];
  // One feed at a time: feeds are large and the machine may be small; order is the list's.
  for (const feed of selected(options)) {
    const url = feedUrl(feed, options);
    const file = join(dir, feed.path);
    mkdirSync(dirname(file), { recursive: true });
    await downloadFile(url, file, {
      feed: feed.id,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    downloaded.push({ feed: feed.id, url, file });
  }
  const summary = await importPaths(
    downloaded.map((d) => d.file),
    dbPath,
    options,
  );
  return { ...summary, downloaded };
}
