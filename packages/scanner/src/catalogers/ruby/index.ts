import type { Cataloger } from '../types.js';

// Placeholder so the registry builds while this cataloger is written; replaced by the real one.
export const cataloger: Cataloger = {
  id: 'ruby',
  version: 0,
  produces: ['gem'],
  wants: () => false,
  catalog: () => [],
};
