import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import {
  createLogger,
  createRedisClient,
  closeRedisClient,
  freePort,
  JobRepository,
  startRedisServer,
  type JobRecord,
  type RedisClient,
  type RedisServerHandle,
} from '@cutout/shared';
import { createPredictClient } from './predict.client.js';
import { createWorkerPool, type WorkerPool } from './worker-pool.js';
import { startFakePredict, type FakePredict } from './fake-predict.js';

const logger = createLogger('batch-test', 'error');
let redisServer: RedisServerHandle;
let png: Buffer;
let jpeg: Buffer;
/** A client for the test's own reads, separate from the pool's (which the pool closes). */
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

interface Harness {
  pool: WorkerPool;
  repo: JobRepository;
  prefix: string;
}

async function fakePredict(mode: FakePredict['mode'] = 'png'): Promise<FakePredict> {
  const s = await startFakePredict({ png, mode });
  cleanups.push(() => s.close());
  return s;
}

/** A pool with its own key prefix and its own Redis client, as main.ts builds it. */
async function startPool(urls: string[], options: { concurrency?: number; timeoutMs?: number; graceMs?: number; enqueue?: number } = {}) {
  const prefix = `bp-${randomUUID().slice(0, 8)}:`;
  const redis = createRedisClient(redisServer.url, { name: 'test-batch', onError: () => {} });
  await redis.connect();
  // The test reads and enqueues through its own client: the pool closes the one it is given.
  const repo = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300 });
  const ids: string[] = [];
  for (let i = 0; i < (options.enqueue ?? 0); i++) ids.push(await enqueue(repo));
  const concurrency = options.concurrency ?? 2;
  const predict = createPredictClient({ urls, timeoutMs: options.timeoutMs ?? 5_000, connections: concurrency });
  const repository = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 300 });
  const pool = createWorkerPool({ redis, repository, predict, logger, concurrency, shutdownGraceMs: options.graceMs ?? 5_000 });
  cleanups.push(() => pool.close());
  await pool.start();
  return { pool, repo, prefix, ids } satisfies Harness & { ids: string[] };
}

async function enqueue(repo: JobRepository): Promise<string> {
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: jpeg.toString('base64'), format: 'jpeg', width: 4, height: 3, bytes: jpeg.length });
  return id;
}

/** Polls until the job reaches SUCCEEDED or FAILED (the test runner's timeout bounds the wait). */
async function settled(repo: JobRepository, id: string): Promise<JobRecord> {
  for (;;) {
    const job = await repo.get(id);
    if (job && (job.status === 'SUCCEEDED' || job.status === 'FAILED')) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('queued jobs run oldest first to SUCCEEDED with the output stored', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  const { repo, prefix, ids } = await startPool([predict.url], { concurrency: 1, enqueue: 3 });
  for (const id of ids) {
    const job = await settled(repo, id);
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal(job.imageOutBase64, png.toString('base64'));
    assert.equal(await inspect.get(`${prefix}${id}_image_out`), png.toString('base64'));
  }
  assert.deepEqual(
    predict.requests.map((r) => r.jobId),
    ids,
    'taken from the right of job_id, oldest first',
  );
  assert.deepEqual(predict.requests[0]?.body, jpeg, 'predict got the decoded input bytes');
  assert.equal(await inspect.lLen(`${prefix}job_id_processing`), 0);
  assert.equal(await inspect.lLen(`${prefix}job_id`), 0);
});

test('concurrency N runs N jobs at once and never more', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.hold();
  const { repo, ids } = await startPool([predict.url], { concurrency: 3, enqueue: 7 });
  await predict.untilInFlight(3);
  assert.equal(await inspect.lLen(`${repo.keys.processing}`), 3, 'three jobs taken, the rest still queued');
  predict.release();
  for (const id of ids) assert.equal((await settled(repo, id)).status, 'SUCCEEDED');
  assert.equal(predict.maxInFlight, 3);
  assert.equal(predict.requests.length, 7);
});

test('a 422 from predict fails the job with predict code and message', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('reject');
  const { repo, ids, prefix } = await startPool([predict.url], { enqueue: 1 });
  const job = await settled(repo, ids[0]!);
  assert.equal(job.status, 'FAILED');
  assert.deepEqual(job.error, { code: 'IMAGE_DECODE_FAILED', message: 'the image is truncated; upload the whole file' });
  assert.equal(job.imageOutBase64, null);
  assert.equal(await inspect.lLen(`${prefix}job_id_processing`), 0);
});

test('unreachable predict fails the job with PREDICT_UNAVAILABLE', { timeout: 30_000 }, async () => {
  const { repo, ids } = await startPool([`http://127.0.0.1:${await freePort()}`], { enqueue: 1 });
  const job = await settled(repo, ids[0]!);
  assert.equal(job.status, 'FAILED');
  assert.equal(job.error?.code, 'PREDICT_UNAVAILABLE');
});

test('a refused first URL fails over to the second', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  const { repo, ids } = await startPool([`http://127.0.0.1:${await freePort()}`, predict.url], { concurrency: 1, enqueue: 2 });
  for (const id of ids) assert.equal((await settled(repo, id)).status, 'SUCCEEDED');
  assert.equal(predict.requests.length, 2);
});

test('predict hanging past the timeout fails the job with PREDICT_TIMEOUT', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('hang');
  const { repo, ids } = await startPool([predict.url], { timeoutMs: 200, enqueue: 1 });
  const job = await settled(repo, ids[0]!);
  assert.equal(job.status, 'FAILED');
  assert.equal(job.error?.code, 'PREDICT_TIMEOUT');
});

test('a 500 from predict fails the job with PREDICT_FAILED', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('fail');
  const { repo, ids } = await startPool([predict.url], { enqueue: 1 });
  const job = await settled(repo, ids[0]!);
  assert.equal(job.error?.code, 'PREDICT_FAILED');
  assert.match(job.error?.message ?? '', /onnxruntime session crashed/);
});

test('close lets the running job finish, takes no new one, and is safe twice', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.hold();
  const { pool, repo, prefix, ids } = await startPool([predict.url], { concurrency: 1, enqueue: 1 });
  await predict.untilInFlight(1);
  const closing = pool.close();
  const waiting = await enqueue(repo);
  predict.release();
  await Promise.all([closing, pool.close()]);
  await pool.close();
  const finished = await repo.get(ids[0]!);
  assert.equal(finished?.status, 'SUCCEEDED', 'the job in flight finished');
  assert.equal((await repo.get(waiting))?.status, 'QUEUED', 'no job taken after close');
  assert.deepEqual(await inspect.lRange(`${prefix}job_id`, 0, -1), [waiting]);
  assert.equal(predict.requests.length, 1);
});

test('a job still running when the grace period ends is abandoned in processing', { timeout: 30_000 }, async () => {
  const predict = await fakePredict('hang');
  const { pool, repo, prefix, ids } = await startPool([predict.url], { concurrency: 1, graceMs: 100, enqueue: 1 });
  await predict.untilInFlight(1);
  await pool.close();
  assert.equal((await repo.get(ids[0]!))?.status, 'RUNNING', 'not failed for a shutdown');
  assert.deepEqual(await inspect.lRange(`${prefix}job_id_processing`, 0, -1), ids);
});

test('workers resume by themselves after Redis restarts', { timeout: 60_000 }, async () => {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  const predict = await fakePredict();
  const redis = createRedisClient(server.url, { name: 'test-batch', onError: () => {} });
  await redis.connect();
  const repo = new JobRepository(redis, { keyPrefix: 'restart:', ttlSeconds: 300 });
  const pool = createWorkerPool({
    redis,
    repository: repo,
    predict: createPredictClient({ urls: [predict.url], timeoutMs: 5_000, connections: 2 }),
    logger,
    concurrency: 2,
    shutdownGraceMs: 5_000,
  });
  cleanups.push(() => pool.close());
  await pool.start();
  await server.kill();
  const revived = await startRedisServer({ port: server.port });
  cleanups.push(() => revived.stop());
  // The pool's own client reconnects by itself; enqueue through it once it is back.
  let id: string | null = null;
  while (id === null) {
    id = await enqueue(repo).catch(() => null);
    if (id === null) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal((await settled(repo, id)).status, 'SUCCEEDED');
});
