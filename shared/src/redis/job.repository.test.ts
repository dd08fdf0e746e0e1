import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { createRedisClient, closeRedisClient, type RedisClient } from './client.js';
import { JobRepository } from './job.repository.js';

let server: RedisServerHandle;
let redis: RedisClient;
let blocking: RedisClient;

before(async () => {
  server = await startRedisServer();
  redis = createRedisClient(server.url, { name: 'test', onError: () => {} });
  blocking = redis.duplicate();
  await Promise.all([redis.connect(), blocking.connect()]);
});

after(async () => {
  await closeRedisClient(blocking);
  await closeRedisClient(redis);
  await server.stop();
});

function newJob(id = randomUUID()) {
  return { id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 };
}

test('enqueue writes the contract keys with a TTL and pushes the id on the left', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'enq:', ttlSeconds: 100 });
  const a = newJob();
  const b = newJob();
  await repo.enqueue(a);
  await repo.enqueue(b);
  assert.deepEqual(await redis.lRange('enq:job_id', 0, -1), [b.id, a.id]);
  assert.equal(await redis.get(`enq:${a.id}_image_in`), 'aGVsbG8=');
  for (const key of [`enq:${a.id}_image_in`, `enq:${a.id}_job`]) {
    const ttl = await redis.ttl(key);
    assert.ok(ttl > 0 && ttl <= 100, `${key} ttl ${ttl}`);
  }
  const record = await repo.get(a.id);
  assert.equal(record?.status, 'QUEUED');
  assert.equal(record?.imageOutBase64, null);
});

test('take, claim and complete move a job to SUCCEEDED oldest first', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'run:', ttlSeconds: 100 });
  const first = newJob();
  const second = newJob();
  await repo.enqueue(first);
  await repo.enqueue(second);
  const taken = await repo.take(blocking, 1);
  assert.equal(taken, first.id);
  assert.deepEqual(await redis.lRange('run:job_id_processing', 0, -1), [first.id]);
  assert.equal(await repo.claim(first.id), 'aGVsbG8=');
  assert.equal((await repo.get(first.id))?.status, 'RUNNING');
  assert.equal(await repo.complete(first.id, 'b3V0'), true);
  const done = await repo.get(first.id);
  assert.equal(done?.status, 'SUCCEEDED');
  assert.equal(done?.imageOutBase64, 'b3V0');
  assert.equal(done?.attempts, 1);
  assert.equal(await redis.lLen('run:job_id_processing'), 0);
  assert.equal(await repo.complete(first.id, 'again'), false, 'a finished job is not written twice');
  const stats = await repo.stats();
  assert.deepEqual(stats, { queued: 1, running: 0, submitted: 2, succeeded: 1, failed: 0 });
});

test('fail records the reason; a job whose record expired is dropped at claim', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'fail:', ttlSeconds: 100 });
  const job = newJob();
  await repo.enqueue(job);
  await repo.take(blocking, 1);
  await repo.claim(job.id);
  assert.equal(await repo.fail(job.id, 'IMAGE_DECODE_FAILED', 'bad pixels'), true);
  const record = await repo.get(job.id);
  assert.equal(record?.status, 'FAILED');
  assert.deepEqual(record?.error, { code: 'IMAGE_DECODE_FAILED', message: 'bad pixels' });

  const gone = newJob();
  await repo.enqueue(gone);
  await redis.del([`fail:${gone.id}_job`, `fail:${gone.id}_image_in`]);
  assert.equal(await repo.take(blocking, 1), gone.id);
  assert.equal(await repo.claim(gone.id), null);
  assert.equal(await redis.lLen('fail:job_id_processing'), 0);
  assert.equal(await repo.get(gone.id), null);
});

test('enqueue refuses, writing nothing, once the queue holds max depth jobs', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'full:', ttlSeconds: 100, maxQueueDepth: 2 });
  assert.deepEqual(await repo.enqueue(newJob()), { accepted: true, depth: 1 });
  assert.deepEqual(await repo.enqueue(newJob()), { accepted: true, depth: 2 });
  const refused = newJob();
  assert.deepEqual(await repo.enqueue(refused), { accepted: false, depth: 2 });
  assert.equal(await redis.exists([`full:${refused.id}_image_in`, `full:${refused.id}_job`]), 0);
  assert.equal((await repo.stats()).submitted, 2);
});

test('take returns null when the queue stays empty', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'empty:', ttlSeconds: 100 });
  assert.equal(await repo.take(blocking, 0.1), null);
});
