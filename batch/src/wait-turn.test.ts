import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRedisClient, closeRedisClient, JobRepository, startRedisServer, type RedisClient } from '@cutout/shared';
import { startFakePredict } from './fake-predict.js';
import { enqueue, fakeCutout, settled, startPool, until } from './harness.js';
import { WaitTurn } from './wait-turn.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('WaitTurn hands the turn to one caller at a time, in order, and close() lets every waiter go', async () => {
  const turn = new WaitTurn();
  const order: string[] = [];
  const first = await turn.acquire();
  const second = turn.acquire().then((release) => (order.push('second'), release));
  const third = turn.acquire().then((release) => (order.push('third'), release));
  await Promise.resolve();
  assert.deepEqual(order, [], 'nobody gets the turn while it is held');
  first();
  first(); // a second release changes nothing
  const releaseSecond = await second;
  assert.deepEqual(order, ['second']);
  turn.close();
  await third;
  assert.deepEqual(order, ['second', 'third']);
  releaseSecond();
  await turn.acquire(); // closed: at once
});

/** The pool's blocking connections, and how many of them are blocked (flag b, in BLMOVE) right now. */
async function waits(admin: RedisClient): Promise<{ open: number; blocked: number }> {
  const lines = String(await admin.sendCommand(['CLIENT', 'LIST'])).split('\n').filter((l) => l.includes('name=cutout-batch-wait-'));
  return { open: lines.length, blocked: lines.filter((l) => / flags=b /.test(l)).length };
}

test('one push wakes one worker: of four idle workers one blocks in Redis, and one job costs two takes, not five', { timeout: 30_000 }, async () => {
  const own = await startRedisServer(); // only this pool's connections on it
  cleanups.push(() => own.stop());
  const admin = createRedisClient(own.url, { name: 'test-inspect', onError: () => {} });
  await admin.connect();
  cleanups.push(() => closeRedisClient(admin));
  const predict = await startFakePredict({ png: await fakeCutout() });
  cleanups.push(() => predict.close());
  // A repository whose takes are counted, given to the pool in place of its own.
  const prefix = 'wake-one:';
  const client = createRedisClient(own.url, { name: 'test-batch', onError: () => {} });
  await client.connect();
  const counted = new JobRepository(client, { keyPrefix: prefix, ttlSeconds: 300, leaseMs: 5_000 });
  let takes = 0;
  const take = counted.take.bind(counted);
  counted.take = (worker) => (takes++, take(worker));
  // Long blocking waits: no wait times out during the test, so every take is one a push caused.
  const p = await startPool({ redisUrl: own.url, inspect: admin, predictUrls: [predict.url], prefix, concurrency: 4, pool: { repository: counted, blockTimeoutSeconds: 30 } });
  cleanups.push(() => p.pool.close().then(() => closeRedisClient(client).catch(() => undefined)));
  await until(async () => (takes === 4 && (await waits(admin)).blocked > 0 ? true : undefined));
  assert.deepEqual(await waits(admin), { open: 4, blocked: 1 }, 'every worker has its connection; one of them waits');
  const id = await enqueue(p.repo);
  assert.equal((await settled(p.repo, id)).status, 'SUCCEEDED');
  // The woken worker took the job and the next one blocked; after the job, its worker took once more and queued for its turn.
  await until(async () => (p.pool.running === 0 && (await waits(admin)).blocked === 1 && takes >= 4 + 2 ? true : undefined));
  assert.equal(takes, 4 + 2);
});
