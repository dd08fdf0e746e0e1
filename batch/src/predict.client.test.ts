import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { freePort } from '@cutout/shared';
import { createPredictClient, type PredictClient } from './predict.client.js';
import { PredictError, PredictRejectedError, PredictUnavailableError } from './predict.errors.js';
import { startFakePredict, type FakePredict } from './fake-predict.js';

let png: Buffer;
let jpeg: Buffer;
const servers: FakePredict[] = [];
const clients: PredictClient[] = [];

before(async () => {
  png = await sharp({ create: { width: 4, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: { r: 200, g: 10, b: 10 } } }).jpeg().toBuffer();
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function server(mode: FakePredict['mode'] = 'png'): Promise<FakePredict> {
  const s = await startFakePredict({ png, mode });
  servers.push(s);
  return s;
}

async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

function client(urls: string[], timeoutMs = 5_000): PredictClient {
  const c = createPredictClient({ urls, timeoutMs, connections: 2 });
  clients.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<PredictError> {
  const error = await promise.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof PredictError, `a PredictError, got ${String(error)}`);
  return error;
}

test('predict posts the raw bytes with the job id and returns the PNG bytes', async () => {
  const s = await server();
  const out = await client([s.url]).predict('job-1', jpeg);
  assert.deepEqual(out.bytes, png);
  assert.deepEqual(out.timings, {}, 'no Server-Timing, no stage times');
  const [req] = s.requests;
  assert.equal(req?.method, 'POST');
  assert.equal(req?.path, '/predict');
  assert.equal(req?.contentType, 'application/octet-stream');
  assert.equal(req?.jobId, 'job-1');
  assert.equal(req?.requestId, 'job-1');
  assert.deepEqual(req?.body, jpeg);
});

test('a 4xx JSON error becomes PredictRejectedError with predict code and message, not retryable', async () => {
  const s = await server('reject');
  const error = await rejection(client([s.url]).predict('job-2', jpeg));
  assert.ok(error instanceof PredictRejectedError);
  assert.equal(error.code, 'IMAGE_DECODE_FAILED');
  assert.equal(error.message, 'the image is truncated; upload the whole file');
  assert.equal(error.status, 422);
  assert.equal(error.retryable, false);
});

test('a 5xx becomes PREDICT_FAILED carrying predict message, and does not fail over', async () => {
  const failing = await server('fail');
  const healthy = await server();
  const error = await rejection(client([failing.url, healthy.url]).predict('job-3', jpeg));
  assert.equal(error.code, 'PREDICT_FAILED');
  assert.match(error.message, /onnxruntime session crashed/);
  assert.equal(error.retryable, true);
  assert.equal(healthy.requests.length, 0);
});

test('no server reachable gives PREDICT_UNAVAILABLE naming each one', async () => {
  const urls = [await closedPortUrl(), await closedPortUrl()];
  const error = await rejection(client(urls).predict('job-4', jpeg));
  assert.ok(error instanceof PredictUnavailableError);
  assert.equal(error.code, 'PREDICT_UNAVAILABLE');
  for (const url of urls) assert.ok(error.message.includes(url), error.message);
});

test('predict\'s Server-Timing comes back as stage timings beside the PNG', async () => {
  const s = await startFakePredict({ png, serverTiming: 'decode;dur=0.5, inference;dur=12, batch;desc=3' });
  servers.push(s);
  const out = await client([s.url]).predict('job-st', jpeg);
  assert.deepEqual(out, { bytes: png, timings: { predict_decode_ms: 0.5, predict_inference_ms: 12, predict_batch_size: 3 } });
});

test('a refused or still-loading server is skipped for the next one', async () => {
  const loading = await server('loading');
  const healthy = await server();
  const c = client([await closedPortUrl(), loading.url, healthy.url]);
  for (let call = 0; call < 3; call++) assert.deepEqual((await c.predict(`job-5-${call}`, jpeg)).bytes, png);
  assert.equal(healthy.requests.length, 3, 'every call ended on the healthy server');
  assert.equal(loading.requests.length, 2, 'each call tries a server at most once');
});

test('calls start at the next server in turn', async () => {
  const a = await server();
  const b = await server();
  const c = client([a.url, b.url]);
  await c.predict('job-6a', jpeg);
  await c.predict('job-6b', jpeg);
  assert.deepEqual(
    [a.requests.map((r) => r.jobId), b.requests.map((r) => r.jobId)],
    [['job-6a'], ['job-6b']],
  );
});

test('no answer within the timeout gives PREDICT_TIMEOUT', async () => {
  const s = await server('hang');
  const error = await rejection(client([s.url], 200).predict('job-7', jpeg));
  assert.equal(error.code, 'PREDICT_TIMEOUT');
});

test('an aborted call rejects with the signal reason', async () => {
  const s = await server('hang');
  const controller = new AbortController();
  const call = client([s.url]).predict('job-8', jpeg, { signal: controller.signal });
  await s.untilInFlight(1);
  const reason = new Error('stop');
  controller.abort(reason);
  await assert.rejects(call, (e) => e === reason);
});

test('health reports each server', async () => {
  const ready = await server();
  const loading = await server('loading');
  const down = await closedPortUrl();
  const health = await client([ready.url, loading.url, down]).health();
  assert.deepEqual(
    health.map((h) => [h.url, h.ok, h.status]),
    [
      [ready.url, true, 200],
      [loading.url, false, 503],
      [down, false, null],
    ],
  );
});

test('close is idempotent and later calls fail as unavailable', async () => {
  const s = await server();
  const c = createPredictClient({ urls: [s.url], timeoutMs: 1_000, connections: 1 });
  await c.predict('job-9', jpeg);
  await c.close();
  await c.close();
  const error = await rejection(c.predict('job-10', jpeg));
  assert.equal(error.code, 'PREDICT_UNAVAILABLE');
});

const input = { format: 'jpeg', width: 4, height: 3 };

test('an answer that is not the image asked for is PREDICT_BAD_OUTPUT (retryable), never returned as a cutout', async () => {
  const garbage = await server('garbage');
  const bad = await rejection(client([garbage.url]).predict('job-bad-1', jpeg, { input }));
  assert.deepEqual([bad.code, bad.retryable], ['PREDICT_BAD_OUTPUT', true]);
  assert.match(bad.message, /not an image/);
  // A real PNG of the wrong size, and a PNG where WebP was asked for, are refused too.
  const wrongSize = await startFakePredict({ png: await sharp({ create: { width: 9, height: 9, channels: 4, background: '#000' } }).png().toBuffer() });
  servers.push(wrongSize);
  assert.match((await rejection(client([wrongSize.url]).predict('job-bad-2', jpeg, { input }))).message, /9×9 image for a 4×3 input/);
  const ok = await server('png');
  assert.match((await rejection(client([ok.url]).predict('job-bad-3', jpeg, { input, options: { format: 'webp', only_mask: false, bgcolor: null, post_process_mask: false } }))).message, /instead of image\/webp/);
  assert.ok((await client([ok.url]).predict('job-good', jpeg, { input })).bytes.equals(png), 'the right image passes');
});

test('a reset after the request reached predict is the attempt failing, not a reason to send it to the next server', async () => {
  const crashing = await server('reset');
  const healthy = await server('png');
  const c = client([crashing.url, healthy.url]);
  const failed = await rejection(c.predict('job-poison', jpeg, { input }));
  assert.deepEqual([failed.code, failed.retryable], ['PREDICT_FAILED', true]);
  assert.equal(healthy.requests.filter((r) => r.path.startsWith('/predict')).length, 0, 'the poison image never reached the second server');
  // Refused connections (nothing sent) still fail over.
  const refused = client([await closedPortUrl(), healthy.url]);
  assert.ok((await refused.predict('job-failover', jpeg, { input })).bytes.equals(png));
});

test('PREDICT_TIMEOUT_MS bounds the whole call: a predict that trickles its answer is cut off', { timeout: 20_000 }, async () => {
  const trickling = await server('trickle');
  const timedOut = await rejection(client([trickling.url], 800).predict('job-trickle', jpeg, { input }));
  assert.deepEqual([timedOut.code, timedOut.retryable], ['PREDICT_TIMEOUT', true]);
});
