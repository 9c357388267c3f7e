// Bundle the CLI into one ESM file (packages/cli/dist/palisade.mjs): Node then loads one module
// instead of hundreds, which takes ~120 ms off every `palisade` start. better-sqlite3 stays
// external (native addon). The bundle is built from tsc's output, so it is the same code the
// tests import.
import { build } from 'esbuild';

await build({
  entryPoints: ['packages/cli/dist/src/main.js'],
  // Code splitting keeps what is imported on demand (the server: Fastify, pg) in its own chunk,
  // so `palisade scan` never parses it.
  outdir: 'packages/cli/dist/bundle',
  entryNames: 'palisade',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  sourcemap: true,
  logLevel: 'warning',
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __palisadeRequire } from 'node:module'; const require = __palisadeRequire(import.meta.url);",
  },
});
