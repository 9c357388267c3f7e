import assert from 'node:assert/strict';
import { PalisadeError, type ErrorCode } from '@palisade/core';
import { tempDir, writeOciLayout, type ImageSpec, type LayoutResult } from '@palisade/testkit';

/** Assert that `p` rejects with a PalisadeError of `code` whose one-line description matches every pattern. */
export async function rejectsWith(
  p: Promise<unknown>,
  code: ErrorCode,
  ...patterns: Array<RegExp | string>
): Promise<PalisadeError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof PalisadeError,
    `expected a PalisadeError ${code}, got ${caught === undefined ? 'success' : caught instanceof Error ? caught.message : JSON.stringify(caught)}`,
  );
  assert.equal(caught.code, code, caught.describe());
  const line = caught.describe();
  assert.ok(!line.includes('\n'), `not one line: ${line}`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(line.includes(p), `"${line}" should include "${p}"`);
    else assert.match(line, p);
  }
  return caught;
}

/** A layout with one tag in a fresh temp dir. */
export function layout(tag: string, images: ImageSpec[]): LayoutResult & { cleanup: () => void } {
  const dir = tempDir('palisade-layout-');
  return { ...writeOciLayout(dir.path, tag, images), cleanup: dir.cleanup };
}

export const osRelease = (id: string): ImageSpec['layers'][number] => ({
  files: [
    { path: 'etc', type: 'dir' },
    { path: 'etc/os-release', content: `ID=${id}\nVERSION_ID=1\n` },
  ],
});
