import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@palisade/testkit';

/** A reference tool's answers: one of -1, 0, 1 per pair, in order. */
export type Oracle = (pairs: readonly (readonly [string, string])[]) => number[];

const RUN_OPTIONS = { encoding: 'utf8' as const, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 };

/** Fails (never skips) when a reference tool is missing, naming the Debian package to install. */
export function requireTool(path: string, debianPackage: string): void {
  if (!existsSync(path)) {
    throw new Error(`reference tool ${path} is missing: apt-get install ${debianPackage}`);
  }
}

function toSigns(out: string, expected: number, tool: string): number[] {
  const lines = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length !== expected) throw new Error(`${tool}: expected ${expected} answers, got ${lines.length}`);
  return lines.map((l) => {
    const n = Number(l);
    if (!Number.isFinite(n)) throw new Error(`${tool}: unreadable answer "${l}"`);
    return Math.sign(n);
  });
}

function stdinPairs(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([a, b]) => `${a} ${b}\n`).join('');
}

export const dpkgOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/dpkg', 'dpkg');
  // One shell for all pairs; versions are generated from a safe alphabet, quoting is enough.
  const script = pairs
    .map(
      ([a, b]) =>
        `if dpkg --compare-versions '${a}' lt '${b}'; then echo -1; elif dpkg --compare-versions '${a}' eq '${b}'; then echo 0; else echo 1; fi`,
    )
    .join('\n');
  return toSigns(execFileSync('/bin/sh', ['-c', script], RUN_OPTIONS), pairs.length, 'dpkg');
};

export const rpmOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/rpm', 'rpm');
  const table = pairs.map(([a, b]) => `{[[${a}]],[[${b}]]}`).join(',');
  const lua = `%{lua: for _, p in ipairs({${table}}) do print(rpm.vercmp(p[1], p[2]) .. "\\n") end}`;
  return toSigns(execFileSync('/usr/bin/rpm', ['--eval', lua], RUN_OPTIONS), pairs.length, 'rpm');
};

export const packagingOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/python3', 'python3');
  const script = [
    'import sys',
    'try:',
    '    from packaging.version import Version',
    'except ImportError:',
    '    sys.exit("python3 packaging is missing: apt-get install python3-packaging")',
    'for line in sys.stdin:',
    '    a, b = line.split()',
    '    x, y = Version(a), Version(b)',
    '    print(-1 if x < y else 1 if x > y else 0)',
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', script], { ...RUN_OPTIONS, input: stdinPairs(pairs) });
  return toSigns(out, pairs.length, 'python3-packaging');
};

export const rubyOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/ruby', 'ruby');
  const script = 'STDIN.each_line { |l| a, b = l.split; puts(Gem::Version.new(a) <=> Gem::Version.new(b)) }';
  return toSigns(
    execFileSync('/usr/bin/ruby', ['-e', script], { ...RUN_OPTIONS, input: stdinPairs(pairs) }),
    pairs.length,
    'ruby',
  );
};

export const phpOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/php', 'php-cli');
  // Composer strips a leading v/V before comparing; version_compare itself does not.
  const script =
    'while (($l = fgets(STDIN)) !== false) { [$a, $b] = explode(" ", trim($l)); ' +
    '$a = preg_replace("/^[vV]/", "", $a); $b = preg_replace("/^[vV]/", "", $b); echo version_compare($a, $b), "\\n"; }';
  return toSigns(
    execFileSync('/usr/bin/php', ['-r', script], { ...RUN_OPTIONS, input: stdinPairs(pairs) }),
    pairs.length,
    'php',
  );
};

const MAVEN_JAR = '/usr/share/maven/lib/maven-artifact-3.x.jar';

export const mavenOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/java', 'openjdk-17-jre-headless');
  requireTool(MAVEN_JAR, 'maven (for maven-artifact)');
  // ComparableVersion.main compares each argument with the previous one: A1 B1 A2 B2 ...
  // yields A1?B1, B1?A2, A2?B2, ...; the answers for our pairs are every other line.
  const args = pairs.flatMap(([a, b]) => [a, b]);
  const out = execFileSync(
    '/usr/bin/java',
    ['-cp', MAVEN_JAR, 'org.apache.maven.artifact.versioning.ComparableVersion', ...args],
    RUN_OPTIONS,
  );
  const ops = out
    .split('\n')
    .filter((l) => l.startsWith('   '))
    .map((l) => (l.includes(' == ') ? 0 : l.includes(' < ') ? -1 : l.includes(' > ') ? 1 : NaN));
  const answers = ops.filter((_, i) => i % 2 === 0);
  return toSigns(answers.join('\n'), pairs.length, 'maven ComparableVersion');
};

export const goOracle: Oracle = (pairs) => {
  requireTool('/usr/bin/go', 'golang-go');
  const goroot = execFileSync('/usr/bin/go', ['env', 'GOROOT'], RUN_OPTIONS).trim();
  // golang.org/x/mod/semver ships vendored inside the Go toolchain; build a tiny program on it.
  const src = join(goroot, 'src', 'cmd', 'vendor', 'golang.org', 'x', 'mod', 'semver', 'semver.go');
  requireTool(src, 'golang-src');
  const dir = tempDir('palisade-go-semver-');
  try {
    mkdirSync(join(dir.path, 'semver'));
    copyFileSync(src, join(dir.path, 'semver', 'semver.go'));
    writeFileSync(join(dir.path, 'go.mod'), 'module oracle\n\ngo 1.19\n');
    writeFileSync(
      join(dir.path, 'main.go'),
      [
        'package main',
        'import ("bufio"; "fmt"; "os"; "strings"; "oracle/semver")',
        'func main() {',
        '  s := bufio.NewScanner(os.Stdin)',
        '  for s.Scan() { f := strings.Fields(s.Text()); fmt.Println(semver.Compare(f[0], f[1])) }',
        '}',
      ].join('\n'),
    );
    const env = {
      ...process.env,
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOCACHE: join(dir.path, 'cache'),
      HOME: dir.path,
    };
    const out = execFileSync('/usr/bin/go', ['run', '.'], {
      ...RUN_OPTIONS,
      cwd: dir.path,
      env,
      input: stdinPairs(pairs),
    });
    return toSigns(out, pairs.length, 'go semver');
  } finally {
    dir.cleanup();
  }
};
