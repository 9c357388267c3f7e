import { readFileSync } from 'node:fs';
import { PalisadeError } from '@palisade/core';
import type { Platform, SourceOptions } from '@palisade/oci';
import type { Command } from 'commander';
import type { Io } from './output.js';

/** Registry/source flags shared by `scan image` and `sbom`. */
export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image', 'linux/amd64')
    .option('--insecure', 'allow plain HTTP and self-signed certificates for the registry', false)
    .option('--ca-file <pem>', 'extra CA certificate(s) to trust for HTTPS registries (repeatable)', collect, [])
    .option('--username <name>', 'registry user name (env PALISADE_REGISTRY_USERNAME)')
    .option('--password <password>', 'registry password (env PALISADE_REGISTRY_PASSWORD; prefer --password-stdin)')
    .option('--password-stdin', 'read the registry password from standard input', false)
    .option('--registry-token <token>', 'registry bearer token (env PALISADE_REGISTRY_TOKEN)')
    .option('--timeout <seconds>', 'timeout of each registry request', parsePositive, 60);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new PalisadeError('E_INPUT', `expected a positive number, got "${value}"`);
  return n;
}

export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  const [os, architecture, variant] = parts;
  if (!os || !architecture || parts.length > 3) {
    throw new PalisadeError(
      'E_INPUT',
      `invalid platform "${s}": expected os/arch or os/arch/variant, e.g. linux/arm64`,
    );
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

export interface SourceFlags {
  platform: string;
  insecure: boolean;
  caFile: string[];
  username?: string;
  password?: string;
  passwordStdin: boolean;
  registryToken?: string;
  timeout: number;
}

export async function sourceOptionsFrom(flags: SourceFlags, io: Io, tempDir: string): Promise<SourceOptions> {
  const opts: SourceOptions = {
    platform: parsePlatform(flags.platform),
    insecure: flags.insecure,
    timeoutMs: flags.timeout * 1000,
    tempDir,
  };
  for (const f of flags.caFile) {
    try {
      readFileSync(f);
    } catch {
      throw new PalisadeError('E_INPUT', 'CA file not readable', { subject: f });
    }
  }
  if (flags.caFile.length > 0) opts.caFiles = flags.caFile;
  const username = flags.username ?? io.env.PALISADE_REGISTRY_USERNAME;
  let password = flags.password ?? io.env.PALISADE_REGISTRY_PASSWORD;
  if (flags.passwordStdin) password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  const token = flags.registryToken ?? io.env.PALISADE_REGISTRY_TOKEN;
  if (username !== undefined || password !== undefined || token !== undefined) {
    opts.credentials = {};
    if (username !== undefined) opts.credentials.username = username;
    if (password !== undefined) opts.credentials.password = password;
    if (token !== undefined) opts.credentials.token = token;
  }
  return opts;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}
