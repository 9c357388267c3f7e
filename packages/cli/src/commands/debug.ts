import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { PalisadeError, isPalisadeError } from '@palisade/core';
import { compareVersions, schemeFor } from '@palisade/vulndb';
import type { Io } from '../output.js';

/** `palisade debug compare-versions ECOSYSTEM`: `A B` lines in, `<`, `=`, `>` or `error: …` out. */
async function compareLines(ecosystem: string, io: Io): Promise<number> {
  if (!schemeFor(ecosystem)) {
    throw new PalisadeError('E_INPUT', `unknown ecosystem "${ecosystem}"`, { subject: 'compare-versions' });
  }
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    const parts = line.trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) continue;
    if (parts.length !== 2) {
      io.stdout.write(`error: expected two versions separated by space, got ${parts.length} field(s)\n`);
      continue;
    }
    try {
      const c = compareVersions(ecosystem, parts[0] ?? '', parts[1] ?? '');
      io.stdout.write(c < 0 ? '<\n' : c > 0 ? '>\n' : '=\n');
    } catch (err) {
      io.stdout.write(`error: ${isPalisadeError(err) ? err.describe() : String(err)}\n`);
    }
  }
  return 0;
}

export function debugCommand(io: Io, setExit: (code: number) => void): Command {
  const debug = new Command('debug').description('tools for checking Palisade itself');
  debug
    .command('compare-versions')
    .description(
      'read lines "A B" from stdin and print <, = or > for each, ordered as ECOSYSTEM orders versions (Debian, Alpine, "Red Hat", npm, Go, PyPI, Maven, RubyGems, NuGet, Packagist)',
    )
    .argument('<ecosystem>', 'ecosystem, spelled as OSV spells it')
    .action(async (ecosystem: string) => {
      setExit(await compareLines(ecosystem, io));
    });
  return debug;
}
