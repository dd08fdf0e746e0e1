import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRedisClient,
  closeRedisClient,
  jobKeys,
  JobRepository,
  startRedisServer,
  type RedisClient,
  type RedisServerHandle,
} from '@cutout/shared';
import { startFakePredict, type FakePredict } from './fake-predict.js';
import { enqueue, fakeCutout, memoryLogger, settled, startPool, until, type PoolSetup, type RunningPool } from './harness.js';
import { createJobProcessor } from './job.processor.js';
import { JobWaiter, WaitOverdueError } from './job-waiter.js';

let redisServer: RedisServerHandle;
let inspect: RedisClient;
const png = await fakeCutout();
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  redisServer = await startRedisServer();
  inspect = await connect(redisServer.url);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await redisServer.stop();
});

async function connect(url: string): Promise<RedisClient> {
  const client = createRedisClient(url, { name: 'test-inspect', onError: () => {} });
  await client.connect();
  cleanups.push(() => closeRedisClient(client));
  return client;
}

async function fakePredict(): Promise<FakePredict> {
  const s = await startFakePredict({ png });
  cleanups.push(() => s.close());
  return s;
}

async function pool(urls: string[], options: Partial<PoolSetup> = {}): Promise<RunningPool> {
  const running = await startPool({ redisUrl: redisServer.url, inspect, predictUrls: urls, ...options });
  cleanups.push(() => running.pool.close());
  return running;
}

const newPrefix = () => `bf-${randomUUID().slice(0, 8)}:`;
const reaped = (p: RunningPool, action: string) => p.logs.filter((l) => l.message === 'job reaped' && l.action === action).map((l) => l.job_id);

/** The reaper logs after its Lua step returns, so Redis can show the outcome a moment before the log does. */
async function reapedEventually(p: RunningPool, action: string, id: string): Promise<unknown[]> {
  for (let i = 0; i < 200 && !reaped(p, action).includes(id); i++) await new Promise((r) => setTimeout(r, 10));
  return reaped(p, action);
}

/** A worker that took a job and then died: its lease is short and nothing renews it. */
async function deadWorkerTakes(prefix: string, count: number, maxAttempts = 3): Promise<string[]> {
  const repo = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300, leaseMs: 100, maxAttempts });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await enqueue(repo));
  for (let i = 0; i < count; i++) assert.ok((await repo.take('dead:1:0')).job);
  return ids;
}

test('a job longer than its lease keeps it through heartbeats and runs once', { timeout: 30_000 }, async () => {
  const predict = await fakePredict();
  predict.hold();
  const p = await pool([predict.url], { concurrency: 1, repository: { leaseMs: 300 } });
  const id = await enqueue(p.repo);
  await predict.untilInFlight(1);
  const first = (await p.repo.get(id))!.lease!.deadline;
  await until(async () => (((await p.repo.get(id))?.lease?.deadline ?? 0) > first + 3 * 300 ? true : undefined));
  predict.release();
  const job = await settled(p.repo, id);
  assert.deepEqual([job.status, job.attempts, job.outputWrites, predict.requests.length], ['SUCCEEDED', 1, 1, 1]);
  assert.deepEqual(reaped(p, 'requeued'), []);
});

test('fencing: a stalled worker whose job was reaped and run by another cannot write its result', { timeout: 30_000 }, async () => {
  const prefix = newPrefix();
  const short = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300, leaseMs: 100 });
  const id = await enqueue(short);
  const { job } = await short.take('stalled:1:0');
  assert.ok(job && job.id === id);
  // Its heartbeat runs on a 60 s lease, so it never renews the 100 ms one it holds: a stalled worker.
  const stalledRepo = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300, leaseMs: 60_000 });
  let resume!: () => void;
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  const stalledLog = memoryLogger();
  const stalled = createJobProcessor({
    repository: stalledRepo,
    logger: stalledLog.logger,
    retry: { baseDelayMs: 10, maxDelayMs: 10 },
    predict: { predict: () => resumed.then(() => ({ bytes: Buffer.from('late result'), timings: {} })) },
  }).process(job, { worker: 'stalled:1:0' });

  const predict = await fakePredict();
  const p = await pool([predict.url], { prefix });
  const done = await settled(p.repo, id);
  assert.deepEqual([done.status, done.attempts], ['SUCCEEDED', 2]);
  assert.deepEqual(await reapedEventually(p, 'requeued', id), [id]);
  resume();
  assert.deepEqual(await stalled, { outcome: 'lost' });
  const after = await p.repo.get(id);
  assert.equal(after?.imageOutBase64, png.toString('base64'), 'the output is the second worker\'s');
  assert.equal(after?.outputWrites, 1);
  assert.ok(stalledLog.lines.some((l) => l.message === 'late write refused' && l.job_id === id && String(l.lease_token).startsWith('1:')));
});

test('the reaper fails a job as WORKER_LOST once its workers died maxAttempts times', { timeout: 30_000 }, async () => {
  const prefix = newPrefix();
  const [id] = (await deadWorkerTakes(prefix, 1, 1)) as [string];
  const p = await pool([(await fakePredict()).url], { prefix, repository: { maxAttempts: 1 } });
  const job = await settled(p.repo, id);
  assert.deepEqual([job.status, job.error?.code, job.attempts], ['FAILED', 'WORKER_LOST', 1]);
  assert.deepEqual(await reapedEventually(p, 'failed', id), [id]);
  assert.equal((await p.repo.deadLetters(1))[0]?.code, 'WORKER_LOST');
});

test('an id left in processing without a lease is run after a grace of one lease', { timeout: 30_000 }, async () => {
  const prefix = newPrefix();
  const repo = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300 });
  const id = await enqueue(repo);
  // As an older batch left it: moved into processing, RUNNING, no lease.
  await inspect.lMove(repo.keys.queue, repo.keys.processing, 'RIGHT', 'LEFT');
  await inspect.hSet(jobKeys(prefix, id).record, 'status', 'RUNNING');
  const p = await pool([(await fakePredict()).url], { prefix, repository: { leaseMs: 300 } });
  const job = await settled(p.repo, id);
  assert.deepEqual([job.status, job.attempts], ['SUCCEEDED', 1]);
  assert.deepEqual(await reapedEventually(p, 'orphan requeued', id), [id]);
  assert.equal(await inspect.exists(p.repo.keys.orphans), 0);
});

test('the reaper mutex: no pool reaps while another holds it, and each expired lease is reaped once', { timeout: 30_000 }, async () => {
  const prefix = newPrefix();
  const ids = await deadWorkerTakes(prefix, 3);
  const lockRepo = new JobRepository(inspect, { keyPrefix: prefix, ttlSeconds: 300 });
  assert.equal(await lockRepo.acquireReaperLock('someone-else', 60_000), true);
  const predict = await fakePredict();
  const a = await pool([predict.url], { prefix });
  const b = await pool([predict.url], { prefix });
  await sleep(500); // ten reaper intervals, leases long expired
  for (const id of ids) assert.equal((await a.repo.get(id))?.lease?.owner, 'dead:1:0', 'not reaped while the lock is held');
  assert.equal(await lockRepo.releaseReaperLock('someone-else'), true);
  for (const id of ids) assert.deepEqual(await settled(a.repo, id).then((j) => [j.status, j.attempts]), ['SUCCEEDED', 2]);
  assert.deepEqual([...reaped(a, 'requeued'), ...reaped(b, 'requeued')].sort(), [...ids].sort());
});

test('killed connections (CLIENT KILL) are replaced and jobs keep flowing', { timeout: 30_000 }, async () => {
  const own = await startRedisServer(); // only this pool's connections on it
  cleanups.push(() => own.stop());
  const admin = await connect(own.url);
  const predict = await fakePredict();
  const p = await startPool({ redisUrl: own.url, inspect: admin, predictUrls: [predict.url], concurrency: 2 });
  cleanups.push(() => p.pool.close());
  const clients = async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).split('\n');
  await until(async () => ((await clients()).filter((l) => l.includes('name=cutout-batch-wait-')).length === 2 ? true : undefined));
  for (const line of (await clients()).filter((l) => /name=(cutout-batch-wait-|test-batch)/.test(l))) {
    await admin.sendCommand(['CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!]);
  }
  const ids = [await enqueue(p.repo), await enqueue(p.repo)];
  for (const id of ids) assert.equal((await settled(p.repo, id)).status, 'SUCCEEDED');
  assert.ok(p.logs.some((l) => l.message === 'blocking connection replaced'));
});

test('a blocking wait on a frozen Redis is cut off by the watchdog; the next one works', { timeout: 30_000 }, async () => {
  const own = await startRedisServer();
  cleanups.push(() => own.stop());
  const client = await connect(own.url);
  const repo = new JobRepository(client, { keyPrefix: 'wd:', ttlSeconds: 60 });
  const { logger, lines } = memoryLogger();
  const waiter = new JobWaiter({ redis: client, repository: repo, logger, name: 'test-wait', timeoutSeconds: 0.2, watchdogMarginMs: 300 });
  cleanups.push(async () => waiter.close());
  assert.equal(await waiter.wait(), false, 'an empty queue times out normally');
  process.kill(own.process.pid!, 'SIGSTOP');
  try {
    await assert.rejects(waiter.wait(), WaitOverdueError);
  } finally {
    process.kill(own.process.pid!, 'SIGCONT');
  }
  assert.ok(lines.some((l) => l.message === 'blocking connection replaced'));
  await enqueue(repo);
  assert.equal(await waiter.wait(), true);
});

test('a Redis restart (same port, append-only file) mid-job is survived; the output is written once', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-batch-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const own = await startRedisServer({ dir, appendOnly: true });
  const client = await connect(own.url);
  // Every write on disk before its reply, so a kill -9 loses nothing this test relies on.
  await client.configSet('appendfsync', 'always');
  const predict = await fakePredict();
  predict.hold();
  const p = await startPool({ redisUrl: own.url, inspect: client, predictUrls: [predict.url], concurrency: 2 });
  cleanups.push(() => p.pool.close());
  const first = await enqueue(p.repo);
  await predict.untilInFlight(1);
  await own.kill();
  const revived = await startRedisServer({ dir, appendOnly: true, port: own.port });
  cleanups.push(() => revived.stop());
  predict.release();
  const job = await settled(p.repo, first);
  assert.deepEqual([job.status, job.outputWrites, job.attempts], ['SUCCEEDED', 1, 1]);
  const second = await until(() => enqueue(p.repo).catch(() => undefined));
  assert.equal((await settled(p.repo, second)).status, 'SUCCEEDED');
});
