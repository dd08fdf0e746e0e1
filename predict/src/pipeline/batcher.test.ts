import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadModel, type LoadedModel } from '../model/model-loader.js';
import { encodeModel, floatValueInfo, node, type Dim } from '../model/onnx-graph.js';
import { BatcherClosedError, InferenceBatcher, runAlone, type InferenceResult } from './batcher.js';
import { removeBackground, type CutoutResult } from './remove-background.js';

const IMAGES = new URL('../../../test/fixtures/images/', import.meta.url);
const S = 320;
let dir: string;
let border: LoadedModel;
/** mask = sigmoid(mean over RGB); height and width left open, so one session takes any size. */
let anySize: LoadedModel;
/** The same graph with the batch dimension fixed at 1. */
let fixedBatch: LoadedModel;

function channelMeanModel(batch: Dim): Uint8Array {
  return encodeModel({
    graphName: 'channel_mean',
    docString: 'test model: sigmoid of the mean over the colour channels',
    nodes: [node('ReduceMean', ['input'], 'mean', { axes: [1], keepdims: 1 }), node('Sigmoid', ['mean'], 'mask')],
    initializers: [],
    inputs: [floatValueInfo('input', [batch, 3, 'height', 'width'])],
    outputs: [floatValueInfo('mask', [batch, 1, 'height', 'width'])],
    opset: 17,
  });
}

async function loadTestModel(name: string, bytes: Uint8Array): Promise<LoadedModel> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return loadModel(path);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cutout-batcher-'));
  border = await loadModel('cutout-border');
  anySize = await loadTestModel('any-size.onnx', channelMeanModel('batch'));
  fixedBatch = await loadTestModel('fixed-batch.onnx', channelMeanModel(1));
});

after(async () => {
  await Promise.all([border?.close(), anySize?.close(), fixedBatch?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A deterministic input that differs per seed, values in 0..1. */
function input(seed: number, height = S, width = S): { data: Float32Array; dims: number[] } {
  const data = new Float32Array(3 * height * width);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919 + seed * 104_729) % 1021) / 1020;
  return { data, dims: [1, 3, height, width] };
}

function runAll(batcher: InferenceBatcher, items: { data: Float32Array; dims: number[] }[]): Promise<InferenceResult[]> {
  return Promise.all(items.map((item) => batcher.run(item.data, item.dims)));
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

test('concurrent items give the same masks as each run alone, in batches larger than 1', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 0 });
  const items = Array.from({ length: 6 }, (_, seed) => input(seed));
  const alone = await Promise.all(items.map((item) => runAlone(border, item.data, item.dims)));
  const together = await runAll(batcher, items);
  together.forEach((result, i) => {
    assert.deepEqual(result.dims, [1, 1, S, S]);
    // onnxruntime gives the same float for an image whatever else shares its batch.
    assert.equal(maxDifference(result.data, alone[i]!.data), 0, `item ${i}`);
  });
  assert.ok(Math.max(...together.map((r) => r.batchSize)) > 1, `batch sizes ${together.map((r) => r.batchSize)}`);
  // The items really differ, so equal masks prove each got its own slice back.
  assert.ok(maxDifference(together[0]!.data, together[1]!.data) > 0.01);
  await batcher.close();
});

test('a lone item runs at once in a batch of 1, and again after the batcher went idle', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 0 });
  const item = input(42);
  for (let round = 0; round < 2; round++) {
    const result = await batcher.run(item.data, item.dims);
    assert.equal(result.batchSize, 1);
    assert.equal(maxDifference(result.data, (await runAlone(border, item.data, item.dims)).data), 0);
  }
  await batcher.close();
});

test('no batch is larger than maxBatch; the overflow goes in the next runs', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 3, maxDelayMs: 0 });
  const items = Array.from({ length: 10 }, (_, seed) => input(seed));
  const sizes = (await runAll(batcher, items)).map((r) => r.batchSize);
  assert.ok(sizes.every((n) => n >= 1 && n <= 3), `sizes ${sizes}`);
  assert.equal(Math.max(...sizes), 3, `sizes ${sizes}`);
  // Each run of n items reports n exactly n times.
  for (const n of new Set(sizes)) assert.equal(sizes.filter((s) => s === n).length % n, 0, `sizes ${sizes}`);
  await batcher.close();
});

test('items with different dims are never stacked together, and each gets its own result', async () => {
  const batcher = new InferenceBatcher(anySize, { maxBatch: 8, maxDelayMs: 0 });
  const items = [input(1, 32, 32), input(2, 48, 40), input(3, 32, 32), input(4, 48, 40), input(5, 32, 32)];
  const results = await runAll(batcher, items);
  results.forEach((result, i) => {
    const [, , height, width] = items[i]!.dims;
    assert.deepEqual(result.dims, [1, 1, height, width]);
    assert.equal(result.batchSize, height === 32 ? 3 : 2, `item ${i}`);
    const plane = height! * width!;
    const { data } = items[i]!;
    for (const p of [0, 17, plane - 1]) {
      const mean = (data[p]! + data[plane + p]! + data[2 * plane + p]!) / 3;
      assert.ok(Math.abs(result.data[p]! - 1 / (1 + Math.exp(-mean))) < 1e-5, `item ${i} pixel ${p}`);
    }
  });
  await batcher.close();
});

test('a model with a fixed batch dimension runs items one by one', async () => {
  const batcher = new InferenceBatcher(fixedBatch, { maxBatch: 8, maxDelayMs: 0 });
  assert.equal(batcher.modelSupportsBatching, false);
  assert.equal(batcher.maxBatch, 1);
  assert.equal(new InferenceBatcher(anySize, { maxBatch: 8, maxDelayMs: 0 }).modelSupportsBatching, true);
  const items = Array.from({ length: 4 }, (_, seed) => input(seed, 16, 16));
  const results = await runAll(batcher, items);
  assert.deepEqual(results.map((r) => r.batchSize), [1, 1, 1, 1]);
  for (const [i, result] of results.entries()) {
    assert.equal(maxDifference(result.data, (await runAlone(fixedBatch, items[i]!.data, items[i]!.dims)).data), 0);
  }
  assert.ok(maxDifference(results[0]!.data, results[1]!.data) > 0);
  await batcher.close();
});

test('maxBatch 1 turns batching off: every item runs alone', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 1, maxDelayMs: 50 });
  const results = await runAll(batcher, Array.from({ length: 4 }, (_, seed) => input(seed)));
  assert.deepEqual(results.map((r) => r.batchSize), [1, 1, 1, 1]);
  await batcher.close();
});

test('a failed run rejects exactly its own batch, and the batcher keeps working', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 0 });
  // The border model fixes height and width at 320, so onnxruntime refuses a 100×100 batch.
  const good = [input(1), input(2)];
  const bad = [input(3, 100, 100), input(4, 100, 100), input(5, 100, 100)];
  const settled = await Promise.allSettled([...good, ...bad].map((item) => batcher.run(item.data, item.dims)));
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
  const reasons = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  assert.ok(reasons.every((reason) => reason === reasons[0] && /dimension|shape|index/i.test(reason.message)), reasons[0]?.message);
  const later = await runAll(batcher, [input(6), input(7), input(8)]);
  assert.deepEqual(later.map((r) => r.batchSize), [3, 3, 3]);
  assert.equal(maxDifference(later[0]!.data, (await runAlone(border, input(6).data, input(6).dims)).data), 0);
  await batcher.close();
});

test('an item that is not one image is refused on its own', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 0 });
  const { data } = input(1);
  await assert.rejects(batcher.run(data, [2, 3, S, S / 2]), TypeError);
  await assert.rejects(batcher.run(data.subarray(1), [1, 3, S, S]), TypeError);
  assert.equal((await batcher.run(data, [1, 3, S, S])).batchSize, 1);
  await batcher.close();
});

test('maxDelayMs holds a first item for company, and a full batch goes without waiting', { timeout: 20_000 }, async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 4, maxDelayMs: 60_000 });
  const first = batcher.run(input(1).data, input(1).dims);
  // Arriving a moment later, still within the delay, these join the first item's batch.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const rest = [input(2), input(3), input(4)].map((item) => batcher.run(item.data, item.dims));
  const sizes = (await Promise.all([first, ...rest])).map((r) => r.batchSize);
  assert.deepEqual(sizes, [4, 4, 4, 4]);
  await batcher.close();
});

test('close() rejects waiting items and later calls, lets a run in flight finish, and is safe twice', async () => {
  const batcher = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 60_000 });
  const waiting = [batcher.run(input(1).data, input(1).dims), batcher.run(input(2).data, input(2).dims)];
  await batcher.close();
  for (const item of waiting) await assert.rejects(item, BatcherClosedError);
  await assert.rejects(batcher.run(input(3).data, input(3).dims), BatcherClosedError);
  await batcher.close();

  const busy = new InferenceBatcher(border, { maxBatch: 8, maxDelayMs: 0 });
  const running = busy.run(input(4).data, input(4).dims);
  // One turn of the loop's check phase: the batcher has handed the item to onnxruntime.
  await new Promise((resolve) => setImmediate(resolve));
  await busy.close();
  assert.equal((await running).batchSize, 1);
});

test('removeBackground through a batcher: concurrent photos give the same PNGs as alone, and report their batch size', async () => {
  const photos = readdirSync(IMAGES)
    .filter((name) => /\.jpg$/.test(name))
    .map((name) => readFileSync(new URL(name, IMAGES)))
    .slice(0, 6);
  assert.equal(photos.length, 6);
  const small = await sharp(photos[0]!).resize(64, 64).png().toBuffer();
  const inputs = [...photos, small, small];
  const options = { maxImagePixels: 50_000_000 };
  const alone: CutoutResult[] = [];
  for (const bytes of inputs) alone.push(await removeBackground(bytes, border, options));
  const batcher = new InferenceBatcher(border, { maxBatch: 4, maxDelayMs: 60_000 });
  const together = await Promise.all(inputs.map((bytes) => removeBackground(bytes, border, { ...options, batcher })));
  together.forEach((result, i) => {
    assert.ok(result.bytes.equals(alone[i]!.bytes), `image ${i}`);
    assert.equal(alone[i]!.timings.batchSize, 1);
  });
  // With a long delay no run starts until 4 items wait or the stragglers' delay runs out; 8 items fill two batches.
  assert.deepEqual(together.map((r) => r.timings.batchSize), inputs.map(() => 4));
  await batcher.close();
});
