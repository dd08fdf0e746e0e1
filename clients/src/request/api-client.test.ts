import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '@cutout/shared';
import { ApiError, ProxyClient, ProxyUnreachableError, type Exchange } from './api-client.js';
import { startTinyServer, type Answer, type Received } from './tiny-server.js';

async function withServer(handler: (r: Received) => Answer, body: (client: ProxyClient, received: Received[], exchanges: Exchange[]) => Promise<void>) {
  const server = await startTinyServer(handler);
  const exchanges: Exchange[] = [];
  const client = new ProxyClient({ baseUrl: `${server.url}/`, onExchange: (x) => exchanges.push(x) });
  try {
    await body(client, server.received, exchanges);
  } finally {
    await client.close();
    await server.close();
  }
}

test('health returns the status and body even when the proxy is unhealthy', async () => {
  let healthy = true;
  await withServer(
    () => (healthy ? { status: 200, body: { status: 'ok' } } : { status: 503, body: { status: 'ng', error: { code: 'REDIS_UNAVAILABLE', message: 'no redis' } } }),
    async (client) => {
      assert.deepEqual(await client.health(), { status: 200, body: { status: 'ok' } });
      healthy = false;
      const answer = await client.health();
      assert.equal(answer.status, 503);
      assert.equal((answer.body as { status: string }).status, 'ng');
    },
  );
});

test('startJob posts {"image": base64} as JSON to /start_job and returns the job', async () => {
  await withServer(
    () => ({ status: 200, body: { status: 'ok', job_id: 'abc', job_status: 'QUEUED' } }),
    async (client, received, exchanges) => {
      const job = await client.startJob('aGVsbG8=');
      assert.deepEqual(job, { status: 'ok', job_id: 'abc', job_status: 'QUEUED' });
      assert.equal(received[0]?.method, 'POST');
      assert.equal(received[0]?.path, '/start_job');
      assert.match(received[0]?.contentType ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(received[0]?.body ?? ''), { image: 'aGVsbG8=' });
      assert.equal(exchanges[0]?.status, 200);
    },
  );
});

test('a 4xx answer becomes an ApiError with the proxy\'s code and message, not retryable', async () => {
  await withServer(
    () => ({ status: 415, body: { status: 'ng', error: { code: 'UNSUPPORTED_IMAGE_FORMAT', message: 'send PNG, JPEG or WebP' } } }),
    async (client) => {
      const error = await client.startJob('eA==').then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 415);
      assert.equal(error.code, 'UNSUPPORTED_IMAGE_FORMAT');
      assert.equal(error.message, 'send PNG, JPEG or WebP');
      assert.equal(error.retryable, false);
    },
  );
});

test('a 5xx with a non-JSON body becomes a retryable ApiError coded HTTP_<status>', async () => {
  await withServer(
    () => ({ status: 502, body: '<html>bad gateway</html>' }),
    async (client) => {
      await assert.rejects(client.getJob('x'), (e: unknown) => e instanceof ApiError && e.code === 'HTTP_502' && e.retryable && /bad gateway/.test(e.message));
    },
  );
});

test('getJob asks /get_job/<id> with the id escaped and returns the view', async () => {
  await withServer(
    (r) => ({ status: 200, body: { status: 'ng', job_id: decodeURIComponent(r.path.split('/')[2] ?? ''), job_status: 'RUNNING', img_out_base64: null } }),
    async (client, received) => {
      const view = await client.getJob('a/b');
      assert.equal(received[0]?.path, '/get_job/a%2Fb');
      assert.equal(view.job_id, 'a/b');
      assert.equal(view.job_status, 'RUNNING');
    },
  );
});

test('getJob with waitMs long-polls with ?wait=<seconds>, capped at 30; no or a tiny wait sends none', async () => {
  await withServer(
    () => ({ status: 200, body: { status: 'ng', job_id: 'j', job_status: 'QUEUED', img_out_base64: null } }),
    async (client, received) => {
      await client.getJob('j', { waitMs: 1500 });
      await client.getJob('j', { waitMs: 120_000 });
      await client.getJob('j', { waitMs: 0.2 });
      await client.getJob('j', { waitMs: -5 });
      await client.getJob('j', { waitMs: 7 });
      assert.deepEqual(
        received.map((r) => r.path),
        ['/get_job/j?wait=1.5', '/get_job/j?wait=30', '/get_job/j', '/get_job/j', '/get_job/j?wait=0.007'],
      );
    },
  );
});

test('an answer without the fields the contract promises is rejected', async () => {
  await withServer(
    () => ({ status: 200, body: { status: 'ok' } }),
    async (client) => {
      await assert.rejects(client.startJob('eA=='), /without a job_id/);
      await assert.rejects(client.getJob('x'), /without a job_status/);
    },
  );
});

test('--debug exchanges never carry image payloads, only their length', async () => {
  const out = 'A'.repeat(5000);
  await withServer(
    () => ({ status: 200, body: { status: 'ok', job_id: 'j', job_status: 'SUCCEEDED', img_in_base64: out, img_out_base64: out } }),
    async (client, _received, exchanges) => {
      await client.getJob('j');
      const summary = exchanges[0]?.summary ?? '';
      assert.ok(!summary.includes(out), summary);
      assert.match(summary, /"img_out_base64":"<5000 base64 chars>"/);
      assert.equal(exchanges[0]?.method, 'GET');
      assert.equal(exchanges[0]?.path, '/get_job/j');
    },
  );
});

test('a port nobody listens on gives ProxyUnreachableError naming the URL', async () => {
  const port = await freePort();
  const client = new ProxyClient({ baseUrl: `http://127.0.0.1:${port}` });
  try {
    await assert.rejects(client.health(), (e: unknown) => e instanceof ProxyUnreachableError && e.message.includes(`127.0.0.1:${port}`) && /ECONNREFUSED/.test(e.message));
  } finally {
    await client.close();
    await client.close();
  }
});
