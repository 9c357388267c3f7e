import type { ScanProgress } from '@palisade/scanner';
import type { Io } from './output.js';

/**
 * A one-line progress display on stderr, only when stderr is a terminal (never in CI logs or
 * when output is piped), cleared when the scan ends.
 */
export function progressReporter(
  io: Io,
  enabled: boolean,
): { onProgress?: (p: ScanProgress) => void; done: () => void } {
  if (!enabled || !io.stderr.isTTY) return { done: () => undefined };
  let layersDone = 0;
  let shown = false;
  const show = (text: string): void => {
    io.stderr.write(`\r\x1b[2K${text}`);
    shown = true;
  };
  return {
    onProgress: (p: ScanProgress): void => {
      switch (p.phase) {
        case 'resolve':
          show(`resolving ${p.ref}…`);
          break;
        case 'layer':
          if (p.done) layersDone++;
          show(`layers ${layersDone}/${p.total}${p.cached ? ' (cached)' : ''} ${p.digest.slice(7, 19)}`);
          break;
        case 'catalog':
          show('cataloging packages…');
          break;
        case 'match':
          show(`matching ${p.packages} packages…`);
          break;
      }
    },
    done: (): void => {
      if (shown) io.stderr.write('\r\x1b[2K');
    },
  };
}
