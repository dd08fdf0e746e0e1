/**
 * The chaos harness's own write observer (test/support/chaos/write-observer.ts), on a real
 * redis-server: where its blind spot around a kill -9 begins decides whether a job the observer
 * never saw is judged "in the blind spot" or "written without Redis telling anyone", so it gets a
 * test of its own. CI once failed kill-redis on a write that Redis made durable just before
 * beginGap() and was killed before announcing; a relay holding the observer's connection makes
 * that moment here on purpose.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpRelay } from '@cutout/shared/testing';
import { ChaosRedis } from '../support/chaos/redis.js';
import { WriteObserver } from '../support/chaos/write-observer.js';

const PREFIX = 'observer-test:';

// What the finish step does, reduced to the two writes the observer and the judge look at: the
// output (announced as a `set` event) and finished_at, both stamped with one Redis TIME.
const FINISH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], 'png')
redis.call('HSET', KEYS[2], 'finished_at', now)
return now`;

test('write observer: a write made durable but never announced before a kill -9 is in the blind spot; one before the last write seen is not', { timeout: 30_000 }, async (t) => {
  const redis = await ChaosRedis.start({ appendfsync: 'always' });
  const relay = await TcpRelay.start({ port: redis.port });
  const observer = new WriteObserver(relay.redisUrl, PREFIX);
  t.after(async () => {
    observer.detach();
    await relay.close();
    await redis.close();
  });
  await observer.attach();
  const finish = async (id: string): Promise<number> =>
    Number(await redis.admin.eval(FINISH, { keys: [`${PREFIX}${id}_image_out`, `${PREFIX}${id}_job`] }));

  const before = await finish('a');
  while (observer.writes('a') === 0) await sleep(5);
  await sleep(3); // b gets a later millisecond than a
  // From here Redis's announcements to the observer go nowhere, as they do when Redis dies
  // between a write's fsync and sending what it owes its clients.
  relay.blackHole();
  const unseen = await finish('b');
  await sleep(3);
  observer.beginGap();
  await redis.kill();
  relay.heal();
  await redis.startAgain(() => observer.attach());

  assert.equal(await redis.admin.exists(`${PREFIX}b_image_out`), 1, 'b was acknowledged with appendfsync always, so it is on disk after the kill');
  assert.equal(observer.writes('b'), 0, 'the observer was never told of b');
  assert.ok(unseen < observer.gaps[0]!.to, 'b was written before the observer was back');
  const finishedAt = (id: string): number | undefined => {
    const stamps: Record<string, number> = { a: before, b: unseen };
    return stamps[id];
  };
  assert.equal(observer.gaps[0]!.afterId, 'a', 'the gap starts after the last write seen');
  assert.equal(observer.blindAt(unseen, finishedAt), true, 'b, stamped before beginGap(), still fell in the blind spot');
  assert.equal(observer.blindAt(before - 1, finishedAt), false, 'a write before the last one seen would have been seen: missing it is a real problem');
  assert.equal(observer.blindAt(Date.now() + 60_000, finishedAt), false, 'once attached again the observer sees every write');

  const after = await finish('c');
  while (observer.writes('c') === 0) await sleep(5);
  assert.equal(observer.blindAt(after, finishedAt), false);
});
