// The outbox's lanes on a real Redis (CONTRACT §13): one key's backlog or failing receiver
// holds back another key's callback by at most one delivery, and a failing receiver's other
// callbacks wait out its rest instead of each spending an attempt. Entries come from real job
// ends (the job scripts' job_ended), so the key and receiver stored beside each are the real ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServerHandle } from '../process/redis-server.js';
import type { RedisClient } from '../redis/client.js';
import { JobRepository } from '../redis/job.repository.js';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import { OutboxRepository, type ClaimedCallback, type ClaimResult } from './outbox.repository.js';

let server: RedisServerHandle;
let redis: RedisClient;

before(async () => ({ server, redis } = await startTestRedis()));
after(() => stopTestRedis(server, redis));

const image = () => ({ id: randomUUID(), imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });

/** Ends one job with a callback, as a worker would; returns its outbox entry. */
async function endJob(repo: JobRepository, owner: string | null, callbackUrl: string): Promise<string> {
  const job = image();
  await repo.enqueue({ ...job, callbackUrl, ...(owner ? { owner } : {}) });
  const taken = (await repo.take('w:1:0')).job!;
  assert.equal(taken.id, job.id);
  assert.equal(await repo.complete(taken.id, taken.token, 'b3V0'), true);
  return `job:${job.id}`;
}

function setup(prefix: string, laneConcurrency: number, restBaseMs = 60_000) {
  const repo = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 600, leaseMs: 60_000 });
  const outbox = new OutboxRepository(redis, { keyPrefix: prefix, deadLetterMax: 10, laneConcurrency, restBaseMs, restMaxMs: restBaseMs * 4 });
  return { repo, outbox };
}

/** Claims until one is found (a claim may ask to be called again at once). */
async function claimOne(outbox: OutboxRepository, leaseMs = 60_000): Promise<ClaimedCallback | 'none'> {
  for (;;) {
    const c: ClaimResult = await outbox.claim(leaseMs);
    if (c !== 'again') return c;
  }
}

const failed = { maxAttempts: 8, delayMs: 60_000, error: 'no answer', receiverFailed: true };
const delivered = { maxAttempts: 8, delayMs: 0, error: '', receiverFailed: false };

test("one key's twelve due callbacks do not hold back another key's: its lane's turn comes after at most one of them", async (t) => {
  const { repo, outbox } = setup('fair-turn:', 2);
  // "abuser" sorts before "victim": on a tie of turns the abuser would be served first.
  const abuser: string[] = [];
  for (let i = 0; i < 12; i++) abuser.push(await endJob(repo, 'abuser', 'http://127.0.0.1:9/never-answers'));
  const victim = await endJob(repo, 'victim', 'http://127.0.0.1:9/fine');
  const order: string[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await claimOne(outbox);
    order.push(c === 'none' ? 'none' : c.entry);
  }
  const position = order.indexOf(victim) + 1;
  t.diagnostic(`claims in order: ${order.map((e) => (e === victim ? 'victim' : e === 'none' ? 'none' : 'abuser')).join(', ')}; the victim's callback was claim ${position}`);
  assert.ok(position >= 1 && position <= 2, `the victim's callback is claimed first or second, not behind the abuser's backlog: ${order.join(', ')}`);
  // Nothing settles: the abuser's lane is at its cap of 2 in flight, so its 10 other due entries wait
  // and every other delivery slot stays free for other keys.
  assert.deepEqual(order.filter((e) => abuser.includes(e)).length, 2);
  assert.equal(order.at(-1), 'none');
});

test('after a receiver fails, its other callbacks wait out its rest with no attempt spent; the key\'s other receivers, and other keys even on the same host, go on', async () => {
  const { repo, outbox } = setup('fair-rest:', 1);
  const dead: string[] = [];
  for (let i = 0; i < 12; i++) dead.push(await endJob(repo, 'abuser', 'http://127.0.0.1:9/never-answers'));
  const alive = await endJob(repo, 'abuser', 'http://127.0.0.2:9/answers');
  const victim = await endJob(repo, 'victim', 'http://127.0.0.1:9/fine');

  const first = await claimOne(outbox);
  assert.ok(first !== 'none' && first.entry === dead[0]);
  assert.equal(await outbox.settle(first, 'failed', failed), 'retry');
  // The receiver now rests for a minute: no entry of it may be claimed, whoever's turn it is.
  const claimed: string[] = [];
  for (;;) {
    const c = await claimOne(outbox);
    if (c === 'none') break;
    claimed.push(c.entry);
    assert.equal(await outbox.settle(c, 'delivered', delivered), 'delivered');
  }
  assert.deepEqual(claimed.sort(), [alive, victim].sort(), 'only the callbacks to other receivers were claimed');
  const attempts = await redis.hmGet('fair-rest:callback_attempts', dead);
  assert.deepEqual(attempts, ['1', ...Array(11).fill(null)], 'the resting receiver\'s other 11 callbacks spent no attempt');
  assert.equal(await redis.zCard('fair-rest:callback_outbox'), 12, 'all 12 still to be delivered');
});

test('without API keys, receivers are the lanes: one receiver\'s backlog does not hold back another receiver', async () => {
  const { repo, outbox } = setup('fair-open:', 1);
  for (let i = 0; i < 12; i++) await endJob(repo, null, 'http://127.0.0.1:9/a');
  const other = await endJob(repo, null, 'http://127.0.0.2:9/b');
  const first = await claimOne(outbox);
  const second = await claimOne(outbox);
  assert.ok(first !== 'none' && second !== 'none');
  assert.ok([first.entry, second.entry].includes(other), 'the other receiver\'s callback is claimed first or second');
  // One receiver spelled two ways (case, default port, user info) is one lane, one rest.
  const { repo: repo2, outbox: outbox2 } = setup('fair-spell:', 1);
  await endJob(repo2, null, new URL('HTTP://User:pw@Example.TEST:80/x').href);
  await endJob(repo2, null, 'http://example.test/y');
  assert.ok((await claimOne(outbox2)) !== 'none');
  assert.equal(await claimOne(outbox2), 'none', 'the second spelling waits in the same lane (cap 1)');
});

test('a claim whose process died is claimed again with the next attempt; its late outcome is refused; nothing is left behind', async () => {
  const { repo, outbox } = setup('fair-lease:', 1);
  const entry = await endJob(repo, 'k', 'http://127.0.0.1:9/x');
  const lost = await claimOne(outbox, 1);
  assert.ok(lost !== 'none' && lost.entry === entry && lost.attempt === 1);
  await sleep(10);
  const again = await claimOne(outbox);
  assert.ok(again !== 'none' && again.entry === entry && again.attempt === 2, 'claimed again once the lease ended');
  assert.equal(await outbox.settle(lost, 'delivered', delivered), 'lost', 'the old claim is fenced off');
  assert.equal(await outbox.settle(again, 'delivered', delivered), 'delivered');
  const left = await Promise.all(
    ['callback_outbox', 'callback_queue', 'callback_lanes_ready', 'callback_lanes_waiting', 'callback_inflight'].map((k) => redis.zCard(`fair-lease:${k}`)),
  );
  assert.deepEqual(left, [0, 0, 0, 0, 0]);
  assert.equal(await redis.hLen('fair-lease:callback_attempts'), 0);
  assert.equal(await redis.hLen('fair-lease:callback_lanes_busy'), 0);
});

test('an entry from before lanes (no key or receiver beside it) is still delivered', async () => {
  const { outbox } = setup('fair-old:', 1);
  await redis.zAdd('fair-old:callback_outbox', { score: Date.now() - 1000, value: 'job:old' });
  const c = await claimOne(outbox);
  assert.ok(c !== 'none' && c.entry === 'job:old' && c.attempt === 1);
  assert.equal(await outbox.settle(c, 'delivered', delivered), 'delivered');
  assert.equal(await redis.zCard('fair-old:callback_outbox'), 0);
});
