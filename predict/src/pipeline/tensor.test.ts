import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODEL_PRESETS, type ModelPreset } from '../model/presets.js';
import { toInputTensor, toMaskBytes } from './tensor.js';

const u2net = MODEL_PRESETS.u2net!;
const birefnet = MODEL_PRESETS['birefnet-general']!;
const border = MODEL_PRESETS['cutout-border']!;

test('toInputTensor: HWC to NCHW planes, ÷ the largest value over all channels, − mean, ÷ std', () => {
  // Two pixels: (10, 20, 200) and (100, 0, 50); the largest value is 200 (blue of the first).
  const rgb = Uint8Array.from([10, 20, 200, 100, 0, 50]);
  const out = toInputTensor(rgb, 2, 1, u2net);
  const expected = [
    (10 / 200 - 0.485) / 0.229, (100 / 200 - 0.485) / 0.229,
    (20 / 200 - 0.456) / 0.224, (0 / 200 - 0.456) / 0.224,
    (200 / 200 - 0.406) / 0.225, (50 / 200 - 0.406) / 0.225,
  ];
  assert.deepEqual([...out], expected.map(Math.fround));
});

test('toInputTensor: the built-in convention divides by 255 whatever the image holds', () => {
  const out = toInputTensor(Uint8Array.from([51, 102, 0]), 1, 1, border);
  assert.deepEqual([...out], [51 / 255, 102 / 255, 0].map(Math.fround));
});

test('toInputTensor: an all-black image divides by 1e-6, giving −mean/std, never NaN', () => {
  const out = toInputTensor(new Uint8Array(12), 2, 2, u2net);
  assert.ok(out.every((v) => Number.isFinite(v)));
  assert.equal(out[0], Math.fround(-0.485 / 0.229));
  assert.equal(out[11], Math.fround(-0.406 / 0.225));
});

test('toInputTensor: writes into a given slot of a larger array and refuses a wrong length', () => {
  const batch = new Float32Array(2 * 3 * 4).fill(7);
  const slot = batch.subarray(12);
  const returned = toInputTensor(Uint8Array.from([255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 2, 2, border, slot);
  assert.equal(returned, slot);
  assert.deepEqual([...batch.subarray(0, 12)], new Array(12).fill(7));
  assert.deepEqual([...batch.subarray(12)], [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
  assert.throws(() => toInputTensor(new Uint8Array(5), 2, 1, u2net), /expected 6 RGB bytes/);
});

function mask(values: number[], preset: ModelPreset, plane = values.length): number[] {
  return [...toMaskBytes(Float32Array.from(values), plane, preset)];
}

test('toMaskBytes min-max: (v − min) / (max − min) × 255, truncated like numpy astype(uint8)', () => {
  // 0.5 × 255 = 127.5 and 0.25 × 255 = 63.75 truncate to 127 and 63, where rounding would give 128 and 64.
  assert.deepEqual(mask([3, 5, 7, 4], u2net), [0, 127, 255, 63]);
  assert.deepEqual(mask([-1, -3], u2net), [255, 0]);
});

test('toMaskBytes: a constant output has no mask and comes out transparent', () => {
  assert.deepEqual(mask([0.4, 0.4, 0.4], u2net), [0, 0, 0]);
  assert.deepEqual(mask([9, 9], birefnet), [0, 0]);
});

test('toMaskBytes sigmoid-min-max: the sigmoid comes first, so values bunch towards the ends', () => {
  // sigmoid(−4, −1, 0, 1, 4) = 0.018, 0.269, 0.5, 0.731, 0.982; min-max of that, not of the raw values.
  const values = [-4, -1, 0, 1, 4];
  const sig = values.map((v) => 1 / (1 + Math.exp(-v)));
  const expected = sig.map((v) => Math.trunc(((v - sig[0]!) / (sig[4]! - sig[0]!)) * 255));
  assert.deepEqual(mask(values, birefnet), expected);
  assert.deepEqual(expected, [0, 66, 127, 188, 255]);
  assert.deepEqual(mask(values, u2net), [0, 95, 127, 159, 255]);
});

test('toMaskBytes: the built-in model\'s 0..1 output is rounded and clamped, not stretched', () => {
  assert.deepEqual(mask([-0.2, 0.5, 0.25, 1.4], border), [0, 128, 64, 255]);
});

test('toMaskBytes: only the first plane (channel 0 of the first image) is read', () => {
  assert.deepEqual(mask([1, 3, 100, -100], u2net, 2), [0, 255]);
  assert.throws(() => toMaskBytes(new Float32Array(3), 4, u2net), /holds 3 values/);
});
