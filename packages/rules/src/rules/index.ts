export {
  RuleEngine,
  compileRuleSet,
  EVENT_VARIABLES,
  type CompiledRule,
  type RuleStats,
  type CompileResult,
} from './engine.js';
export { parseRuleSources, emptyRuleSet, type RuleSet, type ParseResult, type ListValue } from './loader.js';
export { builtinRuleSources, readRuleFiles, BUILTIN_RULES_DIR } from './builtin.js';
export { MITRE_TACTICS } from './mitre.js';
export {
  RuleLoadError,
  type RuleSource,
  type RuleSpec,
  type RuleException,
  type ExceptionMatch,
  type Origin,
} from './types.js';
