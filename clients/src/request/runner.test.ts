import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyClient } from './api-client.js';
import type { RequestOptions } from './args.js';
import { outputNames } from './images.js';
import { createReporter } from './progress.js';
import { formatSummary, ProxyUnhealthyError, runRequests } from './runner.js';
import { startTinyServer, type Answer, type Received } from './tiny-server.js';

/**
 * A stand-in proxy whose behaviour per job is chosen by the uploaded bytes:
 * "ok-later" succeeds on the 2nd poll, "ok-now" on the 1st, "flaky" answers 500 once first,
 * "reject" is refused at submit, "fail" ends FAILED, "never" stays RUNNING.
 */
function fakeProxy() {
  const jobs = new Map<string, { input: string; polls: number }>();
  let next = 0;
  return (r: Received): Answer => {
    if (r.path === '/health') return { status: 200, body: { status: 'ok' } };
    if (r.path === '/metadata') return { status: 200, body: { status: 'ok', model: 'stand-in' } };
    if (r.path === '/start_job') {
      const input = Buffer.from(JSON.parse(r.body).image as string, 'base64').toString('utf8');
      if (input === 'reject') return { status: 415, body: { status: 'ng', error: { code: 'UNSUPPORTED_IMAGE_FORMAT', message: 'not an image' } } };
      const id = `job-${++next}`;
      jobs.set(id, { input, polls: 0 });
      return { status: 200, body: { status: 'ok', job_id: id, job_status: 'QUEUED' } };
    }
    // A proxy from before long polls: `?wait=` is ignored and it answers at once.
    const id = r.path.replace('/get_job/', '').replace(/\?.*$/, '');
    const job = jobs.get(id);
    if (!job) return { status: 404, body: { status: 'ng', error: { code: 'JOB_NOT_FOUND', message: 'no such job' } } };
    job.polls++;
    const done = { status: 'ok', job_id: id, job_status: 'SUCCEEDED', img_out_base64: Buffer.from(`cutout of ${job.input}`).toString('base64') };
    const running = { status: 'ng', job_id: id, job_status: 'RUNNING', img_out_base64: null };
    switch (job.input) {
      case 'ok-now':
        return { status: 200, body: done };
      case 'ok-later':
        return { status: 200, body: job.polls >= 2 ? done : running };
      case 'flaky':
        return job.polls === 1 ? { status: 500, body: 'oops' } : { status: 200, body: done };
      case 'fail':
        return { status: 200, body: { ...running, job_status: 'FAILED', error: { code: 'IMAGE_DECODE_FAILED', message: 'truncated' } } };
      default:
        return { status: 200, body: running };
    }
  };
}

function collector() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, reporter: createReporter({ write: (t: string) => out.push(t) }, { write: (t: string) => err.push(t) }) };
}

function options(dir: string, overrides: Partial<RequestOptions> = {}): RequestOptions {
  return { host: '127.0.0.1', port: 0, inImagesDir: join(dir, 'in'), outImagesDir: join(dir, 'out', 'nested'), nPollings: 3, pollIntervalMs: 0, concurrency: 2, debug: false, ...overrides };
}

test('stems that collide get -2, -3, case-insensitively, and never reuse a taken name', () => {
  assert.deepEqual(outputNames(['a.jpg', 'A.png', 'a.webp', 'b.jpeg', 'a-2.png']), ['a.png', 'A-2.png', 'a-3.png', 'b.png', 'a-2-2.png']);
});

test('every image is submitted as its own bytes and each outcome is reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-runner-'));
  const server = await startTinyServer(fakeProxy());
  const client = new ProxyClient({ baseUrl: server.url });
  try {
    mkdirSync(join(dir, 'in'));
    const files: Record<string, string> = {
      'a.png': 'ok-later', 'a.JPG': 'ok-now', 'b.webp': 'flaky', 'c.jpeg': 'reject', 'd.jpg': 'fail', 'e.png': 'never', 'notes.txt': 'ok-now',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, 'in', name), content);
    const { out, err, reporter } = collector();
    const result = await runRequests(options(dir), { client, reporter });

    const uploads = server.received.filter((r) => r.path === '/start_job').map((r) => Buffer.from(JSON.parse(r.body).image, 'base64').toString());
    assert.deepEqual(uploads.sort(), ['fail', 'flaky', 'never', 'ok-later', 'ok-now', 'reject'], 'the .txt file is skipped, the rest sent as-is');
    // Sorted names: a.JPG comes before a.png, so it keeps the plain stem.
    assert.deepEqual(readdirSync(join(dir, 'out', 'nested')).sort(), ['a-2.png', 'a.png', 'b.png']);
    assert.equal(readFileSync(join(dir, 'out', 'nested', 'a.png'), 'utf8'), 'cutout of ok-now');
    assert.equal(readFileSync(join(dir, 'out', 'nested', 'a-2.png'), 'utf8'), 'cutout of ok-later');
    assert.equal(readFileSync(join(dir, 'out', 'nested', 'b.png'), 'utf8'), 'cutout of flaky');

    assert.deepEqual(result.succeeded.map((s) => s.name).sort(), ['a.JPG', 'a.png', 'b.webp']);
    assert.deepEqual(result.failed.map((f) => [f.name, f.code]).sort(), [['c.jpeg', 'UNSUPPORTED_IMAGE_FORMAT'], ['d.jpg', 'IMAGE_DECODE_FAILED']]);
    assert.deepEqual(result.timedOut.map((t) => [t.name, t.lastStatus]), [['e.png', 'RUNNING']]);
    const failedPolls = server.received.filter((r) => r.path.startsWith('/get_job/')).length;
    assert.equal(failedPolls, 2 + 1 + 2 + 1 + 3, 'a FAILED job is polled once and never retried; the stuck one n_pollings times');

    assert.match(out[0] ?? '', /^health : \{"status":"ok"\}/);
    assert.match(out[1] ?? '', /^metadata : .*stand-in/);
    assert.ok(err.some((l) => /failed c\.jpeg: UNSUPPORTED_IMAGE_FORMAT not an image/.test(l)), err.join(''));
    assert.ok(err.some((l) => /^progress: /.test(l)), 'plain progress lines when stderr is not a terminal');
    const summary = formatSummary(result, 3);
    assert.equal(summary[0], 'summary: 3 succeeded, 2 failed, 1 timed out (of 6)');
    assert.ok(summary.some((l) => /timed out\s+e\.png: job job-\d+ still RUNNING after 3 polling rounds/.test(l)), summary.join('\n'));
  } finally {
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('polls long-poll for what is left of each round; a proxy that ignores wait still gets every result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-runner-'));
  const server = await startTinyServer(fakeProxy());
  const client = new ProxyClient({ baseUrl: server.url });
  try {
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.png'), 'ok-later');
    writeFileSync(join(dir, 'in', 'b.png'), 'never');
    const result = await runRequests(options(dir, { pollIntervalMs: 200, nPollings: 3 }), { client, ...collector() });
    assert.deepEqual(result.succeeded.map((s) => s.name), ['a.png']);
    assert.deepEqual(result.timedOut.map((t) => t.name), ['b.png']);
    const polls = server.received.filter((r) => r.path.startsWith('/get_job/')).map((r) => r.path);
    assert.equal(polls.length, 2 + 3);
    const waits = polls.map((path) => /\?wait=([\d.]+)$/.exec(path)?.[1]).filter((w) => w !== undefined).map(Number);
    assert.ok(waits.length > 0, `the polls ask the proxy to wait: ${polls.join(' ')}`);
    assert.ok(waits.every((w) => w > 0 && w <= 0.2), `never past the round's poll_interval: ${waits.join(' ')}`);
  } finally {
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unhealthy proxy stops the run before any upload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-runner-'));
  const server = await startTinyServer(() => ({ status: 503, body: { status: 'ng', error: { code: 'REDIS_UNAVAILABLE', message: 'x' } } }));
  const client = new ProxyClient({ baseUrl: server.url });
  try {
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'a.png'), 'ok-now');
    await assert.rejects(runRequests(options(dir), { client, ...collector() }), ProxyUnhealthyError);
    assert.deepEqual(server.received.map((r) => r.path), ['/health']);
  } finally {
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or empty input folder is a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-runner-'));
  const server = await startTinyServer(fakeProxy());
  const client = new ProxyClient({ baseUrl: server.url });
  try {
    await assert.rejects(runRequests(options(dir), { client, ...collector() }), /input folder .*in does not exist/);
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in', 'readme.md'), 'x');
    await assert.rejects(runRequests(options(dir), { client, ...collector() }), /no \.jpg \.jpeg \.png \.webp files in/);
  } finally {
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
