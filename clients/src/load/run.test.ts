import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Payload, Send } from './apis.js';
import { LoadFailure } from './http.js';
import { Live } from './live.js';
import { runLoad } from './run.js';

const image: Payload = { name: 'a.png', bytes: Buffer.alloc(1), base64: 'AA==', type: 'image/png' };
const quiet = () => new Live({ write: () => true }, { write: () => true }, 3, false);

/** A server that answers nothing until told to: each call waits on its own gate. */
function heldServer() {
  const gates: (() => void)[] = [];
  const send: Send = () => new Promise<string>((resolve) => gates.push(() => resolve('id')));
  return { send, gates };
}

test('open loop (-T): every round is sent on time although no earlier request has been answered', async () => {
  const server = heldServer();
  const run = runLoad({ requests: 2, rounds: 3, intervalMs: 20, perRequest: 1, timeoutMs: 60_000 }, [image], server.send, quiet());
  // All three rounds go out while every request is still held; closed loop would stop at 2.
  while (server.gates.length < 6) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(server.gates.length, 6);
  server.gates.forEach((open) => open());
  const result = await run;
  assert.deepEqual(result.samples.map((s) => s.round), [1, 1, 2, 2, 3, 3]);
  assert.ok(result.samples.every((s) => s.ok));
});

test('closed loop: a round starts only when the one before has ended', async () => {
  const server = heldServer();
  const run = runLoad({ requests: 2, rounds: 2, intervalMs: undefined, perRequest: 1, timeoutMs: 60_000 }, [image], server.send, quiet());
  while (server.gates.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(server.gates.length, 2, 'round 2 waits');
  server.gates.splice(0).forEach((open) => open());
  while (server.gates.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  server.gates.forEach((open) => open());
  assert.equal((await run).samples.length, 4);
});

test('a failure is recorded with its code; groups take K images per request, in turn', async () => {
  const seen: string[][] = [];
  const send: Send = async (images) => {
    seen.push(images.map((i) => i.name));
    if (seen.length === 2) throw new LoadFailure('QUEUE_FULL', 'full');
    return 'g';
  };
  const images = ['a', 'b', 'c'].map((name) => ({ ...image, name }));
  const result = await runLoad({ requests: 2, rounds: 1, intervalMs: undefined, perRequest: 2, timeoutMs: 60_000 }, images, send, quiet());
  assert.deepEqual(seen, [['a', 'b'], ['c', 'a']]);
  assert.deepEqual(result.samples.map((s) => [s.ok, s.code, s.images]), [[true, undefined, 2], [false, 'QUEUE_FULL', 2]]);
});
