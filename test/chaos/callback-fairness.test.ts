/**
 * Chaos suite, callbacks under one key's abuse (issue 18 items 6 and 7, CONTRACT §13): the real
 * stack with two batch processes and the proxy, each running its delivery loops; key "abuser"
 * sends 12 jobs whose callback_url never answers, key "victim" one whose receiver answers at
 * once. The victim's callback may wait for at most one of the abuser's attempts (counted: the
 * abuser's attempts that ended between the victim's job ending and its callback arriving), the
 * abuser's receiver rests instead of taking an attempt per callback, each key's callbacks are
 * signed with its own secret only (CALLBACK_SECRET is unset), and after a batch process is killed
 * with -9 mid-delivery, nothing is lost and the victim's next callback is no later.
 * Prints `chaos callbacks: victim_wait_ms=… abuser_attempts_before=… …`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { verifyCallback } from '@cutout/shared';
import { recordingReceiver as receiver, type SeenDelivery as Seen } from '@cutout/shared/testing';
import type { V1Job } from '@cutout/shared/contract';
import { ChaosCluster } from '../support/chaos/cluster.js';
import { smallImages } from '../support/chaos/load.js';

const ABUSER = 'abuser-key-0123456789abcdef';
const VICTIM = 'victim-key-fedcba9876543210';
const ABUSER_SECRET = 'abuser-callback-secret-01';
const VICTIM_SECRET = 'victim-callback-secret-02';
const ATTEMPT_MS = 4_000;

const signedWith = (secret: string, s: Seen) => verifyCallback(secret, String(s.headers['x-cutout-timestamp']), s.body, String(s.headers['x-cutout-signature']));

test("callbacks: one key's never-answering receiver delays another key's callback by at most one attempt, also across a batch killed with -9", { timeout: 180_000 }, async (t) => {
  const dead = await receiver(false);
  const fine = await receiver(true);
  const dir = mkdtempSync(join(tmpdir(), 'cutout-chaos-callbacks-'));
  const keys = join(dir, 'keys');
  writeFileSync(keys, `abuser ${ABUSER} callback_secret=${ABUSER_SECRET}\nvictim ${VICTIM} callback_secret=${VICTIM_SECRET}\n`, { mode: 0o600 });
  const cluster = await ChaosCluster.start({
    name: 'callbacks',
    batches: 2,
    env: { API_KEYS_FILE: keys, CALLBACK_SECRET: '', CALLBACK_ALLOW_HOSTS: '127.0.0.1', CALLBACK_TIMEOUT_MS: String(ATTEMPT_MS), BATCH_CONCURRENCY: '2', JOB_LEASE_MS: '2000', REAPER_INTERVAL_MS: '200' },
  });
  const redis = createClient({ url: cluster.redis.url });
  await redis.connect();
  t.after(async () => {
    await redis.quit().catch(() => undefined);
    await cluster.close();
    await dead.stop();
    await fine.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const images = await smallImages(15);
  const submit = async (key: string, image: string, callbackUrl: string) => {
    const res = await fetch(`${cluster.proxyUrl}/v1/jobs`, { method: 'POST', headers: { 'x-api-token': key, 'content-type': 'application/json' }, body: JSON.stringify({ image, callback_url: callbackUrl }) });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as V1Job).id;
  };
  const ended = async (key: string, id: string) => {
    for (;;) {
      const job = (await (await fetch(`${cluster.proxyUrl}/v1/jobs/${id}?wait=10`, { headers: { 'x-api-token': key } })).json()) as V1Job;
      if (job.finished_at) return Date.parse(job.finished_at);
    }
  };
  const until = async (what: string, check: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${cluster.tail(30)}`);
      await sleep(20);
    }
  };
  /** One victim callback: its wait, and how many of the abuser's attempts ended inside it. */
  const victimRound = async (image: string) => {
    const id = await submit(VICTIM, image, fine.url);
    const endedAt = await ended(VICTIM, id);
    await until("the victim's callback", () => fine.seen.some((s) => JSON.parse(s.body).id === id), ATTEMPT_MS * 10);
    const arrived = fine.seen.find((s) => JSON.parse(s.body).id === id)!;
    const abuserBefore = dead.seen.filter((s) => s.closedAt !== null && s.closedAt > endedAt && s.closedAt <= arrived.at).length;
    return { id, wait: arrived.at - endedAt, abuserBefore, delivery: arrived };
  };

  const abuserIds: string[] = [];
  for (let i = 0; i < 12; i++) abuserIds.push(await submit(ABUSER, images[i]!, dead.url));
  await until("the abuser's receiver is being called", () => dead.seen.length > 0, 60_000);
  const first = await victimRound(images[12]!);

  // A batch dies mid-delivery (its hanging attempts with it); its claims come due again elsewhere.
  await until("the abuser's attempts are in flight", () => dead.seen.some((s) => s.closedAt === null), ATTEMPT_MS * 20).catch(() => undefined);
  await cluster.batches[0]!.kill();
  const second = await victimRound(images[13]!);
  // The dead process's claims come due again, and the receiver's rest ends: more attempts, and a third round.
  await until('the abuser is tried again after its rest', () => dead.seen.length >= 4, 120_000);
  const third = await victimRound(images[14]!);

  // Across every process, the abuser never had more than CALLBACK_KEY_CONCURRENCY (2) attempts open at once.
  const open = (at: number) => dead.seen.filter((s) => s.at <= at && (s.closedAt === null || s.closedAt > at)).length;
  const mostOpen = Math.max(...dead.seen.map((s) => open(s.at)));
  const pending = await redis.zCard(`${cluster.prefix}callback_outbox`);
  const attempted = Object.entries(await redis.hGetAll(`${cluster.prefix}callback_attempts`)).filter(([k, n]) => k.startsWith('job:') && Number(n) > 0).length;
  console.log(
    `chaos callbacks: victim_wait_ms=${first.wait},${second.wait},${third.wait} abuser_attempts_before=${first.abuserBefore},${second.abuserBefore},${third.abuserBefore} attempt_ms=${ATTEMPT_MS} ` +
      `abuser_attempts=${dead.seen.length} abuser_most_open=${mostOpen} abuser_callbacks_tried=${attempted}/12 abuser_pending=${pending}`,
  );
  assert.ok(first.abuserBefore <= 1, `the victim's callback waited for ${first.abuserBefore} of the abuser's attempts`);
  assert.ok(second.abuserBefore <= 1, `after the kill, the victim's callback waited for ${second.abuserBefore} of the abuser's attempts`);
  assert.ok(third.abuserBefore <= 1, `after the rest, the victim's callback waited for ${third.abuserBefore} of the abuser's attempts`);
  assert.ok(mostOpen <= 2, `the abuser had ${mostOpen} attempts open at once; CALLBACK_KEY_CONCURRENCY is 2`);
  assert.ok(attempted < 12, `the abuser's resting receiver did not take an attempt for each of its 12 callbacks (${attempted} tried)`);
  const abuserEntries = new Set(abuserIds.map((id) => `job:${id}`));
  const left = (await redis.zRange(`${cluster.prefix}callback_outbox`, 0, -1)).filter((e) => abuserEntries.has(e));
  assert.equal(left.length, 12, 'none of the abuser\'s callbacks is lost or given up');
  for (const round of [first, second, third]) {
    assert.ok(signedWith(VICTIM_SECRET, round.delivery) && !signedWith(ABUSER_SECRET, round.delivery), "the victim's callback is signed with the victim's secret only");
  }
  for (const s of dead.seen) assert.ok(signedWith(ABUSER_SECRET, s) && !signedWith(VICTIM_SECRET, s), "the abuser's callbacks are signed with the abuser's secret only");
});
