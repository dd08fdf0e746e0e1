import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { buildBorderModel } from './border-model.js';
import { BUILT_IN_MODEL_FILES } from './presets.js';

const committed = fileURLToPath(BUILT_IN_MODEL_FILES['cutout-border']!);

test('the builder reproduces the committed cutout-border.onnx byte for byte', () => {
  const built = Buffer.from(buildBorderModel());
  const onDisk = readFileSync(committed);
  assert.ok(built.equals(onDisk), `rebuilt ${built.length} bytes differ from ${committed} (${onDisk.length} bytes); run npm run model:build`);
  assert.ok(onDisk.length < 64 * 1024, `model is ${onDisk.length} bytes`);
});

test('other parameters give a different model', () => {
  assert.ok(!Buffer.from(buildBorderModel({ threshold: 0.2 })).equals(Buffer.from(buildBorderModel())));
});

/** A [n,3,s,s] batch where image b has colour field `colourOf(b, x, y)`. */
function batch(n: number, s: number, colourOf: (b: number, x: number, y: number) => readonly number[]): ort.Tensor {
  const data = new Float32Array(n * 3 * s * s);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const rgb = colourOf(b, x, y);
        for (let c = 0; c < 3; c++) data[((b * 3 + c) * s + y) * s + x] = rgb[c]!;
      }
    }
  }
  return new ort.Tensor('float32', data, [n, 3, s, s]);
}

test('plain and linear-gradient backgrounds come out fully transparent, a batch at a time', async () => {
  const session = await ort.InferenceSession.create(committed);
  try {
    const s = 320;
    const t = (i: number) => i / (s - 1);
    const backgrounds = [
      () => [0.9, 0.9, 0.9],
      (x: number) => [0.1 + 0.8 * t(x), 0.5, 0.9 - 0.8 * t(x)],
      (_x: number, y: number) => [0.2, 0.3 + 0.6 * t(y), 0.4],
      (x: number, y: number) => [0.5 * t(x) + 0.4 * t(y), 0.7, 0.9 - 0.3 * t(x) - 0.5 * t(y)],
    ];
    const square = (x: number, y: number) => x >= 120 && x < 200 && y >= 100 && y < 220;
    const input = batch(backgrounds.length, s, (b, x, y) => (square(x, y) ? [0.05, 0.05, 0.05] : backgrounds[b]!(x, y)));
    const { mask } = await session.run({ input });
    assert.deepEqual(mask!.dims, [backgrounds.length, 1, s, s]);
    const values = mask!.data as Float32Array;
    for (let b = 0; b < backgrounds.length; b++) {
      const at = (x: number, y: number) => values[(b * s + y) * s + x]!;
      assert.ok(at(5, 5) < 0.01 && at(300, 40) < 0.01 && at(60, 300) < 0.01, `image ${b}: background transparent`);
      assert.ok(at(160, 160) > 0.99 && at(125, 105) > 0.99, `image ${b}: square opaque`);
    }
  } finally {
    await session.release();
  }
});
