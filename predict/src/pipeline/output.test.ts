import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { DEFAULT_JOB_OPTIONS, parseOutputOptions } from '@cutout/shared/contract';
import { encodeOutput } from './output.js';

// A 4×2 image: left half red and opaque in the mask, right half blue and fully transparent,
// with one half-transparent pixel to check compositing.
const width = 4;
const height = 2;
const rgb = Buffer.alloc(width * height * 3);
const alpha = Buffer.alloc(width * height);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    const i = y * width + x;
    const left = x < 2;
    rgb.set(left ? [200, 10, 10] : [10, 10, 200], i * 3);
    alpha[i] = left ? 255 : 0;
  }
}
alpha[3] = 128;
const image = { rgb, width, height, format: 'png' as const };

test('the default output is an RGBA PNG: the input RGB with the mask as alpha', async () => {
  const out = await encodeOutput(image, alpha, DEFAULT_JOB_OPTIONS);
  assert.equal(out.mediaType, 'image/png');
  const meta = await sharp(out.bytes).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.width, meta.height], ['png', 4, width, height]);
  const data = await sharp(out.bytes).raw().toBuffer();
  assert.deepEqual([...data.subarray(0, 4)], [200, 10, 10, 255]);
  assert.equal(data[3 * 4 + 3], 128, 'the half-transparent pixel keeps its alpha');
});

test('only_mask is a one-band greyscale PNG of the mask', async () => {
  const out = await encodeOutput(image, alpha, parseOutputOptions({ only_mask: 'true' }));
  const meta = await sharp(out.bytes).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.space], ['png', 1, 'b-w']);
  // Decoding converts to sRGB unless told to keep the one band.
  const data = await sharp(out.bytes).toColourspace('b-w').raw().toBuffer();
  assert.deepEqual([...data], [...alpha]);
});

test('format=webp is lossless WebP that decodes to the same pixels as the PNG', async () => {
  const png = await sharp((await encodeOutput(image, alpha, DEFAULT_JOB_OPTIONS)).bytes).raw().toBuffer();
  const out = await encodeOutput(image, alpha, parseOutputOptions({ format: 'webp' }));
  assert.equal(out.mediaType, 'image/webp');
  assert.equal((await sharp(out.bytes).metadata()).format, 'webp');
  const webp = await sharp(out.bytes).ensureAlpha().raw().toBuffer();
  // Where alpha is 0 the RGB is free to differ (WebP may drop it); everywhere else it is exact.
  for (let i = 0; i < width * height; i++) {
    if (png[i * 4 + 3] === 0) continue;
    assert.deepEqual([...webp.subarray(i * 4, i * 4 + 4)], [...png.subarray(i * 4, i * 4 + 4)], `pixel ${i}`);
  }
});

test('bgcolor composites the cutout over the colour: transparent areas take it, opaque ones keep the input', async () => {
  const out = await encodeOutput(image, alpha, parseOutputOptions({ bgcolor: '0,255,0,255' }));
  const { data, info } = await sharp(out.bytes).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 4);
  assert.deepEqual([...data.subarray(0, 4)], [200, 10, 10, 255], 'opaque: the input');
  assert.deepEqual([...data.subarray(2 * 4, 2 * 4 + 4)], [0, 255, 0, 255], 'transparent: the colour');
  const half = [...data.subarray(3 * 4, 3 * 4 + 4)];
  assert.ok(half[1]! > 100 && half[2]! > 60 && half[3] === 255, `half-transparent blends the two: ${half}`);
});

test('options are checked: an unknown name or a bad colour is a 400 naming it', () => {
  assert.throws(() => parseOutputOptions({ colour: 'red' }), (e: { code?: string; message?: string }) => e.code === 'UNKNOWN_OPTION' && /colour/.test(e.message!));
  assert.throws(() => parseOutputOptions({ bgcolor: '#12' }), (e: { code?: string; message?: string }) => e.code === 'INVALID_OPTION' && /bgcolor/.test(e.message!));
  assert.throws(() => parseOutputOptions({ format: 'gif' }), (e: { code?: string }) => e.code === 'INVALID_OPTION');
  assert.deepEqual(parseOutputOptions({ bgcolor: '#FFAA00', only_mask: 'on' }), { format: 'png', only_mask: true, bgcolor: '#ffaa00ff', post_process_mask: false });
});

test('fully transparent pixels are written as (0,0,0,0), small images (JS) and large ones (sharp) alike', async () => {
  for (const side of [4, 300]) {
    const big = { rgb: Buffer.alloc(side * side * 3, 77), width: side, height: side, format: 'png' as const };
    const mask = Buffer.alloc(side * side, 0);
    mask.fill(200, 0, side); // the first row kept, half transparent
    const data = await sharp((await encodeOutput(big, mask, DEFAULT_JOB_OPTIONS)).bytes).raw().toBuffer();
    assert.deepEqual([...data.subarray(0, 4)], [77, 77, 77, 200], `${side}: RGB is the input's where alpha > 0`);
    assert.deepEqual([...data.subarray(data.length - 4)], [0, 0, 0, 0], `${side}: alpha 0 is (0,0,0,0)`);
  }
});

test('OUTPUT_PNG_COMPRESSION is used: level 0 stores, level 9 compresses, the pixels are the same', async () => {
  const side = 300;
  const flat = { rgb: Buffer.alloc(side * side * 3, 50), width: side, height: side, format: 'png' as const };
  const mask = Buffer.alloc(side * side, 255);
  const stored = await encodeOutput(flat, mask, DEFAULT_JOB_OPTIONS, { pngCompression: 0 });
  const packed = await encodeOutput(flat, mask, DEFAULT_JOB_OPTIONS, { pngCompression: 9 });
  assert.ok(stored.bytes.length > side * side * 4, `level 0 stores (${stored.bytes.length} bytes)`);
  assert.ok(packed.bytes.length < stored.bytes.length / 20, `level 9 compresses (${packed.bytes.length} bytes)`);
  assert.ok((await sharp(stored.bytes).raw().toBuffer()).equals(await sharp(packed.bytes).raw().toBuffer()));
});
