import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { startRedisServer } from '@cutout/shared';
import { call, closeRedisClient, connectRedis, postJson, startProxy } from './app-harness.js';

let png: Buffer;

before(async () => {
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
});

interface NgReply {
  status: string;
  error: { code: string; message: string };
}

/** A redis-server, a client and the app of its own, so a test may stop or freeze them. */
async function stack(keyPrefix: string, options: { healthTimeoutMs?: number; redisTimeoutMs?: number } = {}) {
  const server = await startRedisServer();
  const redis = await connectRedis(server.url);
  const proxy = await startProxy(redis, { keyPrefix, model: 'cutout-border', ttlSeconds: 900, limits: { maxImageBytes: 1_000_000, maxImagePixels: 2_000_000 }, ...options });
  return {
    server,
    redis,
    proxy,
    async stop() {
      await proxy.close();
      await closeRedisClient(redis);
      await server.stop();
    },
  };
}

test('/health is ok while Redis answers; /metadata counts jobs and never lists them', async () => {
  const s = await stack('meta:');
  try {
    const health = await call(`${s.proxy.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    assert.ok(health.headers.get('x-request-id'));

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postJson<{ job_id: string }>(`${s.proxy.url}/start_job`, JSON.stringify({ image: png.toString('base64') }));
      assert.equal(res.status, 200);
      ids.push(res.body.job_id);
    }
    const { job } = await s.proxy.jobs.take('test-worker');
    assert.ok(job && job.id === ids[0], 'the oldest job is taken first');
    assert.equal(await s.proxy.jobs.complete(job.id, job.token, 'b3V0'), true);

    const meta = await call(`${s.proxy.url}/metadata`);
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.body, {
      status: 'ok',
      queue: { queued: 2, running: 0, delayed: 0, by_priority: { high: 0, normal: 2, low: 0 } },
      jobs: { submitted: 3, succeeded: 1, failed: 0, cancelled: 0 },
      callbacks: { pending: 0, delivered: 0, failed: 0 },
      model: 'cutout-border',
      limits: { max_image_bytes: 1_000_000, max_image_pixels: 2_000_000 },
      job_ttl_seconds: 900,
    });
    assert.ok(!JSON.stringify(meta.body).includes(ids[1]!), 'no job ids in /metadata');
  } finally {
    await s.stop();
  }
});

test('with Redis stopped, /health, /metadata, start_job and get_job answer 503 REDIS_UNAVAILABLE with Retry-After, and the app keeps answering', async () => {
  const s = await stack('down:');
  try {
    await s.server.stop();
    const calls: [string, () => Promise<{ status: number; headers: Headers; body: NgReply }>][] = [
      ['health', () => call<NgReply>(`${s.proxy.url}/health`)],
      ['metadata', () => call<NgReply>(`${s.proxy.url}/metadata`)],
      ['start_job', () => postJson<NgReply>(`${s.proxy.url}/start_job`, JSON.stringify({ image: png.toString('base64') }))],
      ['get_job', () => call<NgReply>(`${s.proxy.url}/get_job/${randomUUID()}`)],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [name, run] of calls) {
        const res = await run();
        assert.equal(res.status, 503, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.status, 'ng');
        assert.equal(res.body.error.code, 'REDIS_UNAVAILABLE', name);
        assert.ok(res.body.error.message.length > 20);
        assert.equal(res.headers.get('retry-after'), '1', name);
      }
    }
    // Bad input is still judged without Redis: a 4xx, not a 503.
    const bad = await postJson<NgReply>(`${s.proxy.url}/start_job`, JSON.stringify({ image: 'not base64!' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_BASE64');
  } finally {
    await s.stop();
  }
});

test('a Redis that accepts connections but never answers makes /health and start_job answer 503, not hang', async () => {
  const s = await stack('frozen:', { healthTimeoutMs: 300, redisTimeoutMs: 300 });
  try {
    s.server.process.kill('SIGSTOP');
    const health = await call<NgReply>(`${s.proxy.url}/health`);
    assert.equal(health.status, 503);
    assert.equal(health.body.error.code, 'REDIS_UNAVAILABLE');
    const start = await postJson<NgReply>(`${s.proxy.url}/start_job`, JSON.stringify({ image: png.toString('base64') }));
    assert.equal(start.status, 503);
    assert.equal(start.body.error.code, 'REDIS_UNAVAILABLE');
    assert.ok(s.proxy.logs.some((l) => l.message === 'redis call failed' && String(l.error).includes('did not answer')));
  } finally {
    s.server.process.kill('SIGCONT');
    await s.stop();
  }
});
