import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { pngWithCorruptPixels, withDeclaredSize } from '../support/bad-images.js';
import { fixtureImages } from '../support/fixtures.js';
import { getJson, postJson, waitForJob } from '../support/http.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let png: Buffer;

before(async () => {
  stack = await startTestStack({ keyPrefix: 'it-bad:' });
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
});

after(async () => {
  await stack?.stop();
});

interface Case {
  name: string;
  body: string | Uint8Array;
  contentType?: string;
  status: number;
  code: string;
}

function cases(): Case[] {
  const json = (value: unknown) => JSON.stringify(value);
  return [
    { name: 'malformed JSON', body: '{"image": "abc"', status: 400, code: 'INVALID_JSON' },
    { name: 'no image field', body: json({ picture: png.toString('base64') }), status: 400, code: 'MISSING_IMAGE' },
    { name: 'image is not a string', body: json({ image: 42 }), status: 400, code: 'MISSING_IMAGE' },
    { name: 'not base64', body: json({ image: 'this is *not* base64!' }), status: 400, code: 'INVALID_BASE64' },
    { name: 'empty image', body: json({ image: '' }), status: 400, code: 'EMPTY_IMAGE' },
    { name: 'not an image', body: json({ image: Buffer.from('hello, I am a text file\n'.repeat(20)).toString('base64') }), status: 415, code: 'UNSUPPORTED_IMAGE_FORMAT' },
    { name: 'truncated PNG', body: json({ image: png.subarray(0, Math.floor(png.length / 2)).toString('base64') }), status: 400, code: 'IMAGE_TRUNCATED' },
    { name: 'too many pixels', body: json({ image: withDeclaredSize(png, 10_000, 10_000).toString('base64') }), status: 422, code: 'TOO_MANY_PIXELS' },
    { name: 'too large', body: json({ image: randomBytes(21 * 1024 * 1024).toString('base64') }), status: 413, code: 'IMAGE_TOO_LARGE' },
    { name: 'not JSON content type', body: 'image=abc', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  ];
}

test('every bad upload gets its documented 4xx and code, and nothing is queued', async () => {
  const before = await getJson<{ jobs: { submitted: number } }>(`${stack.proxyUrl}/metadata`);
  for (const c of cases()) {
    const res = await postJson<{ status: string; error: { code: string; message: string } }>(`${stack.proxyUrl}/start_job`, c.body, {
      raw: true,
      contentType: c.contentType ?? 'application/json',
    });
    assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, 'ng', c.name);
    assert.equal(res.body.error.code, c.code, c.name);
    assert.ok(res.body.error.message.length > 10, `${c.name}: the message says how to fix it`);
  }
  const afterwards = await getJson<{ jobs: { submitted: number } }>(`${stack.proxyUrl}/metadata`);
  assert.equal(afterwards.body.jobs.submitted, before.body.jobs.submitted, 'no rejected upload was queued');
});

test('unknown, malformed and very long job ids answer 404 JOB_NOT_FOUND', async () => {
  for (const id of [randomUUID(), 'nope', 'x'.repeat(5000), '..%2F..%2Fetc%2Fpasswd']) {
    const res = await getJson<{ status: string; error: { code: string } }>(`${stack.proxyUrl}/get_job/${id}`);
    assert.equal(res.status, 404, id.slice(0, 40));
    assert.equal(res.body.status, 'ng');
    assert.equal(res.body.error.code, 'JOB_NOT_FOUND');
  }
});

test('predict rejects bad input with a 4xx, and good jobs beside bad ones still succeed', async () => {
  const bad = await postJson<{ error: { code: string } }>(`${stack.predictUrl}/predict`, { image: 'not base64 at all!' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_BASE64');
  const junk = await postJson<{ error: { code: string } }>(`${stack.predictUrl}/predict`, randomBytes(2048), {
    raw: true,
    contentType: 'application/octet-stream',
  });
  assert.equal(junk.status, 415);
  assert.equal(junk.body.error.code, 'UNSUPPORTED_IMAGE_FORMAT');

  // A PNG whose header and chunk chain are intact but whose pixel data is garbage passes the
  // proxy's cheap checks, fails in predict, and must end FAILED with a reason.
  const corrupt = pngWithCorruptPixels(png);
  const good = fixtureImages().find((f) => f.name === 'girl-1.jpg')!;
  const [badJob, goodJob] = await Promise.all(
    [corrupt, good.bytes].map((bytes) => postJson<{ job_id: string }>(`${stack.proxyUrl}/start_job`, { image: bytes.toString('base64') })),
  );
  assert.equal(badJob!.status, 200);
  const failed = await waitForJob(stack.proxyUrl, badJob!.body.job_id);
  assert.equal(failed.job_status, 'FAILED');
  assert.equal(failed.status, 'ng');
  assert.equal(failed.error?.code, 'IMAGE_DECODE_FAILED');
  const succeeded = await waitForJob(stack.proxyUrl, goodJob!.body.job_id);
  assert.equal(succeeded.job_status, 'SUCCEEDED');
  const health = await getJson(`${stack.proxyUrl}/health`);
  assert.equal(health.status, 200, 'proxy still up');
  assert.equal((await getJson(`${stack.predictUrl}/health`)).status, 200, 'predict still up');
});

test('one Idempotency-Key on /v1/jobs and then /v1/groups (and the reverse) is 422 IDEMPOTENCY_KEY_REUSED, with the same image and options', async () => {
  const image = png.toString('base64');
  const submit = (path: string, key: string, body: unknown) =>
    fetch(`${stack.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) }).then(
      async (res) => ({ status: res.status, body: (await res.json()) as { id?: string; error?: { code: string; message: string } } }),
    );
  const orders = [
    ['/v1/jobs', { image }, '/v1/groups', { images: [image] }],
    ['/v1/groups', { images: [image] }, '/v1/jobs', { image }],
  ] as const;
  for (const [firstPath, firstBody, otherPath, otherBody] of orders) {
    const key = randomUUID();
    const first = await submit(firstPath, key, firstBody);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const other = await submit(otherPath, key, otherBody);
    assert.deepEqual([other.status, other.body.error?.code], [422, 'IDEMPOTENCY_KEY_REUSED'], `${firstPath} then ${otherPath}: ${JSON.stringify(other.body)}`);
    assert.match(other.body.error!.message, /new key/);
  }
});

test('GET /tasks/{unknown id} (the Celery-style API) is 404 JOB_NOT_FOUND and says to submit with POST /predict', async () => {
  for (const id of [randomUUID(), 'not-a-task', '%E0%A4%A']) {
    const res = await fetch(`${stack.proxyUrl}/tasks/${id}`);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.deepEqual([res.status, body.error.code], [404, 'JOB_NOT_FOUND'], id);
    assert.match(body.error.message, /POST \/predict/, id);
    assert.doesNotMatch(body.error.message, /start_job/, id);
  }
});
