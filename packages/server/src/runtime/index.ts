/** Runtime threat detection in the server: ingest contract checks, detection, JetStream transport. */
export * from './auth.js';
export * from './engine.js';
export * from './pipeline.js';
export * from './process-tree.js';
export * from './rate-limit.js';
export * from './retention.js';
export { boundedBodyDecoder, SUPPORTED_ENCODINGS } from './body.js';
export { validateIngestBatch, INGEST_BATCH_SCHEMA, MAX_EVENTS_PER_ALERT, MAX_JSON_DEPTH } from './validate.js';
export {
  openJetStream,
  isPermanentFailure,
  DEFAULT_DEAD_SUBJECT,
  DEFAULT_DURABLE,
  DEFAULT_MAX_DELIVER,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT,
  type DeadLetter,
  type JetStreamOptions,
  type JetStreamTransport,
  type RuntimeEnvelope,
} from './nats.js';
