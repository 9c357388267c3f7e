/** Shared set-up of the kube tests: one PKI per process, kubeconfig files written to a temp dir. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';
import { makePki, type Pki } from './fake-apiserver.js';

let shared: { pki: Pki; dir: string; cleanup: () => void } | undefined;

export function pki(): Pki {
  if (!shared) {
    const t = tempDir('palisade-kube-');
    shared = { pki: makePki(t.path), dir: t.path, cleanup: t.cleanup };
  }
  return shared.pki;
}

export function cleanupPki(): void {
  shared?.cleanup();
  shared = undefined;
}

/** Write a kubeconfig with one context `name` for `server` and the given user fields. */
export function writeKubeconfig(
  dir: string,
  file: string,
  name: string,
  server: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': name,
    clusters: [{ name: `${name}-cluster`, cluster: { server, ...cluster } }],
    users: [{ name: `${name}-user`, user }],
    contexts: [{ name, context: { cluster: `${name}-cluster`, user: `${name}-user` } }],
  };
  const path = join(dir, file);
  // JSON is YAML: kubeconfig loaders read both.
  writeFileSync(path, JSON.stringify(doc, null, 2));
  return path;
}
