import { test, before, after } from 'node:test';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServerHandle } from '../process/redis-server.js';
import type { RedisClient } from './client.js';
import { jobKeys } from './keys.js';
import { JobRepository, type JobRepositoryOptions, type ReapResult } from './job.repository.js';

/** The claim counter of a fencing token ("<counter>:<nonce>"). */
const claimNumber = (token: string) => Number(token.split(':')[0]);

let server: RedisServerHandle;
let redis: RedisClient;

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

const newPrefix = () => `lease-${randomUUID().slice(0, 8)}:`;

function repoFor(options: Partial<JobRepositoryOptions> = {}) {
  return new JobRepository(redis, { keyPrefix: newPrefix(), ttlSeconds: 100, ...options });
}

async function enqueue(repo: JobRepository): Promise<string> {
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });
  return id;
}

async function takeOne(repo: JobRepository, worker = 'w') {
  const { job } = await repo.take(worker);
  assert.ok(job, 'a job was taken');
  return job;
}

/** Runs reaper rounds until one did something (a lease needs its deadline to pass first). */
async function reapUntil(repo: JobRepository, done: (r: ReapResult) => boolean): Promise<ReapResult> {
  for (;;) {
    const result = await repo.reap();
    if (done(result)) return result;
    await sleep(20);
  }
}

test('fencing: a worker whose lease was reaped and re-taken cannot write; the new owner writes once', async () => {
  const repo = repoFor({ leaseMs: 50 });
  const id = await enqueue(repo);
  const first = await takeOne(repo, 'host:1:0');
  const reaped = await reapUntil(repo, (r) => r.requeued.length > 0);
  assert.deepEqual(reaped.requeued, [id]);
  const requeued = await repo.get(id);
  assert.equal(requeued?.status, 'QUEUED');
  assert.deepEqual(requeued?.lastError?.code, 'WORKER_LOST');

  const second = await takeOne(repo, 'host:2:0');
  assert.equal(claimNumber(second.token), claimNumber(first.token) + 1, 'the token grows with every claim');
  assert.equal(second.attempts, 2);
  assert.equal(await repo.renew(id, first.token), false);
  assert.equal(await repo.complete(id, first.token, 'bGF0ZQ=='), false, 'late write refused');
  assert.equal(await repo.fail(id, first.token, 'PREDICT_FAILED', 'late'), false);
  assert.equal(await repo.retry(id, first.token, 'PREDICT_FAILED', 'late', 0), 'lost');
  assert.equal(await repo.release(id, first.token), false);
  assert.equal((await repo.get(id))?.lease?.owner, 'host:2:0', 'the refused calls changed nothing');
  assert.deepEqual(await redis.lRange(repo.keys.processing, 0, -1), [id]);

  assert.equal(await repo.complete(id, second.token, 'c2Vjb25k'), true);
  assert.equal(await repo.complete(id, first.token, 'bGF0ZQ=='), false, 'still refused after the job ended');
  const done = await repo.get(id);
  assert.equal(done?.imageOutBase64, 'c2Vjb25k');
  assert.equal(done?.outputWrites, 1);
  assert.equal((await repo.stats()).succeeded, 1);
});

test('renew moves the deadline on and keeps the reaper away', async () => {
  const repo = repoFor({ leaseMs: 60_000 });
  const id = await enqueue(repo);
  const job = await takeOne(repo);
  const before = (await repo.get(id))!.lease!.deadline;
  await sleep(5);
  assert.equal(await repo.renew(id, job.token), true);
  const after = (await repo.get(id))!.lease!.deadline;
  assert.ok(after > before, `${after} > ${before}`);
  assert.equal(await redis.zScore(repo.keys.leases, id), after);
  assert.deepEqual(await repo.reap(), { promoted: [], requeued: [], failed: [], orphans: [], deadlines: [] });
  await repo.complete(id, job.token, 'b3V0');
  assert.equal(await repo.renew(id, job.token), false, 'no lease to renew once the job ended');
});

test('an expired lease is requeued until the job has been taken maxAttempts times, then WORKER_LOST', async () => {
  const repo = repoFor({ leaseMs: 30, maxAttempts: 2 });
  const id = await enqueue(repo);
  await takeOne(repo);
  assert.deepEqual((await reapUntil(repo, (r) => r.requeued.length > 0)).requeued, [id]);
  assert.deepEqual(await redis.lRange(repo.keys.queue, 0, -1), [id]);
  await takeOne(repo);
  const result = await reapUntil(repo, (r) => r.failed.length > 0);
  assert.deepEqual(result, { promoted: [], requeued: [], failed: [id], orphans: [], deadlines: [] });
  const job = await repo.get(id);
  assert.equal(job?.status, 'FAILED');
  assert.equal(job?.error?.code, 'WORKER_LOST');
  assert.match(job?.error?.message ?? '', /stopped responding 2 times/);
  assert.equal((await repo.deadLetters(1))[0]?.code, 'WORKER_LOST');
  assert.equal(await redis.lLen(repo.keys.processing), 0);
  assert.equal(await redis.zCard(repo.keys.leases), 0);
  assert.equal(await redis.lLen(repo.keys.queue), 0);
});

test('retry waits in job_delayed, comes back at the front when due, and fails once attempts are used up', async () => {
  const repo = repoFor({ leaseMs: 60_000, maxAttempts: 2 });
  const id = await enqueue(repo);
  const newer = await enqueue(repo);
  const first = await takeOne(repo);
  assert.equal(await repo.retry(id, first.token, 'PREDICT_TIMEOUT', 'no answer in 5 s', 60_000), 'retry');
  const waiting = await repo.get(id);
  assert.equal(waiting?.status, 'QUEUED');
  assert.deepEqual(waiting?.lastError, { code: 'PREDICT_TIMEOUT', message: 'no answer in 5 s' });
  assert.equal(waiting?.error, null);
  assert.equal(await redis.zScore(repo.keys.delayed, id), waiting?.retryAt);
  assert.equal(await redis.lLen(repo.keys.processing), 0);
  assert.deepEqual((await repo.reap()).promoted, [], 'not due yet');
  assert.equal(await repo.retry(id, first.token, 'PREDICT_TIMEOUT', 'again', 60_000), 'retry', 'a repeat is answered as done');
  assert.equal(await redis.zScore(repo.keys.delayed, id), waiting?.retryAt, '...and changes nothing');

  await redis.zAdd(repo.keys.delayed, { score: 0, value: id }); // bring the due time forward
  assert.deepEqual((await repo.reap()).promoted, [id]);
  assert.deepEqual(await redis.lRange(repo.keys.queue, 0, -1), [newer, id], 'ahead of newer work');
  const second = await takeOne(repo);
  assert.deepEqual([second.id, second.attempts, claimNumber(second.token)], [id, 2, 2]);
  assert.equal(await repo.retry(id, second.token, 'PREDICT_FAILED', 'predict answered 500', 10), 'failed');
  const failed = await repo.get(id);
  assert.deepEqual(failed?.error, { code: 'PREDICT_FAILED', message: 'predict answered 500' });
  assert.equal(await redis.zCard(repo.keys.delayed), 0);
  assert.deepEqual((await repo.deadLetters(5)).map((d) => [d.jobId, d.code, d.attempts]), [[id, 'PREDICT_FAILED', 2]]);
});

test('release hands the job back to the front without spending an attempt, once', async () => {
  const repo = repoFor({ leaseMs: 60_000 });
  const older = await enqueue(repo);
  const newer = await enqueue(repo);
  const job = await takeOne(repo);
  assert.equal(job.id, older);
  assert.equal(await repo.release(older, job.token), true);
  assert.equal(await repo.release(older, job.token), true, 'a repeat is answered as done');
  assert.deepEqual(await redis.lRange(repo.keys.queue, 0, -1), [newer, older], 'at the front, only once');
  const record = await repo.get(older);
  assert.equal(record?.status, 'QUEUED');
  assert.equal(record?.attempts, 0);
  assert.equal(record?.lease, null);
  assert.equal(await redis.zCard(repo.keys.leases), 0);
  const again = await takeOne(repo);
  assert.deepEqual([again.id, again.attempts, claimNumber(again.token)], [older, 1, 2]);
});

test('an id left in processing without a lease is put back after a grace of one lease', async () => {
  const prefix = newPrefix();
  const repo = repoFor({ keyPrefix: prefix, leaseMs: 60_000 });
  const orphan = await enqueue(repo);
  const expired = await enqueue(repo);
  const leased = await enqueue(repo);
  // As an older batch left them: moved into processing and marked RUNNING, with no lease.
  for (const id of [orphan, expired]) {
    await redis.lRem(repo.keys.queue, 0, id);
    await redis.lPush(repo.keys.processing, id);
    await redis.hSet(jobKeys(prefix, id).record, 'status', 'RUNNING');
  }
  await takeOne(repo);
  assert.deepEqual(await repo.reap(), { promoted: [], requeued: [], failed: [], orphans: [], deadlines: [] });
  const seen = await redis.hGetAll(repo.keys.orphans);
  assert.deepEqual(Object.keys(seen).sort(), [orphan, expired].sort(), 'noted, not moved: the leased job is left alone');

  await redis.del(jobKeys(prefix, expired).record);
  for (const id of [orphan, expired]) await redis.hSet(repo.keys.orphans, id, 0); // seen long ago
  assert.deepEqual(await repo.reap(), { promoted: [], requeued: [], failed: [], orphans: [orphan], deadlines: [] });
  assert.deepEqual(await redis.lRange(repo.keys.processing, 0, -1), [leased]);
  assert.deepEqual(await redis.lRange(repo.keys.queue, 0, -1), [orphan]);
  assert.equal((await repo.get(orphan))?.status, 'QUEUED');
  assert.equal(await redis.exists(repo.keys.orphans), 0, 'nothing left to remember');
});

test('the reaper mutex admits one holder; only the holder can release it', async () => {
  const prefix = newPrefix();
  const a = repoFor({ keyPrefix: prefix });
  const b = repoFor({ keyPrefix: prefix });
  assert.equal(await a.acquireReaperLock('pool-a', 10_000), true);
  assert.equal(await b.acquireReaperLock('pool-b', 10_000), false);
  assert.equal(await b.releaseReaperLock('pool-b'), false);
  assert.equal(await redis.get(a.keys.reaperLock), 'pool-a');
  assert.equal(await a.releaseReaperLock('pool-a'), true);
  assert.equal(await b.acquireReaperLock('pool-b', 10_000), true);
  const ttl = await redis.pTTL(b.keys.reaperLock);
  assert.ok(ttl > 0 && ttl <= 10_000, `the lock expires by itself (${ttl})`);
});
