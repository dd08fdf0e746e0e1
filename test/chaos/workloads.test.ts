/**
 * Chaos suite, workloads (issue 8): groups with callbacks, and cancels, while batch is killed
 * with -9 and restarted. Every accepted job must end (SUCCEEDED or CANCELLED), every group DONE,
 * every group's callback delivered, and no (entry, attempt) delivered twice. Prints
 * `chaos workloads: groups=… jobs=… succeeded=… cancelled=… lost=… callbacks=… duplicated=…`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Group, V1GroupCreated } from '@cutout/shared/contract';
import { ChaosCluster } from '../support/chaos/cluster.js';
import { smallImages } from '../support/chaos/load.js';
import { CallbackReceiver } from '../support/callback-receiver.js';

const GROUPS = 12;
const PER_GROUP = 10;

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

test('workloads: groups, cancels and callbacks while batch is killed with -9', { timeout: 150_000 }, async (t) => {
  const receiver = new CallbackReceiver();
  await receiver.start();
  // Every third delivery fails, so retries are in flight when batch dies.
  receiver.answer = (_d, i) => (i % 3 === 0 ? 500 : 200);
  const cluster = await ChaosCluster.start({
    name: 'workloads',
    env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '1500', REAPER_INTERVAL_MS: '200', CALLBACK_SECRET: 'chaos-secret-0123456789', CALLBACK_ALLOW_HOSTS: '127.0.0.1', CALLBACK_TIMEOUT_MS: '2000' },
  });
  t.after(async () => {
    await cluster.close();
    await receiver.stop();
  });
  const images = await smallImages(PER_GROUP);
  const groups: V1GroupCreated[] = [];
  const cancelled: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const res = await json<V1GroupCreated>(`${cluster.proxyUrl}/v1/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images, callback_url: receiver.url }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    groups.push(res.body);
    // Cancel the last job of every third group: queued or running, it must end CANCELLED.
    if (g % 3 === 0) {
      const id = res.body.jobs.at(-1)!;
      const del = await fetch(`${cluster.proxyUrl}/v1/jobs/${id}`, { method: 'DELETE' });
      if (del.status === 200) cancelled.push(id);
    }
    if (g === Math.floor(GROUPS / 2)) {
      await cluster.batches[0]!.kill();
      await cluster.addBatch();
    }
  }
  const deadline = Date.now() + 100_000;
  const views = new Map<string, V1Group>();
  while (views.size < groups.length && Date.now() < deadline) {
    for (const g of groups) {
      if (views.has(g.id)) continue;
      const v = await json<V1Group>(`${cluster.proxyUrl}/v1/groups/${g.id}?wait=2`);
      if (v.body.status === 'DONE') views.set(g.id, v.body);
    }
  }
  const accepted = () => receiver.accepted();
  while (groups.some((g) => !accepted().has(`group:${g.id}`)) && Date.now() < deadline) await sleep(200);
  const all = [...views.values()].flatMap((v) => v.jobs);
  const succeeded = all.filter((j) => j.status === 'SUCCEEDED').length;
  const ended = all.filter((j) => j.status === 'CANCELLED').length;
  const lost = groups.length * PER_GROUP - succeeded - ended;
  const pairs = receiver.deliveries.map((d) => String(d.headers['x-cutout-delivery']));
  const duplicated = pairs.length - new Set(pairs).size;
  const callbacks = groups.filter((g) => accepted().has(`group:${g.id}`)).length;
  console.log(`chaos workloads: groups=${groups.length} jobs=${groups.length * PER_GROUP} succeeded=${succeeded} cancelled=${ended} lost=${lost} callbacks=${callbacks} duplicated=${duplicated}`);
  assert.equal(views.size, groups.length, `every group DONE\n${cluster.tail(40)}`);
  assert.equal(lost, 0, 'every job ended');
  assert.ok(cancelled.every((id) => all.find((j) => j.id === id)?.status === 'CANCELLED'), 'each cancelled job ended CANCELLED');
  assert.equal(callbacks, groups.length, 'every group called back');
  assert.equal(duplicated, 0, 'no (entry, attempt) delivered twice');
  assert.equal(all.filter((j) => j.status === 'FAILED').length, 0, 'nothing failed');
});
