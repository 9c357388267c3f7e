/** Registry integration: push-event receiving and report publishing (framework-free). */
export * from './media-types.js';
export * from './events.js';
export * from './api.js';
export * from './publish.js';
export * from './referrers.js';
