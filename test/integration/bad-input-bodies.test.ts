// Hostile bodies against the real stack (issue 18, items 1 and 3): bodies that inflate or
// stream to hundreds of MiB. Each gets a 4xx that names the limit, and the proxy process goes
// on serving; before the fix each of them ended it (a string past V8's 512 MiB limit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { brotliOf, sendBody, type BodyPart, type Sent } from '../support/hostile-bodies.js';
import { getJson, postJson } from '../support/http.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const MIB = 1024 * 1024;
/** The default MAX_IMAGE_BYTES's JSON limit (bodyLimitBytes of 20 MiB), less room for the entry around it. */
const NEAR_ENTRY_LIMIT = Math.ceil(((20 * MIB) / 3) * 4 * (1 + 1 / 32)) + 64 * 1024 - 1024;

let stack: TestStack;
let image: string;

before(async () => {
  // VISION_MAX_REQUESTS=20: past 19 near-limit entries, a Vision body used to cross 512 MiB.
  stack = await startTestStack({ keyPrefix: 'it-bodies:', env: { VISION_MAX_REQUESTS: '20' } });
  image = (await sharp({ create: { width: 32, height: 24, channels: 3, background: '#aa3366' } }).png().toBuffer()).toString('base64');
});

after(async () => {
  await stack?.stop();
});

/** The proxy answers and takes a group as before. */
async function stillServes(label: string): Promise<void> {
  const health = await getJson(`${stack.proxyUrl}/health`);
  assert.equal(health.status, 200, `${label}: the proxy is still up`);
  const group = await postJson<{ jobs: string[] }>(`${stack.proxyUrl}/v1/groups`, { images: [image, image] });
  assert.equal(group.status, 202, `${label}: a group is still taken`);
}

function assertRefused(sent: Sent, label: string, code: string, mention: RegExp): void {
  assert.equal(sent.status, 413, `${label}: ${sent.error ?? sent.body.slice(0, 300)}`);
  const body = JSON.parse(sent.body) as { status: string; error: { code: string; message: string } };
  assert.equal(body.error.code, code, label);
  assert.match(body.error.message, mention, `${label}: the message names the limit`);
}

const groupBomb = (bytes: number): BodyPart[] => ['{"images":["', { fill: 'A', count: bytes }, '"]}'];

test('a few hundred bytes of brotli that inflate to 600 MiB of group JSON: 413 at MAX_REQUEST_BYTES, and the proxy goes on', { timeout: 120_000 }, async (t) => {
  const bomb = await brotliOf(groupBomb(600 * MIB));
  t.diagnostic(`brotli body: ${bomb.length} bytes for 600 MiB of JSON`);
  const sent = await sendBody(stack.proxyUrl, { path: '/v1/groups', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, parts: bomb });
  assertRefused(sent, 'brotli group', 'BODY_TOO_LARGE', /134217728 bytes \(128 MiB, MAX_REQUEST_BYTES\)/);
  await stillServes('after the brotli group');
});

test('a plain 520 MiB group body is refused from its declared length, and one of unknown length once it passes the cap', { timeout: 120_000 }, async (t) => {
  const declared = await sendBody(stack.proxyUrl, { path: '/v1/groups', headers: { 'content-type': 'application/json' }, parts: groupBomb(520 * MIB) });
  assertRefused(declared, 'declared 520 MiB', 'BODY_TOO_LARGE', /MAX_REQUEST_BYTES/);
  const chunked = await sendBody(stack.proxyUrl, { path: '/v1/groups', headers: { 'content-type': 'application/json' }, parts: groupBomb(520 * MIB), chunked: true });
  assertRefused(chunked, 'chunked 520 MiB', 'BODY_TOO_LARGE', /MAX_REQUEST_BYTES/);
  t.diagnostic(`sent before the answer: declared ${(declared.sent / MIB).toFixed(1)} MiB, chunked ${(chunked.sent / MIB).toFixed(1)} MiB`);
  await stillServes('after the 520 MiB bodies');
});

test('a Vision body of 20 entries near the per-entry limit (VISION_MAX_REQUESTS=20), plain and brotli: 413, and the proxy goes on', { timeout: 180_000 }, async (t) => {
  const entries: BodyPart[] = ['{"requests":['];
  for (let i = 0; i < 20; i++) entries.push(i === 0 ? '' : ',', '{"image":{"content":"', { fill: 'A', count: NEAR_ENTRY_LIMIT }, '"},"features":[{"type":"x"}]}');
  entries.push(']}');
  const plain = await sendBody(stack.proxyUrl, { path: '/', headers: { 'content-type': 'application/json' }, parts: entries });
  assertRefused(plain, 'plain Vision', 'BODY_TOO_LARGE', /MAX_REQUEST_BYTES/);
  const bomb = await brotliOf(entries);
  t.diagnostic(`brotli Vision body: ${bomb.length} bytes for ${((20 * NEAR_ENTRY_LIMIT) / MIB).toFixed(0)} MiB of JSON`);
  const compressed = await sendBody(stack.proxyUrl, { path: '/', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, parts: bomb });
  assertRefused(compressed, 'brotli Vision', 'BODY_TOO_LARGE', /MAX_REQUEST_BYTES/);
  await stillServes('after the Vision bodies');
});
