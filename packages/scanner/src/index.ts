export * from './catalogers/types.js';
export { createCatalogerRegistry } from './catalogers/registry.js';
export { osDetector } from './os/index.js';
