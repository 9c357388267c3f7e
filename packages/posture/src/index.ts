/**
 * @palisade/posture: Kubernetes posture assessment of manifests — Pod Security Standards
 * (baseline and restricted, every upstream policy version) and workload hygiene checks.
 */
export type { Check, CheckContext, PssControl, Violation } from './check.js';
export { checkRegistry } from './check.js';
export { CHECKS, imageParts } from './checks.js';
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
