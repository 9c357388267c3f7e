import type { Cataloger } from '../types.js';

// Placeholder so the registry builds while this cataloger is written; replaced by the real one.
export const cataloger: Cataloger = {
  id: 'dpkg',
  version: 0,
  produces: ['deb'],
  wants: () => false,
  catalog: () => [],
};
