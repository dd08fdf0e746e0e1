/**
 * Jobs for real workloads (groups, callbacks, cancel, deadlines, priorities, idempotent submits),
 * each driven through the proxy's public API against the real stack: a private redis-server,
 * predict, proxy and one batch process (one worker, so order is observable) as child processes,
 * with a real callback receiver on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { createClient } from 'redis';
import { verifyCallback } from '@cutout/shared';
import type { V1Group, V1GroupCreated, V1Job } from '@cutout/shared/contract';
import { ChaosCluster } from '../support/chaos/cluster.js';
import { smallImages } from '../support/chaos/load.js';
import { CallbackReceiver } from '../support/callback-receiver.js';
import { readZipEntries } from '../support/zip.js';

const SECRET = 'test-callback-secret-0123456789';
let cluster: ChaosCluster;
let receiver: CallbackReceiver;
let images: string[];
let redis: ReturnType<typeof createClient>;

before(async () => {
  receiver = new CallbackReceiver();
  await receiver.start();
  images = await smallImages(40);
  cluster = await ChaosCluster.start({
    name: 'workloads',
    keepLines: 20_000,
    env: {
      LOG_LEVEL: 'info',
      BATCH_CONCURRENCY: '1',
      JOB_LEASE_MS: '3000',
      REAPER_INTERVAL_MS: '200',
      CALLBACK_SECRET: SECRET,
      CALLBACK_ALLOW_HOSTS: '127.0.0.1',
      CALLBACK_TIMEOUT_MS: '2000',
    },
  });
  redis = createClient({ url: cluster.redis.url });
  await redis.connect();
});

after(async () => {
  await redis?.quit().catch(() => undefined);
  await cluster?.close();
  await receiver?.stop();
});

async function call<T>(method: string, path: string, init: { json?: unknown; body?: NonNullable<RequestInit['body']>; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${cluster.proxyUrl}${path}`, { method, headers, body: init.json !== undefined ? JSON.stringify(init.json) : (init.body ?? null) });
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('json') ? ((await res.json()) as T) : (Buffer.from(await res.arrayBuffer()) as unknown as T);
  return { status: res.status, headers: res.headers, body };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${cluster.tail(30)}`);
    await sleep(50);
  }
}

const job = (id: string) => call<V1Job>('GET', `/v1/jobs/${id}`).then((r) => r.body);
const ended = (id: string) => until(`job ${id} ends`, async () => {
  const j = await job(id);
  return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.status) ? j : undefined;
});
/** Service output lines that mention `id`, from one service. */
const linesOf = (service: string, id: string) => cluster.lines.filter((l) => l.includes(id) && l.includes(`"service":"${service}"`));
const submitted = async () => Number(await redis.hGet(`${cluster.prefix}job_counts`, 'submitted') ?? 0);

test('a group of 40 through multipart and through JSON: all queued in one step, DONE, the zip holds every cutout', { timeout: 120_000 }, async () => {
  const form = new FormData();
  images.forEach((b64, i) => form.append('file', new Blob([Buffer.from(b64, 'base64')], { type: 'image/png' }), `img-${i}.png`));
  form.append('format', 'png');
  const viaForm = await call<V1GroupCreated>('POST', '/v1/groups', { body: form });
  assert.equal(viaForm.status, 202, JSON.stringify(viaForm.body));
  assert.equal(viaForm.headers.get('location'), `/v1/groups/${viaForm.body.id}`);
  assert.equal(viaForm.body.jobs.length, 40);
  const viaJson = await call<V1GroupCreated>('POST', '/v1/groups', { json: { images, only_mask: false } });
  assert.equal(viaJson.status, 202, JSON.stringify(viaJson.body));
  for (const created of [viaForm.body, viaJson.body]) {
    const done = await call<V1Group>('GET', `/v1/groups/${created.id}?wait=30`);
    const view = done.body.status === 'DONE' ? done.body : await until('group DONE', async () => ((await call<V1Group>('GET', `/v1/groups/${created.id}?wait=10`)).body.status === 'DONE' ? (await call<V1Group>('GET', `/v1/groups/${created.id}`)).body : undefined), 90_000);
    assert.equal(view.counts.SUCCEEDED, 40);
    assert.deepEqual(view.jobs.map((j) => j.id), created.jobs, 'jobs in the order of the images');
    const zip = await call<Buffer>('GET', `/v1/groups/${created.id}/results.zip`);
    assert.equal(zip.status, 200);
    assert.equal(zip.headers.get('content-type'), 'application/zip');
    assert.equal(zip.headers.get('x-cutout-group-complete'), 'true');
    const entries = readZipEntries(zip.body);
    assert.deepEqual(entries.map((e) => e.name), created.jobs.map((id, i) => `${i}-${id}.png`));
    for (const entry of entries.slice(0, 3)) {
      const meta = await sharp(entry.data).metadata();
      assert.deepEqual([meta.format, meta.channels, meta.width], ['png', 4, 64]);
    }
  }
});

test('a bad image refuses the whole group with its index, nothing queued; partial=true queues the rest', async () => {
  const before = await submitted();
  const bad = await call<{ error: { code: string; message: string } }>('POST', '/v1/groups', { json: { images: [images[0], 'bm90IGFuIGltYWdl', images[1]] } });
  assert.equal(bad.status, 415);
  assert.equal(bad.body.error.code, 'UNSUPPORTED_IMAGE_FORMAT');
  assert.match(bad.body.error.message, /^image 1:/);
  assert.equal(await submitted(), before, 'nothing queued');
  const partial = await call<V1GroupCreated>('POST', '/v1/groups', { json: { images: [images[0], 'bm90IGFuIGltYWdl', images[1]], partial: true } });
  assert.equal(partial.status, 202);
  assert.equal(partial.body.jobs.length, 2);
  assert.deepEqual(partial.body.rejected?.map((r) => [r.index, r.error.code]), [[1, 'UNSUPPORTED_IMAGE_FORMAT']]);
  const tooMany = await call<{ error: { code: string } }>('POST', '/v1/groups', { json: { images: Array.from({ length: 101 }, () => images[0]) } });
  assert.deepEqual([tooMany.status, tooMany.body.error.code], [413, 'TOO_MANY_IMAGES']);
});

test('a callback that fails its first delivery is delivered again, signed; a group calls back once with its JSON', { timeout: 60_000 }, async () => {
  const failedOnce = new Set<string>();
  receiver.answer = (d) => {
    const entry = String(d.headers['x-cutout-delivery']).replace(/:\d+$/, '');
    if (failedOnce.has(entry)) return 200;
    failedOnce.add(entry);
    return 500;
  };
  const single = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[2], callback_url: receiver.url } });
  assert.equal(single.status, 202, JSON.stringify(single.body));
  const group = await call<V1GroupCreated>('POST', '/v1/groups', { json: { images: images.slice(0, 3), callback_url: receiver.url } });
  assert.equal(group.status, 202, JSON.stringify(group.body));
  const forEntry = (entry: string) => receiver.deliveries.filter((d) => String(d.headers['x-cutout-delivery']).startsWith(`${entry}:`));
  for (const entry of [`job:${single.body.id}`, `group:${group.body.id}`]) {
    await until(`${entry} delivered`, async () => (forEntry(entry).some((d) => d.status === 200) ? true : undefined));
    const deliveries = forEntry(entry);
    assert.deepEqual(deliveries.map((d) => [d.status, d.headers['x-cutout-delivery']]), [[500, `${entry}:1`], [200, `${entry}:2`]]);
    for (const d of deliveries) {
      assert.ok(verifyCallback(SECRET, String(d.headers['x-cutout-timestamp']), d.body, String(d.headers['x-cutout-signature'])), 'signature checks out');
      assert.ok(Math.abs(Number(d.headers['x-cutout-timestamp']) - Date.now() / 1000) < 120);
    }
  }
  const jobBody = JSON.parse(forEntry(`job:${single.body.id}`)[1]!.body) as V1Job;
  assert.deepEqual([jobBody.id, jobBody.status], [single.body.id, 'SUCCEEDED']);
  const groupBody = JSON.parse(forEntry(`group:${group.body.id}`)[1]!.body) as V1Group;
  assert.deepEqual([groupBody.id, groupBody.status, groupBody.counts.SUCCEEDED], [group.body.id, 'DONE', 3]);
  // The group's jobs carry no callbacks of their own: one event for the group.
  for (const id of group.body.jobs) assert.equal(forEntry(`job:${id}`).length, 0);
  receiver.answer = () => 200;
});

test('callback URLs on loopback addresses not allowed by name are refused at submit, nothing queued', async () => {
  const before = await submitted();
  for (const url of [`http://127.0.0.2:${receiver.port}/x`, `http://[::1]:${receiver.port}/x`, `http://localhost:${receiver.port}/x`, 'ftp://127.0.0.1/x']) {
    const res = await call<{ error: { code: string; message: string } }>('POST', '/v1/jobs', { json: { image: images[0], callback_url: url } });
    assert.equal(res.status, 400, url);
    assert.equal(res.body.error.code, 'CALLBACK_URL_FORBIDDEN', url);
  }
  assert.equal(await submitted(), before);
  assert.equal(receiver.deliveries.filter((d) => d.headers.host?.startsWith('127.0.0.2')).length, 0);
});

test('cancel while queued: CANCELLED at once, never reaches predict; §1 shows FAILED CANCELLED; a second cancel is 409', { timeout: 60_000 }, async () => {
  await cluster.batches[0]!.stop();
  try {
    const created = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[3] } });
    const cancelled = await call<V1Job>('DELETE', `/v1/jobs/${created.body.id}`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'CANCELLED');
    assert.equal(cancelled.body.error?.code, 'CANCELLED');
    const again = await call<{ error: { code: string } }>('DELETE', `/v1/jobs/${created.body.id}`);
    assert.deepEqual([again.status, again.body.error.code], [409, 'JOB_ALREADY_FINISHED']);
    const legacy = await call<{ job_status: string; status: string; error: { code: string } }>('GET', `/get_job/${created.body.id}`);
    assert.deepEqual([legacy.body.status, legacy.body.job_status, legacy.body.error.code], ['ng', 'FAILED', 'CANCELLED']);
    const result = await call<{ error: { code: string } }>('GET', `/v1/jobs/${created.body.id}/result`);
    assert.deepEqual([result.status, result.body.error.code], [409, 'JOB_CANCELLED']);
    await cluster.batches[0]!.restart();
    const later = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[4] } });
    await ended(later.body.id);
    assert.deepEqual(linesOf('predict', created.body.id), [], 'predict never saw the cancelled job');
    assert.ok(linesOf('predict', later.body.id).length > 0, 'predict logs the jobs it does see');
  } finally {
    if (!cluster.batches[0]!.running) await cluster.batches[0]!.restart();
  }
});

test('cancel while running: the worker is told and stops, the result is dropped', { timeout: 60_000 }, async () => {
  cluster.predict.pause();
  try {
    const created = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[5] } });
    await until('job RUNNING', async () => ((await job(created.body.id)).status === 'RUNNING' ? true : undefined));
    const cancelled = await call<V1Job>('DELETE', `/v1/jobs/${created.body.id}`);
    assert.equal(cancelled.body.status, 'CANCELLED');
    await until('the worker stops it', async () => (linesOf('batch', created.body.id).some((l) => l.includes('job cancelled while running')) ? true : undefined));
    cluster.predict.resume();
    const after = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[6] } });
    await ended(after.body.id);
    const record = await redis.hGetAll(`${cluster.prefix}${created.body.id}_job`);
    assert.deepEqual([record.status, record.output_writes ?? '0'], ['CANCELLED', '0']);
    assert.ok(record.started_at, 'it had started: the worker took it and called predict');
    assert.equal(await redis.exists(`${cluster.prefix}${created.body.id}_image_out`), 0, 'no result stored');
  } finally {
    cluster.predict.resume();
  }
});

test('a deadline that passes while batch is stopped fails the job DEADLINE_EXCEEDED without running it', { timeout: 60_000 }, async () => {
  await cluster.batches[0]!.stop();
  let created;
  try {
    created = await call<V1Job>('POST', '/v1/jobs', { json: { image: images[7], deadline_s: 1 } });
    assert.equal(created.body.options.deadline_s, 1);
    await sleep(1_500);
  } finally {
    await cluster.batches[0]!.restart();
  }
  const done = await ended(created.body.id);
  assert.deepEqual([done.status, done.error?.code], ['FAILED', 'DEADLINE_EXCEEDED']);
  assert.equal(done.started_at, null, 'never started');
  assert.deepEqual(linesOf('predict', created.body.id), []);
});

test('20 normal jobs then one high, one worker: the high one runs next', { timeout: 90_000 }, async () => {
  await cluster.batches[0]!.stop();
  const ids: string[] = [];
  let high: string;
  try {
    for (let i = 0; i < 20; i++) ids.push((await call<V1Job>('POST', '/v1/jobs', { json: { image: images[i] } })).body.id);
    high = (await call<V1Job>('POST', '/v1/jobs', { json: { image: images[20], priority: 'high' } })).body.id;
    const meta = await call<{ queue: { by_priority: Record<string, number> } }>('GET', '/metadata');
    assert.deepEqual(meta.body.queue.by_priority, { high: 1, normal: 20, low: 0 });
  } finally {
    await cluster.batches[0]!.restart();
  }
  const all = await Promise.all([high!, ...ids].map(ended));
  const started = all.map((j) => Date.parse(j.started_at!));
  assert.equal(Math.min(...started), started[0], 'the high-priority job started first');
});

test('two concurrent submits with one Idempotency-Key make one job; another body with the key is 422', async () => {
  const before = await submitted();
  const headers = { 'idempotency-key': `key-${Date.now()}` };
  const [a, b] = await Promise.all([0, 1].map(() => call<V1Job>('POST', '/v1/jobs', { json: { image: images[8] }, headers })));
  assert.deepEqual([a!.status, b!.status], [202, 202]);
  assert.equal(a!.body.id, b!.body.id);
  assert.equal(await submitted(), before + 1, 'one job');
  const replayed = [a!, b!].filter((r) => r.headers.get('idempotent-replayed') === 'true');
  assert.equal(replayed.length, 1);
  const other = await call<{ error: { code: string } }>('POST', '/v1/jobs', { json: { image: images[9] }, headers });
  assert.deepEqual([other.status, other.body.error.code], [422, 'IDEMPOTENCY_KEY_REUSED']);
});

test('a zip asked for before the group is done holds what has finished, and says so', { timeout: 60_000 }, async () => {
  await cluster.batches[0]!.stop();
  let created: V1GroupCreated;
  try {
    created = (await call<V1GroupCreated>('POST', '/v1/groups', { json: { images: images.slice(0, 3) } })).body;
    const early = await call<Buffer>('GET', `/v1/groups/${created.id}/results.zip`);
    assert.equal(early.status, 200);
    assert.deepEqual([early.headers.get('x-cutout-group-complete'), early.headers.get('x-cutout-group-included')], ['false', '0/3']);
    assert.deepEqual(readZipEntries(early.body), []);
    const view = (await call<V1Group>('GET', `/v1/groups/${created.id}`)).body;
    assert.deepEqual([view.status, view.counts.QUEUED], ['QUEUED', 3]);
  } finally {
    await cluster.batches[0]!.restart();
  }
  const done = await until('group DONE', async () => {
    const v = (await call<V1Group>('GET', `/v1/groups/${created.id}?wait=5`)).body;
    return v.status === 'DONE' ? v : undefined;
  });
  assert.equal(done.counts.SUCCEEDED, 3);
});

test('batch killed with -9 while callbacks are pending, then restarted: every callback still arrives, none twice per attempt', { timeout: 90_000 }, async () => {
  receiver.answer = () => 503;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await call<V1Job>('POST', '/v1/jobs', { json: { image: images[10 + i], callback_url: receiver.url } })).body.id);
  await Promise.all(ids.map(ended));
  const tried = (id: string) => receiver.deliveries.some((d) => String(d.headers['x-cutout-delivery']).startsWith(`job:${id}:`));
  await until('every callback tried once', async () => (ids.every(tried) ? true : undefined));
  await cluster.batches[0]!.kill();
  receiver.answer = () => 200;
  await cluster.batches[0]!.restart();
  await until('every callback delivered', async () => (ids.every((id) => receiver.accepted().has(`job:${id}`)) ? true : undefined), 60_000);
  const pairs = receiver.deliveries.map((d) => String(d.headers['x-cutout-delivery']));
  assert.equal(new Set(pairs).size, pairs.length, 'no delivery (entry, attempt) arrived twice');
  // The receiver counts a delivery when it answers; the deliverer settles the entry a moment later.
  await until('the outbox drained', async () => ((await redis.zCard(`${cluster.prefix}callback_outbox`)) === 0 ? true : undefined), 10_000).catch(() => undefined);
  const pending = await redis.zCard(`${cluster.prefix}callback_outbox`);
  assert.equal(pending, 0, 'the outbox is empty');
});
