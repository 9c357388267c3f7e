/** @palisade/server: the HTTP API, storage, scan worker and their wiring (`palisade server`). */
export {
  startServer,
  ensureAdminToken,
  ADMIN_TOKEN_ENV,
  ADMIN_TOKEN_FILE,
  type RunningServer,
  type StartOptions,
  type AdminTokenSource,
} from './app.js';
export {
  loadConfig,
  CONFIG_FIELDS,
  LOG_LEVELS,
  type ServerConfig,
  type ConfigFlags,
  type LoadConfigOptions,
  type LogLevel,
} from './config/index.js';
export { createApp, type AppDependencies } from './http/app.js';
export { createMetrics, type Metrics } from './http/metrics.js';
export { buildOpenApi, type OpenApiDocument } from './http/openapi.js';
export * from './worker/index.js';
export { validateIngestBatch, INGEST_BATCH_SCHEMA } from './runtime/index.js';
