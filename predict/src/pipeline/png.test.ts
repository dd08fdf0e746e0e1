import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { AppError, readPngData } from '@cutout/shared';
import { pngBomb } from '@cutout/shared/testing';
import { decodeSimplePng, encodePng, JS_CODEC_MAX_PIXELS, SYNC_INFLATE_MAX_BYTES } from './png.js';

/** A noisy picture, so that sharp's adaptive filtering uses every filter type. */
function picture(width: number, height: number, channels: 3 | 4): Buffer {
  const data = Buffer.alloc(width * height * channels);
  let seed = 7;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    data[i] = (i % 97) * 2 + (seed % 9);
  }
  return data;
}

async function sharpRgb(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

test('decodeSimplePng gives the RGB sharp gives, for RGB and RGBA files with every filter', async () => {
  for (const channels of [3, 4] as const) {
    const raw = picture(37, 23, channels);
    for (const adaptiveFiltering of [false, true]) {
      const png = await sharp(raw, { raw: { width: 37, height: 23, channels } }).png({ adaptiveFiltering }).toBuffer();
      const decoded = await decodeSimplePng(png);
      assert.ok(decoded, `channels ${channels}, filtering ${adaptiveFiltering}: decoded`);
      assert.deepEqual([decoded.width, decoded.height], [37, 23]);
      assert.ok(decoded.rgb.equals(await sharpRgb(png)), `channels ${channels}, filtering ${adaptiveFiltering}: same RGB`);
    }
  }
});

test('decodeSimplePng gives the RGB sharp gives when the data is inflated on the thread pool (over SYNC_INFLATE_MAX_BYTES)', async () => {
  const raw = picture(200, 150, 4);
  const png = await sharp(raw, { raw: { width: 200, height: 150, channels: 4 } }).png().toBuffer();
  assert.ok(readPngData(png).idatBytes > SYNC_INFLATE_MAX_BYTES, `${readPngData(png).idatBytes} bytes of data`);
  const decoded = await decodeSimplePng(png);
  assert.ok(decoded?.rgb.equals(await sharpRgb(png)));
});

test('decodeSimplePng refuses data that inflates past its header (422 PNG_DATA_TOO_LARGE), on the main thread and on the thread pool', async () => {
  const bombs = [
    // 14 MiB in 15 KB: inflated on the main thread, capped at 64 × (64 × 3 + 1) bytes.
    { header: { width: 64, height: 64 }, mib: 14, onThreadPool: false },
    // 200 MiB in 207 KB: on the thread pool.
    { header: { width: 256, height: 256, colour: 6 as const }, mib: 200, onThreadPool: true },
  ];
  for (const { header, mib, onThreadPool } of bombs) {
    const bomb = pngBomb(header, mib);
    assert.equal(readPngData(bomb).idatBytes > SYNC_INFLATE_MAX_BYTES, onThreadPool, `${mib} MiB: the path meant`);
    await assert.rejects(decodeSimplePng(bomb), (error: unknown) => {
      assert.ok(error instanceof AppError, String(error));
      assert.deepEqual([error.status, error.code], [422, 'PNG_DATA_TOO_LARGE']);
      assert.match(error.message, new RegExp(`${header.width}×${header.height}`));
      return true;
    });
  }
});

test('decodeSimplePng leaves to sharp what it does not handle: interlaced, 16-bit, palette, large, damaged', async () => {
  const raw = picture(16, 16, 3);
  const input = () => sharp(raw, { raw: { width: 16, height: 16, channels: 3 } });
  assert.equal(await decodeSimplePng(await input().png({ progressive: true }).toBuffer()), null, 'interlaced');
  assert.equal(await decodeSimplePng(await input().toColourspace('rgb16').png().toBuffer()), null, '16-bit');
  assert.equal(await decodeSimplePng(await input().png({ palette: true }).toBuffer()), null, 'palette');
  const side = Math.sqrt(JS_CODEC_MAX_PIXELS) + 1;
  assert.equal(await decodeSimplePng(await sharp({ create: { width: side, height: side, channels: 3, background: '#123456' } }).png().toBuffer()), null, 'large');
  const damaged = await input().png().toBuffer();
  damaged[damaged.length - 20] = damaged[damaged.length - 20]! ^ 0xff;
  assert.equal(await decodeSimplePng(damaged), null, 'a bad CRC');
  assert.equal(await decodeSimplePng(Buffer.from('not a png')), null, 'not a PNG');
});

test('encodePng writes RGBA and greyscale PNGs that decode to the same pixels', async () => {
  const rgba = picture(19, 11, 4);
  const png = encodePng(rgba, 19, 11, 4, 4);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.width, meta.height, meta.depth], ['png', 4, 19, 11, 'uchar']);
  assert.ok((await sharp(png).raw().toBuffer()).equals(rgba));
  const grey = picture(19, 11, 3).subarray(0, 19 * 11);
  const mask = encodePng(grey, 19, 11, 1, 1);
  assert.equal((await sharp(mask).metadata()).channels, 1);
  assert.ok((await sharp(mask).toColourspace('b-w').raw().toBuffer()).equals(grey));
  assert.throws(() => encodePng(rgba, 20, 11, 4, 4), /expected/);
  // Pixels not 4-byte aligned take the byte loop; aligned ones a pixel at a time: the same file.
  const shifted = Buffer.alloc(rgba.length + 1);
  rgba.copy(shifted, 1);
  assert.ok(encodePng(shifted.subarray(1), 19, 11, 4, 4).equals(png), 'the byte loop and the pixel loop agree');
});

test('encodePng filters every line with Sub, which makes a smooth image far smaller than no filter', async () => {
  const width = 64;
  const smooth = Buffer.alloc(width * width * 4);
  for (let p = 0; p < width * width; p++) smooth.set([40 + (p % width), 80 + Math.floor(p / width), 160, 255], p * 4);
  const png = encodePng(smooth, width, width, 4, 4);
  assert.ok((await sharp(png).raw().toBuffer()).equals(smooth), 'the same pixels back');
  const chunks = decodeChunks(png);
  const lines = inflateSync(chunks);
  const filters = Array.from({ length: width }, (_, y) => lines[y * (width * 4 + 1)]);
  assert.deepEqual(new Set(filters), new Set([1]), 'every line is Sub-filtered');
  const unfiltered = Buffer.alloc(lines.length);
  for (let y = 0; y < width; y++) smooth.copy(unfiltered, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  assert.ok(png.length * 4 < deflateSync(unfiltered, { level: 4 }).length, `${png.length} bytes against unfiltered ${deflateSync(unfiltered, { level: 4 }).length}`);
});

/** The joined IDAT data of a PNG. */
function decodeChunks(png: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') parts.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return Buffer.concat(parts);
}
