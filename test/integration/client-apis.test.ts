// Every API of CONTRACT §6 driven as its own kind of client drives it, against the real stack:
// multipart through fetch's FormData and through curl, the raw body, JSON base64, rembg's
// /api/remove, seed 001's Celery-style poll loop and seed 004's Vision-style body with a token
// (also from Python when python3 is on the PATH). Where a job must wait (sync timeouts, PENDING,
// a client that leaves), the real proxy app runs in this process over the stack's Redis with a
// key prefix no batch serves; at the end a batch is started for that prefix and every job left
// there finishes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { createClient } from 'redis';
import { JobRepository } from '@cutout/shared';
import { TaskViewSchema, V1JobSchema, VisionResponseSchema, type V1Job } from '@cutout/shared/contract';
import { fixtureImages, type Fixture } from '../support/fixtures.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in-process-proxy.js';
import { startTestStack, REPO_ROOT, type TestStack } from '../support/stack.js';

const KEY = 'client-apis-test-key-5d1f0c9a';
const PREFIX = 'it-clients:';
/** Jobs here wait: no batch serves this prefix until the last test starts one. */
const IDLE_PREFIX = 'it-clients-idle:';

let stack: TestStack;
/** SYNC_TIMEOUT_MS 300 over the idle queue: sync calls answer 202 / 503. */
let idle: InProcessProxy;
/** SYNC_TIMEOUT_MS 60 s over the idle queue: a sync call that waits until its client leaves. */
let idleLong: InProcessProxy;
let batch: ChildProcess | undefined;
const tmp = mkdtempSync(join(tmpdir(), 'cutout-client-apis-'));

let car: Fixture;
let girl: Fixture;
/** Jobs left in the idle queue, which must all finish once a worker serves it. */
const leftInIdleQueue: Array<{ id: string; why: string }> = [];

before(async () => {
  stack = await startTestStack({ keyPrefix: PREFIX, env: { API_KEYS: KEY, VISION_MAX_REQUESTS: '4' } });
  idle = await startInProcessProxy({ redisUrl: stack.redisUrl, keyPrefix: IDLE_PREFIX, syncTimeoutMs: 300 });
  idleLong = await startInProcessProxy({ redisUrl: stack.redisUrl, keyPrefix: IDLE_PREFIX, syncTimeoutMs: 60_000 });
  car = fixtureImages().find((f) => f.name === 'car-1.jpg')!;
  girl = fixtureImages().find((f) => f.name === 'girl-1.jpg')!;
});

after(async () => {
  if (batch && batch.exitCode === null) {
    batch.kill('SIGTERM');
    await new Promise((resolve) => batch!.once('exit', resolve));
  }
  await idle?.close();
  await idleLong?.close();
  await stack?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const token = { 'x-api-token': KEY };
const bearer = { authorization: `Bearer ${KEY}` };
/** The fields CONTRACT §6 gives every job (error and result_url only when they apply). */
const JOB_FIELDS = ['id', 'status', 'created_at', 'started_at', 'finished_at', 'attempts', 'options'];
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Every string anywhere in a JSON value. */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

/** A /v1 job answer: the contract's fields, and no image bytes anywhere in it. */
function readJob(text: string, label: string): V1Job {
  const raw = JSON.parse(text) as Record<string, unknown>;
  for (const key of JOB_FIELDS) assert.ok(Object.hasOwn(raw, key), `${label}: the job has ${key}`);
  assert.ok(!Object.keys(raw).some((key) => /^img_|image|base64/i.test(key)), `${label}: no image field (${Object.keys(raw).join(', ')})`);
  const long = stringsIn(raw).filter((s) => s.length > 500);
  assert.deepEqual(long.map((s) => s.slice(0, 40)), [], `${label}: no image bytes in the job`);
  assert.ok(text.length < 4000, `${label}: a small answer (${text.length} characters)`);
  return V1JobSchema.parse(raw);
}

/** The seed-003-free way: long polls on GET /v1/jobs/{id}?wait=10 until the job has ended. */
async function waitForV1Job(base: string, id: string, headers: Record<string, string> = token): Promise<V1Job> {
  for (let round = 0; round < 12; round++) {
    const res = await fetch(`${base}/v1/jobs/${id}?wait=10`, { headers });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const job = readJob(text, `GET /v1/jobs/${id}`);
    assert.equal(job.id, id);
    if (FINAL.has(job.status)) return job;
  }
  throw new Error(`job ${id} did not end within 12 long polls`);
}

interface Bytes {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

async function bytesOf(res: Response): Promise<Bytes> {
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

function form(file: Fixture, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  body.append('file', new Blob([file.bytes], { type: 'image/jpeg' }), file.name);
  return body;
}

/** Asserts an RGBA 8-bit PNG of the input's size with some transparent and some opaque pixels. */
async function assertCutout(png: Buffer, input: Fixture, label: string): Promise<void> {
  const meta = await sharp(png).metadata();
  const inputMeta = await sharp(input.bytes).metadata();
  assert.equal(meta.format, 'png', label);
  assert.equal(meta.channels, 4, `${label}: RGBA`);
  assert.equal(meta.depth, 'uchar', `${label}: 8 bits`);
  assert.deepEqual([meta.width, meta.height], [inputMeta.width, inputMeta.height], `${label}: the input's size`);
  const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
  assert.ok(alpha.some((a) => a === 0) && alpha.some((a) => a === 255), `${label}: a mask with transparent and opaque parts`);
}

/** Raw RGBA pixels of an image. */
async function rgba(image: Buffer): Promise<Buffer> {
  return sharp(image).ensureAlpha().raw().toBuffer();
}

/** Asserts `composited` is `cutout` over opaque red: red where the cutout is transparent, unchanged where opaque. */
async function assertOverRed(composited: Buffer, cutout: Buffer, label: string): Promise<void> {
  const meta = await sharp(composited).metadata();
  assert.equal(meta.format, 'png', label);
  const [over, plain] = await Promise.all([rgba(composited), rgba(cutout)]);
  assert.equal(over.length, plain.length, `${label}: same size as the cutout`);
  let transparent = 0;
  let opaque = 0;
  for (let i = 0; i < plain.length; i += 4) {
    assert.equal(over[i + 3], 255, `${label}: every pixel is opaque (pixel ${i / 4})`);
    if (plain[i + 3] === 0) {
      transparent++;
      // A tolerance of a few levels: the two outputs come from two model runs.
      assert.ok(over[i]! >= 250 && over[i + 1]! <= 5 && over[i + 2]! <= 5, `${label}: pixel ${i / 4} is red, got ${[...over.subarray(i, i + 4)]}`);
    } else if (plain[i + 3] === 255) {
      opaque++;
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(over[i + c]! - plain[i + c]!) <= 3, `${label}: opaque pixel ${i / 4} keeps its colour`);
    }
  }
  assert.ok(transparent > plain.length / 4 / 50, `${label}: enough transparent pixels to check (${transparent})`);
  assert.ok(opaque > plain.length / 4 / 50, `${label}: enough opaque pixels to check (${opaque})`);
}

/** Asserts an 8-bit greyscale PNG (one band) that matches the cutout's alpha. */
async function assertMask(mask: Buffer, cutout: Buffer, label: string): Promise<void> {
  const meta = await sharp(mask).metadata();
  assert.equal(meta.format, 'png', label);
  assert.equal(meta.channels, 1, `${label}: one band`);
  assert.equal(meta.space, 'b-w', `${label}: greyscale`);
  assert.equal(meta.depth, 'uchar', `${label}: 8 bits`);
  // The PNG's own header: colour type 0 (greyscale), bit depth 8.
  assert.deepEqual([mask[24], mask[25]], [8, 0], `${label}: IHDR says 8-bit greyscale`);
  const [grey, alpha] = await Promise.all([sharp(mask).extractChannel(0).raw().toBuffer(), sharp(cutout).extractChannel(3).raw().toBuffer()]);
  assert.equal(grey.length, alpha.length, `${label}: the cutout's size`);
  let diff = 0;
  for (let i = 0; i < grey.length; i++) diff += Math.abs(grey[i]! - alpha[i]!);
  assert.ok(diff / grey.length < 1, `${label}: the mask is the cutout's alpha (mean difference ${diff / grey.length})`);
}

async function queued(prefix: string): Promise<string[]> {
  const redis = createClient({ url: stack.redisUrl });
  await redis.connect();
  try {
    return await redis.lRange(`${prefix}job_id`, 0, -1);
  } finally {
    await redis.close();
  }
}

async function submittedCount(prefix: string): Promise<number> {
  const redis = createClient({ url: stack.redisUrl });
  await redis.connect();
  try {
    return Number((await redis.hGet(`${prefix}job_counts`, 'submitted')) ?? 0);
  } finally {
    await redis.close();
  }
}

// ---------------------------------------------------------------- /v1/jobs

let plainCutout: Buffer;

test('POST /v1/jobs multipart through fetch (FormData, field "file"): 202 + Location, long poll, result bytes with ETag and 304', async () => {
  const res = await fetch(`${stack.proxyUrl}/v1/jobs`, { method: 'POST', headers: token, body: form(car) });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  const job = readJob(text, 'POST /v1/jobs');
  assert.equal(job.status, 'QUEUED');
  const { format, only_mask: onlyMask, bgcolor } = job.options;
  assert.deepEqual({ format, only_mask: onlyMask, bgcolor }, { format: 'png', only_mask: false, bgcolor: null }, 'the default output options');
  assert.equal(res.headers.get('location'), `/v1/jobs/${job.id}`);

  const done = await waitForV1Job(stack.proxyUrl, job.id);
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.error));
  assert.equal(done.result_url, `/v1/jobs/${job.id}/result`);
  assert.ok(done.created_at && done.started_at && done.finished_at, 'the three times are set');
  assert.ok(done.attempts >= 1);

  const result = await bytesOf(await fetch(`${stack.proxyUrl}${done.result_url}`, { headers: bearer }));
  assert.equal(result.status, 200);
  assert.equal(result.headers.get('content-type'), 'image/png');
  assert.equal(result.headers.get('content-length'), String(result.bytes.length));
  const etag = result.headers.get('etag');
  assert.ok(etag, 'an ETag');
  await assertCutout(result.bytes, car, 'v1 multipart');
  plainCutout = result.bytes;

  const again = await fetch(`${stack.proxyUrl}${done.result_url}`, { headers: { ...token, 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0, 'a 304 has no body');
  assert.equal(again.headers.get('etag'), etag);
  // Caches send lists and weak tags (RFC 9110 §13.1.2): still the same result.
  const listed = await fetch(`${stack.proxyUrl}${done.result_url}`, { headers: { ...token, 'if-none-match': `"stale", W/${etag}` } });
  assert.equal(listed.status, 304, 'a list holding the weak form of the tag');
  await listed.arrayBuffer();

  // The result is stored once: §1's view carries the same bytes as base64.
  const reference = (await (await fetch(`${stack.proxyUrl}/get_job/${job.id}`, { headers: token })).json()) as { status: string; img_out_base64: string };
  assert.equal(reference.status, 'ok');
  assert.equal(reference.img_out_base64, result.bytes.toString('base64'));
});

test('POST /v1/jobs JSON base64 with format=webp: the result is image/webp of the input size with alpha', async () => {
  const res = await fetch(`${stack.proxyUrl}/v1/jobs`, {
    method: 'POST',
    headers: { ...token, 'content-type': 'application/json' },
    body: JSON.stringify({ image: girl.bytes.toString('base64'), format: 'webp' }),
  });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  const job = readJob(text, 'POST /v1/jobs json');
  assert.equal(job.options.format, 'webp');
  assert.equal(res.headers.get('location'), `/v1/jobs/${job.id}`);
  // ?wait= on the result itself: one call that answers once the job has ended.
  const result = await bytesOf(await fetch(`${stack.proxyUrl}/v1/jobs/${job.id}/result?wait=30`, { headers: token }));
  assert.equal(result.status, 200, result.bytes.toString('utf8').slice(0, 300));
  assert.equal(result.headers.get('content-type'), 'image/webp');
  assert.equal(result.headers.get('content-length'), String(result.bytes.length));
  assert.equal(result.bytes.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(result.bytes.subarray(8, 12).toString('latin1'), 'WEBP');
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.format, 'webp');
  assert.equal(meta.hasAlpha, true);
  assert.deepEqual([meta.width, meta.height], [600, 399]);
});

test('POST /v1/jobs raw body (Content-Type: image/jpeg, options in the query) with only_mask=true: a greyscale PNG mask', async () => {
  assert.ok(plainCutout, 'the multipart test ran first and kept its cutout');
  const res = await fetch(`${stack.proxyUrl}/v1/jobs?only_mask=true`, { method: 'POST', headers: { ...token, 'content-type': 'image/jpeg' }, body: car.bytes });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  const job = readJob(text, 'POST /v1/jobs raw');
  assert.equal(job.options.only_mask, true);
  const done = await waitForV1Job(stack.proxyUrl, job.id);
  assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.error));
  const result = await bytesOf(await fetch(`${stack.proxyUrl}/v1/jobs/${job.id}/result`, { headers: token }));
  assert.equal(result.status, 200);
  assert.equal(result.headers.get('content-type'), 'image/png');
  await assertMask(result.bytes, plainCutout, 'only_mask');
});

const curl = spawnSync('curl', ['--version']).status === 0;
/** Clients that read proxy settings from the environment go straight to 127.0.0.1. */
const DIRECT = { NO_PROXY: '*', no_proxy: '*' };

test('curl, as the README shows it: -F file=@photo.jpg and --data-binary with Content-Type: image/jpeg', { skip: curl ? false : 'curl is not on the PATH' }, async () => {
  const exec = promisify(execFile);
  const run = (file: string, args: string[]) => exec(file, ['--noproxy', '*', ...args], { env: { ...process.env, ...DIRECT } });
  const out = join(tmp, 'curl-out.png');
  // curl -F: multipart, the file's own name and type, straight to a job.
  const created = await run('curl', ['-sS', '-H', `X-Api-Token: ${KEY}`, '-F', `file=@${car.path}`, '-D', '-', `${stack.proxyUrl}/v1/jobs`]);
  const [head, body] = created.stdout.split(/\r?\n\r?\n/, 2);
  assert.match(head!, /^HTTP\/1\.1 202/);
  const job = readJob(body!, 'curl -F');
  assert.match(head!, new RegExp(`\\r?\\nlocation: /v1/jobs/${job.id}\\r?\\n`, 'i'));
  // curl --data-binary: the raw file to the synchronous path, the cutout written to a file.
  const sync = await run('curl', ['-sS', '-H', `Authorization: Bearer ${KEY}`, '-H', 'Content-Type: image/jpeg', '--data-binary', `@${car.path}`, '-o', out, '-w', '%{http_code} %{content_type}', `${stack.proxyUrl}/v1/remove`]);
  assert.equal(sync.stdout, '200 image/png');
  await assertCutout(readFileSync(out), car, 'curl --data-binary /v1/remove');
  const done = await waitForV1Job(stack.proxyUrl, job.id);
  assert.equal(done.status, 'SUCCEEDED');
});

// ---------------------------------------------------------------- seed 001: Celery-style tasks

test('seed 001: POST /predict → task_id, then the Celery poll loop on GET /tasks/{id} until SUCCESS', async () => {
  const created = await fetch(`${stack.proxyUrl}/predict`, { method: 'POST', headers: { ...token, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ image: car.bytes.toString('base64') }) });
  const { task_id: taskId, ...rest } = (await created.json()) as { task_id: string };
  assert.equal(created.status, 200);
  assert.deepEqual(rest, {}, 'the answer is {"task_id"} alone');
  assert.match(taskId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  // As a Celery client polls AsyncResult: until the state is one of the ready ones.
  const seen: string[] = [];
  let last: ReturnType<typeof TaskViewSchema.parse> | undefined;
  for (let i = 0; i < 1200; i++) {
    const res = await fetch(`${stack.proxyUrl}/tasks/${taskId}`, { headers: token });
    assert.equal(res.status, 200);
    last = TaskViewSchema.parse(await res.json());
    assert.equal(last.task_id, taskId);
    if (seen.at(-1) !== last.status) seen.push(last.status);
    if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(last.status)) break;
    assert.equal(last.result, null, `no result while ${last.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(last?.status, 'SUCCESS', JSON.stringify(last?.result));
  const order = ['PENDING', 'STARTED', 'SUCCESS'];
  assert.deepEqual([...seen].sort((a, b) => order.indexOf(a) - order.indexOf(b)), seen, `states in order: ${seen.join(' → ')}`);
  assert.ok(seen.every((s) => order.includes(s)), `only Celery's words: ${seen.join(', ')}`);
  const result = last!.result as { img_out_base64: string };
  await assertCutout(Buffer.from(result.img_out_base64, 'base64'), car, '/tasks result');
});

test('seed 001: PENDING while queued, STARTED while a worker holds it; an unknown id is 404, not PENDING', async () => {
  const created = await fetch(`${idle.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: girl.bytes.toString('base64') }) });
  assert.equal(created.status, 200);
  const { task_id: taskId } = (await created.json()) as { task_id: string };
  const task = async () => {
    const res = await fetch(`${idle.url}/tasks/${taskId}`);
    assert.equal(res.status, 200);
    return TaskViewSchema.parse(await res.json());
  };
  assert.deepEqual(await task(), { task_id: taskId, status: 'PENDING', result: null });

  // A worker takes it (the repository's own take, as batch does): STARTED; handing it back: PENDING again.
  const repo = new JobRepository(idle.redis, { keyPrefix: IDLE_PREFIX, ttlSeconds: 600 });
  const ahead = (await queued(IDLE_PREFIX)).filter((id) => id !== taskId);
  assert.deepEqual(ahead, [], 'this test runs before anything else waits in the idle queue (the file\'s tests run in order)');
  const { job } = await repo.take('client-apis-test-worker');
  assert.equal(job?.id, taskId);
  assert.deepEqual(await task(), { task_id: taskId, status: 'STARTED', result: null });
  assert.equal(await repo.release(job!.id, job!.token), true);
  assert.equal((await task()).status, 'PENDING');
  leftInIdleQueue.push({ id: taskId, why: 'a task handed back by its worker' });

  for (const id of [randomUUID(), 'not-a-task-id']) {
    for (const base of [idle.url, stack.proxyUrl]) {
      const res = await fetch(`${base}/tasks/${id}`, { headers: token });
      const body = (await res.json()) as { status: string; error: { code: string } };
      assert.equal(res.status, 404, `${id}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 'JOB_NOT_FOUND');
    }
  }
});

// ---------------------------------------------------------------- /v1/remove

test('POST /v1/remove multipart and raw answer 200 with the bytes; bgcolor=#ff0000 turns transparent areas opaque red', async () => {
  const plain = await bytesOf(await fetch(`${stack.proxyUrl}/v1/remove`, { method: 'POST', headers: token, body: form(car) }));
  assert.equal(plain.status, 200, plain.bytes.toString('utf8').slice(0, 300));
  assert.equal(plain.headers.get('content-type'), 'image/png');
  assert.equal(plain.headers.get('content-length'), String(plain.bytes.length));
  assert.ok(plain.headers.get('etag'));
  await assertCutout(plain.bytes, car, '/v1/remove multipart');

  const red = await bytesOf(
    await fetch(`${stack.proxyUrl}/v1/remove?bgcolor=${encodeURIComponent('#ff0000')}`, { method: 'POST', headers: { ...token, 'content-type': 'image/jpeg' }, body: car.bytes }),
  );
  assert.equal(red.status, 200, red.bytes.toString('utf8').slice(0, 300));
  assert.equal(red.headers.get('content-type'), 'image/png');
  await assertOverRed(red.bytes, plain.bytes, '/v1/remove raw bgcolor=#ff0000');
});

test('POST /v1/remove past SYNC_TIMEOUT_MS (no worker) answers 202 with the job, which stays fetchable by id', async () => {
  const res = await fetch(`${idle.url}/v1/remove`, { method: 'POST', body: form(girl, { format: 'webp' }) });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  const job = readJob(text, '/v1/remove 202');
  assert.equal(job.status, 'QUEUED');
  assert.equal(job.options.format, 'webp');
  assert.equal(res.headers.get('location'), `/v1/jobs/${job.id}`);
  assert.ok((await queued(IDLE_PREFIX)).includes(job.id), 'the job is on the queue');

  const view = await fetch(`${idle.url}/v1/jobs/${job.id}`);
  assert.equal(view.status, 200);
  assert.equal(readJob(await view.text(), 'after 202').status, 'QUEUED');
  const result = await fetch(`${idle.url}/v1/jobs/${job.id}/result`);
  const body = (await result.json()) as { error: { code: string } };
  assert.equal(result.status, 409);
  assert.equal(body.error.code, 'JOB_NOT_FINISHED');
  assert.ok(Number(result.headers.get('retry-after')) > 0, 'Retry-After');
  leftInIdleQueue.push({ id: job.id, why: '/v1/remove answered 202' });
});

test('a /v1/remove client that disconnects before the answer does not cancel its job', async () => {
  const before = await queued(IDLE_PREFIX);
  const gone = new Promise<void>((resolve, reject) => {
    const req = request(`${idleLong.url}/v1/remove`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': String(car.bytes.length) } }, (res) => {
      reject(new Error(`answered ${res.statusCode} before the client left`));
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end(car.bytes);
    // Leave as soon as the job is on the queue, long before SYNC_TIMEOUT_MS (60 s).
    void (async () => {
      while ((await queued(IDLE_PREFIX)).length === before.length) await new Promise((r) => setTimeout(r, 10));
      req.destroy();
    })();
  });
  await gone;
  const now = await queued(IDLE_PREFIX);
  const id = now.find((i) => !before.includes(i));
  assert.ok(id, 'the job was queued');
  // The proxy saw the client go; the job is untouched.
  const view = await fetch(`${idleLong.url}/v1/jobs/${id}`);
  assert.equal(view.status, 200);
  assert.equal(readJob(await view.text(), 'after the client left').status, 'QUEUED');
  assert.ok((await queued(IDLE_PREFIX)).includes(id), 'still on the queue');
  leftInIdleQueue.push({ id, why: 'its /v1/remove client disconnected' });
});

// ---------------------------------------------------------------- rembg's /api/remove

test("rembg's POST /api/remove: multipart file → image/png; om=true → the mask; bgc=255,0,0,255 → over red", async () => {
  const plain = await bytesOf(await fetch(`${stack.proxyUrl}/api/remove`, { method: 'POST', headers: token, body: form(car) }));
  assert.equal(plain.status, 200, plain.bytes.toString('utf8').slice(0, 300));
  assert.equal(plain.headers.get('content-type'), 'image/png');
  await assertCutout(plain.bytes, car, '/api/remove');

  const mask = await bytesOf(await fetch(`${stack.proxyUrl}/api/remove?om=true`, { method: 'POST', headers: token, body: form(car) }));
  assert.equal(mask.status, 200, mask.bytes.toString('utf8').slice(0, 300));
  assert.equal(mask.headers.get('content-type'), 'image/png');
  await assertMask(mask.bytes, plain.bytes, '/api/remove om=true');

  // bgc as a form field, as rembg's own form sends it.
  const red = await bytesOf(await fetch(`${stack.proxyUrl}/api/remove`, { method: 'POST', headers: bearer, body: form(car, { bgc: '255,0,0,255' }) }));
  assert.equal(red.status, 200, red.bytes.toString('utf8').slice(0, 300));
  await assertOverRed(red.bytes, plain.bytes, '/api/remove bgc=255,0,0,255');
});

test('/api/remove past SYNC_TIMEOUT_MS answers 503 with Retry-After and the job in Location', async () => {
  const res = await fetch(`${idle.url}/api/remove`, { method: 'POST', body: form(car) });
  const body = (await res.json()) as { status: string; error: { code: string; message: string } };
  assert.equal(res.status, 503);
  assert.equal(body.status, 'ng');
  assert.equal(body.error.code, 'SYNC_TIMEOUT');
  assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
  const location = res.headers.get('location');
  assert.match(location ?? '', /^\/v1\/jobs\/[0-9a-f-]{36}$/);
  const view = await fetch(`${idle.url}${location}`);
  assert.equal(view.status, 200);
  const job = readJob(await view.text(), 'after 503');
  assert.equal(job.status, 'QUEUED');
  leftInIdleQueue.push({ id: job.id, why: '/api/remove answered 503' });
});

// ---------------------------------------------------------------- seed 004: Vision-style

function visionEntry(image: Buffer | string) {
  return { features: [{ score_th: 0.35, nms_iou: 0.4 }], image: { content: typeof image === 'string' ? image : image.toString('base64') } };
}

test('seed 004: POST / with X-Api-Token: one response per request, in order; a bad entry is an error object, the others succeed', async () => {
  const before = await submittedCount(PREFIX);
  const res = await fetch(`${stack.proxyUrl}/`, {
    method: 'POST',
    headers: { ...token, 'content-type': 'application/json' },
    body: JSON.stringify({ requests: [visionEntry(car.bytes), visionEntry(Buffer.from('this is not an image at all')), visionEntry(girl.bytes)] }),
  });
  assert.equal(res.status, 200);
  const { responses } = VisionResponseSchema.parse(await res.json());
  assert.equal(responses.length, 3);
  const [first, bad, third] = responses;
  assert.ok(first && 'image' in first, JSON.stringify(first).slice(0, 300));
  assert.deepEqual([first.width, first.height], [480, 360]);
  await assertCutout(Buffer.from(first.image.content, 'base64'), car, 'vision entry 0');
  assert.ok(bad && 'error' in bad, JSON.stringify(bad));
  assert.equal(bad.error.code, 'UNSUPPORTED_IMAGE_FORMAT');
  assert.ok(bad.error.message.length > 0);
  assert.ok(third && 'image' in third, JSON.stringify(third).slice(0, 300));
  assert.deepEqual([third.width, third.height], [600, 399]);
  await assertCutout(Buffer.from(third.image.content, 'base64'), girl, 'vision entry 2');
  assert.equal(await submittedCount(PREFIX), before + 2, 'the bad entry queued nothing');
});

test('seed 004: more than VISION_MAX_REQUESTS entries is 413 TOO_MANY_ENTRIES and queues nothing; no token is 401', async () => {
  const before = await submittedCount(PREFIX);
  const body = JSON.stringify({ requests: Array.from({ length: 5 }, () => visionEntry(girl.bytes)) });
  const res = await fetch(`${stack.proxyUrl}/`, { method: 'POST', headers: { ...token, 'content-type': 'application/json' }, body });
  const answer = (await res.json()) as { status: string; error: { code: string; message: string } };
  assert.equal(res.status, 413);
  assert.equal(answer.error.code, 'TOO_MANY_ENTRIES');
  assert.match(answer.error.message, /VISION_MAX_REQUESTS/);
  const anonymous = await fetch(`${stack.proxyUrl}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: [visionEntry(girl.bytes)] }) });
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
  assert.equal(await submittedCount(PREFIX), before);
});

const python = spawnSync('python3', ['--version']).status === 0;

// Seed 004's own client: requests.post(url, headers={"X-Api-Token": token}, json=...); urllib when requests is missing.
const SEED_004_CLIENT = `
import base64, json, sys
url, token, path = sys.argv[1:4]
body = {"requests": [{"features": [{"score_th": 0.35, "nms_iou": 0.40}], "image": {"content": base64.b64encode(open(path, "rb").read()).decode("utf-8")}}]}
try:
    import requests
    client, j = "requests", requests.post(url, headers={"X-Api-Token": token}, json=body, timeout=120).json()
except ImportError:
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"X-Api-Token": token, "Content-Type": "application/json"})
    client, j = "urllib", json.loads(urllib.request.urlopen(req, timeout=120).read())
r = j["responses"][0]
print(json.dumps({"client": client, "count": len(j["responses"]), "width": r.get("width"), "height": r.get("height"), "png": base64.b64decode(r["image"]["content"]).hex()}))
`;

test('seed 004 from Python, as its send2api() does it', { skip: python ? false : 'python3 is not on the PATH' }, async (t) => {
  const run = promisify(execFile);
  const { stdout } = await run('python3', ['-c', SEED_004_CLIENT, `${stack.proxyUrl}/`, KEY, car.path], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...DIRECT } });
  const answer = JSON.parse(stdout) as { client: string; count: number; width: number; height: number; png: string };
  t.diagnostic(`python3 client: ${answer.client}`);
  assert.equal(answer.count, 1);
  assert.deepEqual([answer.width, answer.height], [480, 360]);
  await assertCutout(Buffer.from(answer.png, 'hex'), car, `python ${answer.client}`);
});

// ---------------------------------------------------------------- nothing is lost

test('every job left waiting (202, 503, a client that left, a handed-back task) finishes once a worker serves its queue', async () => {
  assert.equal(leftInIdleQueue.length, 4, `the earlier tests left their jobs: ${JSON.stringify(leftInIdleQueue)}`);
  batch = spawn(process.execPath, [join(REPO_ROOT, 'batch', 'dist', 'main.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_URL: stack.redisUrl, REDIS_KEY_PREFIX: IDLE_PREFIX, PREDICT_URL: stack.predictUrl, BATCH_CONCURRENCY: '2', BATCH_METRICS_HOST: '127.0.0.1', BATCH_METRICS_PORT: '0', LOG_LEVEL: 'warn', API_KEYS: '', API_KEYS_FILE: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const { id, why } of leftInIdleQueue) {
    const job = await waitForV1Job(idle.url, id, {});
    assert.equal(job.status, 'SUCCEEDED', `${why}: ${JSON.stringify(job.error)}`);
    const result = await fetch(`${idle.url}/v1/jobs/${id}/result`);
    await result.arrayBuffer();
    assert.equal(result.status, 200, why);
  }
  const task = TaskViewSchema.parse(await (await fetch(`${idle.url}/tasks/${leftInIdleQueue.find((j) => j.why.includes('task'))!.id}`)).json());
  assert.equal(task.status, 'SUCCESS');
  assert.deepEqual(await queued(IDLE_PREFIX), []);
});
