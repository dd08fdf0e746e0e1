/**
 * GET /metrics on every service of the real stack (a private redis-server, predict, batch and
 * proxy as child processes) after real jobs: the series exist with their labels, and their values
 * are what happened. Batch's /health follows its Redis connection.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { startRedisServer } from '@cutout/shared';
import { createMetricsRegistry } from '@cutout/shared/metrics';
import { pngWithCorruptPixels } from '../support/bad-images.js';
import { getJson, postJson, waitForJob } from '../support/http.js';
import { startInProcessProxy } from '../support/in-process-proxy.js';
import { find, scrape, total } from '../support/prometheus.js';
import { REPO_ROOT, startTestStack, type TestStack } from '../support/stack.js';

const GOOD_JOBS = 3;
let stack: TestStack;
let good: Buffer;
let ids: string[] = [];
let failedId: string;

before(async () => {
  stack = await startTestStack({ keyPrefix: 'it-metrics:' });
  good = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#3366cc' } }).png().toBuffer();
  const submit = (bytes: Buffer) => postJson<{ job_id: string }>(`${stack.proxyUrl}/start_job`, { image: bytes.toString('base64') });
  ids = (await Promise.all(Array.from({ length: GOOD_JOBS }, () => submit(good)))).map((r) => r.body.job_id);
  failedId = (await submit(pngWithCorruptPixels(good))).body.job_id;
  for (const id of ids) assert.equal((await waitForJob(stack.proxyUrl, id)).job_status, 'SUCCEEDED');
  assert.equal((await waitForJob(stack.proxyUrl, failedId)).error?.code, 'IMAGE_DECODE_FAILED');
});

after(async () => {
  await stack?.stop();
});

test('batch counts each outcome, the failure under its code, and times every claim', async () => {
  const { status, type, samples } = await scrape(`${stack.batchMetricsUrl}/metrics`);
  assert.equal(status, 200);
  assert.match(type, /^text\/plain; version=0\.0\.4/);
  assert.equal(total(samples, 'cutout_jobs_total', { outcome: 'succeeded' }), GOOD_JOBS, stack.logs.join('\n'));
  assert.equal(total(samples, 'cutout_jobs_total', { outcome: 'failed', code: 'IMAGE_DECODE_FAILED' }), 1);
  assert.equal(total(samples, 'cutout_jobs_total', { outcome: 'failed' }), 1);
  assert.equal(total(samples, 'cutout_job_run_seconds_count'), GOOD_JOBS + 1);
  assert.equal(total(samples, 'cutout_job_queue_wait_seconds_count'), GOOD_JOBS + 1);
  // Every job has ended, so the queue gauges (read from Redis at the scrape) are at rest.
  for (const priority of ['high', 'normal', 'low']) assert.equal(total(samples, 'cutout_queue_depth', { priority }), 0);
  assert.equal(total(samples, 'cutout_jobs_running'), 0);
  assert.equal(total(samples, 'cutout_jobs_delayed'), 0);
  assert.equal(total(samples, 'cutout_dead_letters'), 1, 'the failed job is in the dead-letter list');
  assert.equal(total(samples, 'cutout_queue_redis_up'), 1);
  // Node's own series are there too, from this process's registry.
  assert.ok(find(samples, 'process_cpu_seconds_total').length === 1);
});

test('batch /health answers 200 with JSON while its Redis is up and its workers run', async () => {
  const res = await getJson<{ status: string; redis: string; workers: string }>(`${stack.batchMetricsUrl}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual([res.body.status, res.body.redis, res.body.workers], ['ok', 'up', 'running']);
});

test('predict times each stage of each image and the batch it ran in; its fast path is timed under /predict', async () => {
  const { samples } = await scrape(`${stack.predictUrl}/metrics`);
  // The failed image never got past decode, so it has no stage times.
  for (const stage of ['decode', 'preprocess', 'inference', 'postprocess', 'encode']) {
    assert.equal(total(samples, 'cutout_predict_stage_seconds_count', { stage }), GOOD_JOBS, stage);
  }
  assert.equal(total(samples, 'cutout_predict_batch_size_count'), GOOD_JOBS);
  // Batch's raw POST /predict takes the node:http fast path: its answers are counted all the same.
  assert.equal(total(samples, 'cutout_http_request_duration_seconds_count', { service: 'predict', route: '/predict', status: '200' }), GOOD_JOBS);
  assert.equal(total(samples, 'cutout_http_request_duration_seconds_count', { service: 'predict', route: '/predict', status: '422' }), 1);
});

test('the proxy labels requests by route pattern, never by the URL', async () => {
  await getJson(`${stack.proxyUrl}/get_job/${ids[0]}`);
  await getJson(`${stack.proxyUrl}/no/such/path`);
  const { samples, text } = await scrape(`${stack.proxyUrl}/metrics`);
  const count = 'cutout_http_request_duration_seconds_count';
  assert.equal(total(samples, count, { service: 'proxy', route: '/start_job', status: '200' }), GOOD_JOBS + 1);
  assert.ok(total(samples, count, { service: 'proxy', route: '/get_job/:job_id', status: '200' }) >= GOOD_JOBS + 2);
  assert.equal(total(samples, count, { service: 'proxy', route: 'unmatched', status: '404' }), 1);
  for (const id of ids) assert.ok(!text.includes(id), 'no job id in any label');
  assert.ok(!text.includes('/no/such/path'));
  assert.equal(total(samples, 'cutout_queue_depth', { priority: 'normal' }), 0);
});

test('queue depth by priority is what was queued while no worker takes from the queue', async () => {
  const registry = createMetricsRegistry();
  // A prefix no batch serves: the jobs stay QUEUED.
  const proxy = await startInProcessProxy({ redisUrl: stack.redisUrl, keyPrefix: 'it-metrics-idle:', metrics: registry });
  try {
    const body = (priority: string) => ({ image: good.toString('base64'), priority });
    for (const [priority, n] of [['high', 2], ['normal', 1], ['low', 3]] as const) {
      for (let i = 0; i < n; i++) assert.equal((await postJson(`${proxy.url}/v1/jobs`, body(priority))).status, 202);
    }
    const { samples } = await scrape(`${proxy.url}/metrics`);
    assert.equal(total(samples, 'cutout_queue_depth', { priority: 'high' }), 2);
    assert.equal(total(samples, 'cutout_queue_depth', { priority: 'normal' }), 1);
    assert.equal(total(samples, 'cutout_queue_depth', { priority: 'low' }), 3);
    assert.equal(total(samples, 'cutout_jobs_running'), 0);
    assert.equal(total(samples, 'cutout_http_request_duration_seconds_count', { service: 'proxy', route: '/v1/jobs', status: '202' }), 6);
  } finally {
    await proxy.close();
  }
});

test('batch /health turns 503 once its Redis is gone, and /metrics still answers, without the queue series', async () => {
  const redis = await startRedisServer();
  const batch = spawn(process.execPath, [join(REPO_ROOT, 'batch', 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'it-metrics-health:', PREDICT_URL: stack.predictUrl, BATCH_METRICS_HOST: '127.0.0.1', BATCH_METRICS_PORT: '0', LOG_LEVEL: 'info', REDIS_COMMAND_TIMEOUT_MS: '300' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => batch.once('exit', (code) => resolve(code)));
  try {
    const lines: Array<Record<string, unknown>> = [];
    const started = new Promise<number>((resolve, reject) => {
      let rest = '';
      let port = 0;
      batch.stdout.on('data', (chunk: Buffer) => {
        const parts = (rest + chunk.toString('utf8')).split('\n');
        rest = parts.pop()!;
        for (const text of parts.filter((t) => t.trim())) {
          const line = JSON.parse(text) as Record<string, unknown>;
          lines.push(line);
          if (line.message === 'metrics listening') port = Number(line.port);
          if (line.message === 'batch started') resolve(port);
        }
      });
      void exited.then((code) => reject(new Error(`batch exited (${code}): ${JSON.stringify(lines)}`)));
    });
    const url = `http://127.0.0.1:${await started}`;
    assert.equal((await getJson(`${url}/health`)).status, 200);
    await redis.stop();
    // Polled: the connection notices the server is gone on its own time (the test's timeout bounds it).
    let health = await getJson<{ status: string; redis: string }>(`${url}/health`);
    while (health.status === 200) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      health = await getJson(`${url}/health`);
    }
    assert.equal(health.status, 503);
    assert.deepEqual([health.body.status, health.body.redis], ['ng', 'down']);
    const { status, samples } = await scrape(`${url}/metrics`);
    assert.equal(status, 200);
    assert.equal(total(samples, 'cutout_queue_redis_up'), 0);
    assert.equal(find(samples, 'cutout_queue_depth').length, 0);
    assert.equal(find(samples, 'cutout_jobs_running').length, 0);
    assert.ok(find(samples, 'process_cpu_seconds_total').length === 1, 'the rest of the scrape is there');
    batch.kill('SIGTERM');
    assert.equal(typeof (await exited), 'number');
  } finally {
    batch.kill('SIGKILL');
    await redis.stop().catch(() => undefined);
  }
});
