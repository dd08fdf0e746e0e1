import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { createRedisClient, closeRedisClient, type RedisClient } from './client.js';
import { jobKeys } from './keys.js';
import { JobRepository, type JobRepositoryOptions } from './job.repository.js';
import { parseJobTimings } from './job-timings.js';

let server: RedisServerHandle;
let redis: RedisClient;
let subscriber: RedisClient;

before(async () => {
  server = await startRedisServer();
  redis = createRedisClient(server.url, { name: 'test', onError: () => {} });
  subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);
});

after(async () => {
  await closeRedisClient(subscriber);
  await closeRedisClient(redis);
  await server.stop();
});

const END = 'end-of-test';

/**
 * A repository on a fresh prefix and the ids published on its job-done channel. `drain()`
 * publishes a marker and resolves with what came before it: pub/sub keeps the order of one
 * connection's publishes, so "nothing else was published" is checked by order, not by waiting.
 */
async function watched(options: Partial<JobRepositoryOptions> = {}) {
  const prefix = `ev-${randomUUID().slice(0, 8)}:`;
  const repo = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 100, ...options });
  const seen: string[] = [];
  let onEnd: (() => void) | undefined;
  const unsubscribe = await repo.listenForDone(subscriber, (id) => {
    if (id === END) onEnd?.();
    else seen.push(id);
  });
  const drain = async () => {
    const ended = new Promise<void>((resolve) => (onEnd = resolve));
    await redis.publish(repo.keys.jobDone, END);
    await ended;
    return [...seen];
  };
  return { repo, prefix, drain, unsubscribe };
}

async function enqueue(repo: JobRepository): Promise<string> {
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });
  return id;
}

async function takeOne(repo: JobRepository) {
  const { job } = await repo.take('w');
  assert.ok(job, 'a job was taken');
  return job;
}

test('complete publishes the id once, in the same step that stores the output; a repeat publishes nothing', async () => {
  const { repo, drain, unsubscribe } = await watched({ leaseMs: 60_000 });
  const id = await enqueue(repo);
  const job = await takeOne(repo);
  assert.deepEqual(await drain(), [], 'nothing while queued or running');
  assert.equal(await repo.complete(id, job.token, 'b3V0'), true);
  assert.equal(await repo.complete(id, job.token, 'b3V0'), true, 'a repeat is answered as done');
  assert.deepEqual(await drain(), [id]);
  await unsubscribe();
});

test('every FAILED ending publishes: fail, a retry out of attempts, take giving up, the reaper giving up', async () => {
  const { repo, prefix, drain, unsubscribe } = await watched({ leaseMs: 30, maxAttempts: 1 });
  const failed = await enqueue(repo);
  let job = await takeOne(repo);
  assert.equal(await repo.fail(failed, job.token, 'IMAGE_DECODE_FAILED', 'bad'), true);

  const worn = await enqueue(repo);
  job = await takeOne(repo);
  assert.equal(await repo.retry(worn, job.token, 'PREDICT_FAILED', '500', 0), 'failed');

  const expired = await enqueue(repo);
  await redis.del(jobKeys(prefix, expired).imageIn);
  assert.deepEqual((await repo.take('w')).failed, [{ id: expired, code: 'INPUT_EXPIRED' }]);

  const lost = await enqueue(repo);
  await takeOne(repo);
  for (;;) {
    if ((await repo.reap()).failed.length > 0) break;
    await sleep(10); // the 30 ms lease has to run out
  }
  assert.deepEqual(await drain(), [failed, worn, expired, lost]);
  for (const id of [failed, worn, expired, lost]) assert.equal((await repo.get(id))?.status, 'FAILED');
  await unsubscribe();
});

test('a retry that will run again, a release and refused late writes publish nothing', async () => {
  const { repo, drain, unsubscribe } = await watched({ leaseMs: 60_000, maxAttempts: 3 });
  const id = await enqueue(repo);
  const first = await takeOne(repo);
  assert.equal(await repo.retry(id, first.token, 'PREDICT_TIMEOUT', 'slow', 0), 'retry');
  await repo.reap();
  const second = await takeOne(repo);
  assert.equal(await repo.complete(id, first.token, 'bGF0ZQ=='), false, 'the old claim is fenced off');
  assert.equal(await repo.fail(id, first.token, 'X', 'late'), false);
  assert.equal(await repo.release(id, second.token), true);
  assert.deepEqual(await drain(), []);
  assert.equal((await repo.get(id))?.timings, null, 'a refused complete stores no timings');
  await unsubscribe();
});

test('complete stores the worker timings with the queue wait from the record, as one JSON object', async () => {
  const { repo, prefix, unsubscribe } = await watched({ leaseMs: 60_000 });
  const id = await enqueue(repo);
  const job = await takeOne(repo);
  const timings = { run_ms: 12.5, predict_ms: 10.25, predict_inference_ms: 7, predict_batch_size: 3, redis_take_ms: 0.4 };
  assert.equal(await repo.complete(id, job.token, 'b3V0', timings), true);
  const record = await repo.get(id);
  const queueWait = record!.startedAt! - record!.createdAt!;
  assert.deepEqual(record?.timings, { ...timings, queue_wait_ms: queueWait });
  const raw = await redis.hGet(jobKeys(prefix, id).record, 'timings');
  assert.deepEqual(JSON.parse(raw!), { ...timings, queue_wait_ms: queueWait }, 'stored as plain JSON');

  const bare = await enqueue(repo);
  const other = await takeOne(repo);
  await repo.complete(bare, other.token, 'b3V0');
  assert.equal((await repo.get(bare))?.timings, null, 'no timings given, none stored');

  const empty = await enqueue(repo);
  const third = await takeOne(repo);
  await repo.complete(empty, third.token, 'b3V0', {});
  assert.deepEqual(Object.keys((await repo.get(empty))?.timings ?? {}), ['queue_wait_ms']);
  await unsubscribe();
});

test('parseJobTimings keeps known non-negative numbers and refuses what is not an object', () => {
  assert.deepEqual(parseJobTimings('{"run_ms":3,"predict_ms":-1,"bogus":5,"predict_batch_size":"2"}'), { run_ms: 3 });
  assert.equal(parseJobTimings('[1,2]'), null);
  assert.equal(parseJobTimings('not json'), null);
  assert.equal(parseJobTimings(undefined), null);
  assert.equal(parseJobTimings(''), null);
});
