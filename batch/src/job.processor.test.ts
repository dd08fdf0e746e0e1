import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger, createRedisClient, closeRedisClient, JobRepository, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import { createJobProcessor } from './job.processor.js';

const logger = createLogger('batch-test', 'error');
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

async function takeNewJob(repo: JobRepository): Promise<string> {
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 1, height: 1, bytes: 5 });
  assert.equal(await repo.take(blocking, 1), id);
  return id;
}

test('an unexpected error inside a job fails that job with INTERNAL instead of throwing', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'proc-internal:', ttlSeconds: 60 });
  const id = await takeNewJob(repo);
  const processor = createJobProcessor({
    repository: repo,
    logger,
    predict: {
      predict: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
    },
  });
  assert.equal(await processor.process(id), 'failed');
  const job = await repo.get(id);
  assert.equal(job?.status, 'FAILED');
  assert.equal(job?.error?.code, 'INTERNAL');
  assert.match(job?.error?.message ?? '', /cannot read properties of undefined/);
  assert.equal(await redis.lLen('proc-internal:job_id_processing'), 0);
});

test('a taken job whose record expired is skipped without calling predict', async () => {
  const repo = new JobRepository(redis, { keyPrefix: 'proc-gone:', ttlSeconds: 60 });
  const id = await takeNewJob(repo);
  await redis.del([`proc-gone:${id}_job`, `proc-gone:${id}_image_in`]);
  let called = false;
  const processor = createJobProcessor({
    repository: repo,
    logger,
    predict: {
      predict: async () => {
        called = true;
        return Buffer.alloc(0);
      },
    },
  });
  assert.equal(await processor.process(id), 'skipped');
  assert.equal(called, false);
  assert.equal(await redis.lLen('proc-gone:job_id_processing'), 0);
});
