import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { AppError } from '../errors.js';
import { assertImageComplete, readImageHeader, type ImageHeader } from './image-header.js';

const IMAGES_DIR = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));

interface Sample {
  name: string;
  bytes: Buffer;
  expected: ImageHeader;
}

let generated: Sample[] = [];

function rgb(width: number, height: number, channels: 1 | 3 | 4 = 3) {
  return sharp({ create: { width, height, channels: channels === 1 ? 3 : channels, background: { r: 200, g: 90, b: 30, alpha: 0.5 } } });
}

before(async () => {
  const make = async (name: string, format: ImageHeader['format'], width: number, height: number, image: Sharp) => ({
    name,
    bytes: await image.toBuffer(),
    expected: { format, width, height },
  });
  generated = await Promise.all([
    make('png rgb', 'png', 64, 48, rgb(64, 48).png()),
    make('png rgba odd size', 'png', 3, 7, rgb(3, 7, 4).png()),
    make('png greyscale 1x1', 'png', 1, 1, rgb(1, 1).greyscale().png()),
    make('png 16-bit', 'png', 33, 17, rgb(33, 17).toColourspace('rgb16').png()),
    make('png interlaced', 'png', 40, 30, rgb(40, 30).png({ progressive: true })),
    make('jpeg baseline odd size', 'jpeg', 17, 9, rgb(17, 9).jpeg()),
    make('jpeg progressive', 'jpeg', 120, 80, rgb(120, 80).jpeg({ progressive: true })),
    make('jpeg greyscale', 'jpeg', 31, 5, rgb(31, 5).greyscale().jpeg()),
    make('jpeg with exif', 'jpeg', 20, 10, rgb(20, 10).jpeg().withMetadata({ orientation: 6 })),
    make('webp lossy (VP8)', 'webp', 50, 21, rgb(50, 21).webp({ quality: 80 })),
    make('webp lossless (VP8L)', 'webp', 13, 29, rgb(13, 29).webp({ lossless: true })),
    make('webp lossy with alpha (VP8X)', 'webp', 45, 11, rgb(45, 11, 4).webp({ quality: 80 })),
    make('webp with exif (VP8X)', 'webp', 16, 16, rgb(16, 16).webp({ quality: 80 }).withMetadata({ orientation: 3 })),
  ]);
});

function throwsCode(fn: () => unknown, status: number, code: string, label: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof AppError, `${label}: an AppError, got ${String(error)}`);
      assert.equal(error.code, code, `${label}: ${error.message}`);
      assert.equal(error.status, status, label);
      assert.ok(error.message.length > 20, `${label}: the message explains the fix`);
      return true;
    },
    label,
  );
}

/** A copy of a PNG with another size in IHDR (and a matching CRC). */
function pngWithSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

function sample(name: string): Sample {
  const found = generated.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
}

test('reads format and size of every fixture photo as sharp does', async () => {
  const names = readdirSync(IMAGES_DIR).filter((n) => /\.(jpe?g|png|webp)$/i.test(n));
  assert.ok(names.length >= 5, 'fixtures present');
  for (const name of names) {
    const bytes = readFileSync(join(IMAGES_DIR, name));
    const meta = await sharp(bytes).metadata();
    const header = readImageHeader(bytes);
    assert.deepEqual(header, { format: meta.format, width: meta.width, height: meta.height }, name);
    assertImageComplete(bytes, header);
  }
});

test('reads PNG, JPEG and WebP variants generated with sharp', async () => {
  for (const s of generated) {
    const meta = await sharp(s.bytes).metadata();
    assert.deepEqual({ format: meta.format, width: meta.width, height: meta.height }, s.expected, `${s.name}: the sample is what it claims`);
    assert.deepEqual(readImageHeader(s.bytes), s.expected, s.name);
    assertImageComplete(s.bytes, s.expected);
  }
  const chunks = ['webp lossy (VP8)', 'webp lossless (VP8L)', 'webp lossy with alpha (VP8X)'].map((n) => sample(n).bytes.toString('latin1', 12, 16));
  assert.deepEqual(chunks, ['VP8 ', 'VP8L', 'VP8X'], 'each WebP chunk kind is covered');
});

test('a file cut anywhere is IMAGE_TRUNCATED', () => {
  for (const s of generated) {
    const cuts = new Set([1, 2, 5, 11, 13, 21, 25, 29, Math.floor(s.bytes.length / 2), s.bytes.length - 20, s.bytes.length - 1]);
    for (const cut of cuts) {
      if (cut <= 0 || cut >= s.bytes.length) continue;
      const part = s.bytes.subarray(0, cut);
      throwsCode(() => assertImageComplete(part, readImageHeader(part)), 400, 'IMAGE_TRUNCATED', `${s.name} cut at ${cut}/${s.bytes.length}`);
    }
  }
});

test('bytes of other kinds are UNSUPPORTED_IMAGE_FORMAT', () => {
  const others: [string, Buffer][] = [
    ['text', Buffer.from('hello, I am a text file\n'.repeat(20))],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')],
    ['BMP', Buffer.from('BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00', 'latin1')],
    ['WAV', Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00', 'latin1')],
    ['zeros', Buffer.alloc(64)],
    ['PNG signature off by one byte', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0b]), Buffer.alloc(40)])],
  ];
  for (const [label, bytes] of others) throwsCode(() => readImageHeader(bytes), 415, 'UNSUPPORTED_IMAGE_FORMAT', label);
  throwsCode(() => readImageHeader(Buffer.alloc(0)), 400, 'EMPTY_IMAGE', 'no bytes');
});

test('a zero width or height is INVALID_DIMENSIONS', () => {
  const png = sample('png rgb').bytes;
  throwsCode(() => readImageHeader(pngWithSize(png, 0, 48)), 422, 'INVALID_DIMENSIONS', 'png width 0');
  throwsCode(() => readImageHeader(pngWithSize(png, 64, 0)), 422, 'INVALID_DIMENSIONS', 'png height 0');
  const jpeg = Buffer.from(sample('jpeg baseline odd size').bytes);
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  jpeg.writeUInt16BE(0, sof + 5);
  throwsCode(() => readImageHeader(jpeg), 422, 'INVALID_DIMENSIONS', 'jpeg height 0');
  const vp8 = Buffer.from(sample('webp lossy (VP8)').bytes);
  vp8.writeUInt16LE(0, 26);
  throwsCode(() => readImageHeader(vp8), 422, 'INVALID_DIMENSIONS', 'vp8 width 0');
});

test('a small PNG declaring a 100000x100000 canvas reports that size and is structurally complete', () => {
  const bomb = pngWithSize(sample('png rgb').bytes, 100_000, 100_000);
  const header = readImageHeader(bomb);
  assert.deepEqual(header, { format: 'png', width: 100_000, height: 100_000 });
  assert.ok(header.width * header.height > 1e9, 'the caller can see the canvas is too large');
  assertImageComplete(bomb, header);
});

test('JPEG: fill bytes, standalone markers and DHT before the frame header are walked over', () => {
  const jpeg = sample('jpeg baseline odd size').bytes;
  const dhtAt = jpeg.indexOf(Buffer.from([0xff, 0xc4]));
  assert.ok(dhtAt > 0, 'sample has a DHT');
  const dht = jpeg.subarray(dhtAt, dhtAt + 2 + jpeg.readUInt16BE(dhtAt + 2));
  const tweaked = Buffer.concat([
    jpeg.subarray(0, 2),
    Buffer.from([0xff, 0x01]), // TEM: no length field
    dht, // C4 sits in the SOFn range but is not a frame header
    Buffer.from([0xff, 0xff, 0xff]), // fill bytes before the next marker
    jpeg.subarray(3),
  ]);
  assert.deepEqual(readImageHeader(tweaked), { format: 'jpeg', width: 17, height: 9 });
  assertImageComplete(tweaked, { format: 'jpeg' });
});

test('JPEG: an embedded scan and EOI inside a segment cannot hide a truncated image', () => {
  const jpeg = sample('jpeg progressive').bytes;
  // A comment segment holding FF DA ... FF D9, as an EXIF thumbnail would.
  const payload = Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x11, 0x22, 0xff, 0xd9]);
  const comment = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from([0, payload.length + 2]), payload]);
  const withThumb = Buffer.concat([jpeg.subarray(0, 2), comment, jpeg.subarray(2)]);
  assertImageComplete(withThumb, readImageHeader(withThumb));
  const cut = withThumb.subarray(0, withThumb.length - 100);
  throwsCode(() => assertImageComplete(cut, readImageHeader(cut)), 400, 'IMAGE_TRUNCATED', 'cut after a fake EOI');
});

test('JPEG: bytes after the end-of-image marker are allowed', () => {
  const jpeg = Buffer.concat([sample('jpeg baseline odd size').bytes, Buffer.from('trailer written by a phone camera, 0123456789'.repeat(50))]);
  assertImageComplete(jpeg, readImageHeader(jpeg));
});

test('malformed headers after a valid signature are IMAGE_DECODE_FAILED', () => {
  const png = Buffer.from(sample('png rgb').bytes);
  png.write('XHDR', 12, 'latin1');
  throwsCode(() => readImageHeader(png), 422, 'IMAGE_DECODE_FAILED', 'png without IHDR');
  const scanFirst = Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 0xff, 0xd9]);
  throwsCode(() => readImageHeader(scanFirst), 422, 'IMAGE_DECODE_FAILED', 'jpeg scan before frame');
  const noMarker = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0x12, 0x34, 0x56]);
  throwsCode(() => readImageHeader(noMarker), 422, 'IMAGE_DECODE_FAILED', 'jpeg garbage where a marker should be');
  const webp = Buffer.from(sample('webp lossy (VP8)').bytes);
  webp.write('ABCD', 12, 'latin1');
  throwsCode(() => readImageHeader(webp), 422, 'IMAGE_DECODE_FAILED', 'webp unknown chunk');
});

test('corrupt pixel data with an intact structure passes the cheap check (the decoder catches it)', () => {
  const png = Buffer.from(sample('png rgb').bytes);
  const idat = png.indexOf('IDAT');
  png.fill(0x5a, idat + 4, idat + 4 + Math.min(20, png.readUInt32BE(idat - 4)));
  assertImageComplete(png, readImageHeader(png));
});
