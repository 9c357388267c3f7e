/**
 * The `palisade` command: argument parsing and wiring only. Every failure ends in one line on
 * stderr naming what is wrong and a non-zero exit code; `--debug` adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { PALISADE_VERSION, isPalisadeError } from '@palisade/core';
import { clusterCommand } from './commands/cluster.js';
import { dbCommand } from './commands/db.js';
import { debugCommand } from './commands/debug.js';
import { sbomCommand } from './commands/sbom.js';
import { postureCommand } from './commands/posture.js';
import { rulesCommand } from './commands/rules.js';
import { scanCommand } from './commands/scan.js';
import { sensorCommand } from './commands/sensor.js';
import { serverCommand } from './commands/server.js';
import { simulateCommand } from './commands/simulate.js';
import { processIo, type Io } from './output.js';

import { EXIT_ERROR } from './exit-codes.js';

export { EXIT_ERROR };

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('palisade')
    .description('Palisade: container security — image vulnerability scanning, SBOMs, vulnerability database')
    .version(PALISADE_VERSION)
    .option('--debug', 'show stack traces of errors', false)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  for (const c of [
    scanCommand(io, setExit),
    sbomCommand(io, setExit),
    dbCommand(io, setExit),
    postureCommand(io, setExit),
    clusterCommand(io, setExit),
    rulesCommand(io, setExit),
    sensorCommand(io, setExit),
    serverCommand(io, setExit),
    simulateCommand(io, setExit),
    debugCommand(io, setExit),
  ]) {
    program.addCommand(c);
  }
  // Subcommands inherit the error handling of the root.
  const propagate = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
      propagate(sub);
    }
  };
  propagate(program);
  return program;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (c) => {
    exitCode = c;
  });
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return err.exitCode === 0 ? 0 : EXIT_ERROR;
    }
    if (isPalisadeError(err)) {
      io.stderr.write(`palisade: ${err.describe()}\n`);
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      io.stderr.write(`palisade: internal error: ${msg}${debug ? '' : ' (run with --debug for details)'}\n`);
    }
    if (debug && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return EXIT_ERROR;
  }
}
