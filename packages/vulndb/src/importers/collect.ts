/** The import sink that gathers everything read from all inputs, merging records by (feed, id). */
import type { CvssScore, EpssInfo, KevInfo } from '@palisade/core';
import type { Advisory, ImportSink } from '../model.js';
import { sortedUnique } from '../ids.js';

export interface FeedStats {
  records: number;
  skipped: number;
  withdrawn: number;
  /** Newest date the feed itself carries; undefined → import time. */
  date?: string;
}

export interface ReleaseRow {
  distro: string;
  codename: string;
  version: string;
  support: string;
}

function mergeCvss(a: CvssScore[], b: CvssScore[]): CvssScore[] {
  const seen = new Set(a.map((c) => `${c.source}|${c.vector}`));
  return [...a, ...b.filter((c) => !seen.has(`${c.source}|${c.vector}`))];
}

export class Collector implements ImportSink {
  readonly advisories = new Map<string, Advisory>();
  readonly kevs = new Map<string, KevInfo>();
  readonly epssScores = new Map<string, EpssInfo>();
  readonly releases: ReleaseRow[] = [];
  readonly stats = new Map<string, FeedStats>();
  readonly warnings: string[] = [];
  warningCount = 0;

  constructor(
    private readonly maxWarnings = 200,
    private readonly onWarning?: (message: string) => void,
  ) {}

  private feed(id: string): FeedStats {
    let s = this.stats.get(id);
    if (!s) {
      s = { records: 0, skipped: 0, withdrawn: 0 };
      this.stats.set(id, s);
    }
    return s;
  }

  advisory(a: Advisory): void {
    const key = `${a.feed}\u0000${a.id}`;
    const prev = this.advisories.get(key);
    if (!prev) {
      this.advisories.set(key, a);
      this.feed(a.feed).records++;
      return;
    }
    // The same record seen again (another secdb release, another tracker package): merge.
    prev.affected.push(...a.affected);
    prev.aliases = sortedUnique([...prev.aliases, ...a.aliases]);
    prev.related = sortedUnique([...prev.related, ...a.related]);
    prev.references = sortedUnique([...prev.references, ...a.references]);
    prev.cvss = mergeCvss(prev.cvss, a.cvss);
    prev.summary ??= a.summary;
    prev.details ??= a.details;
    prev.severity ??= a.severity;
    prev.severitySource ??= a.severitySource;
  }

  kev(cve: string, info: KevInfo): void {
    if (!this.kevs.has(cve)) this.feed('kev').records++;
    this.kevs.set(cve, info);
  }

  epss(cve: string, info: EpssInfo): void {
    if (!this.epssScores.has(cve)) this.feed('epss').records++;
    this.epssScores.set(cve, info);
  }

  skip(feed: string, subject: string, reason: string): void {
    this.feed(feed).skipped++;
    this.warn(`${subject}: skipped: ${reason}`);
  }

  withdrawn(feed: string, id: string): void {
    void id;
    this.feed(feed).withdrawn++;
  }

  feedDate(feed: string, isoDate: string): void {
    const s = this.feed(feed);
    if (s.date === undefined || isoDate > s.date) s.date = isoDate;
  }

  release(distro: string, codename: string, version: string, support: string): void {
    this.releases.push({ distro, codename, version, support });
    this.feed(`${distro}-distributions`).records++;
  }

  count(feed: string, n = 1): void {
    this.feed(feed).records += n;
  }

  warn(message: string): void {
    this.warningCount++;
    if (this.warnings.length < this.maxWarnings) this.warnings.push(message);
    this.onWarning?.(message);
  }

  /** True when nothing usable was read. */
  isEmpty(): boolean {
    return [...this.stats.values()].every((s) => s.records === 0);
  }
}
