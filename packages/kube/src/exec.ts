/**
 * Exec credential plugins (client.authentication.k8s.io/v1 and v1beta1): run the command,
 * read one ExecCredential from its stdout, use `status.token` or the client certificate it
 * returns. The plugin's output is a credential: it is parsed, never logged or quoted in an
 * error, and its stderr is dropped for the same reason (plugins print tokens in debug modes).
 */
import { spawn } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import { PalisadeError } from '@palisade/core';
import type { ExecConfig } from './kubeconfig.js';

export interface ExecCredentialResult {
  token?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** When the credential expires; absent means it is reused for the life of the client. */
  expiresAt?: number;
}

const MAX_OUTPUT = 1024 * 1024;

function commandPath(exec: ExecConfig): string {
  // kubectl resolves relative commands that contain a path separator against the
  // kubeconfig's directory; bare names go through PATH.
  return !isAbsolute(exec.command) && exec.command.includes('/') ? join(exec.baseDir, exec.command) : exec.command;
}

// What a plugin needs to find itself and its config files, and nothing that could be a secret.
const MINIMAL_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ'] as const;

function baseEnv(mode: 'inherit' | 'minimal'): NodeJS.ProcessEnv {
  if (mode === 'inherit') return { ...process.env };
  const env: NodeJS.ProcessEnv = {};
  for (const k of MINIMAL_ENV) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/** Run the plugin and parse its ExecCredential. */
export async function runExecPlugin(
  exec: ExecConfig,
  subject: string,
  timeoutMs = 30_000,
  envMode: 'inherit' | 'minimal' = 'inherit',
): Promise<ExecCredentialResult> {
  const execInfo = JSON.stringify({
    apiVersion: exec.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false },
  });
  const env: NodeJS.ProcessEnv = { ...baseEnv(envMode), KUBERNETES_EXEC_INFO: execInfo };
  for (const e of exec.env) env[e.name] = e.value;
  const out = await new Promise<Buffer>((resolvePromise, reject) => {
    const child = spawn(commandPath(exec), exec.args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: PalisadeError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolvePromise(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new PalisadeError('E_TIMEOUT', `exec credential plugin did not finish in ${timeoutMs} ms`, { subject }));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_OUTPUT) {
        child.kill('SIGKILL');
        finish(new PalisadeError('E_AUTH', 'exec credential plugin output is too large', { subject }));
        return;
      }
      chunks.push(d);
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      finish(
        new PalisadeError('E_AUTH', `cannot run exec credential plugin "${exec.command}": ${err.code ?? 'error'}`, {
          subject,
        }),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) finish(undefined);
      else
        finish(
          new PalisadeError('E_AUTH', `exec credential plugin "${exec.command}" exited with code ${String(code)}`, {
            subject,
          }),
        );
    });
  });
  return parseExecCredential(out.toString('utf8'), subject);
}

/** Parse an ExecCredential; errors describe its shape, never its content. */
export function parseExecCredential(text: string, subject: string): ExecCredentialResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PalisadeError('E_AUTH', 'exec credential plugin did not print an ExecCredential (not JSON)', { subject });
  }
  const status = (doc as { kind?: unknown; status?: unknown } | null)?.status;
  if ((doc as { kind?: unknown }).kind !== 'ExecCredential' || typeof status !== 'object' || status === null)
    throw new PalisadeError('E_AUTH', 'exec credential plugin output has no ExecCredential status', { subject });
  const s = status as Record<string, unknown>;
  const result: ExecCredentialResult = {};
  if (typeof s['token'] === 'string' && s['token'] !== '') result.token = s['token'];
  if (typeof s['clientCertificateData'] === 'string' && typeof s['clientKeyData'] === 'string') {
    result.clientCert = Buffer.from(s['clientCertificateData']);
    result.clientKey = Buffer.from(s['clientKeyData']);
  }
  if (result.token === undefined && result.clientCert === undefined)
    throw new PalisadeError('E_AUTH', 'ExecCredential status has neither a token nor a client certificate', {
      subject,
    });
  if (typeof s['expirationTimestamp'] === 'string') {
    const t = Date.parse(s['expirationTimestamp']);
    if (!Number.isNaN(t)) result.expiresAt = t;
  }
  return result;
}
