import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { useProxyTestbed, type ProxyOptions } from './app-harness.js';

const bed = useProxyTestbed({ width: 40, height: 30, channels: 3, background: '#228844' });

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with exactly these headers (node:http, so nothing is added but Host), the answer as bytes. */
function send(url: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What must be the same between the fast lane and express: everything but the date. */
function comparable(raw: Raw) {
  const { date: _date, ...headers } = raw.headers;
  return { status: raw.status, headers, body: raw.body.toString() };
}

function proxy(options: Partial<ProxyOptions> = {}) {
  return bed.start({ keyPrefix: `f${randomUUID().slice(0, 8)}:`, ...options });
}

// express matches /get_job case-insensitively and the fast lane only the lower-case path, so the
// upper-case path is the same request answered by express: the two must not differ by a byte.
test('get_job: the fast lane and express answer byte for byte alike (found, 404, bad wait, HEAD)', async () => {
  const p = await proxy();
  const image = bed.png.toString('base64');
  const started = await send(p.url, 'POST', '/start_job', { 'content-type': 'application/json', 'x-request-id': 'req-1' }, Buffer.from(JSON.stringify({ image })));
  assert.equal(started.status, 200);
  const id = (JSON.parse(started.body.toString()) as { job_id: string }).job_id;
  const paths = [`/${id}`, `/${id}?wait=0`, `/${randomUUID()}`, '/nope', `/${id}?wait=99`, `/${id}?wait=1&wait=2`];
  for (const method of ['GET', 'HEAD']) {
    for (const path of paths) {
      const fast = await send(p.url, method, `/get_job${path}`, { 'x-request-id': 'same-id' });
      const viaExpress = await send(p.url, method, `/GET_JOB${path}`, { 'x-request-id': 'same-id' });
      assert.deepEqual(comparable(fast), comparable(viaExpress), `${method} ${path}`);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = (path: string) => p.logs.filter((l) => l.message === 'request' && l.path === path).map(({ duration_ms: _d, timestamp: _t, ...rest }) => rest);
  const fastLines = lines(`/get_job/${id}`);
  assert.equal(fastLines.length, 2, 'one access-log line per request, GET and HEAD');
  assert.ok(fastLines.every((l) => l.job_id === id && l.status === 200 && l.request_id === 'same-id'), JSON.stringify(fastLines));
  assert.deepEqual(fastLines, lines(`/GET_JOB/${id}`).map((l) => ({ ...l, path: `/get_job/${id}` })), 'the same fields as express\'s access-log line');
});

// express takes a start_job body of no declared length (chunked); the fast lane only a declared one.
test('start_job: the fast lane and express give the same errors, and the same kind of success', async () => {
  const p = await proxy();
  const bodies: [string, string][] = [
    ['not JSON', '{"image": '],
    ['no image', '{"picture":"abc"}'],
    ['image not a string', '{"image":42}'],
    ['bad base64', '{"image":"@@@@"}'],
    ['not an image', JSON.stringify({ image: Buffer.from('hello world, not a picture').toString('base64') })],
    ['a bare string', '"abc"'],
    ['a byte-order mark', `\ufeff${JSON.stringify({ image: 'AAAA' })}`],
    ['escaped base64', JSON.stringify({ image: bed.png.toString('base64').replace(/(.{60})/g, '$1\n') })],
  ];
  for (const [label, text] of bodies) {
    const body = Buffer.from(text);
    const fast = await send(p.url, 'POST', '/start_job', { 'content-type': 'application/json', 'content-length': String(body.length), 'x-request-id': 'same-id' }, body);
    const viaExpress = await send(p.url, 'POST', '/start_job', { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-request-id': 'same-id' }, body);
    if (fast.status === 200) {
      assert.equal(viaExpress.status, 200, label);
      const [a, b] = [fast, viaExpress].map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
      assert.deepEqual(Object.keys(a!), Object.keys(b!), label);
      assert.equal(String(fast.headers.etag).startsWith('W/"'), true, `${label}: express's weak ETag`);
      assert.deepEqual(Object.keys(fast.headers).filter((h) => h !== 'transfer-encoding'), Object.keys(viaExpress.headers).filter((h) => h !== 'transfer-encoding'), label);
    } else {
      assert.deepEqual(comparable(fast), comparable(viaExpress), label);
    }
  }
  const ok = await send(p.url, 'POST', '/start_job', { 'content-type': 'application/json; charset=utf-8' }, Buffer.from(JSON.stringify({ image: `data:image/png;base64,${bed.png.toString('base64')}` })));
  assert.equal(ok.status, 200, ok.body.toString());
});

test('with API keys the fast lane refuses a missing or wrong key as express does, and records the owner', async () => {
  const p = await proxy({ apiKeys: [{ name: 'alice', key: 'alice-key-0123456789' }] });
  const body = Buffer.from(JSON.stringify({ image: bed.png.toString('base64') }));
  for (const key of [undefined, 'wrong-key-0123456789']) {
    const headers: Record<string, string> = { 'x-request-id': 'same-id', ...(key ? { 'x-api-token': key } : {}) };
    const fast = await send(p.url, 'GET', `/get_job/${randomUUID()}`, headers);
    const viaExpress = await send(p.url, 'GET', `/GET_JOB/${randomUUID()}`, headers);
    assert.equal(fast.status, 401);
    assert.equal(fast.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(comparable(fast), comparable(viaExpress));
    const upload = await send(p.url, 'POST', '/start_job', { ...headers, 'content-type': 'application/json' }, body);
    assert.equal(upload.status, 401);
  }
  const started = await send(p.url, 'POST', '/start_job', { 'content-type': 'application/json', authorization: 'Bearer alice-key-0123456789' }, body);
  assert.equal(started.status, 200);
  const id = (JSON.parse(started.body.toString()) as { job_id: string }).job_id;
  assert.equal((await p.jobs.get(id, { withImages: false }))?.owner, 'alice');
  assert.equal((await send(p.url, 'GET', `/get_job/${id}`, { 'x-api-token': 'alice-key-0123456789' })).status, 200);
});
