/**
 * The write deadline on a real proxy process (node proxy/dist/main.js) with a real big result
 * (stored through the real repository, as batch stores one): clients that read only the status
 * line of a 24 MB answer are cut once HTTP_WRITE_TIMEOUT_MS + size / HTTP_WRITE_MIN_BYTES_PER_S
 * has passed, each cut is counted in cutout_http_responses_cut_total{service,route} and logged at
 * warn with its request id, and the proxy's memory comes back; a client reading slowly but above
 * the minimum rate gets every byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { closeRedisClient, createRedisClient, JobRepository, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import { REPO_ROOT } from '../support/stack.js';
import { scrape, total } from '../support/prometheus.js';
import { statusLineOnly } from '../support/raw-http.js';
import { rssMiB } from '../support/service-watch.js';

const PREFIX = 'it-write-deadline:';
const MIN_RATE = 4 * 1024 * 1024;
const FLOOR_MS = 1_000;
const CLIENTS = 10;

let redis: RedisServerHandle;
let client: RedisClient;
let proxy: { child: ChildProcess; url: string; port: number; lines: Record<string, unknown>[]; exited: Promise<unknown> };
let jobId: string;

before(async () => {
  redis = await startRedisServer();
  client = createRedisClient(redis.url, { name: 'write-deadline-test', onError: () => undefined });
  await client.connect();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'proxy', 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      LOG_LEVEL: 'info',
      // Twenty reads of a 24 MB result at once take longer than the default 800 ms on a busy machine.
      REDIS_COMMAND_TIMEOUT_MS: '20000',
      HTTP_WRITE_TIMEOUT_MS: String(FLOOR_MS),
      HTTP_WRITE_MIN_BYTES_PER_S: String(MIN_RATE),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const text of parts.filter((t) => t.startsWith('{'))) {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (line.message === 'proxy listening') resolve(Number(line.port));
      }
    });
    child.once('exit', (code) => reject(new Error(`proxy exited (${code}) before listening`)));
  });
  const port = await listening;
  proxy = { child, url: `http://127.0.0.1:${port}`, port, lines, exited: new Promise((resolve) => child.once('exit', resolve)) };
  jobId = await storeBigResult();
});

after(async () => {
  proxy?.child.kill('SIGKILL');
  await proxy?.exited;
  await closeRedisClient(client);
  await redis.stop();
});

/** A job submitted through the proxy and finished through the repository with an 18 MB output (24 MB of base64), as batch would. */
async function storeBigResult(): Promise<string> {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
  const res = await fetch(`${proxy.url}/start_job`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: png.toString('base64') }) });
  assert.equal(res.status, 200, await res.clone().text());
  const { job_id: id } = (await res.json()) as { job_id: string };
  const jobs = new JobRepository(client, { keyPrefix: PREFIX, ttlSeconds: 600 });
  const { job } = await jobs.take('write-deadline-test-worker');
  assert.equal(job?.id, id);
  assert.equal(await jobs.complete(id, job.token, randomBytes(18 * 1024 * 1024).toString('base64')), true);
  return id;
}

const proxyRssMiB = () => rssMiB(proxy.child.pid!);

/** Resolves once the proxy has counted `count` cuts in all (the test's timeout bounds the wait: without a write deadline there are none). */
async function cutsCounted(count: number): Promise<Awaited<ReturnType<typeof scrape>>['samples']> {
  for (;;) {
    const { samples } = await scrape(`${proxy.url}/metrics`);
    if (total(samples, 'cutout_http_responses_cut_total') >= count) return samples;
    await sleep(250);
  }
}

test(`${CLIENTS} clients reading only the status line of a 24 MB result are cut after the deadline, counted and logged; the proxy's memory comes back`, { timeout: 120_000 }, async (t) => {
  const before = proxyRssMiB();
  const routes = [
    { path: `/get_job/${jobId}`, route: '/get_job/:job_id' },
    { path: `/v1/jobs/${jobId}/result`, route: '/v1/jobs/:id/result' },
  ];
  const started = performance.now();
  const clients = routes.flatMap(({ path }) => Array.from({ length: CLIENTS }, () => statusLineOnly(`http://127.0.0.1:${proxy.port}`, path)));
  const statuses = await Promise.all(clients.map((c) => c.status));
  assert.deepEqual(new Set(statuses), new Set(['HTTP/1.1 200 OK']));
  await sleep(500);
  const held = proxyRssMiB();
  const samples = await cutsCounted(2 * CLIENTS);
  const cutAfterS = (performance.now() - started) / 1000;
  // The cut connections' buffers are garbage now; V8 frees them at its next collections, which a
  // few ordinary requests bring on.
  for (let i = 0; i < 20; i++) await (await fetch(`${proxy.url}/get_job/${jobId}`)).arrayBuffer();
  const afterCut = proxyRssMiB();
  for (const { route } of routes) {
    assert.equal(total(samples, 'cutout_http_responses_cut_total', { service: 'proxy', route }), CLIENTS, route);
  }
  // Seen from the clients: each connection ended before its answer did.
  const ends = await Promise.all(clients.map((c) => c.drain()));
  for (const end of ends) assert.ok(end.length > 0 && end.received < end.length, `cut short: ${end.received} of ${end.length} bytes`);
  const warnings = proxy.lines.filter((l) => l.level === 'warn' && String(l.message).startsWith('response cut'));
  assert.equal(warnings.length, 2 * CLIENTS);
  assert.ok(warnings.every((w) => typeof w.request_id === 'string' && w.request_id.length > 0), 'each cut is logged with its request id');
  t.diagnostic(`proxy RSS: ${before.toFixed(0)} MiB before, ${held.toFixed(0)} MiB while ${2 * CLIENTS} unread answers were held, ${afterCut.toFixed(0)} MiB after they were cut and 20 whole reads ran`);
  t.diagnostic(`all cut ${cutAfterS.toFixed(1)} s after they connected (deadline: ${FLOOR_MS} ms + size at ${MIN_RATE / 1024 / 1024} MiB/s of blocked time); e.g. ${JSON.stringify(warnings[0])}`);
});

test('a client reading slowly but above HTTP_WRITE_MIN_BYTES_PER_S gets the whole 24 MB answer', { timeout: 120_000 }, async (t) => {
  // Four times the minimum rate: slow, and honest.
  const rate = 4 * MIN_RATE;
  const started = performance.now();
  const { status, length, received } = await new Promise<{ status: string; length: number; received: number }>((resolve, reject) => {
    const socket = connect(proxy.port, '127.0.0.1', () => socket.write(`GET /get_job/${jobId} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let head = Buffer.alloc(0);
    let bodyBytes = -1;
    let length = 0;
    socket.on('data', (chunk: Buffer) => {
      if (bodyBytes < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        length = Number(/content-length: (\d+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? -1);
        bodyBytes = head.length - end - 4;
      } else bodyBytes += chunk.length;
      // Reads no faster than `rate`: pauses until the bytes so far are due.
      const aheadMs = (bodyBytes / rate) * 1000 - (performance.now() - started);
      if (aheadMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), aheadMs);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => resolve({ status: head.subarray(0, head.indexOf('\r\n')).toString('latin1'), length, received: bodyBytes }));
  });
  assert.equal(status, 'HTTP/1.1 200 OK');
  assert.ok(length > 24 * 1024 * 1024, `a 24 MB answer (${length})`);
  assert.equal(received, length, 'every byte arrived: the reader was not cut');
  t.diagnostic(`read ${(received / 1024 / 1024).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s (paced to ${rate / 1024 / 1024} MiB/s; the minimum is ${MIN_RATE / 1024 / 1024} MiB/s)`);
});
