import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createRedisClient, closeRedisClient, freePort, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import { startFakePredict, type FakePredict } from './fake-predict.js';
import { enqueue, settled, startPool, until, type PoolSetup, type RunningPool } from './harness.js';

let redisServer: RedisServerHandle;
let png: Buffer;
let jpeg: Buffer;
let inspect: RedisClient;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  redisServer = await startRedisServer();
  inspect = createRedisClient(redisServer.url, { name: 'test-inspect', onError: () => {} });
  await inspect.connect();
  png = await sharp({ create: { width: 4, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: { r: 10, g: 200, b: 10 } } }).jpeg().toBuffer();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await closeRedisClient(inspect);
  await redisServer.stop();
});

const SERVER_TIMING = 'decode;dur=1.5, preprocess;dur=2, inference;dur=30.25, postprocess;dur=3, encode;dur=4.5, batch;desc=2';

async function fakePredict(mode: FakePredict['mode'] = 'png', port?: number): Promise<FakePredict> {
  const s = await startFakePredict({ png, mode, serverTiming: SERVER_TIMING, ...(port === undefined ? {} : { port }) });
  cleanups.push(() => s.close());
  return s;
}

async function pool(urls: string[], options: Partial<PoolSetup> & { enqueue?: number } = {}): Promise<RunningPool & { ids: string[] }> {
  const running = await startPool({ redisUrl: redisServer.url, inspect, predictUrls: urls, ...options });
  cleanups.push(() => running.pool.close());
  const ids: string[] = [];
  for (let i = 0; i < (options.enqueue ?? 0); i++) ids.push(await enqueue(running.repo, jpeg));
  return { ...running, ids };
}

const messages = (p: RunningPool, id: string) => p.logs.filter((l) => l.job_id === id).map((l) => l.message);

test('queued jobs run oldest first to SUCCEEDED with the output stored, one log line per transition', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  const p = await pool([predict.url], { concurrency: 1, enqueue: 3 });
  for (const id of p.ids) {
    const job = await settled(p.repo, id);
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal(job.imageOutBase64, png.toString('base64'));
    assert.deepEqual([job.attempts, job.outputWrites, job.lease], [1, 1, null]);
  }
  assert.deepEqual(predict.requests.map((r) => r.jobId), p.ids, 'taken from the right of job_id, oldest first');
  assert.deepEqual(predict.requests[0]?.body, jpeg, 'predict got the decoded input bytes');
  for (const key of [p.repo.keys.processing, p.repo.keys.queue]) assert.equal(await inspect.lLen(key), 0);
  assert.equal(await inspect.zCard(p.repo.keys.leases), 0);
  const taken = p.logs.find((l) => l.message === 'job taken' && l.job_id === p.ids[0]);
  // lease_token is the fencing token, "<claim counter>:<nonce>".
  assert.deepEqual([taken?.attempt, String(taken?.lease_token).split(':')[0], taken?.worker], [1, '1', `test-${p.prefix.replace(/:$/, '')}:0`]);
  await until(() => (messages(p, p.ids[2]!).includes('job succeeded') ? true : undefined));
  assert.deepEqual(messages(p, p.ids[0]!), ['job taken', 'job succeeded']);
});

test('a finished job carries its stage timings: predict\'s Server-Timing, batch\'s own, and the queue wait', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  const p = await pool([predict.url], { concurrency: 1, enqueue: 1 });
  const job = await settled(p.repo, p.ids[0]!);
  const t = job.timings;
  assert.ok(t, 'timings stored');
  assert.deepEqual(
    [t.predict_decode_ms, t.predict_preprocess_ms, t.predict_inference_ms, t.predict_postprocess_ms, t.predict_encode_ms, t.predict_batch_size],
    [1.5, 2, 30.25, 3, 4.5, 2],
  );
  assert.equal(t.queue_wait_ms, job.startedAt! - job.createdAt!);
  for (const field of ['run_ms', 'predict_ms', 'redis_take_ms'] as const) assert.equal(typeof t[field], 'number', field);
  assert.ok(t.run_ms! >= t.predict_ms!, 'the predict call is part of the run');
  const line = p.logs.find((l) => l.message === 'job succeeded' && l.job_id === job.id);
  assert.deepEqual(line?.timings, withoutQueueWait(t), 'the log line has what batch measured (the queue wait is added in Redis)');
});

function withoutQueueWait<T extends { queue_wait_ms?: number }>(t: T): Omit<T, 'queue_wait_ms'> {
  const { queue_wait_ms: _ignored, ...rest } = t;
  return rest;
}

test('concurrency N runs N jobs at once and never more', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.hold();
  const p = await pool([predict.url], { concurrency: 3, enqueue: 7 });
  await predict.untilInFlight(3);
  assert.equal(await inspect.lLen(p.repo.keys.processing), 3, 'three jobs taken, the rest still queued');
  predict.release();
  for (const id of p.ids) assert.equal((await settled(p.repo, id)).status, 'SUCCEEDED');
  assert.equal(predict.maxInFlight, 3);
  assert.equal(predict.requests.length, 7);
});

test('a 4xx from predict fails the job at once with predict code and message, dead-lettered', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('reject');
  const p = await pool([predict.url], { enqueue: 1 });
  const job = await settled(p.repo, p.ids[0]!);
  assert.equal(job.status, 'FAILED');
  assert.deepEqual(job.error, { code: 'IMAGE_DECODE_FAILED', message: 'the image is truncated; upload the whole file' });
  assert.deepEqual([job.attempts, job.imageOutBase64, predict.requests.length], [1, null, 1], 'no retry');
  assert.equal(await inspect.lLen(p.repo.keys.processing), 0);
  const [letter] = await p.repo.deadLetters(1);
  assert.deepEqual([letter?.jobId, letter?.code, letter?.attempts], [p.ids[0], 'IMAGE_DECODE_FAILED', 1]);
});

test('a 500 and then a timeout are retried with backoff until predict answers', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.next.push('fail', 'hang');
  const p = await pool([predict.url], { concurrency: 1, predictTimeoutMs: 300, enqueue: 1 });
  const id = p.ids[0]!;
  const job = await settled(p.repo, id);
  assert.equal(job.status, 'SUCCEEDED');
  assert.deepEqual([job.attempts, job.outputWrites, predict.requests.length], [3, 1, 3]);
  assert.equal(job.lastError?.code, 'PREDICT_TIMEOUT');
  const retries = p.logs.filter((l) => l.message === 'job retry scheduled' && l.job_id === id);
  assert.deepEqual(retries.map((l) => l.error_code), ['PREDICT_FAILED', 'PREDICT_TIMEOUT']);
  assert.ok(retries.every((l) => typeof l.delay_ms === 'number' && l.delay_ms >= 0 && l.delay_ms <= 50), 'delays within the policy');
  assert.ok(p.logs.some((l) => l.message === 'job reaped' && l.action === 'retry due' && l.job_id === id));
});

test('a job that fails every attempt ends FAILED after maxAttempts with the last error', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('fail');
  const p = await pool([predict.url], { repository: { maxAttempts: 3 }, enqueue: 1 });
  const job = await settled(p.repo, p.ids[0]!);
  assert.equal(job.error?.code, 'PREDICT_FAILED');
  assert.match(job.error?.message ?? '', /onnxruntime session crashed/);
  assert.deepEqual([job.attempts, predict.requests.length], [3, 3]);
  assert.equal((await p.repo.deadLetters(1))[0]?.attempts, 3);
});

test('while no predict server answers, takes pause; the jobs run once one is back', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const p = await pool([`http://127.0.0.1:${port}`], { concurrency: 1, enqueue: 3 });
  const [first, ...rest] = p.ids as [string, ...string[]];
  await until(() => (p.logs.some((l) => l.message === 'predict unreachable; pausing takes until it answers') ? true : undefined));
  assert.equal((await p.repo.get(first))?.lastError?.code, 'PREDICT_UNAVAILABLE');
  for (const id of rest) assert.equal((await p.repo.get(id))?.attempts, 0, 'no attempt spent while predict is away');
  await fakePredict('png', port);
  for (const id of p.ids) assert.equal((await settled(p.repo, id)).status, 'SUCCEEDED');
  assert.deepEqual(await Promise.all(p.ids.map(async (id) => (await p.repo.get(id))?.attempts)), [2, 1, 1]);
});

test('a refused first URL fails over to the second', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  const p = await pool([`http://127.0.0.1:${await freePort()}`, predict.url], { concurrency: 1, enqueue: 2 });
  for (const id of p.ids) assert.equal((await settled(p.repo, id)).status, 'SUCCEEDED');
  assert.equal(predict.requests.length, 2);
});

test('close lets the running job finish, takes no new one, and is safe twice', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.hold();
  const p = await pool([predict.url], { concurrency: 1, enqueue: 1 });
  await predict.untilInFlight(1);
  const closing = p.pool.close();
  const waiting = await enqueue(p.repo, jpeg);
  predict.release();
  await Promise.all([closing, p.pool.close()]);
  await p.pool.close();
  assert.equal((await p.repo.get(p.ids[0]!))?.status, 'SUCCEEDED', 'the job in flight finished');
  assert.equal((await p.repo.get(waiting))?.status, 'QUEUED', 'no job taken after close');
  assert.deepEqual(await inspect.lRange(p.repo.keys.queue, 0, -1), [waiting]);
  assert.equal(predict.requests.length, 1);
});

test('a job still running when the grace period ends is handed back to the front without spending an attempt', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('hang');
  const p = await pool([predict.url], { concurrency: 1, pool: { shutdownGraceMs: 100 }, enqueue: 1 });
  const id = p.ids[0]!;
  await predict.untilInFlight(1);
  const newer = await enqueue(p.repo, jpeg);
  await p.pool.close();
  const job = await p.repo.get(id);
  assert.deepEqual([job?.status, job?.attempts, job?.lease], ['QUEUED', 0, null]);
  assert.deepEqual(await inspect.lRange(p.repo.keys.queue, 0, -1), [newer, id], 'at the front');
  assert.equal(await inspect.lLen(p.repo.keys.processing), 0);
  assert.ok(messages(p, id).includes('job released'));

  predict.mode = 'png';
  const next = await pool([predict.url], { prefix: p.prefix, concurrency: 1 });
  const done = await settled(next.repo, id);
  assert.deepEqual([done.status, done.attempts], ['SUCCEEDED', 1]);
});

test('after the TTL only the counters and the dead letters remain', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.next.push('fail', 'reject');
  const p = await pool([predict.url], { concurrency: 1, repository: { ttlSeconds: 1 }, enqueue: 3 });
  for (const id of p.ids) await settled(p.repo, id);
  const keys = () => inspect.keys(`${p.prefix}*`).then((k) => k.sort());
  const jobScoped = /_(job|image_in|image_out)$/;
  await until(async () => ((await keys()).some((k) => jobScoped.test(k)) ? undefined : true), 100);
  // The reaper's mutex exists for the moment of each round (every 50 ms here): stop the pool,
  // which releases it, before looking at what is left.
  await p.pool.close();
  assert.deepEqual(await keys(), [p.repo.keys.counts, p.repo.keys.deadLetter].sort(), 'no queue, lease, delay or orphan entry left behind');
});
