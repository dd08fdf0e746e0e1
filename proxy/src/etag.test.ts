import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ifNoneMatchHits } from './etag.js';

const etag = '"abc123"';

test('If-None-Match: the exact tag, a weak copy of it, a list holding it, or * is a hit', () => {
  assert.equal(ifNoneMatchHits('"abc123"', etag), true);
  assert.equal(ifNoneMatchHits('W/"abc123"', etag), true);
  assert.equal(ifNoneMatchHits('"old", W/"abc123" ,"older"', etag), true);
  assert.equal(ifNoneMatchHits('*', etag), true);
});

test('If-None-Match: no header, another tag, or the tag without its quotes is a miss', () => {
  assert.equal(ifNoneMatchHits(undefined, etag), false);
  assert.equal(ifNoneMatchHits('"abc1234"', etag), false);
  assert.equal(ifNoneMatchHits('abc123', etag), false);
  assert.equal(ifNoneMatchHits('', etag), false);
});
