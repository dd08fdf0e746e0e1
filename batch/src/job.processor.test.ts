import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRedisClient,
  closeRedisClient,
  JobRepository,
  jobKeys,
  startRedisServer,
  type JobRepositoryOptions,
  type RedisClient,
  type RedisServerHandle,
  type TakenJob,
} from '@cutout/shared';
import { startTestRedis, stopTestRedis } from '@cutout/shared/testing';
import { createJobProcessor, type Predictor } from './job.processor.js';
import { memoryLogger, until } from './harness.js';
import { retryDelayMs } from './retry-policy.js';

let server: RedisServerHandle;
let redis: RedisClient;
const retry = { baseDelayMs: 10, maxDelayMs: 100 };

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

async function takeNewJob(repo: JobRepository): Promise<TakenJob> {
  await repo.enqueue({ id: randomUUID(), imageBase64: 'aGVsbG8=', format: 'png', width: 1, height: 1, bytes: 5 });
  const { job } = await repo.take('test:1:0');
  assert.ok(job);
  return job;
}

function repoOn(client: RedisClient, options: Partial<JobRepositoryOptions> = {}) {
  return new JobRepository(client, { keyPrefix: `proc-${randomUUID().slice(0, 8)}:`, ttlSeconds: 60, ...options });
}

test('retryDelayMs doubles from the base, stops at the cap, and jitters within the upper half', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => retryDelayMs(n, policy, () => 1)), [100, 200, 400, 800, 1_000, 1_000]);
  assert.deepEqual([1, 2, 5].map((n) => retryDelayMs(n, policy, () => 0)), [50, 100, 500]);
});

test('an unexpected error inside a job fails that job with INTERNAL instead of throwing', async () => {
  const repo = repoOn(redis);
  const job = await takeNewJob(repo);
  const { logger } = memoryLogger();
  const predict: Predictor = {
    predict: async () => {
      throw new TypeError('cannot read properties of undefined');
    },
  };
  const processor = createJobProcessor({ repository: repo, logger, predict, retry });
  assert.deepEqual(await processor.process(job, { worker: 'w' }), { outcome: 'failed', errorCode: 'INTERNAL' });
  const record = await repo.get(job.id);
  assert.equal(record?.status, 'FAILED');
  assert.equal(record?.error?.code, 'INTERNAL');
  assert.match(record?.error?.message ?? '', /cannot read properties of undefined/);
  assert.equal(await redis.lLen(repo.keys.processing), 0);
});

test('a lease lost while predict runs aborts the call and writes nothing', async () => {
  const prefix = `proc-${randomUUID().slice(0, 8)}:`;
  const repo = repoOn(redis, { keyPrefix: prefix, leaseMs: 300 });
  const job = await takeNewJob(repo);
  const { logger, lines } = memoryLogger();
  let aborted = false;
  const predict: Predictor = {
    predict: (_id, _bytes, options) =>
      new Promise((_, reject) => {
        // As if the reaper had handed the job to another worker meanwhile.
        void redis.hSet(jobKeys(prefix, job.id).record, 'lease_token', '99');
        options?.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(options.signal?.reason);
        });
      }),
  };
  const processor = createJobProcessor({ repository: repo, logger, predict, retry });
  assert.deepEqual(await processor.process(job, { worker: 'w' }), { outcome: 'lost' });
  assert.equal(aborted, true);
  const record = await repo.get(job.id);
  assert.deepEqual([record?.status, record?.lease?.token, record?.imageOutBase64], ['RUNNING', '99', null], 'nothing written');
  assert.ok(lines.some((l) => l.message === 'lease lost' && l.job_id === job.id && l.lease_token === job.token));
});

async function ownRedis(dir: string, port?: number): Promise<RedisServerHandle> {
  return startRedisServer({ dir, appendOnly: true, ...(port === undefined ? {} : { port }) });
}

test('Redis down while the outcome is written: the write is retried until it lands, once', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-batch-'));
  let own = await ownRedis(dir);
  const client = createRedisClient(own.url, { name: 'test-own', onError: () => {} });
  await client.connect();
  const repo = repoOn(client, { leaseMs: 10_000 });
  const job = await takeNewJob(repo);
  const { logger, lines } = memoryLogger();
  const predict: Predictor = {
    predict: async () => {
      await own.stop(); // SIGTERM: Redis writes its append-only file before it goes
      setTimeout(() => void ownRedis(dir, own.port).then((revived) => (own = revived)), 300);
      return { bytes: Buffer.from('png'), timings: {} };
    },
  };
  try {
    const processor = createJobProcessor({ repository: repo, logger, predict, retry });
    assert.deepEqual(await processor.process(job, { worker: 'w' }), { outcome: 'succeeded' });
    const record = await repo.get(job.id);
    assert.equal(record?.status, 'SUCCEEDED');
    assert.equal(record?.outputWrites, 1);
    assert.ok(lines.some((l) => l.message === 'outcome write failed; retrying while the lease lasts'));
  } finally {
    await closeRedisClient(client);
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Redis down until the lease runs out: the outcome is given up and the job left to the reaper', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-batch-'));
  const own = await ownRedis(dir);
  const client = createRedisClient(own.url, { name: 'test-own', onError: () => {} });
  await client.connect();
  const repo = repoOn(client, { leaseMs: 300 });
  const job = await takeNewJob(repo);
  const { logger, lines } = memoryLogger();
  const predict: Predictor = {
    predict: async () => {
      await own.stop();
      return { bytes: Buffer.from('png'), timings: {} };
    },
  };
  let revived: RedisServerHandle | null = null;
  try {
    const processor = createJobProcessor({ repository: repo, logger, predict, retry });
    assert.deepEqual(await processor.process(job, { worker: 'w' }), { outcome: 'unrecorded' });
    assert.ok(lines.some((l) => l.message === 'job outcome not recorded' && l.job_id === job.id));
    revived = await ownRedis(dir, own.port);
    const record = await until(() => repo.get(job.id).catch(() => undefined));
    assert.equal(record?.status, 'RUNNING', 'still claimed: the reaper will requeue it');
    assert.equal(record?.lease?.token, job.token);
  } finally {
    await closeRedisClient(client);
    await revived?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
