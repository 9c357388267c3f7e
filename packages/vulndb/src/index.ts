export * from './types.js';
export * from './versions/index.js';
