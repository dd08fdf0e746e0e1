// URLs a client chooses, on the real stack (issue 18 items 7 and 8, CONTRACT §13): rembg's
// `GET /api/remove?url=` against a real image server on 127.0.0.1 (listed in FETCH_ALLOW_HOSTS),
// also called as rembg's own Python client calls it; every way such a URL can be bad answered
// with its 4xx and code and nothing queued; callback URLs in the odd IPv6 spellings of loopback
// refused; and callbacks allowed for a key with its own callback_secret though CALLBACK_SECRET
// is unset, signed with that secret only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { verifyCallback } from '@cutout/shared';
import { CallbackReceiver } from '../support/callback-receiver.js';
import { fixtureImages, type Fixture } from '../support/fixtures.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const ALICE = 'alice-key-0f9e8d7c6b5a4321';
const ALICE_SECRET = 'alice-callback-secret-77';
const BOB = 'bob-key-1a2b3c4d5e6f7a8b9c0d';
const FETCH_TIMEOUT_MS = 1_500;
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

let stack: TestStack;
let images: Server;
let imageBase = '';
let car: Fixture;
let receiver: CallbackReceiver;
/** How many bytes /endless had written when the proxy dropped the connection. */
let endlessWritten = -1;
const dir = mkdtempSync(join(tmpdir(), 'cutout-urls-'));

/** An image host on 127.0.0.1 with every way a URL can answer. */
function imageServer(): Server {
  return createServer((req, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/car.jpg') return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(car.bytes);
    // Judged by its bytes, never by the declared type.
    if (path === '/car-declared-as-text') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(car.bytes);
    if (path === '/text-declared-as-png') return void res.writeHead(200, { 'content-type': 'image/png' }).end('hello, I am not an image\n'.repeat(40));
    if (path === '/missing') return void res.writeHead(404).end('no');
    if (path === '/redirect') return void res.writeHead(302, { location: '/car.jpg' }).end();
    if (path === '/redirect-out') return void res.writeHead(302, { location: `http://127.0.0.2:${(images.address() as AddressInfo).port}/car.jpg` }).end();
    if (path === '/redirect-loop') return void res.writeHead(307, { location: '/redirect-loop' }).end();
    if (path === '/hangs') return; // never answers
    if (path === '/declared-huge') return void res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(MAX_IMAGE_BYTES * 5) }).write(car.bytes.subarray(0, 100));
    if (path === '/endless') return void streamEndless(res);
    res.writeHead(404).end();
  });
}

/** A JPEG's first bytes, then filler for ever (chunked, no length): the reader must stop at its limit. */
function streamEndless(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'image/jpeg' });
  const chunk = Buffer.alloc(256 * 1024, 7);
  let written = 0;
  res.on('close', () => (endlessWritten = written));
  const more = () => {
    while (!res.destroyed && written < 50 * MAX_IMAGE_BYTES) {
      written += chunk.length;
      if (!res.write(written === chunk.length ? Buffer.concat([car.bytes.subarray(0, 1024), chunk]) : chunk)) return void res.once('drain', more);
    }
    if (!res.destroyed) res.end();
  };
  more();
}

before(async () => {
  car = fixtureImages().find((f) => f.name === 'car-1.jpg')!;
  images = imageServer();
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  receiver = new CallbackReceiver();
  await receiver.start();
  const keys = join(dir, 'keys');
  writeFileSync(keys, `alice ${ALICE} callback_secret=${ALICE_SECRET}\nbob ${BOB}\n`, { mode: 0o600 });
  stack = await startTestStack({
    keyPrefix: 'it-urls:',
    env: { API_KEYS_FILE: keys, CALLBACK_SECRET: '', CALLBACK_ALLOW_HOSTS: '127.0.0.1', FETCH_ALLOW_HOSTS: '127.0.0.1', FETCH_TIMEOUT_MS: String(FETCH_TIMEOUT_MS), LOG_LEVEL: 'info' },
  });
});

after(async () => {
  await stack?.stop();
  images?.closeAllConnections();
  images?.close();
  await receiver?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const asAlice = { 'x-api-token': ALICE };
const asBob = { authorization: `Bearer ${BOB}` };

async function submitted(): Promise<number> {
  const res = await fetch(`${stack.proxyUrl}/metadata`, { headers: asAlice });
  return ((await res.json()) as { jobs: { submitted: number } }).jobs.submitted;
}

const fromUrl = (url: string, query = '') => fetch(`${stack.proxyUrl}/api/remove?url=${encodeURIComponent(url)}${query}`, { headers: asAlice });

async function assertCutout(bytes: Buffer, what: string, channels = 4): Promise<void> {
  const meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 480, 360, channels], what);
}

test("control: GET /api/remove?url= fetches the image from an allowed host and answers the cutout, as POST /api/remove does; om, bgc and redirects too", async () => {
  for (const path of ['/car.jpg', '/car-declared-as-text', '/redirect']) {
    const res = await fromUrl(`${imageBase}${path}`);
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'image/png');
    await assertCutout(Buffer.from(await res.arrayBuffer()), path);
  }
  const mask = await fromUrl(`${imageBase}/car.jpg`, '&om=true');
  assert.equal(mask.status, 200);
  await assertCutout(Buffer.from(await mask.arrayBuffer()), 'om=true', 1);
  const red = await fromUrl(`${imageBase}/car.jpg`, '&bgc=255,0,0,255');
  assert.equal(red.status, 200);
  const { data } = await sharp(Buffer.from(await red.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(data[3], 255, 'composited onto an opaque colour');
});

const python = spawnSync('python3', ['-c', 'import requests']).status === 0;

// rembg's README: requests.get("http://localhost:7000/api/remove", params={"url": ...}).
const REMBG_CLIENT = `
import json, sys, requests
api, url, token = sys.argv[1:4]
r = requests.get(api, params={"url": url}, headers={"X-Api-Token": token}, timeout=120)
print(json.dumps({"status": r.status_code, "type": r.headers.get("content-type"), "png": r.content.hex()}))
`;

test("rembg's own client call from Python (requests.get with params={'url': ...})", { skip: python ? false : 'python3 with requests is not available' }, async () => {
  const { stdout } = await promisify(execFile)('python3', ['-c', REMBG_CLIENT, `${stack.proxyUrl}/api/remove`, `${imageBase}/car.jpg`, ALICE], {
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_PROXY: '*', no_proxy: '*' },
  });
  const answer = JSON.parse(stdout) as { status: number; type: string; png: string };
  assert.deepEqual([answer.status, answer.type], [200, 'image/png']);
  await assertCutout(Buffer.from(answer.png, 'hex'), 'python requests');
});

test('every bad URL to fetch gets its 4xx and code, with a message that says what to do, and nothing is queued', { timeout: 60_000 }, async (t) => {
  const port = (images.address() as AddressInfo).port;
  const url = (u: string) => `url=${encodeURIComponent(u)}`;
  const cases: Array<[string, string, number, string]> = [
    ['no url at all', '', 400, 'MISSING_IMAGE'],
    ['url given twice', `${url(`${imageBase}/car.jpg`)}&${url(`${imageBase}/car.jpg`)}`, 400, 'MISSING_IMAGE'],
    ['not a URL', url('not a url'), 400, 'FETCH_URL_FORBIDDEN'],
    ['not http(s)', url(`ftp://127.0.0.1:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['loopback not listed in FETCH_ALLOW_HOSTS', url(`http://127.0.0.2:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['[::1], not listed', url(`http://[::1]:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['[::127.0.0.1]', url(`http://[::127.0.0.1]:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['[0::7f00:1]', url(`http://[0::7f00:1]:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['[::ffff:0:127.0.0.1]', url(`http://[::ffff:0:127.0.0.1]:${port}/car.jpg`), 400, 'FETCH_URL_FORBIDDEN'],
    ['a name that does not resolve', url('http://no-such-host.invalid/car.jpg'), 400, 'FETCH_URL_FORBIDDEN'],
    ['a redirect to a host not allowed', url(`${imageBase}/redirect-out`), 400, 'FETCH_URL_FORBIDDEN'],
    ['404', url(`${imageBase}/missing`), 422, 'FETCH_FAILED'],
    ['redirects for ever', url(`${imageBase}/redirect-loop`), 422, 'FETCH_FAILED'],
    ['nothing listens', url('http://127.0.0.1:9/car.jpg'), 422, 'FETCH_FAILED'],
    ['no answer within FETCH_TIMEOUT_MS', url(`${imageBase}/hangs`), 422, 'FETCH_FAILED'],
    ['declares a body over MAX_IMAGE_BYTES', url(`${imageBase}/declared-huge`), 413, 'IMAGE_TOO_LARGE'],
    ['streams without end', url(`${imageBase}/endless`), 413, 'IMAGE_TOO_LARGE'],
    ['not an image, though declared image/png', url(`${imageBase}/text-declared-as-png`), 415, 'UNSUPPORTED_IMAGE_FORMAT'],
    ['an unknown option', `${url(`${imageBase}/car.jpg`)}&colour=red`, 400, 'UNKNOWN_OPTION'],
  ];
  const before = await submitted();
  for (const [name, query, status, code] of cases) {
    const started = Date.now();
    const res = await fetch(`${stack.proxyUrl}/api/remove?${query}`, { headers: asAlice });
    const body = (await res.json()) as { status: string; error: { code: string; message: string } };
    t.diagnostic(`${name}: ${res.status} ${body.error?.code} in ${Date.now() - started} ms`);
    assert.deepEqual([res.status, body.status, body.error.code], [status, 'ng', code], `${name}: ${JSON.stringify(body)}`);
    assert.ok(body.error.message.length > 20, `${name}: the message says what to do`);
  }
  assert.equal(await submitted(), before, 'no refused fetch queued a job');
  t.diagnostic(`the endless body was dropped after ${endlessWritten} bytes written (limit ${MAX_IMAGE_BYTES})`);
  assert.ok(endlessWritten > 0 && endlessWritten < 50 * MAX_IMAGE_BYTES, 'the proxy stopped reading at its limit, not at the end');
});

test('callback URLs in the odd spellings of loopback are refused at submit, even with 127.0.0.1 allowed by name; nothing queued', async () => {
  const image = car.bytes.toString('base64');
  const before = await submitted();
  for (const url of ['http://[::127.0.0.1]:9/x', 'http://[0::7f00:1]:9/x', 'http://[::ffff:0:127.0.0.1]:9/x', 'http://[::ffff:7f00:1]:9/x', 'http://[64:ff9b::7f00:1]:9/x', 'http://[::1]:9/x']) {
    const res = await fetch(`${stack.proxyUrl}/v1/jobs`, { method: 'POST', headers: { ...asAlice, 'content-type': 'application/json' }, body: JSON.stringify({ image, callback_url: url }) });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.deepEqual([res.status, body.error.code], [400, 'CALLBACK_URL_FORBIDDEN'], url);
    assert.match(body.error.message, /public unicast/);
  }
  assert.equal(await submitted(), before);
});

test("a key with its own callback_secret may ask for callbacks though CALLBACK_SECRET is unset, and they are signed with it; a key without one is refused", async () => {
  const image = car.bytes.toString('base64');
  const json = { 'content-type': 'application/json' };
  const refused = await fetch(`${stack.proxyUrl}/v1/jobs`, { method: 'POST', headers: { ...asBob, ...json }, body: JSON.stringify({ image, callback_url: receiver.url }) });
  const body = (await refused.json()) as { error: { code: string; message: string } };
  assert.deepEqual([refused.status, body.error.code], [400, 'CALLBACKS_DISABLED']);
  assert.match(body.error.message, /callback_secret/);
  const accepted = await fetch(`${stack.proxyUrl}/v1/jobs`, { method: 'POST', headers: { ...asAlice, ...json }, body: JSON.stringify({ image, callback_url: receiver.url }) });
  assert.equal(accepted.status, 202, await accepted.clone().text());
  const { id } = (await accepted.json()) as { id: string };
  const deadline = Date.now() + 60_000;
  while (!receiver.accepted().has(`job:${id}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const delivery = receiver.accepted().get(`job:${id}`)?.[0];
  assert.ok(delivery, `the callback arrived\n${stack.logs.slice(-20).join('\n')}`);
  const verify = (secret: string) => verifyCallback(secret, String(delivery.headers['x-cutout-timestamp']), delivery.body, String(delivery.headers['x-cutout-signature']));
  assert.ok(verify(ALICE_SECRET), "signed with alice's callback_secret");
  assert.ok(!verify(BOB), 'not with anything else');
});
