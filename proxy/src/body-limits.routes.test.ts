// Body limits on the proxy in-process (real Redis, real HTTP): the exact image limit in every
// body form, compressed multi-image bodies read as they stream, and the body budget (503 past
// it, and every byte of it given back whatever became of the request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createMetricsRegistry } from '@cutout/shared/metrics';
import { call, useProxyTestbed, type ProxyOptions } from './app-harness.js';

const bed = useProxyTestbed({ width: 40, height: 30, channels: 3, background: '#884422' });

function proxy(options: Partial<ProxyOptions> = {}) {
  return bed.start({ keyPrefix: `b${randomUUID().slice(0, 8)}:`, ...options });
}

function multipart(file: Buffer): { body: Buffer; type: string } {
  const boundary = 'cutout-test-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

/** POST /v1/jobs with the image as JSON, as a form and as raw bytes: the three answers' statuses and codes. */
async function inThreeForms(url: string, png: Buffer): Promise<string[]> {
  const form = multipart(png);
  const sends: Array<[string, string | Buffer, string]> = [
    ['json', JSON.stringify({ image: png.toString('base64') }), 'application/json'],
    ['multipart', form.body, form.type],
    ['raw', png, 'image/png'],
  ];
  const answers: string[] = [];
  for (const [form, body, type] of sends) {
    const res = await call<{ error?: { code: string } }>(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': type }, body });
    answers.push(`${form} ${res.status}${res.body.error ? ` ${res.body.error.code}` : ''}`);
  }
  return answers;
}

test('an image of exactly MAX_IMAGE_BYTES is taken in all three body forms, and one byte more is 413 in all three', async () => {
  const png = bed.png;
  const exact = await proxy({ limits: { maxImageBytes: png.length, maxImagePixels: 50_000_000 } });
  assert.deepEqual(await inThreeForms(exact.url, png), ['json 202', 'multipart 202', 'raw 202']);
  const under = await proxy({ limits: { maxImageBytes: png.length - 1, maxImagePixels: 50_000_000 } });
  assert.deepEqual(await inThreeForms(under.url, png), ['json 413 IMAGE_TOO_LARGE', 'multipart 413 IMAGE_TOO_LARGE', 'raw 413 IMAGE_TOO_LARGE']);
});

test('compressed group and Vision bodies are read as they stream and answer as plain ones do', async () => {
  const p = await proxy({ syncTimeoutMs: 200 });
  const image = bed.png.toString('base64');
  const group = JSON.stringify({ images: [image, image], format: 'webp' });
  for (const [encoding, body] of [
    ['identity', Buffer.from(group)],
    ['gzip', gzipSync(group)],
    ['br', brotliCompressSync(group)],
  ] as const) {
    const res = await call<{ jobs: string[] }>(`${p.url}/v1/groups`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body });
    assert.equal(res.status, 202, `${encoding}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.jobs.length, 2, encoding);
  }
  const vision = JSON.stringify({ requests: [{ image: { content: image }, features: [{ type: 'x' }] }, { image: { content: 'not base64!' } }] });
  const res = await call<{ responses: Array<{ error?: { code: string } }> }>(`${p.url}/`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(vision) });
  assert.equal(res.status, 200);
  assert.equal(res.body.responses.length, 2);
  assert.equal(res.body.responses[0]!.error?.code, 'SYNC_TIMEOUT', 'queued, then not done within the short sync timeout (no worker here)');
  assert.equal(res.body.responses[1]!.error?.code, 'INVALID_BASE64');
});

test('a compressed body is held to MAX_REQUEST_BYTES as it inflates, with the limit in the 413', async () => {
  const p = await proxy({ maxRequestBytes: 1024 * 1024, bodyBudgetBytes: 4 * 1024 * 1024 });
  // 2 MiB of one long image string: it inflates past the 1 MiB cap.
  const long = 'A'.repeat(2 * 1024 * 1024);
  const bombs = { '/v1/groups': `{"images":["${long}"]}`, '/': `{"requests":[{"image":{"content":"${long}"}}]}` };
  for (const [path, text] of Object.entries(bombs)) {
    const res = await call<{ error: { code: string; message: string } }>(`${p.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(text) });
    assert.equal(res.status, 413, path);
    assert.equal(res.body.error.code, 'BODY_TOO_LARGE', path);
    assert.match(res.body.error.message, /1048576 bytes \(1 MiB, MAX_REQUEST_BYTES\)/, path);
  }
});

/** cutout_proxy_body_bytes_held, as /metrics tells it. */
async function held(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = /^cutout_proxy_body_bytes_held (\d+)$/m.exec(text);
  assert.ok(line, 'the gauge is on /metrics');
  return Number(line[1]);
}

/** An upload that declares `length` bytes and sends only its first few; the socket, to end it. */
async function heldOpenUpload(url: string, path: string, length: number, type = 'image/png') {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`);
  socket.write(type === 'application/json' ? `{"images":["${'A'.repeat(1024)}` : Buffer.alloc(1024));
  return { socket, answer: () => answer };
}

test('past BODY_BUDGET_BYTES a large upload gets 503 with Retry-After, small ones still go through, and every byte comes back', async () => {
  const p = await proxy({ maxRequestBytes: 300_000, bodyBudgetBytes: 500_000, limits: { maxImageBytes: 300_000, maxImagePixels: 50_000_000 }, metrics: createMetricsRegistry() });
  const first = await heldOpenUpload(p.url, '/v1/jobs', 300_000);
  await sleep(100);
  assert.equal(await held(p.url), 300_000, 'a declared body takes its length before it is read');

  const second = await call<{ error: { code: string; message: string } }>(`${p.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(250_000) });
  assert.equal(second.status, 503);
  assert.equal(second.body.error.code, 'BODY_BUDGET_FULL');
  assert.equal(second.headers.get('retry-after'), '2');
  assert.match(second.body.error.message, /BODY_BUDGET_BYTES/);
  // A compressed body is metered as it inflates: past what is left, it is refused mid-way.
  const inflating = await call<{ error: { code: string } }>(`${p.url}/v1/groups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
    body: brotliCompressSync(`{"images":["${'A'.repeat(250_000)}"]}`),
  });
  assert.equal(inflating.status, 503);
  assert.equal(inflating.body.error.code, 'BODY_BUDGET_FULL');
  // Small bodies never ask the budget: start_job (the fast lane) and a small group.
  const image = bed.png.toString('base64');
  const small = await call<{ status: string }>(`${p.url}/start_job`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
  assert.equal(small.status, 200);
  const group = await call(`${p.url}/v1/groups`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ images: [image] })) });
  assert.equal(group.status, 202);

  // The client that held the budget goes away: its bytes come back.
  first.socket.destroy();
  await sleep(100);
  assert.equal(await held(p.url), 0);

  // Every way a large request can end gives its bytes back.
  const big = 'A'.repeat(200_000);
  const ends: Array<[string, RequestInit, number]> = [
    ['/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"image":"${big}` }, 400],
    ['/v1/jobs', { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(200_000) }, 415],
    ['/v1/jobs', { method: 'POST', headers: { 'content-type': multipart(Buffer.alloc(200_000)).type }, body: multipart(Buffer.alloc(200_000)).body }, 415],
    ['/v1/groups', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: [big, image] }) }, 415],
    ['/v1/groups', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(`{"images":["${big}"`) }, 400],
    ['/v1/groups', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(`{"images":["${'A'.repeat(400_000)}"]}`) }, 413],
    ['/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: [{ image: { content: big } }] }) }, 200],
    ['/start_job', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: big }) }, 415],
    ['/start_job', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ image: big })) }, 415],
  ];
  for (const [i, [path, init, status]] of ends.entries()) {
    const res = await fetch(`${p.url}${path}`, init);
    const text = await res.text();
    assert.equal(res.status, status, `case ${i}, ${path}: ${text.slice(0, 200)}`);
  }
  // And one whose client leaves half-way through its body.
  const gone = await heldOpenUpload(p.url, '/v1/groups', 200_000, 'application/json');
  await sleep(50);
  assert.equal(await held(p.url), 200_000);
  await sleep(50);
  gone.socket.destroy();
  await sleep(100);
  assert.equal(await held(p.url), 0, 'nothing leaked');
});
