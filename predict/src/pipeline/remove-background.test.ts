import { parseOutputOptions } from '@cutout/shared/contract';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { AppError } from '@cutout/shared';
import { loadModel, type LoadedModel } from '../model/model-loader.js';
import { circle, maskIou, plain, renderScene, SYNTHETIC_SCENES as scenes, type Scene } from '../testing/synthetic-images.js';
import { removeBackground, type CutoutResult } from './remove-background.js';

const IMAGES = new URL('../../../test/fixtures/images/', import.meta.url);
let model: LoadedModel;

before(async () => {
  model = await loadModel('cutout-border');
});

after(async () => {
  await model?.close();
});

function cutout(bytes: Buffer, maxImagePixels = 50_000_000): Promise<CutoutResult> {
  return removeBackground(bytes, model, { maxImagePixels });
}

/** Checks the contract's output image and returns its pixels: PNG, 8-bit RGBA, the expected size. */
async function readCutout(result: CutoutResult, width: number, height: number): Promise<{ rgba: Buffer; alpha: Uint8Array }> {
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.channels, 4);
  assert.equal(meta.depth, 'uchar');
  assert.deepEqual([meta.width, meta.height, result.width, result.height], [width, height, width, height]);
  const rgba = await sharp(result.bytes).raw().toBuffer();
  const alpha = new Uint8Array(width * height);
  for (let p = 0; p < alpha.length; p++) alpha[p] = rgba[p * 4 + 3]!;
  return { rgba, alpha };
}

/** Largest difference between the output's RGB and `rgb` over pixels the mask keeps. */
function rgbDifference(rgba: Buffer, rgb: Buffer): number {
  let worst = 0;
  for (let p = 0; p * 4 < rgba.length; p++) {
    if (rgba[p * 4 + 3] === 0) continue;
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(rgba[p * 4 + c]! - rgb[p * 3 + c]!));
  }
  return worst;
}


for (const scene of scenes) {
  test(`synthetic PNG: ${scene.label} — alpha matches the shape (IoU ≥ 0.9) and RGB is the input's`, async () => {
    const { rgb, mask } = renderScene(scene);
    const png = await sharp(rgb, { raw: { width: scene.width, height: scene.height, channels: 3 } }).png().toBuffer();
    const result = await cutout(png);
    assert.equal(result.inputFormat, 'png');
    const { rgba, alpha } = await readCutout(result, scene.width, scene.height);
    const iou = maskIou(alpha, mask);
    assert.ok(iou >= 0.9, `IoU ${iou.toFixed(3)}`);
    assert.equal(rgbDifference(rgba, rgb), 0);
    for (const stage of ['decode', 'preprocess', 'inference', 'postprocess', 'encode'] as const) {
      assert.ok(Number.isFinite(result.timings[stage]) && result.timings[stage] >= 0, `${stage} timing`);
    }
  });
}

const circleScene: Scene = { width: 300, height: 200, background: plain([235, 235, 235]), shape: circle(110, 90, 60), colour: [200, 20, 120] };

test('JPEG with EXIF orientation 6 comes back turned: width and height swapped, mask turned with it', async () => {
  const { rgb, mask } = renderScene(circleScene);
  const jpeg = await sharp(rgb, { raw: { width: 300, height: 200, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const { alpha } = await readCutout(await cutout(jpeg), 200, 300);
  // Orientation 6 shows the stored image turned 90° clockwise: stored (x, y) lands at (H−1−y, x).
  const turned = new Uint8Array(200 * 300);
  for (let y = 0; y < 200; y++) for (let x = 0; x < 300; x++) turned[x * 200 + (199 - y)] = mask[y * 300 + x]!;
  assert.ok(maskIou(alpha, turned) >= 0.9, `IoU ${maskIou(alpha, turned).toFixed(3)}`);
});

test('RGBA, greyscale, 16-bit PNG and WebP inputs all give an 8-bit RGBA cutout', async () => {
  const { rgb, mask } = renderScene(circleScene);
  const raw = { raw: { width: 300, height: 200, channels: 3 as const } };
  const rgba = await sharp(rgb, raw).ensureAlpha(1).png().toBuffer();
  const grey = await sharp(rgb, raw).toColourspace('b-w').png().toBuffer();
  const deep = await sharp(rgb, raw).toColourspace('rgb16').png().toBuffer();
  const webp = await sharp(rgb, raw).webp({ lossless: true }).toBuffer();
  assert.equal((await sharp(rgba).metadata()).channels, 4);
  assert.equal((await sharp(grey).metadata()).channels, 1);
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  for (const [label, bytes] of Object.entries({ rgba, grey, deep, webp })) {
    const { rgba: out, alpha } = await readCutout(await cutout(bytes), 300, 200);
    assert.ok(maskIou(alpha, mask) >= 0.9, `${label}: IoU ${maskIou(alpha, mask).toFixed(3)}`);
    // sharp's raw output of a greyscale file repeats the grey level in R, G and B.
    const expected = label === 'grey' ? await sharp(grey).raw().toBuffer() : rgb;
    assert.ok(rgbDifference(out, expected) <= 1, `${label}: RGB`);
  }
});

test('plants-1.jpg (really an RGBA PNG) is told apart by its bytes and cut out', async () => {
  const bytes = readFileSync(new URL('plants-1.jpg', IMAGES));
  const result = await cutout(bytes);
  assert.equal(result.inputFormat, 'png');
  const { alpha } = await readCutout(result, 987, 1481);
  const clear = alpha.filter((a) => a < 32).length;
  const solid = alpha.filter((a) => a > 223).length;
  assert.ok(clear > alpha.length * 0.02 && solid > alpha.length * 0.02, `transparent ${clear}, opaque ${solid}`);
});

async function assertAppError(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.deepEqual([error.status, error.code], [status, code], error.message);
    return true;
  });
}

test('bad bytes: not an image → 415, truncated or corrupt → 422, too many pixels → 422', async () => {
  const { rgb } = renderScene(circleScene);
  const png = await sharp(rgb, { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
  const jpeg = await sharp(rgb, { raw: { width: 300, height: 200, channels: 3 } }).jpeg().toBuffer();
  await assertAppError(cutout(Buffer.from('GIF89a not what we take')), 415, 'UNSUPPORTED_IMAGE_FORMAT');
  await assertAppError(cutout(png.subarray(0, Math.floor(png.length / 2))), 422, 'IMAGE_DECODE_FAILED');
  await assertAppError(cutout(png.subarray(0, 40)), 422, 'IMAGE_DECODE_FAILED');
  await assertAppError(cutout(jpeg.subarray(0, Math.floor(jpeg.length / 2))), 422, 'IMAGE_DECODE_FAILED');
  const scrambled = Buffer.from(png);
  scrambled.fill(0x55, 100, 400);
  await assertAppError(cutout(scrambled), 422, 'IMAGE_DECODE_FAILED');
  await assertAppError(cutout(png, 300 * 200 - 1), 422, 'TOO_MANY_PIXELS');
});

test('postProcessMask: the alpha becomes rembg-style hard 0/255, where without it the edge is soft', async () => {
  const { rgb, mask } = renderScene(circleScene);
  const png = await sharp(rgb, { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
  const soft = await sharp((await cutout(png)).bytes).extractChannel(3).raw().toBuffer();
  const hard = await sharp((await removeBackground(png, model, { maxImagePixels: 50_000_000, postProcessMask: true })).bytes).extractChannel(3).raw().toBuffer();
  assert.ok(soft.some((v) => v > 0 && v < 255), 'the plain mask has soft values to remove');
  assert.ok(hard.every((v) => v === 0 || v === 255));
  assert.ok(maskIou(hard, mask) >= 0.9, `IoU ${maskIou(hard, mask).toFixed(3)}`);
  // The job option (what the APIs and batch send) does the same.
  const viaOption = await removeBackground(png, model, { maxImagePixels: 50_000_000, output: parseOutputOptions({ post_process_mask: 'true' }) });
  assert.deepEqual(await sharp(viaOption.bytes).extractChannel(3).raw().toBuffer(), hard);
});
