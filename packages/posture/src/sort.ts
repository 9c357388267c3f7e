import { compareSeverity, type Misconfiguration } from '@palisade/core';

function cmp(a: string | number | undefined, b: string | number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

/**
 * Findings in input order (file, line), then by resource, check and field, so equal inputs
 * always print the same report.
 */
export function sortMisconfigurations(list: Misconfiguration[]): Misconfiguration[] {
  return list.sort(
    (a, b) =>
      cmp(a.source?.file, b.source?.file) ||
      cmp(a.source?.document, b.source?.document) ||
      cmp(a.resource.namespace, b.resource.namespace) ||
      cmp(a.resource.kind, b.resource.kind) ||
      cmp(a.resource.name, b.resource.name) ||
      cmp(a.source?.line, b.source?.line) ||
      compareSeverity(a.severity, b.severity) ||
      cmp(a.checkId, b.checkId) ||
      cmp(a.path, b.path),
  );
}
