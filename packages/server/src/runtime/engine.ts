/**
 * The server's rule engine: the built-in library, then the operator's rule files (later files
 * override earlier rules of the same id). A rule that does not load is reported and skipped; the
 * others still run, as in the sensor. Which files, the NATS URL and the grouping window are server
 * settings (`runtime.*` in config/index.ts: file, environment — NATS_URL, PALISADE_RULE_FILES —
 * and flags), read once at start.
 */
import { builtinRuleSources, readRuleFiles, RuleEngine, type RuleLoadError } from '@palisade/rules';

export interface LoadedEngine {
  engine: RuleEngine;
  errors: RuleLoadError[];
}

export function loadRuntimeEngine(ruleFiles: readonly string[] = []): LoadedEngine {
  return RuleEngine.fromSources([...builtinRuleSources(), ...readRuleFiles(ruleFiles)]);
}
