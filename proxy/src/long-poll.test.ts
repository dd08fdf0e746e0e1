import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, postJson, type ProxyOptions, type RunningProxy, useProxyTestbed } from './app-harness.js';
import type { JobView } from './job-views.js';

const bed = useProxyTestbed({ width: 3, height: 2, channels: 3, background: '#336699' });

async function proxy(options: Partial<ProxyOptions> = {}): Promise<RunningProxy> {
  const p = await bed.start({ keyPrefix: `lp-${randomUUID().slice(0, 8)}:`, ...options });
  return p;
}

async function submit(p: RunningProxy): Promise<string> {
  const res = await postJson<{ job_id: string }>(`${p.url}/start_job`, JSON.stringify({ image: bed.png.toString('base64') }));
  assert.equal(res.status, 200);
  return res.body.job_id;
}

/** Takes jobs until `id` is the one taken (older ones are left RUNNING). */
async function take(p: RunningProxy, id: string) {
  for (;;) {
    const { job } = await p.jobs.take('test-worker');
    assert.ok(job, `job ${id} was in the queue`);
    if (job.id === id) return job;
  }
}

/**
 * Resolves once `count` waits are registered. The proxy shares `redis` with the test and sends
 * its re-read of the record in the same tick it registers, so every command the test sends
 * after this runs in Redis after that re-read: an end from the test can only reach the waiting
 * request through the job-done channel.
 */
async function untilWaiting(p: RunningProxy, count: number): Promise<void> {
  while ((p.jobDone?.waiting ?? 0) < count) await new Promise((resolve) => setTimeout(resolve, 2));
}

const poll = (p: RunningProxy, id: string, query: string, signal?: AbortSignal) =>
  call<JobView>(`${p.url}/get_job/${id}${query}`, signal ? { signal } : {});

/**
 * True when `poll` answered before `sentinel`, a long poll with the same wait started earlier on
 * a job that never ends: i.e. before the wait's deadline, told by order rather than by a clock.
 */
async function answeredFirst(pollAnswer: Promise<unknown>, sentinel: Promise<unknown>): Promise<boolean> {
  return Promise.race([pollAnswer.then(() => true), sentinel.then(() => false)]);
}

test('a long poll answers SUCCEEDED, with the output and timings, as soon as the job completes', async () => {
  const p = await proxy();
  const idle = await submit(p);
  const id = await submit(p);
  const stop = new AbortController();
  const sentinel = poll(p, idle, '?wait=30', stop.signal).catch(() => undefined);
  await untilWaiting(p, 1);
  const answer = poll(p, id, '?wait=30');
  await untilWaiting(p, 2);
  const job = await take(p, id);
  await p.jobs.complete(id, job.token, 'b3V0', { run_ms: 4.5, predict_ms: 3, predict_batch_size: 1 });

  assert.equal(await answeredFirst(answer, sentinel), true, 'woken by the end, not by the deadline');
  const done = await answer;
  assert.equal(done.status, 200);
  assert.equal(done.body.status, 'ok');
  assert.equal(done.body.job_status, 'SUCCEEDED');
  assert.equal(done.body.img_out_base64, 'b3V0');
  const record = await p.jobs.get(id, { withImages: false });
  assert.deepEqual(done.body.timings, { run_ms: 4.5, predict_ms: 3, predict_batch_size: 1, queue_wait_ms: record!.startedAt! - record!.createdAt! });
  stop.abort();
});

test('a FAILED end wakes a long poll too, with the error', async () => {
  const p = await proxy();
  const idle = await submit(p);
  const id = await submit(p);
  const stop = new AbortController();
  const sentinel = poll(p, idle, '?wait=30', stop.signal).catch(() => undefined);
  await untilWaiting(p, 1);
  const answer = poll(p, id, '?wait=30');
  await untilWaiting(p, 2);
  const job = await take(p, id);
  await p.jobs.fail(id, job.token, 'IMAGE_DECODE_FAILED', 'the image is truncated');
  assert.equal(await answeredFirst(answer, sentinel), true);
  const failed = await answer;
  assert.equal(failed.body.job_status, 'FAILED');
  assert.deepEqual(failed.body.error, { code: 'IMAGE_DECODE_FAILED', message: 'the image is truncated' });
  assert.equal(failed.body.timings, null);
  stop.abort();
});

test('when nothing happens the wait ends with the current state; a finished job answers without waiting', async () => {
  const p = await proxy();
  const id = await submit(p);
  const queued = await poll(p, id, '?wait=0.1');
  assert.equal(queued.status, 200);
  assert.equal(queued.body.job_status, 'QUEUED');
  assert.equal(queued.body.status, 'ng');
  assert.equal(queued.body.timings, null);
  const job = await take(p, id);
  await p.jobs.complete(id, job.token, 'b3V0');
  const done = await poll(p, id, '?wait=30');
  assert.equal(done.body.job_status, 'SUCCEEDED');
  assert.equal(done.body.timings?.queue_wait_ms, undefined, 'complete without worker timings stores none');
  assert.equal(p.jobDone?.waiting, 0);
});

test('no wait, wait=0 and a proxy without long polls answer exactly as before', async () => {
  const p = await proxy();
  const id = await submit(p);
  const plain = await poll(p, id, '');
  assert.deepEqual((await poll(p, id, '?wait=0')).body, plain.body);
  assert.deepEqual((await poll(p, id, '?wait=.0')).body, plain.body);
  const without = await proxy({ longPoll: false });
  const other = await submit(without);
  assert.equal((await poll(without, other, '?wait=30')).body.job_status, 'QUEUED', 'answered at once: nobody to wake it');
  assert.equal((await poll(p, randomUUID(), '?wait=30')).status, 404, 'an unknown id answers 404 at once');
});

test('an invalid wait answers 400 INVALID_WAIT naming the allowed range', async () => {
  const p = await proxy();
  const id = await submit(p);
  for (const query of ['?wait=-1', '?wait=30.5', '?wait=abc', '?wait=', '?wait=1e3', '?wait=1&wait=2', '?wait=%20', '?wait=Infinity']) {
    const res = await call<{ status: string; error: { code: string; message: string } }>(`${p.url}/get_job/${id}${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.body.error.code, 'INVALID_WAIT', query);
    assert.match(res.body.error.message, /from 0 to 30/);
  }
  assert.equal((await poll(p, id, '?wait=0.05')).status, 200, 'decimals are fine');
});

test('no wait is left behind: timed out, answered, client gone, and over the cap', async () => {
  const p = await proxy({ maxWaiters: 50 });
  const ids = await Promise.all(Array.from({ length: 20 }, () => submit(p)));
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => poll(p, ids[i % ids.length]!, '?wait=0.02')));
  assert.ok(answers.every((a) => a.status === 200 && a.body.job_status === 'QUEUED'));
  assert.equal(p.jobDone?.waiting, 0);

  const gone = new AbortController();
  const abandoned = ids.slice(0, 10).map((id) => poll(p, id, '?wait=30', gone.signal).catch((e: unknown) => e));
  await untilWaiting(p, 10);
  gone.abort();
  await Promise.all(abandoned);
  while (p.jobDone!.waiting > 0) await new Promise((resolve) => setTimeout(resolve, 5)); // the close reaches the server a moment later
  assert.equal(p.logs.filter((l) => l.message === 'request' && String(l.path).includes('wait=30')).length, 0, 'nothing answered to clients that left');
});

test('past maxWaiters a long poll answers at once with the current state', async () => {
  const p = await proxy({ maxWaiters: 2 });
  const [a, b, c] = [await submit(p), await submit(p), await submit(p)];
  const stop = new AbortController();
  const held = [a, b].map((id) => poll(p, id, '?wait=30', stop.signal).catch(() => undefined));
  await untilWaiting(p, 2);
  const over = await poll(p, c, '?wait=30');
  assert.equal(over.body.job_status, 'QUEUED');
  assert.equal(p.jobDone?.waiting, 2, 'the two held waits are still waiting');
  stop.abort();
  await Promise.all(held);
});

test('closing the listener (proxy shutdown) answers every wait at once with the current state', async () => {
  const p = await proxy();
  const id = await submit(p);
  const answer = poll(p, id, '?wait=30');
  await untilWaiting(p, 1);
  await p.jobDone!.close();
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(res.body.job_status, 'QUEUED');
  assert.equal(p.jobDone!.waiting, 0);
  assert.equal((await poll(p, id, '?wait=30')).body.job_status, 'QUEUED', 'a wait after close answers at once');
});
