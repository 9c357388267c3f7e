/**
 * The normalized advisory model every importer produces and the DB stores. Importers translate
 * their feed into this shape once, so matching has a single code path for all feeds.
 */
import type { CvssScore, EpssInfo, KevInfo, VulnStatus } from '@palisade/core';

/** One OSV-style range event. Exactly one field is set. */
export interface RangeEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface VersionRange {
  /** SEMVER or ECOSYSTEM (GIT ranges are dropped at import: they are used only through `versions`). */
  type: 'SEMVER' | 'ECOSYSTEM';
  events: RangeEvent[];
}

/** One package of one ecosystem stream that an advisory affects. */
export interface AffectedEntry {
  /** Matching key of the stream: "debian:12", "ubuntu:22.04", "alpine:3.18", "npm", "pypi", "go", … */
  ecosystem: string;
  /** The OSV ecosystem name whose version scheme orders these versions ("Debian", "npm", "Go", …). */
  scheme: string;
  /** Normalized package name (source package for distros, PEP 503 for PyPI, group:artifact for Maven). */
  name: string;
  ranges: VersionRange[];
  /** Exact affected versions (OSV `versions`). */
  versions?: string[];
  /** Vendor status used when the package is vulnerable and has no fix (no-dsa, end-of-life, …). */
  unfixedStatus?: VulnStatus;
  /** Vendor severity of this entry (Debian urgency per release, Ubuntu priority). */
  severity?: string;
  severitySource?: string;
}

export interface Advisory {
  /** Feed id, e.g. "debian-tracker", "alpine-secdb", "osv-go", "ghsa". */
  feed: string;
  id: string;
  /** Ids of the same vulnerability (OSV `aliases`), sorted. */
  aliases: string[];
  /** Ids this record covers without being the same vulnerability (a USN or DSA listing several CVEs). */
  related: string[];
  summary?: string;
  details?: string;
  published?: string;
  modified?: string;
  /** Record-level vendor severity (GHSA database_specific.severity). */
  severity?: string;
  severitySource?: string;
  cvss: CvssScore[];
  references: string[];
  url?: string;
  affected: AffectedEntry[];
}

/** Where importers put what they read. */
export interface ImportSink {
  advisory(a: Advisory): void;
  kev(cve: string, info: KevInfo): void;
  epss(cve: string, info: EpssInfo): void;
  /** A record that could not be read: skipped and counted. */
  skip(feed: string, subject: string, reason: string): void;
  /** The feed's own date (catalog release date, newest record modification). */
  feedDate(feed: string, isoDate: string): void;
  /** A withdrawn record: not imported, counted apart from malformed ones. */
  withdrawn(feed: string, id: string): void;
  /** A distro release and its support state ("security", "lts", "end-of-life", …). */
  release(distro: string, codename: string, version: string, support: string): void;
  /** Count a non-advisory record (KEV/EPSS rows) toward its feed. */
  count(feed: string, n?: number): void;
}
