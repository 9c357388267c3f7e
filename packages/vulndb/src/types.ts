import type { DbStatus, OsInfo, Package, VulnerabilityMatch } from '@palisade/core';

/** An opened vulnerability database, ready to match. */
export interface VulnDb {
  readonly path: string;
  status(): DbStatus;
  /**
   * Match an inventory. OS packages are matched only against the distro feed of `os` (its exact
   * release stream), language packages only against their ecosystem. Results are sorted
   * (package name, version, id) and have KEV/EPSS attached by CVE id.
   */
  match(packages: readonly Package[], os: OsInfo | undefined): VulnerabilityMatch[];
  close(): void;
}
