import type { VersionScheme } from './types.js';
export type { VersionScheme } from './types.js';

// Placeholder so dependents build while the schemes are written; replaced by the real registry.
export function schemeFor(ecosystem: string): VersionScheme | undefined {
  void ecosystem;
  return undefined;
}
