export { applyFilters, remainingFindings, parseSeverities, type FindingFilters } from './filter.js';
export { applyVex, loadVex, parseVex, purlMatches, VEX_STATUSES, VEX_JUSTIFICATIONS } from './vex.js';
export type { VexDocument, VexStatement, VexProduct, VexStatus, VexJustification } from './vex.js';
export { imagePurl } from './common.js';
