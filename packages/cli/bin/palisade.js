#!/usr/bin/env node
// Thin launcher. Prefers the single-file bundle (fast start) unless it is older than the
// compiled sources, so a plain `tsc -b` during development is never shadowed by a stale bundle.
import { statSync } from 'node:fs';

const bundle = new URL('../dist/bundle/palisade.mjs', import.meta.url);
const compiled = new URL('../dist/src/main.js', import.meta.url);

function mtime(url) {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return -1;
  }
}

const useBundle = mtime(bundle) >= mtime(compiled) && mtime(bundle) > 0;
const { main } = await import(useBundle ? bundle.href : compiled.href);
process.exitCode = await main(process.argv.slice(2));
