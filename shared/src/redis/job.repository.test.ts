import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { createRedisClient, closeRedisClient, type RedisClient } from './client.js';
import { JobRepository, type JobRepositoryOptions } from './job.repository.js';
import { DEFAULT_JOB_OPTIONS } from '../contract/options.js';
import { WAKE_CAP } from './scripts/lua-lib.js';

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

function repoFor(prefix: string, options: Partial<JobRepositoryOptions> = {}) {
  return new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 100, ...options });
}

test('enqueue writes the contract keys and pushes the id on the left; their TTL starts when the job ends', async () => {
  const repo = repoFor('enq:');
  const a = newJob();
  const b = newJob();
  await repo.enqueue(a);
  await repo.enqueue(b);
  assert.deepEqual(await redis.lRange('enq:job_id', 0, -1), [b.id, a.id]);
  assert.equal(await redis.get(`enq:${a.id}_image_in`), 'aGVsbG8=');
  // A job that waits never expires under its client (its age is bounded by deadlines and admission).
  for (const key of [`enq:${a.id}_image_in`, `enq:${a.id}_job`]) assert.equal(await redis.ttl(key), -1, `${key} has no TTL while queued`);
  const record = await repo.get(a.id);
  assert.equal(record?.status, 'QUEUED');
  assert.equal(record?.imageOutBase64, null);
  assert.equal(record?.lease, null);
});

test('take leases the oldest job in one step; complete stores the output once', async () => {
  const repo = repoFor('run:', { leaseMs: 60_000 });
  const first = newJob();
  const second = newJob();
  await repo.enqueue(first);
  await repo.enqueue(second);
  const { job, failed, dropped } = await repo.take('host:1:0');
  // The fencing token is the claim counter and a random nonce (see job.fencing.test.ts).
  assert.match(job?.token ?? '', /^1:[\w-]{16}$/);
  assert.deepEqual(job, { id: first.id, token: job?.token, attempts: 1, group: null, worker: 'host:1:0', imageBase64: 'aGVsbG8=', options: DEFAULT_JOB_OPTIONS, input: { format: 'png', width: 2, height: 3 } });
  assert.deepEqual([failed, dropped], [[], 0]);
  assert.deepEqual(await redis.lRange('run:job_id_processing', 0, -1), [first.id]);
  const running = await repo.get(first.id);
  assert.equal(running?.status, 'RUNNING');
  assert.equal(running?.lease?.owner, 'host:1:0');
  assert.equal(running?.lease?.token, job?.token);
  assert.equal(await redis.zScore('run:job_leases', first.id), running?.lease?.deadline);

  assert.equal(await repo.complete(first.id, job!.token, 'b3V0'), true);
  const done = await repo.get(first.id);
  assert.equal(done?.status, 'SUCCEEDED');
  assert.equal(done?.imageOutBase64, 'b3V0');
  assert.equal(done?.outputWrites, 1);
  assert.equal(done?.lease, null);
  assert.ok((done?.finishedAt ?? 0) >= (done?.createdAt ?? Infinity), 'times from the same clock');
  assert.equal(await redis.lLen('run:job_id_processing'), 0);
  assert.equal(await redis.zCard('run:job_leases'), 0);
  assert.equal(await repo.complete(first.id, job!.token, 'again'), true, 'a repeat of the same write is answered as done');
  assert.equal((await repo.get(first.id))?.outputWrites, 1, '...and not applied twice');
  assert.deepEqual(await repo.stats(), {
    queued: 1,
    queuedByPriority: { high: 0, normal: 1, low: 0 },
    running: 0,
    delayed: 0,
    deadLetters: 0,
    submitted: 2,
    succeeded: 1,
    failed: 0,
    cancelled: 0,
    callbacksPending: 0,
    callbacksDelivered: 0,
    callbacksFailed: 0,
  });
});

test('take returns no job on an empty queue', async () => {
  assert.deepEqual(await repoFor('empty:').take('w'), { job: null, failed: [], dropped: 0 });
});

test('take drops expired ids and fails jobs whose input expired or whose attempts are used up', async () => {
  const repo = repoFor('settle:', { maxAttempts: 2 });
  const gone = newJob();
  const noInput = newJob();
  const worn = newJob();
  const good = newJob();
  for (const job of [gone, noInput, worn, good]) await repo.enqueue(job);
  await redis.del([`settle:${gone.id}_job`, `settle:${gone.id}_image_in`, `settle:${noInput.id}_image_in`]);
  await redis.hSet(`settle:${worn.id}_job`, 'attempts', 2);

  const result = await repo.take('w');
  assert.equal(result.job?.id, good.id);
  assert.equal(result.dropped, 1);
  assert.deepEqual(result.failed, [
    { id: noInput.id, code: 'INPUT_EXPIRED' },
    { id: worn.id, code: 'TOO_MANY_ATTEMPTS' },
  ]);
  assert.equal((await repo.get(noInput.id))?.error?.code, 'INPUT_EXPIRED');
  const wornRecord = await repo.get(worn.id);
  assert.equal(wornRecord?.status, 'FAILED');
  assert.match(wornRecord?.error?.message ?? '', /taken 2 times/);
  assert.deepEqual(
    (await repo.deadLetters(10)).map((d) => [d.jobId, d.code]),
    [
      [worn.id, 'TOO_MANY_ATTEMPTS'],
      [noInput.id, 'INPUT_EXPIRED'],
    ],
  );
  assert.equal(await repo.get(gone.id), null);
  assert.deepEqual(await redis.lRange('settle:job_id_processing', 0, -1), [good.id]);
});

test('fail records the reason and dead-letters it; the dead-letter list is capped', async () => {
  const repo = repoFor('dead:', { deadLetterMax: 2 });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const job = newJob();
    ids.push(job.id);
    await repo.enqueue(job);
    const taken = (await repo.take('w')).job!;
    assert.equal(await repo.fail(taken.id, taken.token, 'IMAGE_DECODE_FAILED', `bad pixels ${i}`), true);
  }
  const record = await repo.get(ids[0]!);
  assert.equal(record?.status, 'FAILED');
  assert.deepEqual(record?.error, { code: 'IMAGE_DECODE_FAILED', message: 'bad pixels 0' });
  assert.equal(await redis.lLen('dead:job_id_processing'), 0);
  const letters = await repo.deadLetters(10);
  assert.deepEqual(
    letters.map((d) => [d.jobId, d.code, d.message, d.attempts]),
    [
      [ids[2], 'IMAGE_DECODE_FAILED', 'bad pixels 2', 1],
      [ids[1], 'IMAGE_DECODE_FAILED', 'bad pixels 1', 1],
    ],
    'newest first, capped at deadLetterMax',
  );
  assert.ok(letters.every((d) => d.failedAt >= (record?.createdAt ?? Infinity)));
  assert.deepEqual(await repo.deadLetters(1).then((d) => d.map((x) => x.jobId)), [ids[2]]);
  const stats = await repo.stats();
  assert.deepEqual([stats.failed, stats.deadLetters], [3, 2]);
});

test('enqueue refuses, writing nothing, once the queue holds max depth jobs', async () => {
  const repo = repoFor('full:', { maxQueueDepth: 2 });
  const first = newJob();
  const second = newJob();
  assert.deepEqual(await repo.enqueue(first), { accepted: true, depth: 1, id: first.id, repeated: false });
  assert.deepEqual(await repo.enqueue(second), { accepted: true, depth: 2, id: second.id, repeated: false });
  const refused = newJob();
  assert.deepEqual(await repo.enqueue(refused), { accepted: false, depth: 2, reason: 'queue' });
  assert.equal(await redis.exists([`full:${refused.id}_image_in`, `full:${refused.id}_job`]), 0);
  assert.equal((await repo.stats()).submitted, 2);
});

test('waitForWork returns once an id arrives and leaves the queue as it was', async () => {
  const repo = repoFor('wait:');
  assert.equal(await repo.waitForWork(blocking, 0.1), false);
  const waiting = repo.waitForWork(blocking, 5);
  const a = newJob();
  await repo.enqueue(a);
  assert.equal(await waiting, true);
  const b = newJob();
  await repo.enqueue(b);
  assert.equal(await repo.waitForWork(blocking, 5), true);
  assert.deepEqual(await redis.lRange('wait:job_id', 0, -1), [b.id, a.id], 'nothing moved');
  assert.equal((await repo.take('w')).job?.id, a.id);
});

test('the options are checked when the repository is built', () => {
  assert.throws(() => repoFor('bad:', { maxAttempts: 0 }), /maxAttempts must be a whole number from 1/);
  assert.throws(() => repoFor('bad:', { leaseMs: 1.5 }), /leaseMs/);
});

test('every key of an ended job expires JOB_TTL_SECONDS after its end; waiting jobs keep theirs', { timeout: 20_000 }, async () => {
  const repo = repoFor('ttl:', { ttlSeconds: 1, leaseMs: 60_000 });
  const jobs = [newJob(), newJob(), newJob(), newJob()];
  for (const job of jobs) await repo.enqueue(job);
  const a = (await repo.take('w')).job!;
  await repo.complete(a.id, a.token, 'b3V0');
  const b = (await repo.take('w')).job!;
  await repo.fail(b.id, b.token, 'IMAGE_DECODE_FAILED', 'bad');
  const c = (await repo.take('w')).job!;
  assert.equal(await repo.retry(c.id, c.token, 'PREDICT_FAILED', '500', 0), 'retry');
  await repo.reap();
  const ended = [a.id, b.id];
  const keys = () => redis.keys('ttl:*').then((k) => k.sort());
  while ((await keys()).some((k) => ended.some((id) => k.includes(id)))) await sleep(100);
  // The retried job and the one never taken are still whole, and run as ever.
  const waiting = [c.id, jobs[3]!.id];
  for (const id of waiting) assert.equal((await repo.get(id))?.status, 'QUEUED', id);
  const left = (await keys()).filter((k) => k.includes('-'));
  assert.deepEqual(left, waiting.flatMap((id) => [`ttl:${id}_image_in`, `ttl:${id}_job`]).sort());
  const next = (await repo.take('w')).job!;
  assert.ok(waiting.includes(next.id));
});

test('an enqueue that runs after the caller gave up (notAfter passed, by Redis clock) writes nothing', async () => {
  const repo = repoFor('late:');
  const job = newJob();
  const seconds = Number((await redis.time())[0]);
  const result = await repo.enqueue({ ...job, notAfter: seconds * 1000 - 1_000 });
  assert.deepEqual(result, { accepted: false, depth: 0, reason: 'late' });
  assert.deepEqual(await redis.keys('late:*'), [], 'no key written');
  const onTime = await repo.enqueue({ ...job, notAfter: seconds * 1000 + 60_000 });
  assert.equal(onTime.accepted, true);
});

test('every claim gets a nonce of its own, past the end of a batch of random bytes', async () => {
  const repo = repoFor('nonce:');
  const nonces = new Set<string>();
  for (let i = 0; i < 300; i++) {
    await repo.enqueue(newJob());
    const { job } = await repo.take('w');
    const nonce = job!.token.split(':')[1]!;
    assert.match(nonce, /^[\w-]{16}$/);
    nonces.add(nonce);
  }
  assert.equal(nonces.size, 300);
});

test('each enqueue leaves one wake token, and the tokens stop growing at WAKE_CAP', async () => {
  const repo = repoFor('cap:');
  await repo.enqueue(newJob());
  await repo.enqueue(newJob());
  assert.equal(await redis.lLen(repo.keys.wake), 2);
  await redis.rPush(repo.keys.wake, Array.from({ length: WAKE_CAP }, () => '1'));
  await repo.enqueue(newJob());
  assert.equal(await redis.lLen(repo.keys.wake), WAKE_CAP);
});

/** EVALSHA calls Redis has counted so far (each take attempt is one). */
async function scriptCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

test('takes at once through one repository each get their own job, oldest first, with no take lost to another', async () => {
  const repo = repoFor('lane:', { leaseMs: 60_000 });
  const jobs = [newJob(), newJob(), newJob(), newJob()];
  for (const job of jobs) await repo.enqueue(job);
  const calls = await scriptCalls();
  const taken = await Promise.all(jobs.map((_, i) => repo.take(`host:1:${i}`)));
  assert.deepEqual(taken.map((t) => t.job?.id), jobs.map((j) => j.id), 'in submit order, one each');
  // Four workers reading the same oldest id together would run the script for it up to four times.
  assert.equal((await scriptCalls()) - calls, 4, 'one take script per job');
  assert.equal((await repo.take('host:1:4')).job, null);
});

test('a take starts from the id the previous one left, and a stale one still ends in the oldest job', async () => {
  const mine = repoFor('hint:', { leaseMs: 60_000 });
  const other = repoFor('hint:', { leaseMs: 60_000 });
  const [a, b, c] = [newJob(), newJob(), newJob()];
  for (const job of [a, b, c]) await mine.enqueue(job);
  assert.equal((await mine.take('host:1:0')).job?.id, a.id);
  // Another batch process takes b, the id mine kept as its next candidate.
  assert.equal((await other.take('host:2:0')).job?.id, b.id);
  assert.equal((await mine.take('host:1:1')).job?.id, c.id);
  // A high-priority job that arrives after a hint was kept goes before it.
  const [d, e, high] = [newJob(), newJob(), newJob()];
  await mine.enqueue(d);
  await mine.enqueue(e);
  assert.equal((await mine.take('host:1:2')).job?.id, d.id);
  await mine.enqueue({ ...high, priority: 'high' });
  assert.equal((await mine.take('host:1:3')).job?.id, high.id, 'the high-priority job, not the kept e');
  assert.equal((await mine.take('host:1:4')).job?.id, e.id);
  assert.equal((await mine.take('host:1:5')).job, null);
});
