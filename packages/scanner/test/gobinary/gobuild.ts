/**
 * Builds real Go binaries with the machine's Go toolchain, offline: a main module with a
 * directory replacement (example.com/lib => ../lib) and a versioned dependency served by a
 * file:// module proxy made here (so the binary carries a real h1: sum).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GoProject {
  root: string;
  env: NodeJS.ProcessEnv;
}

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

export function makeGoProject(root: string): GoProject {
  const src = join(root, 'proxysrc', 'example.com', 'other@v1.4.0');
  write(join(src, 'go.mod'), 'module example.com/other\n\ngo 1.19\n');
  write(join(src, 'other.go'), 'package other\n\nfunc Name() string { return "other" }\n');
  const at = join(root, 'proxy', 'example.com', 'other', '@v');
  mkdirSync(at, { recursive: true });
  execFileSync('zip', ['-qr', join(at, 'v1.4.0.zip'), 'example.com/other@v1.4.0'], { cwd: join(root, 'proxysrc') });
  write(join(at, 'v1.4.0.mod'), 'module example.com/other\n\ngo 1.19\n');
  write(join(at, 'v1.4.0.info'), '{"Version":"v1.4.0","Time":"2023-01-02T03:04:05Z"}\n');
  write(join(at, 'list'), 'v1.4.0\n');
  write(join(root, 'lib', 'go.mod'), 'module example.com/lib\n\ngo 1.19\n');
  write(join(root, 'lib', 'lib.go'), 'package lib\n\nfunc Hello() string { return "hello" }\n');
  write(
    join(root, 'app', 'go.mod'),
    'module example.com/app\n\ngo 1.19\n\nrequire (\n\texample.com/lib v1.2.3\n\texample.com/other v1.4.0\n)\n\nreplace example.com/lib v1.2.3 => ../lib\n',
  );
  write(
    join(root, 'app', 'main.go'),
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/lib"\n\t"example.com/other"\n)\n\nvar version = "dev"\n\nfunc main() { fmt.Println(lib.Hello(), other.Name(), version) }\n',
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPROXY: `file://${join(root, 'proxy')}`,
    GOFLAGS: '-mod=mod -buildvcs=false',
    GOSUMDB: 'off',
    GOMODCACHE: join(root, 'modcache'),
    CGO_ENABLED: '0',
  };
  return { root, env };
}

/** `go build` the app; returns the binary path. */
export function goBuild(p: GoProject, out: string, extraEnv: NodeJS.ProcessEnv = {}, args: string[] = []): string {
  const bin = join(p.root, out);
  execFileSync('go', ['build', '-o', bin, ...args, '.'], {
    cwd: join(p.root, 'app'),
    env: { ...p.env, ...extraEnv },
    stdio: 'pipe',
  });
  return bin;
}

/** The reference: `go version -m` output as [goVersion, non-empty module info lines]. */
export function goVersionM(bin: string): { goVersion: string; lines: string[] } {
  const text = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8' });
  const [first = '', ...rest] = text.split('\n');
  const goVersion = first.slice(first.lastIndexOf(': ') + 2);
  const lines = rest.filter((l) => l.trim() !== '').map((l) => l.slice(1));
  return { goVersion, lines };
}
