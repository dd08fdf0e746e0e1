import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createRedisClient, closeRedisClient, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import { TcpRelay } from '@cutout/shared/testing';
import { startFakePredict, type FakePredict } from './fake-predict.js';
import { enqueue, fakeCutout, memoryLogger, settled, startPool, until, type RunningPool } from './harness.js';
import { RedisCallTimeoutError, RedisLink } from '@cutout/shared';

// Batch reaches Redis through a relay that can turn into a black hole: sockets stay open and
// nothing ever answers, as after a failover or a dropped route.

const TIMEOUT_MS = 300;
let redisServer: RedisServerHandle;
let inspect: RedisClient;
let predict: FakePredict;

before(async () => {
  redisServer = await startRedisServer();
  inspect = createRedisClient(redisServer.url, { name: 'test-inspect', onError: () => {} });
  await inspect.connect();
  predict = await startFakePredict({ png: await fakeCutout() });
});

after(async () => {
  await predict.close();
  await closeRedisClient(inspect);
  await redisServer.stop();
});

/** Each test's own relay, closed when the test ends (after what uses it: t.after runs in reverse). */
async function relay(t: TestContext): Promise<TcpRelay> {
  const r = await TcpRelay.start({ port: redisServer.port });
  t.after(() => r.close());
  return r;
}

async function poolBehind(t: TestContext, r: TcpRelay): Promise<RunningPool> {
  const p = await startPool({ redisUrl: r.redisUrl, inspect, predictUrls: [predict.url], concurrency: 1, redisTimeoutMs: TIMEOUT_MS });
  t.after(() => p.pool.close());
  return p;
}

const logged = (p: RunningPool, message: string, id?: string) => p.logs.filter((l) => l.message === message && (id === undefined || l.job_id === id));

/** Runs one job whose complete() is sent into the black hole; resolves once batch has given that write up. */
async function completeIntoBlackHole(r: TcpRelay, p: RunningPool): Promise<string> {
  predict.hold();
  const id = await enqueue(p.repo);
  await predict.untilInFlight(1);
  r.blackHole();
  predict.release();
  // Without a deadline on the call this line never comes: complete() waits on a socket that never answers.
  await until(() => (logged(p, 'outcome write failed; retrying while the lease lasts', id).length > 0 ? true : undefined));
  return id;
}

test('a call into a black hole is given up with RedisCallTimeoutError; the next one runs on a new connection', { timeout: 20_000 }, async (t) => {
  const r = await relay(t);
  const { logger, lines } = memoryLogger();
  const link = new RedisLink({ url: r.redisUrl, name: 'test-link', timeoutMs: TIMEOUT_MS, logger });
  t.after(() => link.close());
  let readies = 0;
  link.client.on('ready', () => readies++);
  await link.client.connect();
  assert.equal(await link.client.ping(), 'PONG');
  r.blackHole();
  await assert.rejects(link.client.ping(), RedisCallTimeoutError);
  assert.equal(link.replacements, 1);
  // While the new connection cannot be ready, calls fail at once instead of piling up.
  await assert.rejects(link.client.ping(), (error: Error) => !(error instanceof RedisCallTimeoutError));
  r.heal();
  assert.equal(await until(() => link.client.ping().catch(() => undefined)), 'PONG');
  assert.ok(lines.some((l) => l.message === 'redis call timed out; replacing the connection' && l.call === 'ping'));
  assert.ok(r.held >= 1, 'the old connection is still held: it was replaced, not revived');
  assert.equal(readies, 2, "a listener given to the link's client hears the new connection too");
});

test("a reconnect whose handshake hangs (node-redis's own, after a reset) is replaced too", { timeout: 20_000 }, async (t) => {
  const r = await relay(t);
  const { logger, lines } = memoryLogger();
  const link = new RedisLink({ url: r.redisUrl, name: 'test-link-reconnect', timeoutMs: TIMEOUT_MS, logger });
  t.after(() => link.close());
  await link.client.connect();
  // The connection is reset, and the address now accepts connections that never answer.
  r.blackHole();
  r.dropConnections();
  await until(() => (lines.some((l) => l.message === 'redis reconnect not ready in time; replacing the connection') ? true : undefined));
  r.heal();
  assert.equal(await until(() => link.client.ping().catch(() => undefined)), 'PONG');
});

test('complete() into a black hole: given up within the deadline, retried on a new connection once the relay heals, SUCCEEDED once', { timeout: 30_000 }, async (t) => {
  const r = await relay(t);
  const p = await poolBehind(t, r);
  const id = await completeIntoBlackHole(r, p);
  // Still in the black hole: the write was given up, not answered.
  assert.equal(r.blackHoled, true);
  assert.equal((await p.repo.get(id, { withImages: false }))?.status, 'RUNNING');
  assert.ok(logged(p, 'redis call timed out; replacing the connection').length > 0);
  r.heal();
  const job = await settled(p.repo, id);
  assert.deepEqual([job.status, job.outputWrites, job.attempts], ['SUCCEEDED', 1, 1]);
  assert.equal(logged(p, 'job succeeded', id).length, 1);
  assert.ok(logged(p, 'redis connection replaced').length > 0);
  // The pool goes on taking jobs on the new connection.
  const next = await enqueue(p.repo);
  assert.equal((await settled(p.repo, next)).status, 'SUCCEEDED');
});

test('a complete whose reply was lost lands late after all: the retry is recognised, the output is written once', { timeout: 30_000 }, async (t) => {
  const r = await relay(t);
  const p = await poolBehind(t, r);
  const id = await completeIntoBlackHole(r, p);
  // The held bytes (the first complete among them) now reach Redis late, while the worker
  // sends its retry on a new connection: whichever runs second finds the job already settled.
  r.heal({ resumeHeld: true });
  const job = await settled(p.repo, id);
  assert.deepEqual([job.status, job.outputWrites, job.attempts], ['SUCCEEDED', 1, 1]);
  await until(() => (logged(p, 'job succeeded', id).length > 0 ? true : undefined));
  assert.equal(logged(p, 'late write refused', id).length, 0);
});
