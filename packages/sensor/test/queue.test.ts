import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from '../src/index.js';

test('a full queue drops the newest item and counts it under its key', async () => {
  const q = new BoundedQueue<number>(3);
  for (let i = 0; i < 5; i++) q.push(i, i % 2 ? 'odd' : 'even');
  assert.equal(q.size, 3);
  assert.deepEqual(Object.fromEntries(q.dropped), { odd: 1, even: 1 });
  q.close();
  const got: number[] = [];
  for await (const v of q) got.push(v);
  assert.deepEqual(got, [0, 1, 2]);
});

test('a waiting consumer gets the item directly and close ends iteration', async () => {
  const q = new BoundedQueue<string>(1);
  const p = q.next();
  q.push('a', 'k');
  assert.deepEqual(await p, { value: 'a', done: false });
  const end = q.next();
  q.close();
  assert.equal((await end).done, true);
  assert.equal(q.push('late', 'k'), false);
});

test('capacity must be positive', () => {
  assert.throws(() => new BoundedQueue(0), /positive/);
});
