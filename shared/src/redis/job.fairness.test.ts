// Fair share (CONTRACT §13) on a real Redis: one key's backlog puts at most one of its jobs before
// another key's new one, at each priority; keys with work are served in turn; one key (or the open
// API) stays exactly FIFO; the contract lists and the fair order hold the same ids whatever
// happens to the jobs; and ids queued before the fair order existed are still taken.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServerHandle } from '../process/redis-server.js';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import type { RedisClient } from './client.js';
import { jobKeys } from './keys.js';
import { JobRepository, type JobRepositoryOptions, type SubmitFields } from './job.repository.js';
import { PRIORITIES, type Priority } from '../contract/status.js';

let server: RedisServerHandle;
let redis: RedisClient;

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

function repoFor(options: Partial<JobRepositoryOptions> = {}) {
  return new JobRepository(redis, { keyPrefix: `fair-${randomUUID().slice(0, 8)}:`, ttlSeconds: 100, ...options });
}

/** The key prefix of a repository's keys (the contract's `job_id` is the bare name). */
const prefixOf = (repo: JobRepository) => repo.keys.queue.slice(0, -'job_id'.length);

const image = (id: string) => ({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });

/** One job of `owner` (undefined: the open API). */
async function submit(repo: JobRepository, owner: string | undefined, fields: Omit<SubmitFields, 'owner'> = {}): Promise<string> {
  const id = randomUUID();
  const queued = await repo.enqueue({ ...image(id), ...fields, ...(owner === undefined ? {} : { owner }) });
  assert.ok(queued.accepted);
  return id;
}

async function submitMany(repo: JobRepository, owner: string | undefined, n: number, fields: Omit<SubmitFields, 'owner'> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await submit(repo, owner, fields));
  return ids;
}

async function submitGroup(repo: JobRepository, owner: string | undefined, n: number, fields: Omit<SubmitFields, 'owner'> = {}): Promise<{ group: string; ids: string[] }> {
  const group = randomUUID();
  const ids = Array.from({ length: n }, () => randomUUID());
  const queued = await repo.enqueueGroup(group, ids.map(image), { ...fields, ...(owner === undefined ? {} : { owner }) });
  assert.ok(queued.accepted);
  return { group, ids };
}

/** One take by the only worker, finished at once; the id, or null when nothing waits. */
async function takeAndFinish(repo: JobRepository): Promise<string | null> {
  const { job } = await repo.take('w');
  if (job === null) return null;
  assert.equal(await repo.complete(job, job.token, 'b3V0'), true);
  return job.id;
}

async function drain(repo: JobRepository): Promise<string[]> {
  const order: string[] = [];
  for (let id = await takeAndFinish(repo); id !== null; id = await takeAndFinish(repo)) order.push(id);
  return order;
}

const LISTS = (repo: JobRepository) => ({
  high: [repo.keys.queueHigh, repo.keys.orderHigh],
  normal: [repo.keys.queue, repo.keys.order],
  low: [repo.keys.queueLow, repo.keys.orderLow],
}) as const;

/**
 * What must hold after every step: each priority's contract list and its fair order hold the same
 * ids, the list each id once, and each owner's queued count is its number of ids in the order.
 */
async function checkInvariant(repo: JobRepository, step: string): Promise<void> {
  const slots = await redis.hGetAll(repo.keys.orderSlots);
  for (const [priority, [list, order]] of Object.entries(LISTS(repo))) {
    const listed = await redis.lRange(list, 0, -1);
    const ordered = await redis.zRange(order, 0, -1);
    assert.equal(new Set(listed).size, listed.length, `${step}: ${priority} lists an id twice`);
    assert.deepEqual([...listed].sort(), [...ordered].sort(), `${step}: the ${priority} list and its fair order differ`);
    const counts = new Map<string, number>();
    for (const id of ordered) {
      const owner = (await redis.hGet(jobKeys(prefixOf(repo), id).record, 'owner')) ?? '';
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const stored = Object.entries(slots).filter(([field]) => field.startsWith(`queued:${priority}:`));
    assert.deepEqual(
      Object.fromEntries(stored.map(([field, n]) => [field.slice(`queued:${priority}:`.length), Number(n)])),
      Object.fromEntries(counts),
      `${step}: the ${priority} queued counts`,
    );
  }
}

for (const priority of PRIORITIES) {
  for (const form of ['jobs', 'group'] as const) {
    test(`${priority}: key B's backlog of 20 (${form}) puts at most one of its jobs before key A's new one`, async (t) => {
      const repo = repoFor();
      const backlog = form === 'jobs' ? await submitMany(repo, 'b', 20, { priority }) : (await submitGroup(repo, 'b', 20, { priority })).ids;
      const a = await submit(repo, 'a', { priority });
      const order = await drain(repo);
      assert.equal(order.length, 21, 'every job was taken once');
      const ahead = order.indexOf(a);
      t.diagnostic(`${priority}, B's ${form}: A's job was taken after ${ahead} of B's 20`);
      assert.ok(ahead <= 1, `A's job waited for ${ahead} of B's jobs`);
      assert.deepEqual(order.filter((id) => id !== a), backlog, "B's own jobs in the order it queued them");
    });
  }

  test(`${priority}: a job of A arriving while B's backlog is being served waits for at most one more of B's`, async (t) => {
    const repo = repoFor();
    await submitMany(repo, 'b', 12, { priority });
    for (let i = 0; i < 5; i++) await takeAndFinish(repo);
    const a = await submit(repo, 'a', { priority });
    const ahead = (await drain(repo)).indexOf(a);
    t.diagnostic(`${priority}: A's job taken after ${ahead} more of B's`);
    assert.ok(ahead >= 0 && ahead <= 1, `A's job waited for ${ahead} of B's jobs`);
  });
}

test('keys with work waiting are served in turn: every round has one job of each, each key in its own order', async () => {
  const repo = repoFor();
  const byKey = { a: await submitMany(repo, 'a', 6), b: (await submitGroup(repo, 'b', 6)).ids, c: await submitMany(repo, 'c', 6) };
  const ownerOf = new Map(Object.entries(byKey).flatMap(([owner, ids]) => ids.map((id) => [id, owner] as const)));
  const order = await drain(repo);
  for (let round = 0; round < 6; round++) {
    assert.deepEqual(order.slice(round * 3, round * 3 + 3).map((id) => ownerOf.get(id)).sort(), ['a', 'b', 'c'], `round ${round + 1}`);
  }
  for (const [owner, ids] of Object.entries(byKey)) assert.deepEqual(order.filter((id) => ownerOf.get(id) === owner), ids, `${owner}'s order`);
});

test('a key sending one job at a time, each once the last was taken, gets one turn per round, never two in a row', async (t) => {
  const repo = repoFor();
  await submitMany(repo, 'heavy', 12);
  const waits: number[] = [];
  let light = await submit(repo, 'light');
  let heavySince = 0;
  let previousWasLight = false;
  for (let sent = 1; ; ) {
    const id = await takeAndFinish(repo);
    if (id === null) break;
    if (id !== light) {
      heavySince++;
      previousWasLight = false;
      continue;
    }
    assert.ok(!previousWasLight, 'the light key was served twice in a row while the heavy one had work');
    previousWasLight = true;
    waits.push(heavySince);
    heavySince = 0;
    if (sent++ < 5) light = await submit(repo, 'light');
  }
  t.diagnostic(`heavy jobs taken before each light one: ${waits.join(', ')}`);
  assert.equal(waits.length, 5);
  assert.ok(waits.every((n) => n <= 1), `each light job waited for at most one heavy one: ${waits.join(', ')}`);
});

test("a key whose queued jobs were cancelled is not held back for them: its next job waits for at most one of another key's backlog", async () => {
  const repo = repoFor();
  await submitMany(repo, 'heavy', 10);
  const cancelled = await submitGroup(repo, 'light', 10);
  const single = await submitMany(repo, 'light', 3);
  assert.equal(await repo.cancel('group', cancelled.group), 10);
  for (const id of single) assert.equal(await repo.cancel('job', id), 1);
  const next = await submit(repo, 'light');
  const ahead = (await drain(repo)).indexOf(next);
  assert.ok(ahead >= 0 && ahead <= 1, `the light key's job waited for ${ahead} heavy jobs`);
});

for (const owner of ['solo', undefined]) {
  test(`${owner === undefined ? 'the open API' : 'one key'} alone stays exactly FIFO: every take is the list's oldest, retries and released jobs first`, async () => {
    const repo = repoFor({ leaseMs: 60_000 });
    await submitMany(repo, owner, 3);
    await submitGroup(repo, owner, 3);
    await submitMany(repo, owner, 2);
    const takeOldest = async () => {
      const oldest = await redis.lIndex(repo.keys.queue, -1);
      const { job } = await repo.take('w');
      assert.equal(job?.id ?? null, oldest, 'the take gave out the oldest id of the list');
      return job;
    };
    const first = await takeOldest();
    const second = await takeOldest();
    assert.ok(first && second);
    assert.equal(await repo.release(second, second.token), true);
    assert.equal(await repo.retry(first, first.token, 'PREDICT_FAILED', 'try again', 0), 'retry');
    assert.deepEqual((await repo.reap()).promoted, [first.id]);
    await submitMany(repo, owner, 2);
    const order: string[] = [];
    for (let job = await takeOldest(); job !== null; job = await takeOldest()) {
      order.push(job.id);
      await repo.complete(job, job.token, 'b3V0');
    }
    assert.deepEqual(order.slice(0, 2), [first.id, second.id], 'the retry and the released job first, the later due first');
    assert.equal(order.length, 10);
    await checkInvariant(repo, 'drained');
  });
}

test('the contract lists and the fair order hold the same ids after every step of a mixed workload', async () => {
  const repo = repoFor({ leaseMs: 150, maxAttempts: 3 });
  const owners = ['a', 'b', undefined];
  const step = (name: string) => checkInvariant(repo, name);
  const queued: string[] = [];
  for (let i = 0; i < 30; i++) queued.push(await submit(repo, owners[i % 3], { priority: PRIORITIES[i % 3] as Priority }));
  await submitGroup(repo, 'b', 5, { priority: 'high' });
  const lowGroup = await submitGroup(repo, 'a', 5, { priority: 'low' });
  // One id in the middle of a long list: taken out of turn, far from both ends.
  await submitMany(repo, 'heavy', 120);
  const middle = await submit(repo, 'middle');
  await submitMany(repo, 'heavy', 120);
  await step('enqueued');

  const taken = [];
  for (let i = 0; i < 6; i++) taken.push((await repo.take('w')).job!);
  await step('taken');
  await repo.complete(taken[0]!, taken[0]!.token, 'b3V0');
  assert.equal(await repo.retry(taken[1]!, taken[1]!.token, 'PREDICT_FAILED', 'again', 0), 'retry');
  assert.equal(await repo.release(taken[2]!, taken[2]!.token), true);
  await step('completed, retried, released');
  await sleep(200); // the other three leases expire
  const reaped = await repo.reap();
  assert.deepEqual([reaped.promoted.length, reaped.requeued.length], [1, 3]);
  await step('reaped');

  assert.equal(await repo.cancel('job', queued[10]!), 1);
  assert.equal(await repo.cancel('job', middle), 1);
  assert.ok((await repo.cancel('group', lowGroup.group))! >= 1);
  await step('cancelled');

  const late = await submitMany(repo, 'a', 2, { deadlineMs: 1 });
  await sleep(20);
  assert.deepEqual((await repo.reap()).deadlines.sort(), [...late].sort());
  await step('deadlines passed');

  const expired = await submit(repo, 'b', { priority: 'high' });
  await redis.del(jobKeys(prefixOf(repo), expired).imageIn);
  const failed = [];
  for (;;) {
    const result = await repo.take('w');
    failed.push(...result.failed);
    if (!result.job) break;
    await repo.complete(result.job, result.job.token, 'b3V0');
    if (failed.length === 1 && result.failed.length === 1) await step('input expired');
  }
  assert.deepEqual(failed, [{ id: expired, code: 'INPUT_EXPIRED' }]);
  await step('drained');
  for (const [list, order] of Object.values(LISTS(repo))) assert.deepEqual([await redis.lLen(list), await redis.zCard(order)], [0, 0]);
});

test('a job whose record is gone is dropped from both, and the count it leaves is dropped once the queue is empty', async () => {
  const repo = repoFor();
  const gone = await submit(repo, 'a');
  const kept = await submit(repo, 'b');
  await redis.del(jobKeys(prefixOf(repo), gone).record);
  let dropped = 0;
  const taken: string[] = [];
  for (;;) {
    const result = await repo.take('w');
    dropped += result.dropped;
    if (!result.job) break;
    taken.push(result.job.id);
    await repo.complete(result.job, result.job.token, 'b3V0');
  }
  assert.deepEqual([taken, dropped], [[kept], 1]);
  assert.deepEqual([await redis.lLen(repo.keys.queue), await redis.zCard(repo.keys.order)], [0, 0]);
  await submit(repo, 'a');
  await checkInvariant(repo, 'a new job of the key whose record was lost');
});

test('ids queued by a version without the fair order are taken first, oldest first; a stale entry an older batch left is dropped', async (t: TestContext) => {
  const repo = repoFor();
  const prefix = prefixOf(repo);
  const legacy = await submitMany(repo, undefined, 3);
  // As an older proxy left them: the lists only.
  await redis.del([repo.keys.order, repo.keys.orderSlots]);
  const fresh = [await submit(repo, 'a'), await submit(repo, 'b'), await submit(repo, 'a')];
  // An older proxy pushes one more (no slot), and an older batch takes a fresh one (no ZREM).
  const pushedByOld = await submit(repo, 'c');
  await redis.zRem(repo.keys.order, pushedByOld);
  await redis.hDel(repo.keys.orderSlots, 'queued:normal:c');
  const takenByOld = fresh[1]!;
  await redis.lRem(repo.keys.queue, 1, takenByOld);
  await redis.hSet(jobKeys(prefix, takenByOld).record, 'status', 'RUNNING');

  const order: string[] = [];
  let dropped = 0;
  for (;;) {
    const result = await repo.take('w');
    dropped += result.dropped;
    if (!result.job) break;
    order.push(result.job.id);
    await repo.complete(result.job, result.job.token, 'b3V0');
  }
  t.diagnostic(`taken: ${order.length}, dropped: ${dropped}`);
  assert.deepEqual(order.slice(0, 3), legacy, 'the older ids first, oldest first');
  assert.deepEqual(new Set(order.slice(3)), new Set([fresh[0], fresh[2], pushedByOld]), 'then every other queued id, once');
  assert.equal(order.length, 6);
  assert.equal(dropped, 1, "the id the older batch took is dropped from the order, not run");
  for (const [list, zset] of Object.values(LISTS(repo))) assert.deepEqual([await redis.lLen(list), await redis.zCard(zset)], [0, 0]);
});
