/** Entry point of the `palisade` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  void argv;
  process.stderr.write('palisade: CLI not wired yet\n');
  return 2;
}
