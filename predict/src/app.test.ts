import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { createLogger } from '@cutout/shared';
import { createApp } from './app.js';
import { loadModel, type LoadedModel } from './model/model-loader.js';
import { InferenceBatcher } from './pipeline/batcher.js';

const photo = readFileSync(new URL('../../test/fixtures/images/car-1.jpg', import.meta.url));
const MAX_IMAGE_BYTES = 2 * 1024 * 1024;
let model: LoadedModel | undefined;
let batcher: InferenceBatcher | undefined;
let loaded: LoadedModel;
let server: Server;
let base: string;

before(async () => {
  const logger = createLogger('predict-test', 'error');
  const app = createApp({ logger, model: () => model, batcher: () => batcher, maxImageBytes: MAX_IMAGE_BYTES, maxImagePixels: 50_000_000 });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  loaded = await loadModel('cutout-border');
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await loaded.close();
});

function post(body: string | Uint8Array, contentType: string): Promise<Response> {
  return fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function assertError(res: Response, status: number, code: string): Promise<void> {
  const body = (await res.json()) as { status: string; error: { code: string; message: string } };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.status, 'ng');
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10);
}

test('before the model is loaded: /health 503 loading, /predict and /metadata 503 MODEL_NOT_READY', async () => {
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { health: 'loading' });
  await assertError(await post(photo, 'image/jpeg'), 503, 'MODEL_NOT_READY');
  await assertError(await fetch(`${base}/metadata`), 503, 'MODEL_NOT_READY');
  model = loaded;
  const ready = await fetch(`${base}/health`, { headers: { 'x-request-id': 'health-check-1' } });
  assert.equal(ready.status, 200);
  assert.equal(ready.headers.get('x-request-id'), 'health-check-1');
  assert.deepEqual(await ready.json(), { health: 'ok' });
});

function pickBatching(batching: Record<string, unknown>): Record<string, unknown> {
  const { batch_size, max_batch, max_delay_ms, runs_in_flight } = batching;
  return { batch_size, max_batch, max_delay_ms, runs_in_flight };
}

test('/metadata names the model, its tensors and preprocessing', async () => {
  model = loaded;
  const res = await fetch(`${base}/metadata`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    model: { name: string };
    input: unknown;
    output: unknown;
    preprocessing: { scale: string };
    batching: Record<string, unknown>;
  };
  assert.equal(body.model.name, 'cutout-border');
  assert.deepEqual(body.input, { name: 'input', type: 'float32', layout: 'NCHW', shape: ['batch', 3, 320, 320] });
  assert.deepEqual(body.output, { name: 'mask', shape: ['batch', 1, 320, 320] });
  assert.equal(body.preprocessing.scale, 'divide by 255');
  // No batcher given: each request runs alone.
  assert.deepEqual(pickBatching(body.batching), { batch_size: 1, max_batch: 1, max_delay_ms: 0, runs_in_flight: 'one per request' });
});

async function assertPhotoCutout(png: Buffer): Promise<void> {
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.depth, meta.width, meta.height], ['png', 4, 'uchar', 480, 360]);
}

test('JSON mode: {"image": base64} → {"status":"ok","img_none_bg_base64"}, with a data: prefix too', async () => {
  model = loaded;
  for (const image of [photo.toString('base64'), `data:image/jpeg;base64,${photo.toString('base64')}`]) {
    const res = await post(JSON.stringify({ image }), 'application/json; charset=utf-8');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('server-timing') ?? '', /^decode;dur=[\d.]+, preprocess;dur=[\d.]+, inference;dur=[\d.]+, postprocess;dur=[\d.]+, encode;dur=[\d.]+, batch;desc="1"$/);
    const body = (await res.json()) as { status: string; img_none_bg_base64: string };
    assert.equal(body.status, 'ok');
    await assertPhotoCutout(Buffer.from(body.img_none_bg_base64, 'base64'));
  }
});

test('raw mode: image bytes in, image/png out, for each accepted content type', async () => {
  model = loaded;
  for (const type of ['image/jpeg', 'application/octet-stream', 'image/png']) {
    const res = await post(photo, type);
    assert.equal(res.status, 200, type);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(res.headers.get('server-timing'));
    await assertPhotoCutout(Buffer.from(await res.arrayBuffer()));
  }
});

test('with a batcher, concurrent requests share a run: Server-Timing says batch 4, /metadata shows the settings', async () => {
  model = loaded;
  batcher = new InferenceBatcher(loaded, { maxBatch: 4, maxDelayMs: 60_000 });
  try {
    const metadata = (await (await fetch(`${base}/metadata`)).json()) as { batching: Record<string, unknown> };
    assert.deepEqual(pickBatching(metadata.batching), { batch_size: 4, max_batch: 4, max_delay_ms: 60_000, runs_in_flight: 1 });
    // The long delay holds the run until all four have arrived, so the batch size is certain.
    const responses = await Promise.all(Array.from({ length: 4 }, () => post(photo, 'image/jpeg')));
    for (const res of responses) {
      assert.equal(res.status, 200);
      assert.match(res.headers.get('server-timing') ?? '', /, batch;desc="4"$/);
      await assertPhotoCutout(Buffer.from(await res.arrayBuffer()));
    }
  } finally {
    await batcher.close();
    batcher = undefined;
  }
});

test('bad input gets the documented 4xx code, never a 5xx', async () => {
  model = loaded;
  const png = await sharp(photo).png().toBuffer();
  await assertError(await post(JSON.stringify({ image: 'not base64 at all!' }), 'application/json'), 400, 'INVALID_BASE64');
  await assertError(await post(JSON.stringify({ image: '' }), 'application/json'), 400, 'EMPTY_IMAGE');
  await assertError(await post(JSON.stringify({ picture: 'abc' }), 'application/json'), 400, 'MISSING_IMAGE');
  await assertError(await post('{"image": "abc', 'application/json'), 400, 'INVALID_JSON');
  await assertError(await post(Buffer.from('plain text, not an image at all'), 'application/octet-stream'), 415, 'UNSUPPORTED_IMAGE_FORMAT');
  await assertError(await post(JSON.stringify({ image: Buffer.from('hello').toString('base64') }), 'application/json'), 415, 'UNSUPPORTED_IMAGE_FORMAT');
  await assertError(await post(png.subarray(0, png.length >> 1), 'image/png'), 422, 'IMAGE_DECODE_FAILED');
  await assertError(await post(photo, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await assertError(await post(photo, 'multipart/form-data; boundary=x'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await assertError(await post(new Uint8Array(0), 'image/png'), 400, 'EMPTY_IMAGE');
  await assertError(await post(new Uint8Array(MAX_IMAGE_BYTES + 1), 'image/png'), 413, 'BODY_TOO_LARGE');
  await assertError(await fetch(`${base}/nope`), 404, 'NOT_FOUND');
});
