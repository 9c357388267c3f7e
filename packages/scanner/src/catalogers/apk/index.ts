import type { Cataloger } from '../types.js';

// Placeholder so the registry builds while this cataloger is written; replaced by the real one.
export const cataloger: Cataloger = {
  id: 'apk',
  version: 0,
  produces: ['apk'],
  wants: () => false,
  catalog: () => [],
};
