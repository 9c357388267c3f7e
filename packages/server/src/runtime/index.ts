/** Runtime threat detection in the server: ingest contract checks, detection, JetStream transport. */
export * from './auth.js';
export * from './engine.js';
export * from './pipeline.js';
export * from './process-tree.js';
export { boundedBodyDecoder } from './body.js';
export { validateIngestBatch, INGEST_BATCH_SCHEMA, MAX_EVENTS_PER_ALERT } from './validate.js';
export {
  openJetStream,
  DEFAULT_DURABLE,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT,
  type JetStreamOptions,
  type JetStreamTransport,
  type RuntimeEnvelope,
} from './nats.js';
