import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { pngBomb } from '@cutout/shared/testing';
import { jpegSegmentOffset, jpegWithDeclaredSize, pngWithCorruptPixels, webpWithDeclaredCanvas, withDeclaredSize } from '../support/bad-images.js';
import { fixtureImages } from '../support/fixtures.js';
import { getJson, waitForJob } from '../support/http.js';
import { rawRequest, type RawRequest, type RawResponse } from '../support/raw-http.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * The bad-input corpus: every kind of broken request we could think of, against the real stack.
 * Each must get its documented 4xx and code with a message (never a 5xx), nothing may be queued
 * for it, the services must stay up, and valid jobs sent at the same time must all succeed.
 */

const MAX_IMAGE_BYTES = 2 * 1024 * 1024;

let stack: TestStack;

before(async () => {
  // A small MAX_IMAGE_BYTES keeps the over-the-limit bodies a few MB instead of 30.
  stack = await startTestStack({ keyPrefix: 'it-corpus:', env: { MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) } });
});

after(async () => {
  await stack?.stop();
});

interface Case extends RawRequest {
  group: string;
  name: string;
  service: 'proxy' | 'predict';
  path: string;
  status: number;
  code: string;
}

interface Samples {
  png: Buffer;
  jpeg: Buffer;
  webp: Buffer;
}

async function samples(): Promise<Samples> {
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } }).png().toBuffer();
  // With alpha, libwebp writes the extended (VP8X) layout whose canvas size a bomb can lie about.
  const webp = await sharp({ create: { width: 30, height: 20, channels: 4, background: { r: 9, g: 8, b: 7, alpha: 0.5 } } }).webp().toBuffer();
  const jpeg = fixtureImages().find((f) => f.name === 'car-1.jpg')!.bytes;
  return { png, jpeg, webp };
}

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (body: string | Buffer, extra: Record<string, string> = {}) => ({ body, headers: { ...JSON_TYPE, ...extra } });
const image = (value: unknown) => json(JSON.stringify({ image: value }));
const b64 = (bytes: Buffer) => image(bytes.toString('base64'));

function startJob(group: string, name: string, request: RawRequest, status: number, code: string): Case {
  return { group, name, service: 'proxy', path: '/start_job', method: 'POST', ...request, status, code };
}

function brokenJson(): Case[] {
  const c = (name: string, body: string | Buffer, code = 'INVALID_JSON') => startJob('broken JSON', name, json(body), 400, code);
  return [
    c('cut short', '{"image": "abc"'),
    c('trailing comma', '{"image":"abc",}'),
    c('single quotes', "{'image':'abc'}"),
    c('unquoted key', '{image:"abc"}'),
    c('NaN value', '{"image":NaN}'),
    c('a comment', '{"image":"abc" /* here */}'),
    c('two documents', '{}{}'),
    c('only white space', '   \n '),
    c('invalid UTF-8 between the braces', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    // Decoded with replacement characters, which are not base64.
    c('invalid UTF-8 inside the image string', Buffer.from([...Buffer.from('{"image":"'), 0xff, 0xfe, 0x41, 0x41, ...Buffer.from('"}')]), 'INVALID_BASE64'),
    c('a byte-order mark, then JSON (tolerated)', '\ufeff{"image":""}', 'EMPTY_IMAGE'),
    c('nested 100 000 deep (valid, but not an object)', '['.repeat(100_000) + ']'.repeat(100_000), 'MISSING_IMAGE'),
  ];
}

function wrongTypes(): Case[] {
  const c = (name: string, body: string) => startJob('wrong types', name, json(body), 400, 'MISSING_IMAGE');
  return [
    c('image is a number', '{"image":42}'),
    c('image is an array', '{"image":["aGVsbG8="]}'),
    c('image is an object', '{"image":{"data":"aGVsbG8="}}'),
    c('image is null', '{"image":null}'),
    c('image is true', '{"image":true}'),
    c('body is an array', '["aGVsbG8="]'),
    c('body is a string', '"aGVsbG8="'),
    c('body is a number', '12'),
    c('body is null', 'null'),
    c('image only under __proto__', '{"__proto__":{"image":"aGVsbG8="}}'),
    c('"Image" with a capital', '{"Image":"aGVsbG8="}'),
  ];
}

function emptyInput(): Case[] {
  return [
    startJob('empty', 'no body, no content type', {}, 400, 'MISSING_IMAGE'),
    startJob('empty', 'JSON type, empty body', json(''), 400, 'MISSING_IMAGE'),
    startJob('empty', 'empty object', json('{}'), 400, 'MISSING_IMAGE'),
    startJob('empty', 'empty image', image(''), 400, 'EMPTY_IMAGE'),
    startJob('empty', 'image of white space', image(' \n\t '), 400, 'EMPTY_IMAGE'),
    startJob('empty', 'data URL with nothing after it', image('data:image/png;base64,'), 400, 'EMPTY_IMAGE'),
  ];
}

function hugeBodies(): Case[] {
  const overBody = JSON.stringify({ image: randomBytes(Math.ceil(MAX_IMAGE_BYTES * 1.2)).toString('base64') });
  const overDecoded = JSON.stringify({ image: randomBytes(MAX_IMAGE_BYTES + 4096).toString('base64') });
  const bomb = gzipSync(Buffer.concat([Buffer.from('{"image":"'), Buffer.alloc(64 * 1024 * 1024, 0x41), Buffer.from('"}')]));
  const c = (name: string, request: RawRequest) => startJob('huge', name, request, 413, 'IMAGE_TOO_LARGE');
  return [
    c('body over the limit', json(overBody)),
    c('body within the limit, image over it', json(overDecoded)),
    c('over the limit, chunked (no length)', { ...json(overBody), chunked: true }),
    c('declares 10 GB', { headers: { ...JSON_TYPE, 'content-length': String(10 * 1024 ** 3) }, body: '{}' }),
    c(`gzip bomb (${Math.round(bomb.length / 1024)} KiB inflating to 64 MiB)`, json(bomb, { 'content-encoding': 'gzip' })),
  ];
}

function invalidBase64(): Case[] {
  const c = (name: string, value: string) => startJob('invalid base64', name, image(value), 400, 'INVALID_BASE64');
  return [
    c('punctuation', 'this is *not* base64!'),
    c('percent signs', '%%%%'),
    c('accented letters', 'ëëëë'),
    c('an emoji', 'aGVs🙂bG8='),
    c('a lone surrogate', '\ud800abc'),
    c('padding in the middle', 'ab=c'),
    c('three padding characters', 'abc==='),
    c('padding first', '=abc'),
    c('impossible length', 'abcde'),
    c('mixed standard and URL-safe alphabets', 'ab+/cd-_'),
    c('data URL of text', 'data:text/plain;base64,aGVsbG8='),
    c('data URL without ;base64', 'data:image/png,hello'),
  ];
}

function notImages(): Case[] {
  const files: [string, Buffer][] = [
    ['plain text', Buffer.from('hello, I am a text file\n'.repeat(20))],
    ['ZIP', Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00', 'latin1'), randomBytes(200)])],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;', 'latin1')],
    ['BMP', Buffer.concat([Buffer.from('BM', 'latin1'), randomBytes(120)])],
    ['TIFF (little-endian)', Buffer.concat([Buffer.from('II*\x00\x08\x00\x00\x00', 'latin1'), randomBytes(120)])],
    ['TIFF (big-endian)', Buffer.concat([Buffer.from('MM\x00*\x00\x00\x00\x08', 'latin1'), randomBytes(120)])],
    ['PDF header', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', 'latin1')],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')],
    ['AVIF', Buffer.concat([Buffer.from('\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1', 'latin1'), randomBytes(100)])],
    ['RIFF WAVE (RIFF, but not WebP)', Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'), randomBytes(40)])],
    ['random bytes', randomBytes(4096)],
  ];
  return files.map(([name, bytes]) => startJob('not an image', name, b64(bytes), 415, 'UNSUPPORTED_IMAGE_FORMAT'));
}

function brokenImages({ png, jpeg, webp }: Samples): Case[] {
  const truncated = (name: string, bytes: Buffer) => startJob('truncated or corrupt', name, b64(bytes), 400, 'IMAGE_TRUNCATED');
  const corrupt = (name: string, bytes: Buffer, code = 'IMAGE_DECODE_FAILED') => startJob('truncated or corrupt', name, b64(bytes), 422, code);
  const renamedIhdr = Buffer.from(png);
  renamedIhdr.write('IHDX', 12, 'latin1');
  const noMarker = Buffer.from(jpeg);
  noMarker[jpegSegmentOffset(jpeg, (m) => m === 0xdb)] = 0x00;
  const unknownChunk = Buffer.from(webp);
  unknownChunk.write('VP8Q', 12, 'latin1');
  return [
    truncated('PNG cut inside the signature', png.subarray(0, 4)),
    truncated('PNG signature only', png.subarray(0, 8)),
    truncated('PNG cut inside IHDR', png.subarray(0, 20)),
    truncated('PNG header, no image data', png.subarray(0, 33)),
    truncated('PNG cut in half', png.subarray(0, png.length >> 1)),
    truncated('PNG missing its last byte', png.subarray(0, png.length - 1)),
    corrupt('PNG whose first chunk is not IHDR', renamedIhdr),
    corrupt('PNG declaring a zero width', withDeclaredSize(png, 0, 48), 'INVALID_DIMENSIONS'),
    truncated('JPEG start-of-image only', jpeg.subarray(0, 2)),
    truncated('JPEG cut at byte 100', jpeg.subarray(0, 100)),
    truncated('JPEG cut in half', jpeg.subarray(0, jpeg.length >> 1)),
    truncated('JPEG without its end marker', jpeg.subarray(0, jpeg.length - 2)),
    corrupt('JPEG with a segment that is not a marker', noMarker),
    truncated('WebP cut inside RIFF', webp.subarray(0, 10)),
    truncated('WebP cut before its first chunk', webp.subarray(0, 16)),
    truncated('WebP cut inside VP8X', webp.subarray(0, 25)),
    truncated('WebP missing its last bytes', webp.subarray(0, webp.length - 5)),
    corrupt('WebP with an unknown first chunk', unknownChunk),
  ];
}

function bombs({ png, jpeg, webp }: Samples): Case[] {
  const c = (name: string, bytes: Buffer) => startJob('decompression bomb', name, b64(bytes), 422, 'TOO_MANY_PIXELS');
  return [
    c('PNG declaring 100 000 × 100 000', withDeclaredSize(png, 100_000, 100_000)),
    c('PNG declaring 2^31-1 × 2^31-1', withDeclaredSize(png, 2 ** 31 - 1, 2 ** 31 - 1)),
    c('JPEG declaring 65 000 × 65 000', jpegWithDeclaredSize(jpeg, 65_000, 65_000)),
    c('WebP declaring a 16 384 × 16 384 canvas', webpWithDeclaredCanvas(webp, 16_384, 16_384)),
    // Issue 18: more data than 256×256 pixels could ever need, seen without inflating it.
    startJob('decompression bomb', 'PNG: 1 MB of data inflating to 1 GiB in a 256×256 header', b64(pngBomb({ width: 256, height: 256 }, 1024)), 422, 'PNG_DATA_TOO_LARGE'),
  ];
}

function contentTypes({ png }: Samples): Case[] {
  const body = JSON.stringify({ image: png.toString('base64') });
  const c = (name: string, headers: Record<string, string>, status = 415, code = 'UNSUPPORTED_MEDIA_TYPE', data: string | Buffer = body) =>
    startJob('content type', name, { headers, body: data }, status, code);
  return [
    c('text/plain', { 'content-type': 'text/plain' }),
    c('multipart/form-data', { 'content-type': 'multipart/form-data; boundary=x' }, 415, 'UNSUPPORTED_MEDIA_TYPE', `--x\r\nContent-Disposition: form-data; name="image"\r\n\r\n${png.toString('base64')}\r\n--x--\r\n`),
    c('form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE', `image=${encodeURIComponent(png.toString('base64'))}`),
    c('no content type, with a body', {}),
    c('image/png, raw bytes', { 'content-type': 'image/png' }, 415, 'UNSUPPORTED_MEDIA_TYPE', png),
    c('application/octet-stream', { 'content-type': 'application/octet-stream' }, 415, 'UNSUPPORTED_MEDIA_TYPE', png),
    c('a JSON-like type (merge-patch+json)', { 'content-type': 'application/merge-patch+json' }),
    c('JSON in latin1', { 'content-type': 'application/json; charset=latin1' }, 415, 'UNSUPPORTED_ENCODING'),
    c('an unknown Content-Encoding', { ...JSON_TYPE, 'content-encoding': 'compress' }, 415, 'UNSUPPORTED_ENCODING'),
    c('gzip that is not gzip', { ...JSON_TYPE, 'content-encoding': 'gzip' }, 400, 'INVALID_CONTENT_ENCODING', Buffer.from('\x1f\x8b\x08\x00not really gzip', 'latin1')),
    c('brotli that is not brotli', { ...JSON_TYPE, 'content-encoding': 'br' }, 400, 'INVALID_CONTENT_ENCODING'),
  ];
}

function jobIds(): Case[] {
  const c = (name: string, id: string, status = 404, code = 'JOB_NOT_FOUND'): Case => ({ group: 'job id', name, service: 'proxy', method: 'GET', path: `/get_job/${id}`, status, code });
  return [
    c('unicode', encodeURIComponent('日本語のジョブ')),
    c('path traversal', encodeURIComponent('../../etc/passwd')),
    c('path traversal, double-encoded', '..%252F..%252Fetc%252Fpasswd'),
    c('10 000 characters', 'a'.repeat(10_000)),
    c('SQL-ish', encodeURIComponent("1' OR '1'='1; DROP TABLE jobs;--")),
    c('Redis glob', encodeURIComponent('*')),
    c('CRLF and a Redis command', '%0D%0AFLUSHALL%0D%0A'),
    c('a NUL byte', '%00'),
    c('a bare percent sign', '%'),
    c('broken percent-encoding', '%E0%A4%A'),
    c('a UUID v1', '6fa459ea-ee8a-11e3-ac10-0800200c9a66'),
    c('an unknown UUID v4 in upper case', randomUUID().toUpperCase()),
    c('empty', '', 404, 'NOT_FOUND'),
  ];
}

function predictCases({ png, jpeg, webp }: Samples): Case[] {
  const c = (name: string, headers: Record<string, string>, body: string | Buffer, status: number, code: string): Case => ({
    group: 'predict',
    name,
    service: 'predict',
    method: 'POST',
    path: '/predict',
    headers,
    body,
    status,
    code,
  });
  return [
    c('PNG bomb, raw', { 'content-type': 'image/png' }, withDeclaredSize(png, 100_000, 100_000), 422, 'TOO_MANY_PIXELS'),
    c('JPEG bomb, raw', { 'content-type': 'image/jpeg' }, jpegWithDeclaredSize(jpeg, 65_000, 65_000), 422, 'TOO_MANY_PIXELS'),
    // libwebp refuses a canvas that does not match the frame inside before it allocates anything.
    c('WebP bomb, raw', { 'content-type': 'image/webp' }, webpWithDeclaredCanvas(webp, 16_384, 16_384), 422, 'IMAGE_DECODE_FAILED'),
    c('PNG with corrupt pixel data', { 'content-type': 'image/png' }, pngWithCorruptPixels(png), 422, 'IMAGE_DECODE_FAILED'),
    // Dense enough to pass the length check: predict's capped inflate refuses them (the JS path, then sharp's).
    c('PNG bomb, 256×256 inflating to 200 MiB', { 'content-type': 'image/png' }, pngBomb({ width: 256, height: 256 }, 200), 422, 'PNG_DATA_TOO_LARGE'),
    c('PNG bomb, 2000×2000 palette inflating to 1 GiB', { 'content-type': 'application/octet-stream' }, pngBomb({ width: 2000, height: 2000, colour: 3 }, 1024), 422, 'PNG_DATA_TOO_LARGE'),
    c('JPEG cut in half', { 'content-type': 'image/jpeg' }, jpeg.subarray(0, jpeg.length >> 1), 422, 'IMAGE_DECODE_FAILED'),
    c('GIF as octet-stream', { 'content-type': 'application/octet-stream' }, Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), 415, 'UNSUPPORTED_IMAGE_FORMAT'),
    c('empty raw body', { 'content-type': 'image/png' }, Buffer.alloc(0), 400, 'EMPTY_IMAGE'),
    c('text/plain', { 'content-type': 'text/plain' }, 'hello', 415, 'UNSUPPORTED_MEDIA_TYPE'),
    c('JSON without image', JSON_TYPE, '{"img":"aGVsbG8="}', 400, 'MISSING_IMAGE'),
    c('gzip that is not gzip', { ...JSON_TYPE, 'content-encoding': 'gzip' }, Buffer.from('\x1f\x8b\x08\x00not really gzip', 'latin1'), 400, 'INVALID_CONTENT_ENCODING'),
  ];
}

/** The valid uploads sent alongside the corpus, in forms a client may legitimately use. */
async function validUploads(): Promise<{ name: string; request: RawRequest }[]> {
  const photos = fixtureImages();
  const photo = (name: string) => photos.find((f) => f.name === name)!.bytes.toString('base64');
  const webp = await sharp(photos.find((f) => f.name === 'girl-1.jpg')!.bytes).webp().toBuffer();
  return [
    { name: 'plain JSON', request: image(photo('girl-1.jpg')) },
    { name: 'JSON with charset=utf-8', request: { body: JSON.stringify({ image: photo('car-1.jpg') }), headers: { 'content-type': 'application/json; charset=utf-8' } } },
    { name: 'upper-case content type', request: { body: JSON.stringify({ image: photo('anime-girl-1.jpg') }), headers: { 'content-type': 'APPLICATION/JSON' } } },
    { name: 'gzip-compressed body', request: json(gzipSync(JSON.stringify({ image: photo('animal-1.jpg') })), { 'content-encoding': 'gzip' }) },
    { name: 'data URL, line-wrapped', request: image(`data:image/jpeg;base64,${photo('girl-1.jpg').replace(/.{76}/g, '$&\n')}`) },
    { name: 'WebP, URL-safe alphabet', request: image(webp.toString('base64url')) },
  ];
}

interface Reply {
  status?: string;
  job_id?: string;
  error?: { code?: string; message?: string };
}

function parse(text: string): Reply {
  try {
    return JSON.parse(text) as Reply;
  } catch {
    return {};
  }
}

/** Runs `tasks` with at most `width` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return results;
}

type Entry = { kind: 'bad'; case: Case } | { kind: 'valid'; name: string; request: RawRequest };

/** The bad cases with the valid uploads spread evenly among them. */
function interleave(cases: Case[], valid: { name: string; request: RawRequest }[]): Entry[] {
  const entries: Entry[] = [];
  const every = Math.max(1, Math.floor(cases.length / (valid.length + 1)));
  const pending = [...valid];
  cases.forEach((c, i) => {
    if (i > 0 && i % every === 0 && pending.length > 0) entries.push({ kind: 'valid', ...pending.shift()! });
    entries.push({ kind: 'bad', case: c });
  });
  for (const v of pending) entries.push({ kind: 'valid', ...v });
  return entries;
}

function judge(c: Case, res: RawResponse): string | null {
  const body = parse(res.text);
  const label = `[${c.service}] ${c.group}: ${c.name}`;
  if (res.status >= 500) return `${label}: a ${res.status} for bad input: ${res.text.slice(0, 200)}`;
  if (res.status !== c.status || body.error?.code !== c.code) return `${label}: expected ${c.status} ${c.code}, got ${res.status} ${body.error?.code ?? res.text.slice(0, 120)}`;
  if (body.status !== 'ng' || !body.error?.message || body.error.message.length < 10) return `${label}: no "ng" body with a message: ${res.text.slice(0, 200)}`;
  return null;
}

test('the bad-input corpus: every case gets its 4xx and code, never a 5xx; services stay up; valid jobs beside it succeed', async () => {
  const s = await samples();
  const cases = [...brokenJson(), ...wrongTypes(), ...emptyInput(), ...hugeBodies(), ...invalidBase64(), ...notImages(), ...brokenImages(s), ...bombs(s), ...contentTypes(s), ...jobIds(), ...predictCases(s)];
  assert.ok(cases.length >= 50, `the corpus has ${cases.length} cases`);
  const valid = await validUploads();
  const base = { proxy: stack.proxyUrl, predict: stack.predictUrl };

  // All in flight together, eight at a time, valid uploads among the bad ones.
  const entries = interleave(cases, valid);
  const answers = await pool(
    entries.map((e) => () => (e.kind === 'bad' ? rawRequest(`${base[e.case.service]}${e.case.path}`, e.case) : rawRequest(`${stack.proxyUrl}/start_job`, e.request))),
    8,
  );

  const failures: string[] = [];
  const byStatus = new Map<number, number>();
  const queuedIds: string[] = [];
  entries.forEach((entry, i) => {
    const res = answers[i]!;
    if (entry.kind === 'valid') {
      const body = parse(res.text);
      if (res.status !== 200 || !body.job_id) failures.push(`valid upload (${entry.name}): ${res.status} ${res.text.slice(0, 200)}`);
      else queuedIds.push(body.job_id);
      return;
    }
    byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
    const failure = judge(entry.case, res);
    if (failure) failures.push(failure);
  });
  assert.deepEqual(failures, [], `${failures.length} answers were wrong`);

  const proxyHealth = await getJson(`${stack.proxyUrl}/health`);
  assert.equal(proxyHealth.status, 200, 'the proxy is still up');
  assert.equal((await getJson(`${stack.predictUrl}/health`)).status, 200, 'predict is still up');
  const meta = await getJson<{ jobs: { submitted: number } }>(`${stack.proxyUrl}/metadata`);
  assert.equal(meta.body.jobs.submitted, valid.length, 'only the valid uploads were queued');

  for (const id of queuedIds) {
    const job = await waitForJob(stack.proxyUrl, id);
    assert.equal(job.job_status, 'SUCCEEDED', `${id}: ${JSON.stringify(job.error)}`);
    assert.equal(job.status, 'ok');
  }
  const unhandled = stack.logs.filter((line) => line.includes('unhandled error'));
  assert.deepEqual(unhandled, [], 'no service logged an unhandled error');

  const statuses = [...byStatus.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`);
  const predictCount = cases.filter((c) => c.service === 'predict').length;
  console.log(
    `bad-input corpus: ${cases.length} cases (${cases.length - predictCount} proxy, ${predictCount} predict), by status ${statuses.join(' ')}; ` +
      `no 5xx; ${queuedIds.length} valid jobs alongside all SUCCEEDED`,
  );
});
