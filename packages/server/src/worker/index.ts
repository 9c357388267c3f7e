export * from './queue.js';
export * from './vulndb.js';
export * from './worker.js';
