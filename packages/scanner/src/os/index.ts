import type { OsDetector } from '../catalogers/types.js';

// Placeholder so the package builds while OS detection is written; replaced by the real one.
export const osDetector: OsDetector = {
  id: 'os-release',
  version: 0,
  wants: () => false,
  detect: () => undefined,
};
