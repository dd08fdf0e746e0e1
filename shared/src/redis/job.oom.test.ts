import { test, before, after } from 'node:test';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServerHandle } from '../process/redis-server.js';
import type { RedisClient } from './client.js';
import { JobRepository, type ReapResult } from './job.repository.js';
import { jobKeys } from './keys.js';

// Redis at maxmemory with noeviction: each step is refused whole or runs whole. Steps that add
// data (enqueue, take, complete) are refused; those that keep or shrink memory (renew, release,
// fail, the reaper and its lock) run, so leases hold and a crashed worker's job is recovered.

let server: RedisServerHandle;
let redis: RedisClient;
const FILLER = 'x'.repeat(64 * 1024);

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

async function usedMemory(): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]);
}

/** Writes 2 MiB of filler, then sets maxmemory 1 MiB below what is used: Redis is over its limit. */
async function fillUp(prefix: string): Promise<string[]> {
  const keys = Array.from({ length: 32 }, (_, i) => `${prefix}filler:${i}`);
  for (const key of keys) await redis.set(key, FILLER);
  await redis.configSet('maxmemory', String((await usedMemory()) - 1024 * 1024));
  await assert.rejects(redis.set(`${prefix}one-more`, 'x'), /OOM/, 'Redis is full');
  return keys;
}

async function reapUntil(repo: JobRepository, done: (r: ReapResult) => boolean): Promise<ReapResult> {
  for (;;) {
    const result = await repo.reap();
    if (done(result)) return result;
    await sleep(20);
  }
}

const newJob = () => ({ id: randomUUID(), imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });

test('under OOM, enqueue, take and complete are refused whole; leases, endings and the reaper go on; a crashed worker is recovered', async (t) => {
  t.after(() => redis.configSet('maxmemory', '0'));
  const prefix = `oom-${randomUUID().slice(0, 8)}:`;
  const repo = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 60, leaseMs: 300 });
  const [crashed, failing, handedBack, waiting] = [newJob(), newJob(), newJob(), newJob()];
  for (const job of [crashed, failing, handedBack, waiting]) await repo.enqueue(job);
  const a = (await repo.take('host-a:1:0')).job!; // its worker will crash
  const f = (await repo.take('host-a:1:1')).job!;
  const h = (await repo.take('host-a:1:2')).job!;
  assert.deepEqual([a.id, f.id, h.id], [crashed.id, failing.id, handedBack.id]);

  const filler = await fillUp(prefix);

  await assert.rejects(repo.enqueue(newJob()), /OOM/, 'a new upload is refused');
  await assert.rejects(repo.take('host-b:1:0'), /OOM/, 'no new work is handed out');
  await assert.rejects(repo.complete(a, a.token, 'b3V0'), /OOM/, 'no output is stored past maxmemory');
  // Status reads go on: clients polling a job, a group or /metadata are answered while Redis is full.
  assert.equal((await repo.get(a.id))?.status, 'RUNNING', 'a job can still be read');
  assert.equal((await repo.stats()).running, 3, 'the queue can still be counted');
  const k = jobKeys(prefix, a.id);
  assert.deepEqual([await redis.hGet(k.record, 'status'), await redis.get(k.imageOut), await redis.hGet(k.record, 'output_writes')], ['RUNNING', null, null], 'nothing of the refused complete was written');
  assert.deepEqual(await redis.lRange(repo.keys.queue, 0, -1), [waiting.id], 'the refused take left the queue as it was');

  assert.equal(await repo.renew(a, a.token), true, 'a lease still renews');
  assert.equal(await repo.fail(f, f.token, 'IMAGE_DECODE_FAILED', 'bad image'), true, 'a job can still fail');
  assert.equal(await repo.release(h, h.token), true, 'a job can still be handed back');
  assert.equal(await repo.acquireReaperLock('reaper', 10_000), true, 'the reaper can take its lock');

  // The worker of `a` crashes now: no more renewals. The reaper requeues it, Redis still full.
  const reaped = await reapUntil(repo, (r) => r.requeued.length > 0);
  assert.deepEqual(reaped.requeued, [a.id]);
  assert.equal(await repo.releaseReaperLock('reaper'), true);
  assert.equal(await redis.hGet(k.record, 'status'), 'QUEUED');
  assert.ok((await usedMemory()) > Number(/^maxmemory:(\d+)/m.exec(await redis.info('memory'))?.[1]), 'all of this happened over maxmemory');

  // Memory is freed: the requeued job runs again and ends once.
  await redis.del(filler);
  const again = (await repo.take('host-b:1:0')).job!;
  assert.deepEqual([again.id, again.attempts], [a.id, 2]);
  assert.equal(await repo.complete(again, again.token, 'b3V0'), true);
  const done = await repo.get(a.id);
  assert.deepEqual([done?.status, done?.imageOutBase64, done?.outputWrites], ['SUCCEEDED', 'b3V0', 1]);
  assert.equal((await repo.get(f.id))?.status, 'FAILED');
  assert.deepEqual((await repo.stats()).queuedByPriority.normal, 2, 'the handed-back job and the one that waited are queued');
});
