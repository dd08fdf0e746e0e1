/**
 * What can reach the services and for how long (issue 11, items 10 and 11), on the real stack:
 * predict takes calls only with PREDICT_TOKEN (batch sends it), listens on loopback under the
 * launcher, caps the images it works on at once; proxy and predict cut off a request whose
 * headers have not arrived within HTTP_REQUEST_TIMEOUT_MS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { fixtureImages } from '../support/fixtures.js';
import { postJson, waitForJob } from '../support/http.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const TOKEN = 'predict-token-0123456789abcdef';
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ keyPrefix: 'it-exposure:', env: { PREDICT_TOKEN: TOKEN, HTTP_REQUEST_TIMEOUT_MS: '1500' } });
});

after(async () => {
  await stack?.stop();
});

test('with PREDICT_TOKEN, batch still gets cutouts, a caller without the token gets 401, /health stays open', async () => {
  const image = fixtureImages().find((f) => f.name === 'car-1.jpg')!;
  const res = await postJson<{ job_id: string }>(`${stack.proxyUrl}/start_job`, { image: image.bytes.toString('base64') });
  const job = await waitForJob(stack.proxyUrl, res.body.job_id);
  assert.equal(job.job_status, 'SUCCEEDED', JSON.stringify(job.error));
  const direct = await fetch(`${stack.predictUrl}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: image.bytes });
  assert.equal(direct.status, 401);
  assert.equal(((await direct.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
  const wrong = await fetch(`${stack.predictUrl}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-predict-token': 'not-the-token-000000' }, body: image.bytes });
  assert.equal(wrong.status, 401);
  assert.equal((await fetch(`${stack.predictUrl}/health`)).status, 200);
  const withToken = await fetch(`${stack.predictUrl}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-predict-token': TOKEN }, body: image.bytes });
  assert.equal(withToken.status, 200);
  assert.equal(new URL(stack.predictUrl).hostname, '127.0.0.1', 'the launcher binds predict to loopback');
});

/** Opens a connection, sends half a request's headers, and resolves with what the server did. */
function trickleHeaders(url: string): Promise<{ answer: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => resolve({ answer, closed: true }));
    socket.on('error', () => undefined);
    // The test runner's timeout bounds this if the server never gives up on the request.
  });
}

test('a request whose headers never finish is cut off (408 or closed) by proxy and predict, not held open', { timeout: 30_000 }, async () => {
  for (const url of [stack.proxyUrl, stack.predictUrl]) {
    const { answer, closed } = await trickleHeaders(url);
    assert.ok(closed, url);
    assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), `${url}: ${answer.slice(0, 60)}`);
  }
});
