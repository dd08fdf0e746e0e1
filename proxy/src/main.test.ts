import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startRedisServer, type RedisServerHandle } from '@cutout/shared';
import { TcpRelay } from '@cutout/shared/testing';
import { call, postJson } from './app-harness.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

let redis: RedisServerHandle;
let body: string;

before(async () => {
  redis = await startRedisServer();
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#aa0000' } }).png().toBuffer();
  body = JSON.stringify({ image: png.toString('base64') });
});

after(async () => {
  await redis.stop();
});

interface Line {
  level: string;
  message: string;
  [field: string]: unknown;
}

interface ProxyProcess {
  child: ChildProcess;
  port: number;
  lines: Line[];
  exited: Promise<number | null>;
  waitFor(message: string): Promise<Line>;
}

/** `node proxy/dist/main.js` with only the settings given, and its JSON log lines. */
async function runProxy(env: Record<string, string>): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, PROXY_HOST: '127.0.0.1', PROXY_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Line[] = [];
  const waiters: { message: string; resolve: (line: Line) => void }[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const text of parts.filter((t) => t.trim())) {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      for (const w of waiters.filter((w) => w.message === line.message)) w.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (message: string) =>
    new Promise<Line>((resolve, reject) => {
      const seen = lines.find((l) => l.message === message);
      if (seen) return resolve(seen);
      waiters.push({ message, resolve });
      void exited.then((code) => reject(new Error(`proxy exited (${code}) before logging "${message}": ${JSON.stringify(lines)}`)));
    });
  const listening = await waitFor('proxy listening');
  await waitFor('redis ready');
  return { child, port: Number(listening.port), lines, exited, waitFor };
}

/** A POST /start_job whose body is sent in two halves, so a test can act while it is in flight. */
function halfSentUpload(port: number): Promise<{ socket: Socket; finish: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const half = body.length >> 1;
      socket.write(`POST /start_job HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, half)}`);
      let reply = '';
      socket.on('data', (chunk: Buffer) => (reply += chunk.toString('utf8')));
      const ended = new Promise<string>((done) => socket.once('close', () => done(reply)));
      resolve({
        socket,
        finish: () => {
          socket.write(body.slice(half));
          return ended;
        },
      });
    });
    socket.once('error', reject);
  });
}

/**
 * Whether a new connection gets an HTTP answer. Right after close() the kernel may still complete
 * a handshake (the listening socket is closed on the next loop turn), so "not served" means
 * refused, reset or closed without a byte of answer.
 */
function served(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

test('main wires the settings: durability warnings at connect, and QUEUE_MAX_DEPTH answers 429', async () => {
  const proxy = await runProxy({ REDIS_KEY_PREFIX: 'main-depth:', QUEUE_MAX_DEPTH: '1' });
  try {
    const url = `http://127.0.0.1:${proxy.port}`;
    assert.equal((await postJson(`${url}/start_job`, body)).status, 200);
    const full = await postJson<{ error: { code: string } }>(`${url}/start_job`, body);
    assert.equal(full.status, 429);
    assert.equal(full.body.error.code, 'QUEUE_FULL');
    assert.ok(Number(full.headers.get('retry-after')) > 0);
    // The test Redis persists nothing, so that is reported (but the proxy runs on).
    const warning = proxy.lines.find((l) => l.level === 'warn' && l.message.startsWith('redis durability:'));
    assert.ok(warning, JSON.stringify(proxy.lines));
    assert.match(warning.message, /persists nothing/);
    assert.equal((await call(`${url}/health`)).status, 200);
  } finally {
    proxy.child.kill('SIGKILL');
    await proxy.exited;
  }
});

test('SIGTERM: new connections are refused, the upload in flight completes, and the proxy exits 0', async () => {
  const proxy = await runProxy({ REDIS_KEY_PREFIX: 'main-term:', SHUTDOWN_GRACE_MS: '30000' });
  const upload = await halfSentUpload(proxy.port);
  proxy.child.kill('SIGTERM');
  await proxy.waitFor('shutting down');
  assert.equal(await served(proxy.port), false, 'a new connection is not served');
  const reply = await upload.finish();
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /\r\nConnection: close\r\n/i, 'the client is told the connection ends');
  assert.match(reply, /"job_status":"QUEUED"/);
  assert.equal(await proxy.exited, 0);
  assert.ok(proxy.lines.some((l) => l.message === 'stopped' && l.exit_code === 0));
  assert.ok(proxy.lines.some((l) => l.message === 'job queued'), 'the upload finished during shutdown was queued');
});

test('SIGTERM answers a long poll at once with the current state instead of holding the shutdown', async () => {
  const proxy = await runProxy({ REDIS_KEY_PREFIX: 'main-poll:', SHUTDOWN_GRACE_MS: '20000', LOG_LEVEL: 'debug' });
  await proxy.waitFor('job-done subscriber ready');
  const url = `http://127.0.0.1:${proxy.port}`;
  const started = await postJson<{ job_id: string }>(`${url}/start_job`, body);
  const id = started.body.job_id;
  // The wait outlasts the grace period: only a released wait can answer before the cut.
  const answer = call<{ job_status: string }>(`${url}/get_job/${id}?wait=30`);
  await proxy.waitFor('long poll waiting');
  proxy.child.kill('SIGTERM');
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(res.body.job_status, 'QUEUED');
  assert.equal(res.headers.get('connection'), 'close');
  assert.equal(await proxy.exited, 0);
  assert.ok(!proxy.lines.some((l) => l.message === 'grace period over: closing the connections still open'));
});

test('a request still running when the grace period ends is cut, and the proxy still exits 0', async () => {
  const proxy = await runProxy({ REDIS_KEY_PREFIX: 'main-grace:', SHUTDOWN_GRACE_MS: '200' });
  const upload = await halfSentUpload(proxy.port);
  const closed = new Promise<void>((resolve) => upload.socket.once('close', () => resolve()));
  proxy.child.kill('SIGTERM');
  assert.equal(await proxy.exited, 0);
  await closed;
  assert.ok(proxy.lines.some((l) => l.message === 'grace period over: closing the connections still open'));
});

test('a second signal exits at once, with 1', async () => {
  const proxy = await runProxy({ REDIS_KEY_PREFIX: 'main-twice:', SHUTDOWN_GRACE_MS: '600000' });
  const upload = await halfSentUpload(proxy.port);
  proxy.child.kill('SIGTERM');
  await proxy.waitFor('shutting down');
  proxy.child.kill('SIGINT');
  assert.equal(await proxy.exited, 1);
  assert.ok(proxy.lines.some((l) => l.message === 'second signal: exiting now'));
  upload.socket.destroy();
});

test('a Redis connection that goes dead without an error (a black hole) is replaced: the proxy serves again once the network heals', { timeout: 60_000 }, async () => {
  const relay = await TcpRelay.start({ port: Number(new URL(redis.url).port) });
  const proxy = await runProxy({ REDIS_URL: `redis://127.0.0.1:${relay.port}`, REDIS_KEY_PREFIX: 'main-hole:', REDIS_COMMAND_TIMEOUT_MS: '300' });
  try {
    const url = `http://127.0.0.1:${proxy.port}`;
    assert.equal((await postJson(`${url}/start_job`, body)).status, 200);
    relay.blackHole();
    const refused = await postJson<{ error: { code: string } }>(`${url}/start_job`, body);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'REDIS_UNAVAILABLE');
    // The route is back, but the old connection's packets are gone for good (no RST, no FIN):
    // only a new connection can serve. Before the fix the proxy answered 503 until TCP gave up.
    relay.heal();
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = (await postJson(`${url}/start_job`, body)).status;
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200, 'submits are accepted again on a new connection');
    assert.ok(proxy.lines.some((l) => l.message.startsWith('redis calls given up are still unanswered')), JSON.stringify(proxy.lines.slice(-5)));
  } finally {
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    await relay.close();
  }
});
