/**
 * @palisade/posture: Kubernetes posture assessment of manifests — Pod Security Standards
 * (baseline and restricted, every upstream policy version) and workload hygiene checks.
 */
export type { AnalysisViolation, Check, CheckContext, PssControl, Violation } from './check.js';
export { ClusterIndex, type Located } from './analysis.js';
export {
  RbacModel,
  allows,
  formatSubject,
  selectorMatches,
  type BindingDef,
  type Grant,
  type PolicyRule,
  type RoleDef,
  type Subject,
} from './rbac.js';
export { RBAC_CHECKS, grantRisks, rbacModelOf, type RbacRiskName } from './rbac-checks.js';
export { ABSENCE_CHECK_KINDS, CIS_NSA_CHECKS, unjudgeableAbsenceChecks } from './cis-nsa-checks.js';
export {
  ATTACK_PATHS_ID,
  attackPathCollector,
  attackPathLine,
  attackPathsOfObjects,
  buildAttackPaths,
  scanWithAttackPaths,
  type AttackPath,
  type AttackPathOptions,
  type AttackStep,
  type AttackStepKind,
  type AttackTargetKind,
  type ImageVulnLookup,
  type ImageVulnSummary,
  type PostureReportWithAttackPaths,
} from './attack-paths.js';
export { ImageVulnIndex, normalizeImageRef, parseImageVulns } from './image-vulns.js';
export {
  EXPOSURE_CHECKS,
  ExposureGraph,
  exposureGraphOf,
  type ExposureEntry,
  type ExposurePath,
  type PodFacts,
  type WorkloadSummary,
} from './exposure.js';
export { checkRegistry } from './check.js';
export { CHECKS, imageParts } from './checks.js';
export {
  CheckEvaluationError,
  loadCustomChecks,
  parseCustomChecks,
  parseFieldPath,
  type ConditionLanguage,
  type ConditionProgram,
} from './custom.js';
export {
  readManifestText,
  type Locator,
  type ManifestEntry,
  type ManifestError,
  type ManifestObject,
  type Position,
} from './manifest.js';
export { formatPath, type FieldPath, type JsonObject } from './path.js';
export { PSS_LATEST_MINOR, PSS_LEVELS, formatPssVersion, isPssLevel, parsePssVersion, pssChecksFor } from './pss.js';
export {
  checksInForce,
  scanManifests,
  type PostureInput,
  type PostureOptions,
  type PostureReport,
  type PostureSummary,
} from './scan.js';
export { manifestFiles, manifestInputs } from './files.js';
export { POSTURE_FORMATS, postureSarif, postureTable, writePostureReport, type PostureFormat } from './writers.js';
export { WORKLOAD_KINDS, podOf, containersOf } from './workload.js';
