import type { Plugin } from '@palisade/core';

/**
 * A version ordering of one ecosystem (dpkg, apk, rpm, semver, PEP 440, Maven, …).
 * `compare` returns <0, 0 or >0; it throws a PalisadeError (E_INPUT) naming the version when
 * a version cannot be parsed in this scheme (schemes that accept any string never throw).
 */
export interface VersionScheme extends Plugin {
  /** OSV ecosystem names this scheme orders, without the `:release` suffix (e.g. "Debian", "Ubuntu"). */
  readonly ecosystems: readonly string[];
  compare(a: string, b: string): number;
  /** True when `v` parses in this scheme. */
  isValid(v: string): boolean;
}
