import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startRedisServer, type RedisServerHandle } from '@cutout/shared';
import { call, closeRedisClient, connectRedis, postJson, startProxy, type Reply, type RunningProxy } from './app-harness.js';

interface Answer {
  status: string;
  job_id?: string;
  job_status?: string;
  error?: { code: string; message: string };
}

const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } }).png().toBuffer();
const upload = () => JSON.stringify({ image: png.toString('base64') });

/** Polls /health until it answers 200; the bound only keeps a broken reconnect from hanging the test. */
async function waitHealthy(p: RunningProxy, boundMs = 20_000): Promise<number> {
  const deadline = Date.now() + boundMs;
  let polls = 0;
  for (;;) {
    polls++;
    const res = await call<Answer>(`${p.url}/health`);
    if (res.status === 200) return polls;
    assert.equal(res.status, 503, 'while Redis is away /health answers 503, nothing else');
    if (Date.now() > deadline) assert.fail(`/health still 503 after ${boundMs} ms: the client did not reconnect`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function assertUnavailable(res: Reply<Answer>, what: string): void {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error?.code, 'REDIS_UNAVAILABLE', what);
  assert.equal(res.headers.get('retry-after'), '1', what);
}

test('Redis stopped then restarted on the same port: 503 with Retry-After meanwhile, then 200 again without restarting the proxy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-restart-'));
  let server: RedisServerHandle = await startRedisServer({ dir, appendOnly: true });
  const redis = await connectRedis(server.url);
  const p = await startProxy(redis, { keyPrefix: 'restart:' });
  try {
    const before = await postJson<Answer>(`${p.url}/start_job`, upload());
    assert.equal(before.status, 200);
    const oldId = before.body.job_id!;

    await server.stop();
    assertUnavailable(await call<Answer>(`${p.url}/health`), 'health');
    assertUnavailable(await call<Answer>(`${p.url}/metadata`), 'metadata');
    assertUnavailable(await postJson<Answer>(`${p.url}/start_job`, upload()), 'start_job');
    assertUnavailable(await call<Answer>(`${p.url}/get_job/${oldId}`), 'get_job');

    server = await startRedisServer({ port: server.port, dir, appendOnly: true });
    await waitHealthy(p);
    const after = await postJson<Answer>(`${p.url}/start_job`, upload());
    assert.equal(after.status, 200, JSON.stringify(after.body));
    const old = await call<Answer>(`${p.url}/get_job/${oldId}`);
    assert.equal(old.status, 200, 'the job queued before the restart survived it (append-only file)');
    assert.equal(old.body.job_status, 'QUEUED');
    assert.equal((await call<Answer>(`${p.url}/get_job/${after.body.job_id}`)).status, 200);
    assert.ok(p.logs.every((l) => l.message !== 'request' || l.status !== 500), 'never a 500');
  } finally {
    await p.close();
    await closeRedisClient(redis);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a frozen Redis: the first call times out, later ones are refused unsent, and all resumes after SIGCONT', async () => {
  const server = await startRedisServer();
  const redis = await connectRedis(server.url);
  const p = await startProxy(redis, { keyPrefix: 'freeze:', redisTimeoutMs: 300, healthTimeoutMs: 300 });
  try {
    server.process.kill('SIGSTOP');
    assertUnavailable(await postJson<Answer>(`${p.url}/start_job`, upload()), 'start_job that times out');
    assertUnavailable(await postJson<Answer>(`${p.url}/start_job`, upload()), 'start_job while the first is unanswered');
    assertUnavailable(await call<Answer>(`${p.url}/health`), 'health probe');
    assert.ok(p.logs.some((l) => l.message === 'redis call skipped: earlier calls are still unanswered' && l.call === 'enqueue'));

    server.process.kill('SIGCONT');
    await waitHealthy(p);
    const after = await postJson<Answer>(`${p.url}/start_job`, upload());
    assert.equal(after.status, 200);
    // The timed-out enqueue was already on the wire and Redis ran it once it woke, but past the
    // proxy's deadline, so it refused; the refused one never left the proxy. A 503 means nothing
    // was queued: only the upload after SIGCONT is.
    assert.equal(await redis.lLen('freeze:job_id'), 1);
    assert.deepEqual(await redis.lRange('freeze:job_id', 0, -1), [after.body.job_id]);
  } finally {
    server.process.kill('SIGCONT');
    await p.close();
    await closeRedisClient(redis);
    await server.stop();
  }
});

test('the proxy connection killed by Redis (CLIENT KILL) is re-made by itself; no request gets a 500', async () => {
  const server = await startRedisServer();
  const redis = await connectRedis(server.url);
  const admin = await connectRedis(server.url);
  const p = await startProxy(redis, { keyPrefix: 'kill:' });
  try {
    assert.equal((await postJson<Answer>(`${p.url}/start_job`, upload())).status, 200);
    const killed = await admin.clientKill({ filter: 'SKIPME', skipMe: true });
    assert.equal(killed, 2, 'the proxy connections (commands and the job-done subscriber) were the other clients');
    const answers = await Promise.all(Array.from({ length: 5 }, () => postJson<Answer>(`${p.url}/start_job`, upload())));
    for (const res of answers) assert.ok(res.status === 200 || res.status === 503, `200 or 503, got ${res.status}`);
    await waitHealthy(p);
    const started = await postJson<Answer>(`${p.url}/start_job`, upload());
    assert.equal(started.status, 200);

    // The subscriber came back subscribed: a long poll is woken by the end again.
    while (!p.jobDone?.ready) await new Promise((r) => setTimeout(r, 20));
    const id = started.body.job_id!;
    const poll = call<Answer>(`${p.url}/get_job/${id}?wait=30`);
    while (p.jobDone.waiting === 0) await new Promise((r) => setTimeout(r, 5));
    let job = (await p.jobs.take('w')).job;
    while (job && job.id !== id) job = (await p.jobs.take('w')).job; // older uploads first
    assert.ok(job, 'the job was taken');
    await p.jobs.complete(id, job.token, 'b3V0');
    assert.equal((await poll).body.job_status, 'SUCCEEDED');
  } finally {
    await p.close();
    await closeRedisClient(admin);
    await closeRedisClient(redis);
    await server.stop();
  }
});
