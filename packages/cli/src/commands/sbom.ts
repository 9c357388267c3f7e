import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { FsLayerCache, scanImage, writeReport } from '@palisade/scanner';
import { defaultCacheDir } from '../paths.js';
import { emit, type Io } from '../output.js';
import { progressReporter } from '../progress.js';
import { reportProblems } from '../problems.js';
import { addSourceOptions, sourceOptionsFrom, type SourceFlags } from '../source-options.js';

interface SbomFlags extends SourceFlags {
  format: string;
  output?: string;
  cacheDir?: string;
  cache: boolean;
  progress: boolean;
  allowUnreadable: boolean;
}

/** `palisade sbom REF`: the package inventory alone, no vulnerability DB needed. */
export function sbomCommand(io: Io, setExit: (code: number) => void): Command {
  const cmd = new Command('sbom')
    .description(
      'write the package inventory (SBOM) of an image: registry ref, oci:DIR[:tag], archive:FILE or dir:PATH',
    )
    .argument('<ref>', 'image reference')
    .addOption(
      new Option('-f, --format <format>', 'output format')
        .choices(['cyclonedx', 'spdx', 'json', 'table'])
        .default('cyclonedx'),
    )
    .option('-o, --output <file>', 'write the SBOM to a file instead of stdout')
    .option('--cache-dir <dir>', 'layer cache and temporary files (default: $PALISADE_CACHE_DIR or ~/.cache/palisade)')
    .option('--no-cache', 'do not read or write the layer cache')
    .option('--no-progress', 'no progress display on stderr')
    .option(
      '--allow-unreadable',
      'exit 0 even when some package files could not be read (by default the command fails closed)',
      false,
    );
  addSourceOptions(cmd).action(async (ref: string, flags: SbomFlags) => {
    const cacheDir = flags.cacheDir ?? defaultCacheDir(io.env);
    const tmp = join(cacheDir, 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const progress = progressReporter(io, flags.progress);
    try {
      const report = await scanImage(ref, {
        source: await sourceOptionsFrom(flags, io, tmp),
        ...(flags.cache ? { cache: new FsLayerCache(cacheDir) } : {}),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      });
      emit(io, writeReport(report, flags.format, { color: false }), flags.output);
      setExit(reportProblems(io, report, flags.allowUnreadable));
    } finally {
      progress.done();
    }
  });
  return cmd;
}
