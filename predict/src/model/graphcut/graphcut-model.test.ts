import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import ort from 'onnxruntime-node';
import { removeBackground } from '../../pipeline/remove-background.js';
import { maskIou, plain, rectangle, renderScene, SYNTHETIC_SCENES as scenes } from '../../testing/synthetic-images.js';
import { loadModel, type LoadedModel } from '../model-loader.js';
import { BUILT_IN_MODEL_FILES, DEFAULT_PRESET } from '../presets.js';
import { grabCut } from './grabcut.js';
import { guidedCoefficients } from './guided-filter.js';
import { buildUpscaleModel } from './upscale-model.js';
import { applyCoefficients } from './apply-coefficients.js';

const committed = fileURLToPath(BUILT_IN_MODEL_FILES['cutout-graphcut']!);
let model: LoadedModel;

before(async () => {
  model = await loadModel('cutout-graphcut');
});
after(async () => {
  await model?.close();
});

test('cutout-graphcut is the default preset and its upscale graph is the committed file, byte for byte', () => {
  assert.equal(DEFAULT_PRESET, 'cutout-graphcut');
  assert.ok(Buffer.from(buildUpscaleModel()).equals(readFileSync(committed)), 'run npm run model:build');
  assert.equal(model.source, 'built-in');
  assert.equal(model.supportsBatching, false);
});

test('the upscale graph computes round(255·clip(a·rgb/255 + b)) with a and b spread bilinearly', async () => {
  const width = 6;
  const height = 4;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set([p * 10, 255 - p * 10, 100], p * 3);
  // Constant coefficients make the bilinear step exact: alpha = 255·(0.5·r − 0.25·g + 0·b)/255 + 0.3·255.
  const coefficients = new Float32Array(4 * 2 * 3);
  coefficients.fill(0.5, 0, 6);
  coefficients.fill(-0.25, 6, 12);
  coefficients.fill(0, 12, 18);
  coefficients.fill(0.1, 18, 24);
  const out = await model.session.run({
    rgb: new ort.Tensor('uint8', rgb, [1, height, width, 3]),
    coefficients: new ort.Tensor('float32', coefficients, [1, 4, 2, 3]),
  });
  const alpha = out.alpha!;
  assert.deepEqual(alpha.dims, [1, 1, height, width]);
  const expected = Array.from({ length: width * height }, (_, p) => {
    const v = (0.5 * rgb[p * 3]! - 0.25 * rgb[p * 3 + 1]!) / 255 + 0.1;
    return Math.round(255 * Math.min(1, Math.max(0, v)));
  });
  const got = Array.from(alpha.data as Uint8Array);
  got.forEach((v, p) => assert.ok(Math.abs(v - expected[p]!) <= 1, `pixel ${p}: ${v} vs ${expected[p]}`));
  assert.ok(got.some((v) => v === 0) && got.some((v) => v > 100), 'the test spans clipped and unclipped values');
});

test('applyCoefficients gives the upscale graph\'s alpha (±1 level where float32 and float64 round apart), enlarging and shrinking, across band edges', async () => {
  // Coefficients that vary over the grid, so the bilinear weights and the edge clamping matter.
  for (const [width, height, gridWidth, gridHeight] of [[1203, 877, 37, 23], [5, 3, 9, 7], [1, 700, 1, 40], [2100, 300, 200, 29]] as const) {
    const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 9)) % 256);
    const n = gridWidth * gridHeight;
    const coefficients = Float32Array.from({ length: 4 * n }, (_, i) => (i < 3 * n ? Math.sin(i * 0.7) * 1.5 : 0.5 + Math.cos(i * 0.3) * 0.6));
    const out = await model.session.run({
      rgb: new ort.Tensor('uint8', rgb, [1, height, width, 3]),
      coefficients: new ort.Tensor('float32', coefficients, [1, 4, gridHeight, gridWidth]),
    });
    const graph = out.alpha!.data as Uint8Array;
    const mine = await applyCoefficients(rgb, width, height, coefficients, gridWidth, gridHeight);
    let differ = 0;
    let most = 0;
    for (let p = 0; p < graph.length; p++) {
      const d = Math.abs(graph[p]! - mine[p]!);
      if (d > 0) differ++;
      most = Math.max(most, d);
    }
    // The graph rounds each step to float32, JavaScript keeps float64: a value within a hair of
    // a half level may round either way, nothing more.
    assert.ok(most <= 1 && differ <= graph.length / 1000, `${width}×${height} from ${gridWidth}×${gridHeight}: ${differ} pixels differ, by up to ${most}`);
    assert.ok(mine.some((v) => v === 0) && mine.some((v) => v === 255) && mine.some((v) => v > 0 && v < 255), 'clipped and unclipped values both occur');
  }
});

test('the guided filter of a constant mask is that constant (a = 0, b = value), whatever the colours', () => {
  const width = 9;
  const height = 7;
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256);
  const c = guidedCoefficients(rgb, new Float64Array(width * height).fill(0.75), width, height);
  const n = width * height;
  for (let i = 0; i < 3 * n; i++) assert.ok(Math.abs(c[i]!) < 1e-6, `a[${i}] = ${c[i]}`);
  for (let i = 3 * n; i < 4 * n; i++) assert.ok(Math.abs(c[i]! - 0.75) < 1e-6, `b = ${c[i]}`);
});

test('grabCut on a grid: a square of its own colour is foreground, the rest background', () => {
  const scene = renderScene({ width: 60, height: 40, background: plain([200, 210, 220]), shape: rectangle(20, 10, 45, 30), colour: [30, 120, 40] });
  const labels = grabCut(scene.rgb, 60, 40);
  assert.ok(maskIou(Uint8Array.from(labels, (v) => v * 255), scene.mask) > 0.97);
});


for (const scene of scenes) {
  test(`cutout-graphcut, synthetic ${scene.label}: IoU ≥ 0.9 through the whole pipeline`, async () => {
    const { rgb, mask } = renderScene(scene);
    const png = await sharp(rgb, { raw: { width: scene.width, height: scene.height, channels: 3 } }).png().toBuffer();
    const result = await removeBackground(png, model, { maxImagePixels: 50_000_000 });
    assert.deepEqual([result.width, result.height, result.timings.batchSize], [scene.width, scene.height, 1]);
    const alpha = await sharp(result.bytes).extractChannel(3).raw().toBuffer();
    const iou = maskIou(alpha, mask);
    assert.ok(iou >= 0.9, `IoU ${iou.toFixed(3)}`);
  });
}

test('cutout-graphcut: tiny and one-pixel-thin images come back at their size; a uniform image is fully transparent', async () => {
  for (const [width, height] of [[1, 1], [2, 1], [1, 700], [700, 1], [64, 64]] as const) {
    const png = await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    const result = await removeBackground(png, model, { maxImagePixels: 50_000_000 });
    assert.deepEqual([result.width, result.height], [width, height]);
    const alpha = await sharp(result.bytes).extractChannel(3).raw().toBuffer();
    assert.equal(alpha.length, width * height);
    if (width === 64) assert.ok(alpha.every((v) => v === 0), 'nothing stands out from a uniform image');
  }
});
