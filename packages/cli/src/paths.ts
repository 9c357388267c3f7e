import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Palisade keeps its layer cache and downloads: $PALISADE_CACHE_DIR, $XDG_CACHE_HOME/palisade, ~/.cache/palisade. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PALISADE_CACHE_DIR) return env.PALISADE_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'palisade');
  return join(homedir(), '.cache', 'palisade');
}

/** The vulnerability DB: $PALISADE_DB or <cache>/db/palisade-vuln.db. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.PALISADE_DB ?? join(defaultCacheDir(env), 'db', 'palisade-vuln.db');
}
