import { test, before, after } from 'node:test';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RESP_TYPES } from 'redis';
import type { RedisServerHandle } from '../process/redis-server.js';
import type { RedisClient } from './client.js';
import { jobKeys } from './keys.js';
import { JobRepository } from './job.repository.js';

// Redis can lose acknowledged writes: a failover to a replica that lagged, AOF everysec on a
// host crash, a restore from a backup. A claim's counter then repeats, and a fencing token made
// of the counter alone would let the worker of the lost claim act on the new one.

let server: RedisServerHandle;
let redis: RedisClient;

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

type Snapshot = Array<[string, Buffer | null]>;

/** What a lagging replica would hold: these keys as they are now. */
async function snapshot(keys: string[]): Promise<Snapshot> {
  const out: Snapshot = [];
  for (const key of keys) {
    const dump = (await redis.sendCommand(['DUMP', key], { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } })) as Buffer | null;
    out.push([key, dump ?? null]);
  }
  return out;
}

/** The failover: every key back to its snapshot, as if the writes since had never happened. */
async function rollBack(snap: Snapshot): Promise<void> {
  for (const [key, dump] of snap) {
    if (dump === null) await redis.del(key);
    else await redis.sendCommand(['RESTORE', key, '0', dump, 'REPLACE']);
  }
}

test('after Redis loses a take, the stale worker cannot renew or finish the new claim of the same number', async () => {
  const prefix = `fence-${randomUUID().slice(0, 8)}:`;
  const repo = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 60, leaseMs: 60_000 });
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });
  const k = jobKeys(prefix, id);
  const before = await snapshot([k.record, repo.keys.queue, repo.keys.processing, repo.keys.leases]);

  const a = (await repo.take('host-a:1:0')).job!;
  await rollBack(before);
  assert.equal((await repo.get(id))?.status, 'QUEUED', 'the take is lost');
  const b = (await repo.take('host-b:1:0')).job!;
  assert.equal(b.id, id);
  assert.equal(b.attempts, a.attempts, 'the counter repeated');

  assert.equal(await repo.renew(id, a.token), false, "A cannot renew B's claim");
  assert.equal(await repo.complete(id, a.token, 'bGF0ZQ=='), false, "A cannot finish B's claim");
  assert.equal(await repo.fail(id, a.token, 'PREDICT_FAILED', 'late'), false);
  assert.equal(await repo.retry(id, a.token, 'PREDICT_FAILED', 'late', 0), 'lost');
  assert.equal(await repo.release(id, a.token), false);
  assert.notEqual(b.token, a.token, 'the tokens differ anyway');
  const held = await repo.get(id);
  assert.deepEqual([held?.status, held?.lease?.owner, held?.lease?.token, held?.imageOutBase64], ['RUNNING', 'host-b:1:0', b.token, null]);

  assert.equal(await repo.renew(b, b.token), true, 'B renews');
  assert.equal(await repo.complete(b, b.token, 'YnlfYg=='), true, 'B finishes');
  const done = await repo.get(id);
  assert.deepEqual([done?.status, done?.imageOutBase64, done?.outputWrites], ['SUCCEEDED', 'YnlfYg==', 1]);
  assert.equal(await repo.complete(id, a.token, 'bGF0ZQ=='), false, 'A is still refused after the end');
});

test('a fenced step given the worker checks it with the token', async () => {
  const prefix = `fence-${randomUUID().slice(0, 8)}:`;
  const repo = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 60, leaseMs: 60_000 });
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });
  const job = (await repo.take('host-a:1:0')).job!;
  assert.equal(await repo.renew({ id, worker: 'host-z:9:9' }, job.token), false, 'another worker with the right token is refused');
  assert.equal(await repo.renew(job, job.token), true);
});
