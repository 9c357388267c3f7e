export * from './catalogers/types.js';
export { createCatalogerRegistry } from './catalogers/registry.js';
export { mergeLayers, resolvePath, fileTreeFrom, type LayerFiles } from './catalogers/filetree.js';
export { locationOf, packageId } from './catalogers/location.js';
export { osDetector } from './os/index.js';
