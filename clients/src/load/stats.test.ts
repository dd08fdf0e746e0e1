import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, percentile, summarize, type Sample } from './stats.js';
import { niceCeil, renderReport } from './report.js';

const sample = (round: number, latencyMs: number, ok = true, code?: string): Sample => ({ round, startMs: round * 1000, latencyMs, ok, images: 1, ...(code ? { code } : {}) });

test('percentiles are nearest-rank: each one is a latency some request had', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 95), 95);
  assert.equal(percentile(sorted, 99), 99);
  assert.equal(percentile([7], 99), 7);
});

test('the summary counts failures by code, takes latency from successes only, and splits rounds', () => {
  const samples = [sample(1, 100), sample(1, 300), sample(2, 200), sample(2, 5, false, 'QUEUE_FULL'), sample(2, 6, false, 'QUEUE_FULL'), sample(2, 9, false, 'TIMEOUT')];
  const s = summarize(samples, { api: 'v1', requests: 3, rounds: 2, intervalMs: 1000, group: undefined }, 2000);
  assert.equal(s.sent, 6);
  assert.equal(s.succeeded, 3);
  assert.deepEqual(s.failed_by_code, { QUEUE_FULL: 2, TIMEOUT: 1 });
  assert.deepEqual(s.latency_ms, { p50: 200, p95: 300, p99: 300, max: 300 });
  assert.equal(s.throughput_rps, 1.5);
  assert.deepEqual(s.per_round.map((r) => [r.round, r.sent, r.succeeded, r.failed]), [[1, 2, 2, 0], [2, 4, 1, 3]]);
  const table = formatSummary(s).join('\n');
  assert.match(table, /QUEUE_FULL\s+2/);
  assert.match(table, /^2\s+4\s+1\s+3\s+200 ms/m, 'a per-round row');
});

test('the report is one self-contained page: a dot per request coloured by outcome, a histogram, the table', () => {
  const samples = [sample(1, 120), sample(1, 80, false, 'JOB_FAILED'), sample(2, 95)];
  const summary = summarize(samples, { api: 'seed003', requests: 2, rounds: 2, intervalMs: undefined, group: undefined }, 1500);
  const html = renderReport(summary, samples, new Date(0));
  assert.equal((html.match(/<circle /g) ?? []).length, 3);
  assert.equal((html.match(/fill="#16a34a"><title>round/g) ?? []).length, 2, 'succeeded dots are green');
  assert.match(html, /<circle [^>]+fill="#dc2626"><title>[^<]*failed: JOB_FAILED/);
  assert.match(html, /<rect /);
  assert.match(html, /JOB_FAILED\s+1/);
  assert.doesNotMatch(html, /<script|https?:\/\//, 'no scripts and nothing fetched from elsewhere');
  assert.deepEqual([niceCeil(0.3), niceCeil(7), niceCeil(1707), niceCeil(5000)], [0.5, 10, 2000, 5000]);
});
