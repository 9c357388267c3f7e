/** Severity levels shared by vulnerabilities, misconfigurations and alerts, most severe first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];

const RANK: Record<Severity, number> = { critical: 5, high: 4, medium: 3, low: 2, negligible: 1, unknown: 0 };

export function severityRank(s: Severity): number {
  return RANK[s];
}

/** Sort comparator: most severe first. */
export function compareSeverity(a: Severity, b: Severity): number {
  return RANK[b] - RANK[a];
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** Map free-form vendor severities ("Important", "MODERATE", "unimportant", …) to ours. */
export function normalizeSeverity(raw: string | undefined | null): Severity {
  if (!raw) return 'unknown';
  const s = raw.trim().toLowerCase();
  switch (s) {
    case 'critical':
      return 'critical';
    case 'high':
    case 'important':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'medium';
    case 'low':
      return 'low';
    case 'negligible':
    case 'unimportant':
    case 'none':
    case 'info':
    case 'informational':
      return 'negligible';
    default:
      return 'unknown';
  }
}

/** CVSS v3/v4 base score to qualitative severity (FIRST's table). */
export function severityFromCvssScore(score: number): Severity {
  if (score >= 9.0) return 'critical';
  if (score >= 7.0) return 'high';
  if (score >= 4.0) return 'medium';
  if (score > 0) return 'low';
  return 'negligible';
}
