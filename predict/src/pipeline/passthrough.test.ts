import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { describeModel } from '../metadata.js';
import { loadModel } from '../model/model-loader.js';
import { removeBackground } from './remove-background.js';

const rgb = Buffer.alloc(64 * 48 * 3);
for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 13) & 0xff;

test('MODEL=passthrough: every pixel kept and fully opaque, at the input size, with no inference', async () => {
  const model = await loadModel('passthrough');
  const inputs = {
    'small PNG (JS path)': await sharp(rgb, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer(),
    'lossless WebP (sharp path)': await sharp(rgb, { raw: { width: 64, height: 48, channels: 3 } }).webp({ lossless: true }).toBuffer(),
  };
  for (const [label, bytes] of Object.entries(inputs)) {
    const result = await removeBackground(bytes, model, { maxImagePixels: 50_000_000 });
    const { data, info } = await sharp(result.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [64, 48, 4], label);
    for (let p = 0; p < 64 * 48; p++) {
      assert.deepEqual([...data.subarray(p * 4, p * 4 + 4)], [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2], 255], `${label}: pixel ${p}`);
    }
    assert.deepEqual([result.timings.preprocess, result.timings.inference, result.timings.batchSize], [0, 0, 1], label);
  }
  await assert.rejects(model.session.run({}), /passthrough has no model/);
  await model.close();
});

test('/metadata says MODEL=passthrough is no model', async () => {
  const model = await loadModel('passthrough');
  const meta = describeModel(model, { maxImageBytes: 1, maxImagePixels: 1 }) as { model: Record<string, unknown>; input: unknown; postprocessing: Record<string, unknown> };
  assert.deepEqual([meta.model.name, meta.model.preset, meta.model.source, meta.input], ['passthrough', 'passthrough', 'none', null]);
  assert.match(String(meta.model.description), /no model/);
  assert.equal(meta.postprocessing.kind, 'passthrough');
});
