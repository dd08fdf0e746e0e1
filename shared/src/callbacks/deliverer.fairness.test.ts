// Issue 18 items 6 and 7 with real parts: a real Redis, two deliverers (two processes' worth,
// two delivery loops each), and two real receivers on 127.0.0.1: one that never answers (key
// "abuser", 12 callbacks) and one that answers at once (key "victim"). The victim's callback
// must not wait for more than one of the abuser's attempts (counted, not timed), the abuser's
// receiver must rest instead of taking an attempt per callback, and each key's callbacks must be
// signed with its own secret only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobRepository } from '../redis/job.repository.js';
import { memoryLogger } from '../testing/memory-logger.js';
import { recordingReceiver as receiver, type SeenDelivery as Seen } from '../testing/recording-receiver.js';
import { startTestRedis, stopTestRedis } from '../testing/test-redis.js';
import { CallbackDeliverer } from './deliverer.js';
import { OutboxRepository } from './outbox.repository.js';
import { verifyCallback } from './signature.js';

const ABUSER_SECRET = 'abuser-callback-secret-0123';
const VICTIM_SECRET = 'victim-callback-secret-4567';
const ATTEMPT_MS = 3_000;

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

const signedWith = (secret: string, s: Seen) => verifyCallback(secret, String(s.headers['x-cutout-timestamp']), s.body, String(s.headers['x-cutout-signature']));

test("a key whose receiver never answers delays another key's callback by at most one attempt, rests instead of spending an attempt per callback, and each key signs with its own secret", { timeout: 60_000 }, async (t) => {
  const { server, redis } = await startTestRedis();
  const dead = await receiver(false);
  const fine = await receiver(true);
  const prefix = 'deliver-fair:';
  const jobs = new JobRepository(redis, { keyPrefix: prefix, ttlSeconds: 600, leaseMs: 60_000 });
  // A rest long enough that nothing comes out of it during the test: what it holds back is counted.
  const outbox = new OutboxRepository(redis, { keyPrefix: prefix, deadLetterMax: 10, laneConcurrency: 2, restBaseMs: 60_000, restMaxMs: 60_000 });
  const deliverers = [0, 1].map(
    (i) =>
      new CallbackDeliverer({
        outbox,
        jobs,
        logger: memoryLogger().logger,
        // No CALLBACK_SECRET at all: each key signs with its own.
        secrets: { fallback: '', byKey: new Map([['abuser', ABUSER_SECRET], ['victim', VICTIM_SECRET]]) },
        maxAttempts: 8,
        timeoutMs: ATTEMPT_MS,
        allowHosts: new Set(['127.0.0.1']),
        concurrency: 2,
        pollMs: 50,
        name: `process-${i}`,
      }),
  );
  t.after(async () => {
    await Promise.all(deliverers.map((d) => d.close()));
    await dead.stop();
    await fine.stop();
    await stopTestRedis(server, redis);
  });
  const endJob = async (owner: string, callbackUrl: string) => {
    const id = randomUUID();
    await jobs.enqueue({ id, imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5, owner, callbackUrl });
    const taken = (await jobs.take('w:1:0')).job!;
    assert.equal(await jobs.complete(taken.id, taken.token, 'b3V0'), true);
    return id;
  };

  for (let i = 0; i < 12; i++) await endJob('abuser', dead.url);
  for (const d of deliverers) d.start();
  // The abuser's deliveries are under way (hanging) before the victim's job ends.
  await until('the dead receiver is being called', () => dead.seen.length > 0);
  const victimId = await endJob('victim', fine.url);
  const endedAt = (await jobs.get(victimId))!.finishedAt!;
  await until("the victim's callback arrives", () => fine.seen.length > 0, ATTEMPT_MS * 6);
  const arrived = fine.seen[0]!.at;
  const abuserEndedBefore = dead.seen.filter((s) => s.closedAt !== null && s.closedAt <= arrived).length;
  t.diagnostic(`victim's wait ${arrived - endedAt} ms; abuser attempts ended before it: ${abuserEndedBefore}, started: ${dead.seen.length}; one attempt is ${ATTEMPT_MS} ms`);
  assert.ok(abuserEndedBefore <= 1, `the victim waited for ${abuserEndedBefore} of the abuser's attempts; at most one may delay it`);

  // The abuser's first attempts time out and its receiver rests: its other callbacks spend none.
  await until("the abuser's first attempts end", () => dead.seen.length > 0 && dead.seen.every((s) => s.closedAt !== null), ATTEMPT_MS * 3);
  for (let i = 0; i < 100 && (await redis.zCard(`${prefix}callback_inflight`)) > 0; i++) await sleep(20);
  // The loops go on claiming meanwhile: every claim finds the abuser's callbacks resting.
  await sleep(300);
  const attempts = Object.entries(await redis.hGetAll(`${prefix}callback_attempts`)).filter(([k]) => k.startsWith('job:'));
  const tried = attempts.filter(([, n]) => Number(n) > 0).length;
  t.diagnostic(`the dead receiver was tried ${dead.seen.length} times for 12 callbacks; ${12 - tried} callbacks wait out its rest with no attempt spent`);
  assert.equal(dead.seen.length, 2, 'two attempts (its key\'s concurrency), then it rests');
  assert.equal(tried, 2);
  assert.equal(await redis.zCard(`${prefix}callback_outbox`), 12, 'none of them is lost');

  // Signatures: each with its own key's secret, never with the other's.
  const victimDelivery = fine.seen[0]!;
  assert.equal(JSON.parse(victimDelivery.body).id, victimId);
  assert.ok(signedWith(VICTIM_SECRET, victimDelivery), "the victim's receiver verifies with the victim's secret");
  assert.ok(!signedWith(ABUSER_SECRET, victimDelivery), "the abuser's secret does not verify the victim's callback");
  for (const s of dead.seen) {
    assert.ok(signedWith(ABUSER_SECRET, s), "the abuser's receiver verifies with the abuser's secret");
    assert.ok(!signedWith(VICTIM_SECRET, s), "the victim's secret does not verify the abuser's callbacks");
  }
});
