import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { JOB_ID_PATTERN } from '@cutout/shared';
import { call, postJson, useProxyTestbed, type ProxyOptions } from './app-harness.js';

const IMAGES_DIR = fileURLToPath(new URL('../../test/fixtures/images/', import.meta.url));

const bed = useProxyTestbed({ width: 64, height: 48, channels: 3, background: '#3366cc' });

function proxy(options: ProxyOptions = { keyPrefix: `t${randomUUID().slice(0, 8)}:` }) {
  return bed.start(options);
}

interface Started {
  status: string;
  job_id: string;
  job_status: string;
}

interface ErrorReply {
  status: string;
  error: { code: string; message: string };
}

/** A copy of a PNG whose IHDR declares another size (CRC fixed, so only the size is a lie). */
function withDeclaredSize(source: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(source);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

test('each fixture photo is queued: contract answer, Redis keys (their TTL starts when the job ends), id on the queue, logs with the job id', async () => {
  const keyPrefix = 'fixtures:';
  const p = await proxy({ keyPrefix, ttlSeconds: 321 });
  const names = readdirSync(IMAGES_DIR).filter((n) => /\.(jpe?g|png|webp)$/i.test(n));
  assert.ok(names.length >= 5);
  const ids: string[] = [];
  for (const name of names) {
    const bytes = readFileSync(join(IMAGES_DIR, name));
    const res = await postJson<Started>(`${p.url}/start_job`, JSON.stringify({ image: bytes.toString('base64') }));
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.job_status, 'QUEUED');
    assert.match(res.body.job_id, JOB_ID_PATTERN);
    assert.ok(res.headers.get('x-request-id'), 'X-Request-Id on every response');
    assert.equal(res.headers.get('x-powered-by'), null);
    const id = res.body.job_id;
    ids.push(id);
    assert.equal(await bed.redis.get(`${keyPrefix}${id}_image_in`), bytes.toString('base64'), `${name}: stored as sent`);
    // A waiting job never expires under its client: JOB_TTL_SECONDS counts from the job's end.
    for (const key of [`${keyPrefix}${id}_image_in`, `${keyPrefix}${id}_job`]) assert.equal(await bed.redis.ttl(key), -1, `${key} has no TTL while queued`);
    const meta = await sharp(bytes).metadata();
    const record = await bed.redis.hGetAll(`${keyPrefix}${id}_job`);
    assert.deepEqual([record.status, record.format, record.width, record.height, record.bytes], ['QUEUED', meta.format, String(meta.width), String(meta.height), String(bytes.length)]);
  }
  assert.deepEqual(await bed.redis.lRange(`${keyPrefix}job_id`, 0, -1), [...ids].reverse(), 'LPUSHed: newest on the left');
  const queued = p.logs.filter((l) => l.message === 'job queued');
  assert.deepEqual(queued.map((l) => l.job_id), ids);
  assert.ok(queued.every((l) => typeof l.width === 'number' && typeof l.format === 'string' && typeof l.request_id === 'string'));
  const access = p.logs.filter((l) => l.message === 'request' && l.path === '/start_job');
  assert.deepEqual(access.map((l) => l.job_id), ids, 'the access log line carries the job id');
  assert.ok(!JSON.stringify(p.logs).includes(readFileSync(join(IMAGES_DIR, names[0]!)).toString('base64').slice(0, 200)), 'no image data in the logs');
});

test('a data-URL prefix, line-wrapped base64 and the URL-safe alphabet are accepted and stored canonically', async () => {
  const p = await proxy({ keyPrefix: 'forms:' });
  const webp = await sharp({ create: { width: 30, height: 20, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } }).webp().toBuffer();
  const forms = [
    `data:image/png;base64,${bed.png.toString('base64')}`,
    bed.png.toString('base64').replace(/.{76}/g, '$&\n'),
    `data:image/webp;base64,${webp.toString('base64url')}`,
  ];
  const expected = [bed.png, bed.png, webp];
  for (const [i, image] of forms.entries()) {
    const res = await postJson<Started>(`${p.url}/start_job`, JSON.stringify({ image }));
    assert.equal(res.status, 200, `form ${i}: ${JSON.stringify(res.body)}`);
    const stored = await bed.redis.get(`forms:${res.body.job_id}_image_in`);
    assert.equal(stored, expected[i]!.toString('base64'), `form ${i}: prefix and line breaks removed, standard alphabet`);
  }
});

test('every bad upload gets its documented status and code with a message, and nothing is queued', async () => {
  const limits = { maxImageBytes: 64 * 1024, maxImagePixels: 1_000_000 };
  const p = await proxy({ keyPrefix: 'bad:', limits });
  const jpeg = readFileSync(join(IMAGES_DIR, 'car-1.jpg'));
  const wide = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#ffffff' } }).png().toBuffer();
  assert.ok(wide.length < limits.maxImageBytes, 'the wide PNG is small in bytes');
  const json = (value: unknown) => JSON.stringify(value);
  const b64 = (bytes: Buffer) => json({ image: bytes.toString('base64') });
  const cases: [string, string, string | undefined, number, string][] = [
    ['malformed JSON', '{"image": "abc"', 'application/json', 400, 'INVALID_JSON'],
    ['text/plain', b64(bed.png), 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['form encoded', 'image=abc', 'application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['multipart', '--x\r\n\r\n--x--', 'multipart/form-data; boundary=x', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no image field', json({ picture: bed.png.toString('base64') }), 'application/json', 400, 'MISSING_IMAGE'],
    ['image is a number', json({ image: 42 }), 'application/json', 400, 'MISSING_IMAGE'],
    ['image is null', json({ image: null }), 'application/json', 400, 'MISSING_IMAGE'],
    ['body is an array', json([bed.png.toString('base64')]), 'application/json', 400, 'MISSING_IMAGE'],
    ['body is a bare string', json(bed.png.toString('base64')), 'application/json', 400, 'MISSING_IMAGE'],
    ['not base64', json({ image: 'this is *not* base64!' }), 'application/json', 400, 'INVALID_BASE64'],
    ['empty image', json({ image: '' }), 'application/json', 400, 'EMPTY_IMAGE'],
    ['not an image', b64(Buffer.from('hello, I am a text file\n'.repeat(20))), 'application/json', 415, 'UNSUPPORTED_IMAGE_FORMAT'],
    ['random bytes', b64(Buffer.concat([Buffer.from('junk'), randomBytes(2000)])), 'application/json', 415, 'UNSUPPORTED_IMAGE_FORMAT'],
    ['PNG cut in half', b64(bed.png.subarray(0, bed.png.length >> 1)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['PNG without IEND', b64(bed.png.subarray(0, bed.png.length - 12)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['PNG header only', b64(bed.png.subarray(0, 20)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['JPEG cut in half', b64(jpeg.subarray(0, jpeg.length >> 1)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['JPEG without EOI', b64(jpeg.subarray(0, jpeg.length - 2)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['JPEG headers only', b64(jpeg.subarray(0, 300)), 'application/json', 400, 'IMAGE_TRUNCATED'],
    ['zero width', b64(withDeclaredSize(bed.png, 0, 48)), 'application/json', 422, 'INVALID_DIMENSIONS'],
    ['too large decoded', b64(Buffer.concat([bed.png, randomBytes(limits.maxImageBytes)])), 'application/json', 413, 'IMAGE_TOO_LARGE'],
    ['too large body', json({ image: randomBytes(limits.maxImageBytes * 3).toString('base64') }), 'application/json', 413, 'IMAGE_TOO_LARGE'],
    ['huge declared canvas', b64(withDeclaredSize(bed.png, 100_000, 100_000)), 'application/json', 422, 'TOO_MANY_PIXELS'],
    ['over the pixel limit', b64(wide), 'application/json', 422, 'TOO_MANY_PIXELS'],
  ];
  for (const [name, body, contentType, status, code] of cases) {
    const res = await postJson<ErrorReply>(`${p.url}/start_job`, body, contentType);
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, 'ng', name);
    assert.equal(res.body.error.code, code, `${name}: ${res.body.error.message}`);
    assert.ok(res.body.error.message.length > 20, `${name}: the message says how to fix it`);
  }
  const tooMany = await postJson<ErrorReply>(`${p.url}/start_job`, b64(wide));
  assert.match(tooMany.body.error.message, /2000×1000/, 'names the image size');
  assert.match(tooMany.body.error.message, /MAX_IMAGE_PIXELS/, 'names the setting');
  const tooLarge = await postJson<ErrorReply>(`${p.url}/start_job`, json({ image: randomBytes(limits.maxImageBytes * 3).toString('base64') }));
  assert.match(tooLarge.body.error.message, /0\.06 MiB.*MAX_IMAGE_BYTES/);
  assert.equal(await bed.redis.exists('bad:job_id'), 0, 'nothing was queued');
  assert.equal(await bed.redis.exists('bad:job_counts'), 0, 'nothing was counted');
});

test('a POST without a body is MISSING_IMAGE, and unknown routes are NOT_FOUND', async () => {
  const p = await proxy();
  const empty = await call<ErrorReply>(`${p.url}/start_job`, { method: 'POST' });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.code, 'MISSING_IMAGE');
  for (const [method, path] of [['GET', '/start_job'], ['GET', '/nope'], ['POST', '/get_job/x'], ['DELETE', '/health']]) {
    const res = await call<ErrorReply>(`${p.url}${path}`, { method });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.error.code, 'NOT_FOUND');
    assert.ok(res.headers.get('x-request-id'));
  }
});
