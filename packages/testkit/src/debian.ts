/**
 * A real Debian 12 image for tests and benchmarks: a debootstrap (minbase) root filesystem,
 * packed by GNU tar into one gzipped layer, kept in a cache directory between runs
 * ($PALISADE_TEST_CACHE, default ~/.cache/palisade-test) because building it downloads ~40 MB
 * of packages from Debian's mirror.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface DebianImage {
  /** The unpacked root filesystem. */
  rootfs: string;
  /** The root filesystem as one gzipped tar layer. */
  layer: string;
}

export function testCacheDir(): string {
  return process.env.PALISADE_TEST_CACHE ?? join(homedir(), '.cache', 'palisade-test');
}

/** Build (or reuse) the Debian 12 minbase image. Needs root, debootstrap and Debian's mirror. */
export function debianImage(suite = 'bookworm'): DebianImage {
  const base = join(testCacheDir(), `debian-${suite}-minbase`);
  const rootfs = join(base, 'rootfs');
  const layer = join(base, 'layer.tar.gz');
  if (!existsSync(join(base, 'complete'))) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    const tmp = join(base, 'rootfs.tmp');
    execFileSync('debootstrap', ['--variant=minbase', suite, tmp, 'http://deb.debian.org/debian'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 20 * 60 * 1000,
    });
    renameSync(tmp, rootfs);
    // Pack as image builders do (numeric owners, sorted names), leaving out what the official
    // debian image leaves out: pseudo-filesystems, downloaded .debs and apt lists.
    execFileSync(
      'sh',
      [
        '-c',
        `tar --numeric-owner --sort=name --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./var/cache/apt/archives/*.deb --exclude=./var/lib/apt/lists/* -C "${rootfs}" -cf - . | gzip -6 > "${layer}.tmp" && mv "${layer}.tmp" "${layer}"`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10 * 60 * 1000 },
    );
    execFileSync('touch', [join(base, 'complete')]);
  }
  return { rootfs, layer };
}
