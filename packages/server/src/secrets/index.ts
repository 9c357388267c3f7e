export * from './keys.js';
export * from './box.js';
export * from './tokens.js';
