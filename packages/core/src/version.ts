/** Palisade's own version, written into reports and the User-Agent. */
export const PALISADE_VERSION = '0.1.0';
