import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { LinkedAbort } from './linked-abort.js';

test('a linked signal aborts with the reason of the source that aborted', () => {
  const a = new AbortController();
  const b = new AbortController();
  const linked = new LinkedAbort([a.signal, undefined, b.signal]);
  assert.equal(linked.signal.aborted, false);
  b.abort(new Error('cancelled'));
  assert.equal(linked.signal.aborted, true);
  assert.equal((linked.signal.reason as Error).message, 'cancelled');
  assert.equal(linked.timedOut, false);
  linked.dispose();
  linked.dispose();
});

test('a source aborted before the link is made aborts it at once', () => {
  const a = new AbortController();
  a.abort('gone');
  const linked = new LinkedAbort([a.signal], 60_000);
  assert.deepEqual([linked.signal.aborted, linked.signal.reason], [true, 'gone']);
  linked.dispose();
});

test('the timeout aborts with a TimeoutError and says so; a disposed link is deaf to its sources and its timer', async () => {
  const timed = new LinkedAbort([], 5);
  // The link's timer is unref'd (it must not keep a service alive): this one keeps the test's
  // event loop up until the abort, or node may find nothing left to wait for and end the test.
  const keepAlive = setTimeout(() => {}, 5_000);
  await once(timed.signal, 'abort');
  clearTimeout(keepAlive);
  assert.equal((timed.signal.reason as DOMException).name, 'TimeoutError');
  assert.equal(timed.timedOut, true);

  const source = new AbortController();
  const disposed = new LinkedAbort([source.signal], 5);
  disposed.dispose();
  source.abort();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(disposed.signal.aborted, false, 'neither the source nor the timer reached it');
});
