export * from './cel/index.js';
export * from './rules/index.js';
export { benchmarkEvents } from './bench.js';
