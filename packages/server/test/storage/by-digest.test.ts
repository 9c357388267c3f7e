/**
 * images.byDigest on both backends: every image holding the digest and nothing else (a text
 * search would also match a tag or repository that contains the digest's text), most recently
 * pushed first, bounded by its limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, sha, TestClock } from './harness.js';

forEachBackend((h) => {
  test('images.byDigest: exact digest, pushed last first, limited', async () => {
    const clock = new TestClock();
    const s = await (await h.fresh()).open({ clock });
    const at = (minutes: number): string => new Date(clock.now().getTime() + minutes * 60_000).toISOString();
    await s.images.upsert({ registry: 'a.example.com', repository: 'team/app', digest: sha(1), pushedAt: at(1) });
    await s.images.upsert({ registry: 'b.example.com', repository: 'mirror/app', digest: sha(1), pushedAt: at(3) });
    await s.images.upsert({ registry: 'a.example.com', repository: 'team/app-copy', digest: sha(1), pushedAt: at(2) });
    // Another digest whose tag and repository contain the first one's text.
    await s.images.upsert({
      registry: 'a.example.com',
      repository: `x/${sha(1).slice(7, 20)}`,
      digest: sha(2),
      tags: [sha(1).slice(7, 40)],
    });

    const all = await s.images.byDigest(sha(1));
    assert.deepEqual(
      all.map((i) => `${i.registry}/${i.repository}`),
      ['b.example.com/mirror/app', 'a.example.com/team/app-copy', 'a.example.com/team/app'],
    );
    assert.ok(all.every((i) => i.digest === sha(1)));
    assert.equal((await s.images.byDigest(sha(1), 2)).length, 2);
    assert.deepEqual(await s.images.byDigest(sha(3)), []);
    await s.close();
  });
});
