export * from './types.js';
export { walkTarStream, type TarWalkOptions } from './layer/walk.js';
export { openImageSource } from './sources/index.js';
export * from './registry/index.js';
export * from './ref.js';
