import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PluginRegistry } from '../src/index.js';

test('a duplicate plugin id throws', () => {
  const r = new PluginRegistry('things', [{ id: 'a', version: 1 }]);
  assert.throws(() => r.register({ id: 'a', version: 2 }), /duplicate plugin id "a"/);
  assert.equal(r.fingerprint(), 'a@1');
});
