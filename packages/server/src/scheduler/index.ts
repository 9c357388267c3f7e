/** Periodic work of the server: rescans, registry polling, rematching after a DB update. */
export * from './types.js';
export * from './rescan.js';
export * from './rematch.js';
export * from './poll.js';
export * from './scheduler.js';
