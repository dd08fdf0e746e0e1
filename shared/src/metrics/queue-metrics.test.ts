import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { QueueStats } from '../redis/job-record.js';
import { registerQueueMetrics } from './queue-metrics.js';
import { HttpMetrics } from './http-metrics.js';

const STATS: QueueStats = {
  queued: 6,
  queuedByPriority: { high: 1, normal: 2, low: 3 },
  running: 4,
  delayed: 5,
  deadLetters: 7,
  submitted: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  callbacksPending: 8,
  callbacksDelivered: 0,
  callbacksFailed: 0,
};

test('one scrape reads the queue once and reports every gauge from that read', async () => {
  const registry = new Registry();
  let reads = 0;
  registerQueueMetrics(registry, { stats: async () => (reads++, STATS) });
  const text = await registry.metrics();
  assert.equal(reads, 1);
  for (const line of ['cutout_queue_depth{priority="high"} 1', 'cutout_queue_depth{priority="normal"} 2', 'cutout_queue_depth{priority="low"} 3', 'cutout_jobs_running 4', 'cutout_jobs_delayed 5', 'cutout_dead_letters 7', 'cutout_callbacks_pending 8', 'cutout_queue_redis_up 1']) {
    assert.ok(text.split('\n').includes(line), `${line} in:\n${text}`);
  }
  await registry.metrics();
  assert.equal(reads, 2, 'the next scrape reads again');
});

test('a Redis that never answers does not hold the scrape: the queue series are left out', async () => {
  const registry = new Registry();
  let answered = true;
  registerQueueMetrics(registry, { stats: () => (answered ? Promise.resolve(STATS) : new Promise<QueueStats>(() => undefined)), timeoutMs: 50 });
  assert.match(await registry.metrics(), /^cutout_jobs_running 4$/m);
  answered = false;
  const text = await registry.metrics();
  assert.match(text, /^cutout_queue_redis_up 0$/m);
  assert.doesNotMatch(text, /^cutout_queue_depth\{/m);
  assert.doesNotMatch(text, /^cutout_jobs_running /m);
  assert.doesNotMatch(text, /^cutout_dead_letters /m);
});

test('a failing read is the same as no answer', async () => {
  const registry = new Registry();
  registerQueueMetrics(registry, { stats: () => Promise.reject(new Error('ECONNREFUSED')) });
  const text = await registry.metrics();
  assert.match(text, /^cutout_queue_redis_up 0$/m);
  assert.doesNotMatch(text, /^cutout_jobs_delayed /m);
});

test('HttpMetrics built twice on one registry share the one histogram (a fast path beside express)', async () => {
  const registry = new Registry();
  const express = new HttpMetrics(registry, 'proxy');
  const fast = new HttpMetrics(registry, 'proxy');
  const started = process.hrtime.bigint();
  express.observe('/get_job/:job_id', 200, started);
  fast.observe('/get_job/:job_id', 200, started);
  assert.match(await registry.metrics(), /^cutout_http_request_duration_seconds_count\{service="proxy",route="\/get_job\/:job_id",status="200"\} 2$/m);
});
