import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { base64Bytes } from './base64-bytes.js';

test('base64Bytes gives the bytes of toString("base64") at every length around its piece size', () => {
  const piece = 3 * 256 * 1024;
  for (const length of [0, 1, 2, 3, 4, 5, 1000, piece - 1, piece, piece + 1, piece + 2, 2 * piece, 2 * piece + 1, 3 * piece + 2]) {
    const bytes = randomBytes(length);
    const expected = Buffer.from(bytes.toString('base64'), 'latin1');
    assert.ok(base64Bytes(bytes).equals(expected), `length ${length}`);
  }
});
