/**
 * The server's rule engine: the built-in library, then the operator's rule files (later files
 * override earlier rules of the same id). A rule that does not load is reported and skipped; the
 * others still run, as in the sensor.
 */
import { builtinRuleSources, readRuleFiles, RuleEngine, type RuleLoadError } from '@palisade/rules';

export interface LoadedEngine {
  engine: RuleEngine;
  errors: RuleLoadError[];
}

export function loadRuntimeEngine(ruleFiles: readonly string[] = []): LoadedEngine {
  return RuleEngine.fromSources([...builtinRuleSources(), ...readRuleFiles(ruleFiles)]);
}

/** Runtime settings read from the environment: NATS_URL, PALISADE_RULE_FILES (comma-separated paths). */
export interface RuntimeEnvSettings {
  natsUrl: string | null;
  ruleFiles: string[];
}

export function runtimeSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): RuntimeEnvSettings {
  const url = env['NATS_URL']?.trim();
  const files = (env['PALISADE_RULE_FILES'] ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  return { natsUrl: url === undefined || url === '' ? null : url, ruleFiles: files };
}
