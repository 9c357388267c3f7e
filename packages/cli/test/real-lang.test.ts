/**
 * Palisade's LANGUAGE inventory of real installed trees of this machine, compared with what each
 * ecosystem's own tool reports for the same files:
 *   - npm: the global npm install (`npm ls -g --all --parseable --long`) and this repository's
 *     own node_modules (`npm ls --all --parseable --long` in the repository), plus the
 *     package-lock.json of the repository read alone;
 *   - Python: Debian's dist-packages and the interpreter's site-packages
 *     (`importlib.metadata.distributions(path=[dir])`, names normalized per PEP 503);
 *   - Ruby: Ruby's gem dir and Debian's rubygems-integration dir (`Gem::Specification.load` of
 *     every installed gemspec, cross-checked with `gem list --local`);
 *   - Java: /usr/share/java and /usr/share/maven/lib (every `META-INF/maven/<g>/<a>/pom.properties`
 *     of every jar, read with unzip);
 *   - Go: a binary built here, offline, with a locally replaced dependency (`go version -m`).
 *
 * All of it is copied into one root filesystem tree, scanned as `dir:` and as an OCI layout
 * whose single layer is that tree packed by GNU tar (numeric owners, sorted names) as image
 * builders do. Both scans must agree exactly; each ecosystem's slice must equal its reference.
 * Where Palisade deliberately differs from the reference, the test says so and why. Known
 * product bugs found this way are separate tests, so a regression names the case.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { repoRoot, tempDir, writeOciLayoutFromLayerFiles, type LayoutResult } from '@palisade/testkit';
import { parsePurl, type Package, type ScanReport } from '@palisade/core';
import { run } from './helpers.js';

const STEP_TIMEOUT = 120_000;
const TAG = 'v1';
/** This repository: its node_modules is a real npm 11 install with a v3 package-lock.json. */
const REPO = repoRoot();

// Where each real tree is put inside the scanned root filesystem (the paths an image would use).
const NPM_GLOBAL = 'usr/lib/node_modules';
const APP = 'app';
const DEB_PY = 'usr/lib/python3/dist-packages';
const SITE_PY = 'usr/local/lib/python3/site-packages';
const RUBY_GEMS = 'usr/lib/ruby/gems/3.1.0';
const RUBY_INTEGRATION = 'usr/share/rubygems-integration/all';
const JAVA_DIRS: ReadonlyArray<readonly [string, string]> = [
  ['/usr/share/java', 'usr/share/java'],
  ['/usr/share/maven/lib', 'usr/share/maven/lib'],
];
const GO_BIN = 'usr/local/bin/greeter';

let tmp: { path: string; cleanup: () => void };
let root: string;
let layout: LayoutResult;
let layerDigest: string;
let dirPkgs: Package[];
let ociPkgs: Package[];
let npmGlobalRoot: string;
let siteDir: string;

/** Run a tool; returns its result (a nonzero exit is the caller's business). */
function tool(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return r;
}

/** Copy a directory tree preserving symlinks (as `cp -a`): what an image build would copy. */
function copyTree(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  // Hard links when possible: the repository's node_modules is 200 MB and on the same disk.
  const r = tool('cp', ['-al', from, to]);
  if (r.status !== 0) execFileSync('cp', ['-a', from, to]);
}

async function sbom(ref: string): Promise<ScanReport> {
  const r = await run(['sbom', ref, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ScanReport;
  // The tree has no os-release (it holds language trees only); an image scan says so. Nothing
  // else may be warned about on real, well-formed trees.
  const warnings = report.warnings.filter((w) => !w.startsWith('operating system not detected'));
  assert.deepEqual(warnings, [], `${ref}: no warnings on real trees`);
  return report;
}

/** Build the Go binary: one module with one dependency replaced by a local directory. */
function buildGoBinary(work: string, out: string): void {
  const dep = join(work, 'greet');
  const app = join(work, 'app');
  mkdirSync(dep, { recursive: true });
  mkdirSync(app, { recursive: true });
  writeFileSync(join(dep, 'go.mod'), 'module example.com/greet\n\ngo 1.19\n');
  writeFileSync(join(dep, 'greet.go'), 'package greet\n\nfunc Hello() string { return "hello" }\n');
  writeFileSync(
    join(app, 'go.mod'),
    'module example.com/greeter\n\ngo 1.19\n\nrequire example.com/greet v1.2.3\n\nreplace example.com/greet v1.2.3 => ../greet\n',
  );
  writeFileSync(
    join(app, 'main.go'),
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n',
  );
  // Offline and self-contained: no proxy, private caches, no VCS stamping (the temp dir is no repo).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOFLAGS: '-mod=mod -buildvcs=false',
    GOPROXY: 'off',
    GOCACHE: join(work, 'gocache'),
    GOPATH: join(work, 'gopath'),
    GOWORK: 'off',
  };
  const r = tool('go', ['build', '-o', out, '.'], { cwd: app, env });
  assert.equal(r.status, 0, `go build: ${r.stderr}`);
}

before(
  async () => {
    tmp = tempDir('palisade-real-lang-');
    root = join(tmp.path, 'rootfs');
    mkdirSync(root);

    // npm: the global install and this repository's install (manifest, lockfile, node_modules).
    npmGlobalRoot = tool('npm', ['root', '-g']).stdout.trim();
    copyTree(npmGlobalRoot, join(root, NPM_GLOBAL));
    mkdirSync(join(root, APP));
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(REPO, f), join(root, APP, f));
    copyTree(join(REPO, 'node_modules'), join(root, APP, 'node_modules'));

    // Python: Debian's dist-packages whole (50 MB); of the interpreter's site-packages (~700 MB)
    // only the metadata directories, which are all any inventory reads.
    copyTree('/usr/lib/python3/dist-packages', join(root, DEB_PY));
    siteDir = tool('python3', ['-c', 'import site; print(site.getsitepackages()[0])']).stdout.trim();
    mkdirSync(join(root, SITE_PY), { recursive: true });
    for (const e of readdirSync(siteDir)) {
      if (/\.(dist|egg)-info$/.test(e)) cpSync(join(siteDir, e), join(root, SITE_PY, e), { recursive: true });
    }

    // Ruby.
    copyTree('/usr/lib/ruby/gems/3.1.0', join(root, RUBY_GEMS));
    copyTree('/usr/share/rubygems-integration/all', join(root, RUBY_INTEGRATION));

    // Java: Debian's jar dirs are mostly symlinks (foo.jar -> foo-1.2.jar, maven/lib -> ../../java);
    // dir: scans do not follow symlinks, so the real files are copied under each name.
    for (const [from, to] of JAVA_DIRS) {
      mkdirSync(join(root, to), { recursive: true });
      for (const e of readdirSync(from)) {
        if (e.endsWith('.jar') && statSync(join(from, e)).isFile())
          cpSync(join(from, e), join(root, to, e), { dereference: true });
      }
    }

    // Go.
    mkdirSync(join(root, dirname(GO_BIN)), { recursive: true });
    buildGoBinary(join(tmp.path, 'go'), join(root, GO_BIN));

    dirPkgs = (await sbom(`dir:${root}`)).packages;

    // The same tree as an image layer, packed the way image builders pack a root filesystem.
    const layer = join(tmp.path, 'layer.tar.gz');
    execFileSync('sh', ['-c', `tar --numeric-owner --sort=name -C "${root}" -cf - . | gzip -1 > "${layer}"`]);
    layout = await writeOciLayoutFromLayerFiles(join(tmp.path, 'layout'), TAG, [layer]);
    const digest = layout.images[0]?.layers[0]?.digest;
    assert.ok(digest);
    layerDigest = digest;
    ociPkgs = (await sbom(`oci:${layout.dir}:${TAG}`)).packages;
  },
  { timeout: 10 * 60 * 1000 },
);

after(() => tmp?.cleanup());

// ---------- helpers over the inventory ----------

function loc(p: Package): string {
  const l = p.locations[0];
  assert.ok(l, `${p.purl} has a location`);
  return l.path;
}

function under(pkgs: readonly Package[], type: Package['type'], prefix: string): Package[] {
  return pkgs.filter((p) => p.type === type && loc(p).startsWith(prefix));
}

/** Sorted, for set equality with readable diffs in assertion messages. */
function sorted(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

function assertSameSet(got: Iterable<string>, want: Iterable<string>, what: string): void {
  const g = new Set(got);
  const w = new Set(want);
  const extra = [...g].filter((x) => !w.has(x)).sort();
  const missing = [...w].filter((x) => !g.has(x)).sort();
  assert.deepEqual({ extra, missing }, { extra: [], missing: [] }, `${what}: Palisade vs reference`);
}

/** PEP 503 normalized name. */
function pep503(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

// ---------- whole-inventory properties ----------

test('dir: and oci: scans of the same tree give the same language packages', () => {
  // Ids hash the first location's layer digest (absent for dir:), so they differ by design, and
  // the report breaks ties between equal purls by id: the order of same-purl packages at
  // different paths differs too. Everything else, locations' paths included, must be identical.
  const strip = (pkgs: readonly Package[]): string[] =>
    pkgs.map((p) => JSON.stringify({ ...p, id: '', locations: p.locations.map((l) => ({ path: l.path })) })).sort();
  assert.ok(dirPkgs.length > 500, `a real tree has many packages (got ${dirPkgs.length})`);
  assert.deepEqual(strip(ociPkgs), strip(dirPkgs));
  for (const p of ociPkgs) {
    for (const l of p.locations) {
      assert.equal(l.layerDigest, layerDigest, `${p.purl} at ${l.path}: the only layer`);
      assert.equal(l.layerIndex, 0);
    }
  }
});

test('every package has a purl that parses back to it and locations that exist in the tree', () => {
  for (const p of dirPkgs) {
    const parts = parsePurl(p.purl);
    assert.equal(parts.type, p.type, p.purl);
    // Go's "(devel)" main modules carry no version in the purl (nothing to match against).
    if (p.version !== '(devel)') assert.equal(parts.version, p.version, p.purl);
    const full = parts.namespace ? `${parts.namespace}/${parts.name}` : parts.name;
    if (p.type === 'pypi') assert.equal(full, pep503(p.name), `${p.purl}: pypi purl names are PEP 503 normalized`);
    else if (p.type === 'maven') assert.equal(full, `${p.metadata?.['groupId'] ?? ''}/${p.name}`, p.purl);
    else assert.equal(full, p.name, p.purl);
    assert.ok(p.locations.length > 0, `${p.purl} has a location`);
    for (const l of p.locations) {
      assert.ok(!l.path.startsWith('/'), `${l.path}: relative to the root`);
      const st = lstatSync(join(root, l.path), { throwIfNoEntry: false });
      assert.ok(st?.isFile(), `${p.purl}: ${l.path} is a regular file of the tree`);
    }
  }
});

// ---------- npm ----------

/**
 * `npm ls --all --parseable --long` as `name@version path/package.json` lines relative to the
 * scanned root. Links (`path:name@version:realpath`) come back separately. npm ls exits 1 on
 * missing dev dependencies (the global npm ships without its devDependencies); its output is
 * complete all the same.
 */
function npmLs(
  args: readonly string[],
  cwd: string,
  fromPrefix: string,
  toPrefix: string,
): { installed: string[]; links: string[] } {
  const r = tool('npm', ['ls', '--all', '--parseable', '--long', ...args], { cwd });
  assert.ok(r.stdout.length > 0, `npm ls printed nothing: ${r.stderr}`);
  const installed: string[] = [];
  const links: string[] = [];
  for (const line of r.stdout.trim().split('\n')) {
    const [path = '', nameVersion = '', realPath] = line.split(':');
    if (!path.includes('/node_modules/')) continue; // the project (or global prefix) itself
    assert.ok(path.startsWith(fromPrefix), line);
    const rel = `${toPrefix}${path.slice(fromPrefix.length)}/package.json`;
    if (realPath !== undefined && realPath !== path) links.push(`${nameVersion} ${rel}`);
    else installed.push(`${nameVersion} ${rel}`);
  }
  return { installed, links };
}

function npmKeys(pkgs: readonly Package[]): string[] {
  return pkgs.map((p) => `${p.name}@${p.version} ${loc(p)}`);
}

test(
  'npm: the global install equals npm ls -g --all (every nested copy, at its path)',
  { timeout: STEP_TIMEOUT },
  () => {
    const prefix = dirname(dirname(npmGlobalRoot)); // /usr for /usr/lib/node_modules
    const ref = npmLs(['-g', `--prefix=${prefix}`], tmp.path, npmGlobalRoot, NPM_GLOBAL);
    assert.deepEqual(ref.links, []);
    assert.ok(ref.installed.length > 100, 'npm brings >100 dependencies');
    const got = under(dirPkgs, 'npm', NPM_GLOBAL + '/');
    assertSameSet(npmKeys(got), ref.installed, 'global npm packages');
    // One package per installed copy: the same name@version at two paths is two packages.
    assert.equal(got.length, new Set(npmKeys(got)).size);
  },
);

test(
  'npm: the repository node_modules equals npm ls --all, workspace links left out',
  { timeout: STEP_TIMEOUT },
  () => {
    const ref = npmLs([], REPO, join(REPO, 'node_modules'), `${APP}/node_modules`);
    // Workspace packages are symlinks node_modules/@palisade/x -> ../../packages/x: the project's
    // own code, not a dependency. Palisade does not follow them (a dir:/image symlink is not a
    // package.json file) and the package-lock cataloger skips `link: true` entries for the same
    // reason, so they must not be reported at all.
    assert.ok(ref.links.length >= 5, `npm ls shows the workspace links (${ref.links.join(', ')})`);
    const got = under(dirPkgs, 'npm', APP + '/');
    assertSameSet(npmKeys(got), ref.installed, 'repository node_modules');
    for (const l of ref.links) {
      const name = l.slice(0, l.lastIndexOf('@'));
      assert.ok(!got.some((p) => p.name === name), `workspace link ${name} not reported`);
    }
  },
);

test('npm: package-lock.json beside node_modules is not counted again', () => {
  const fromLock = dirPkgs.filter((p) => loc(p) === `${APP}/package-lock.json`);
  assert.deepEqual(
    fromLock.map((p) => p.purl),
    [],
    'node_modules is what is installed; the lockfile must not add a second copy of each package',
  );
});

test('npm: package-lock.json alone gives every non-link lock entry once', { timeout: STEP_TIMEOUT }, async () => {
  const lockOnly = join(tmp.path, 'lock-only');
  mkdirSync(lockOnly);
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(REPO, f), join(lockOnly, f));
  const pkgs = (await sbom(`dir:${lockOnly}`)).packages;
  // Reference: the lockfile read with plain JSON (npm's own format; `npm ls` needs node_modules).
  const lock = JSON.parse(readFileSync(join(lockOnly, 'package-lock.json'), 'utf8')) as {
    lockfileVersion: number;
    packages: Record<string, { version?: string; name?: string; link?: boolean }>;
  };
  assert.equal(lock.lockfileVersion, 3);
  const want: string[] = [];
  for (const [key, e] of Object.entries(lock.packages)) {
    const at = key.lastIndexOf('node_modules/');
    if (at < 0 || e.link === true) continue; // the root project, workspace sources, workspace links
    want.push(`${e.name ?? key.slice(at + 'node_modules/'.length)}@${e.version ?? ''}`);
  }
  assertSameSet(
    pkgs.map((p) => `${p.name}@${p.version}`),
    want,
    'lockfile entries',
  );
  // Two lock entries of one name@version (nested copies) are one package at one location.
  assert.equal(pkgs.length, new Set(want).size);
});

// ---------- Python ----------

const PY_REFERENCE = [
  'import importlib.metadata as m, json, os, sys',
  'd = sys.argv[1]',
  'print(json.dumps([[dist.metadata["Name"], dist.version, os.path.relpath(str(dist._path), d)] for dist in m.distributions(path=[d])]))',
].join('\n');

/** importlib.metadata over one directory: `name@version relpath` with the name PEP 503 normalized. */
function pythonReference(python: string, dir: string, toPrefix: string): string[] {
  const r = tool(python, ['-c', PY_REFERENCE, dir]);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<[string, string, string]>;
  return rows.map(([name, version, rel]) => `${pep503(name)}@${version} ${toPrefix}/${rel}`);
}

/** Palisade's location is the metadata file; importlib's is the .dist-info/.egg-info entry. */
function pythonKeys(pkgs: readonly Package[]): string[] {
  return pkgs.map((p) => `${pep503(p.name)}@${p.version} ${loc(p).replace(/\/(METADATA|PKG-INFO)$/, '')}`);
}

test('python: Debian dist-packages equals importlib.metadata (dist-info, egg-info dirs and files)', () => {
  // Debian's python3 (not a pyenv shim) is the interpreter that owns this directory.
  const want = pythonReference('/usr/bin/python3', '/usr/lib/python3/dist-packages', DEB_PY);
  assert.ok(want.length > 10);
  // Debian ships egg-info forms importlib reads too: single-file `crit-3.17.1-py3.11.egg-info`
  // and version-less `cryptography.egg-info` next to `cryptography-38.0.4.dist-info`. Palisade
  // reports each metadata entry, as importlib lists each: both cryptography entries stay.
  assertSameSet(pythonKeys(under(dirPkgs, 'pypi', DEB_PY + '/')), want, 'dist-packages');
});

test('python: the interpreter site-packages equals importlib.metadata on the original directory', () => {
  const want = pythonReference('python3', siteDir, SITE_PY);
  assert.ok(want.length > 10);
  assertSameSet(pythonKeys(under(dirPkgs, 'pypi', SITE_PY + '/')), want, 'site-packages');
});

// ---------- Ruby ----------

const RUBY_REFERENCE = [
  'ARGV.each do |d|',
  '  Dir[File.join(d, "specifications", "{,default/}*.gemspec")].sort.each do |f|',
  '    s = Gem::Specification.load(f) or abort("cannot load #{f}")',
  '    puts [s.name, s.version.to_s, s.platform.to_s, f].join("\\t")',
  '  end',
  'end',
].join('\n');

interface GemRow {
  name: string;
  version: string;
  platform: string;
  path: string;
}

function rubyReference(): GemRow[] {
  const r = tool('ruby', ['-e', RUBY_REFERENCE, '/usr/lib/ruby/gems/3.1.0', '/usr/share/rubygems-integration/all']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      const [name = '', version = '', platform = '', path = ''] = l.split('\t');
      return {
        name,
        version,
        platform,
        path: path
          .replace('/usr/lib/ruby/gems/3.1.0/', RUBY_GEMS + '/')
          .replace('/usr/share/rubygems-integration/all/', RUBY_INTEGRATION + '/'),
      };
    });
}

test('ruby: installed gemspecs equal what RubyGems loads from them, and gem list agrees', () => {
  const rows = rubyReference();
  assert.ok(rows.length > 50);
  // Every gem here is platform "ruby" (pure Ruby or compiled at install): no platform qualifier.
  assert.deepEqual(sorted(rows.map((r) => r.platform)), ['ruby']);
  const got = dirPkgs.filter((p) => p.type === 'gem' && loc(p).endsWith('.gemspec'));
  assertSameSet(
    got.map((p) => `${p.name}@${p.version} ${loc(p)}`),
    rows.map((r) => `${r.name}@${r.version} ${r.path}`),
    'gemspecs',
  );

  // `gem list --local` over the same GEM_PATH: same name@version set (it merges duplicates, such
  // as rake 13.0.6 in both dirs, and lists default gems as "default: x").
  const gl = tool('gem', ['list', '--local'], {
    env: {
      ...process.env,
      GEM_HOME: '/usr/lib/ruby/gems/3.1.0',
      GEM_PATH: '/usr/lib/ruby/gems/3.1.0:/usr/share/rubygems-integration/all',
    },
  });
  assert.equal(gl.status, 0, gl.stderr);
  const listed: string[] = [];
  for (const line of gl.stdout.trim().split('\n')) {
    const m = /^(\S+) \((.*)\)$/.exec(line);
    assert.ok(m?.[1] && m[2] !== undefined, line);
    for (const v of m[2].split(', ')) listed.push(`${m[1]}@${v.replace(/^default: /, '').split(' ')[0] ?? ''}`);
  }
  assertSameSet(
    got.map((p) => `${p.name}@${p.version}`),
    listed,
    'gem list --local',
  );
});

test('ruby: Gemfile.lock files shipped inside installed gems are not installed packages', () => {
  // rbs-2.7.0 and typeprof-0.21.3 ship their own development Gemfile.lock (rubocop, rspec,
  // activesupport 7.0.3.1, rexml 3.2.5, …): none of it is installed. The npm cataloger ignores
  // lockfiles inside node_modules for exactly this reason; the Ruby one should ignore lockfiles
  // inside a gem's installed directory (…/gems/<name>-<version>/…).
  const inGems = dirPkgs.filter(
    (p) => p.type === 'gem' && /(^|\/)gems\/[^/]+-[^/]+\/(.*\/)?(Gemfile\.lock|gems\.locked)$/.test(loc(p)),
  );
  assert.deepEqual(sorted(inGems.map((p) => `${p.name}@${p.version} ${loc(p)}`)), []);
});

// ---------- Java ----------

interface JarFacts {
  /** groupId:artifactId:version of every META-INF/maven/<g>/<a>/pom.properties. */
  poms: string[];
  /** The jar's own version per its manifest (Implementation-Version, else Bundle-Version). */
  manifestVersion?: string;
}

function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([\w.-]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (m?.[1] && !line.trimStart().startsWith('#')) out.set(m[1], m[2] ?? '');
  }
  return out;
}

function jarFacts(jar: string): JarFacts {
  const list = tool('unzip', ['-Z1', jar]);
  assert.equal(list.status, 0, `${jar}: ${list.stderr}`);
  const poms: string[] = [];
  for (const e of list.stdout.split('\n')) {
    if (!/^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(e)) continue;
    const p = properties(tool('unzip', ['-p', jar, e]).stdout);
    poms.push(`${p.get('groupId') ?? ''}:${p.get('artifactId') ?? ''}:${p.get('version') ?? ''}`);
  }
  const mf = tool('unzip', ['-p', jar, 'META-INF/MANIFEST.MF']).stdout.replace(/\r?\n /g, '');
  const v = /^Implementation-Version:\s*(\S+)/m.exec(mf)?.[1] ?? /^Bundle-Version:\s*(\S+)/m.exec(mf)?.[1];
  return v === undefined ? { poms } : { poms, manifestVersion: v };
}

/** Every copied jar with at least one pom.properties, by path relative to the root. */
function jarsWithPoms(): Map<string, JarFacts> {
  const out = new Map<string, JarFacts>();
  for (const [, to] of JAVA_DIRS) {
    for (const e of readdirSync(join(root, to))) {
      const facts = jarFacts(join(root, to, e));
      if (facts.poms.length > 0) out.set(`${to}/${e}`, facts);
    }
  }
  return out;
}

/**
 * True when the jar's pom.properties describes the jar itself (not shaded content): it is the
 * only one, and its version is the manifest's version or the version in the file name. Debian
 * renames jars (maven3-core-3.8.7.jar holds org.apache.maven:maven-core), so names cannot tell.
 */
function ownPom(path: string, facts: JarFacts): boolean {
  if (facts.poms.length !== 1 || facts.poms[0] === undefined) return false;
  const version = facts.poms[0].split(':')[2] ?? '';
  return version === facts.manifestVersion || basename(path).endsWith(`-${version}.jar`);
}

let javaFacts: Map<string, JarFacts> | undefined;
function javaReference(): Map<string, JarFacts> {
  javaFacts ??= jarsWithPoms();
  return javaFacts;
}

function mavenKey(p: Package): string {
  return `${p.metadata?.['groupId'] ?? ''}:${p.name}:${p.version} ${loc(p)}`;
}

test('java: pom.properties of every jar are reported exactly, at the jar', { timeout: STEP_TIMEOUT }, () => {
  const ref = javaReference();
  assert.ok(ref.size > 50, `jars with pom.properties: ${ref.size}`);
  const want: string[] = [];
  for (const [path, f] of ref) for (const g of f.poms) want.push(`${g} ${path}`);
  const got = dirPkgs.filter(
    (p) => p.type === 'maven' && ref.has(loc(p)) && p.metadata?.['source'] === 'pom.properties',
  );
  assertSameSet(got.map(mavenKey), want, 'pom.properties coordinates');

  // A jar whose pom.properties are all shaded content (guice-4.2.3.jar holds cglib's;
  // wagon-http-shaded holds httpclient's, …) is itself a further package, named from its manifest
  // or file name: Palisade reports that one too, deliberately (it is what the jar is).
  for (const [path, f] of ref) {
    if (ownPom(path, f)) continue;
    const others = dirPkgs.filter(
      (p) => p.type === 'maven' && loc(p) === path && p.metadata?.['source'] !== 'pom.properties',
    );
    assert.ok(
      others.length <= 1,
      `${path}: at most one package for the jar itself (${others.map(mavenKey).join(', ')})`,
    );
  }
});

test('java: a jar whose single pom.properties is its own artifact is not reported a second time', () => {
  // e.g. usr/share/java/maven3-core-3.8.7.jar holds org.apache.maven:maven-core:3.8.7 (manifest
  // Implementation-Version 3.8.7) and Palisade also reports pkg:maven/maven3-core/maven3-core@3.8.7,
  // a second, invented identity for the same code.
  const extra: string[] = [];
  for (const [path, f] of javaReference()) {
    if (!ownPom(path, f)) continue;
    for (const p of dirPkgs) {
      if (p.type === 'maven' && loc(p) === path && p.metadata?.['source'] !== 'pom.properties') extra.push(mavenKey(p));
    }
  }
  assert.deepEqual(extra.sort(), []);
});

// ---------- Go ----------

test('go: the binary built here equals go version -m (local replacement reported as built)', () => {
  const r = tool('go', ['version', '-m', join(root, GO_BIN)]);
  assert.equal(r.status, 0, r.stderr);
  const want: string[] = [];
  const lines = r.stdout.split('\n');
  const goVersion = /: go(\S+)$/.exec(lines[0] ?? '')?.[1];
  assert.ok(goVersion, lines[0]);
  want.push(`stdlib@v${goVersion}`);
  for (let i = 1; i < lines.length; i++) {
    const f = (lines[i] ?? '').trim().split('\t');
    if (f[0] === 'mod') want.push(`${f[1] ?? ''}@${f[2] ?? ''}`);
    if (f[0] !== 'dep') continue;
    const next = (lines[i + 1] ?? '').trim().split('\t');
    // `dep M v` + `=> ../dir (devel)`: the code built is the local directory, whose version is
    // "(devel)"; Palisade reports that (keeping v1.2.3 as metadata.originalVersion), because
    // matching advisories for v1.2.3 against code that is not v1.2.3 would be wrong.
    // (Only a local replacement is built here: offline, a module replacement cannot be fetched.)
    if (next[0] === '=>') want.push(`${f[1] ?? ''}@${next[2] ?? ''}`);
    else want.push(`${f[1] ?? ''}@${f[2] ?? ''}`);
  }
  assert.deepEqual(
    want.sort(),
    ['example.com/greet@(devel)', 'example.com/greeter@(devel)', `stdlib@v${goVersion}`].sort(),
  );
  const got = dirPkgs.filter((p) => p.type === 'golang' && loc(p) === GO_BIN);
  assertSameSet(
    got.map((p) => `${p.name}@${p.version}`),
    want,
    'go binary modules',
  );
  const greet = got.find((p) => p.name === 'example.com/greet');
  assert.equal(greet?.metadata?.['originalVersion'], 'v1.2.3');
  assert.equal(greet?.metadata?.['replacedBy'], '../greet');
});

test('go: binaries shipped in node_modules (esbuild) equal go version -m, main version from VCS stamp', () => {
  const bins = sorted(dirPkgs.filter((p) => p.type === 'golang' && loc(p).startsWith(APP + '/')).map(loc));
  assert.ok(bins.length > 0, 'esbuild ships a Go binary');
  for (const bin of bins) {
    const out = tool('go', ['version', '-m', join(root, bin)]).stdout;
    const rows = out.split('\n').map((l) => l.trim().split('\t'));
    const goVersion = /: go(\S+)$/.exec(out.split('\n')[0] ?? '')?.[1] ?? '';
    const deps = rows.filter((f) => f[0] === 'dep').map((f) => `${f[1] ?? ''}@${f[2] ?? ''}`);
    const main = rows.find((f) => f[0] === 'mod');
    const setting = (k: string): string | undefined =>
      rows.find((f) => f[0] === 'build' && f[1]?.startsWith(k + '='))?.[1]?.slice(k.length + 1);
    const got = dirPkgs.filter((p) => p.type === 'golang' && loc(p) === bin);
    // go version -m prints "(devel)" for a main module built from a checkout; Palisade derives
    // the pseudo-version from vcs.time and vcs.revision (as `go install m@rev` would name it),
    // so advisories with pseudo-version ranges can match. Check that derivation exactly.
    const time = (setting('vcs.time') ?? '').replace(/[-:TZ]/g, '');
    const rev = (setting('vcs.revision') ?? '').slice(0, 12);
    const mainVersion = main?.[2] === '(devel)' && time && rev ? `v0.0.0-${time}-${rev}` : (main?.[2] ?? '');
    assertSameSet(
      got.map((p) => `${p.name}@${p.version}`),
      [`stdlib@v${goVersion}`, `${main?.[1] ?? ''}@${mainVersion}`, ...deps],
      bin,
    );
  }
});

// A sanity check of the reference side itself: the trees really are what the tools read.
test('the copied trees are the real ones (references were taken from the originals)', () => {
  assert.ok(existsSync(join(root, NPM_GLOBAL, 'npm', 'package.json')));
  assert.ok(existsSync(join(root, APP, 'node_modules', '.package-lock.json')));
  assert.equal(relative(root, join(root, DEB_PY)), DEB_PY);
});
