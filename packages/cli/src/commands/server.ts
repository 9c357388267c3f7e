/**
 * `palisade server`: run the HTTP API and the scan worker until SIGINT/SIGTERM. Settings come
 * from --config (YAML) < PALISADE_* environment < flags; an invalid one stops the start with a
 * message naming the field.
 */
import { Command } from 'commander';
// Loaded on demand: the server (Fastify, pg) would otherwise slow every `palisade scan` start.
import type { ConfigFlags } from '@palisade/server';
import type { Io } from '../output.js';

interface ServerFlags {
  config?: string;
  host?: string;
  port?: string;
  dataDir?: string;
  databaseUrl?: string;
  db?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  allowLocalSources?: boolean;
  allowExecPlugins?: boolean;
  natsUrl?: string;
  ruleFiles?: string;
  groupWindow?: string;
}

/** Resolves when the process is asked to stop. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      res(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function serverCommand(io: Io, setExit: (code: number) => void): Command {
  return new Command('server')
    .description(
      'run the Palisade server: HTTP API (/api/v1, /openapi.json, /healthz, /readyz, /metrics) and the scan worker',
    )
    .option('--config <file>', 'YAML configuration file (overridden by PALISADE_* environment, then by flags)')
    .option('--host <host>', 'address to listen on (env PALISADE_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PALISADE_PORT; default 8080)')
    .option(
      '--data-dir <dir>',
      'embedded database, admin token, layer cache (env PALISADE_DATA_DIR; default ./palisade-data)',
    )
    .option('--database-url <url>', 'PostgreSQL instead of the embedded database (env DATABASE_URL)')
    .option('--db <path>', 'vulnerability database (env PALISADE_DB; default <data-dir>/vuln.db)')
    .option('--tls-cert <pem>', 'serve HTTPS with this certificate (env PALISADE_TLS_CERT; needs --tls-key)')
    .option('--tls-key <pem>', 'private key of --tls-cert (env PALISADE_TLS_KEY)')
    .option(
      '--log-level <level>',
      'fatal, error, warn, info, debug, trace or silent (env PALISADE_LOG_LEVEL; default info)',
    )
    .option(
      '--allow-local-sources',
      'let POST /api/v1/scans read oci:DIR, archive:FILE and dir:PATH on this host (env PALISADE_ALLOW_LOCAL_SOURCES)',
    )
    .option(
      '--allow-exec-plugins',
      'let registered kubeconfigs run exec credential plugins on this host (env PALISADE_CLUSTERS_ALLOW_EXEC_PLUGINS)',
    )
    .option('--nats-url <url>', 'runtime ingest through NATS JetStream (env NATS_URL)')
    .option(
      '--rule-files <files>',
      'comma-separated runtime rule files added to the built-in library (env PALISADE_RULE_FILES)',
    )
    .option('--group-window <duration>', 'window that groups alerts of one rule on one workload (default 10m)')
    .action(async (flags: ServerFlags) => {
      const { loadConfig, startServer } = await import('@palisade/server');
      const cfgFlags: ConfigFlags = {};
      const passed = [
        'host',
        'port',
        'dataDir',
        'databaseUrl',
        'db',
        'tlsCert',
        'tlsKey',
        'logLevel',
        'natsUrl',
        'ruleFiles',
        'groupWindow',
      ] as const;
      for (const k of passed) {
        const v = flags[k];
        if (v !== undefined) cfgFlags[k] = v;
      }
      if (flags.allowLocalSources === true) cfgFlags.allowLocalSources = true;
      if (flags.allowExecPlugins === true) cfgFlags.allowExecPlugins = true;
      const config = loadConfig({
        ...(flags.config !== undefined ? { file: flags.config } : {}),
        env: io.env,
        flags: cfgFlags,
      });
      const server = await startServer(config, { env: io.env });
      io.stderr.write(`palisade server listening on ${server.url}\n`);
      const t = server.adminToken;
      if (t.kind === 'env') io.stderr.write('admin token: the one in PALISADE_ADMIN_TOKEN\n');
      else if (t.kind === 'generated') io.stderr.write(`admin token: generated and written to ${t.file} (mode 0600)\n`);
      else io.stderr.write(`admin token: already created${t.file ? ` (see ${t.file})` : ''}\n`);
      const sig = await stopSignal();
      io.stderr.write(`palisade server: ${sig}, stopping (running scans get 30 s to finish)\n`);
      await server.close({ graceMs: 30_000 });
      setExit(0);
    });
}
