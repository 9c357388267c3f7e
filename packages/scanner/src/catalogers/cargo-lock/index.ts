import type { Cataloger } from '../types.js';

// Placeholder so the registry builds while this cataloger is written; replaced by the real one.
export const cataloger: Cataloger = {
  id: 'cargo-lock',
  version: 0,
  produces: ['cargo'],
  wants: () => false,
  catalog: () => [],
};
