import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { removeBackground } from '../pipeline/remove-background.js';
import { circle, maskIou, plain, renderScene } from '../testing/synthetic-images.js';
import { buildBorderModel } from './border-model.js';
import { describeModel } from '../metadata.js';
import { encodeModel, floatTensor, floatValueInfo, node, type Dim } from './onnx-graph.js';
import { loadModel } from './model-loader.js';
import { ModelConfigError, parseModelSpec } from './model-spec.js';

let dir: string;
let custom: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cutout-predict-models-'));
  custom = join(dir, 'custom.onnx');
  writeFileSync(custom, buildBorderModel({ size: 256, strip: 3 }));
});

after(() => rmSync(dir, { recursive: true, force: true }));

function assertModelError(value: string, pattern: RegExp): void {
  assert.throws(() => parseModelSpec(value), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError);
    assert.ok(error.message.startsWith(`MODEL=${JSON.stringify(value)}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

test('MODEL: an unknown preset, alone or before a path, names the presets', () => {
  assertModelError('no-such-model', /unknown preset; use one of cutout-graphcut, cutout-border, /);
  assertModelError(`nope:${custom}`, /unknown preset "nope"/);
  assertModelError('', /empty/);
});

test('MODEL: a missing file says where it looked', () => {
  const missing = join(dir, 'missing.onnx');
  assertModelError(missing, new RegExp(`no model file at ${missing}`));
  assertModelError(`u2net:${missing}`, /no model file/);
});

test('MODEL: a named model missing from CUTOUT_MODELS_DIR says where it looked and how to get it', () => {
  const modelsDir = join(dir, 'empty-store');
  assert.throws(() => parseModelSpec('u2net', { modelsDir }), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError);
    assert.match(error.message, new RegExp(`no model file at ${join(modelsDir, 'u2net.onnx')}`));
    assert.match(error.message, /npx cutout-models pull u2net/);
    assert.match(error.message, /https:\/\/github\.com\/danielgatis\/rembg\/releases\/download\/v0\.0\.0\/u2net\.onnx/);
    assert.match(error.message, /md5 60024c5c889badc19c04ad937298a77b/);
    return true;
  });
});

test('MODEL: the default preset resolves to the built-in file from any working directory', () => {
  const spec = parseModelSpec('cutout-border');
  assert.equal(spec.source, 'built-in');
  assert.match(spec.path, /predict[\\/]models[\\/]cutout-border\.onnx$/);
});

test('MODEL: a path follows the default preset, preset:path picks another, and the size comes from the model', async () => {
  const plainPath = await loadModel(custom);
  try {
    assert.equal(plainPath.name, 'custom');
    assert.equal(plainPath.source, 'file');
    assert.equal(plainPath.preset.name, 'cutout-border');
    assert.deepEqual(plainPath.inputSize, { width: 256, height: 256 });
    assert.deepEqual(plainPath.inputShape, ['batch', 3, 256, 256]);
    const { rgb, mask } = renderScene({ width: 200, height: 150, background: plain([250, 250, 250]), shape: circle(90, 80, 40), colour: [10, 90, 200] });
    const png = await sharp(rgb, { raw: { width: 200, height: 150, channels: 3 } }).png().toBuffer();
    const result = await removeBackground(png, plainPath, { maxImagePixels: 1_000_000 });
    const alpha = await sharp(result.bytes).extractChannel(3).raw().toBuffer();
    assert.ok(maskIou(alpha, mask) >= 0.9, `IoU ${maskIou(alpha, mask).toFixed(3)}`);
  } finally {
    await plainPath.close();
    await plainPath.close();
  }
  const withPreset = await loadModel(`u2net:${custom}`);
  try {
    assert.equal(withPreset.preset.name, 'u2net');
    assert.equal(withPreset.inputName, 'input');
    assert.equal(withPreset.outputName, 'mask');
  } finally {
    await withPreset.close();
  }
});

test('MODEL: a file that is not ONNX, or has the wrong input rank, fails to load with a clear error', async () => {
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'this is not a protobuf');
  await assert.rejects(loadModel(junk), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError);
    assert.match(error.message, /^MODEL=".*junk\.onnx": .* is not an ONNX model onnxruntime can load/);
    return true;
  });
  const flat = join(dir, 'flat.onnx');
  const flatModel = encodeModel({
    graphName: 'flat',
    docString: 'rank-2 input',
    nodes: [node('Sigmoid', ['input'], 'mask')],
    initializers: [],
    inputs: [floatValueInfo('input', ['batch', 10])],
    outputs: [floatValueInfo('mask', ['batch', 10])],
    opset: 17,
  });
  writeFileSync(flat, flatModel);
  await assert.rejects(loadModel(flat), /MODEL=".*flat\.onnx": the model's input has rank 2/);
});

async function cutoutAlpha(model: Awaited<ReturnType<typeof loadModel>>): Promise<Buffer> {
  const { rgb } = renderScene({ width: 240, height: 180, background: plain([240, 240, 235]), shape: circle(120, 90, 50), colour: [200, 40, 40] });
  const png = await sharp(rgb, { raw: { width: 240, height: 180, channels: 3 } }).png().toBuffer();
  const result = await removeBackground(png, model, { maxImagePixels: 1_000_000 });
  return sharp(result.bytes).extractChannel(3).raw().toBuffer();
}

test('session options: no optimisation, one intra-op and one inter-op thread, spinning on: load, run, match the defaults and are reported', async () => {
  const tuned = await loadModel('cutout-border', { graphOptimizationLevel: 'disabled', intraOpThreads: 1, interOpThreads: 1, threadSpinning: true });
  const plainModel = await loadModel('cutout-border');
  try {
    assert.deepEqual(tuned.settings, { intraOpThreads: 1, interOpThreads: 1, graphOptimizationLevel: 'disabled', executionMode: 'parallel', threadSpinning: true });
    assert.deepEqual(plainModel.settings, { intraOpThreads: 0, interOpThreads: 0, graphOptimizationLevel: 'all', executionMode: 'sequential', threadSpinning: false });
    const [a, b] = await Promise.all([cutoutAlpha(tuned), cutoutAlpha(plainModel)]);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst <= 1, `the settings changed the mask by up to ${worst}`);
    assert.ok(a.some((v) => v > 200) && a.some((v) => v < 20), 'the mask has both subject and background');
    const session = describeModel(tuned, { maxImageBytes: 1, maxImagePixels: 1 }).session;
    assert.deepEqual(session, { intra_op_threads: 1, inter_op_threads: 1, graph_optimization: 'disabled', execution_mode: 'parallel', thread_spinning: true });
  } finally {
    await Promise.all([tuned.close(), plainModel.close()]);
  }
});

test('supportsBatching: a named or -1 batch dimension batches, a fixed one does not', async () => {
  const cases: [Dim, boolean][] = [['batch', true], [-1, true], [1, false], [2, false]];
  for (const [batch, expected] of cases) {
    const file = join(dir, `batch-${batch}.onnx`);
    writeFileSync(
      file,
      encodeModel({
        graphName: 'batch_probe',
        docString: 'channel mix',
        nodes: [node('Conv', ['x', 'w'], 'y')],
        initializers: [floatTensor('w', [1, 3, 1, 1], [1, 1, 1])],
        inputs: [floatValueInfo('x', [batch, 3, 8, 8])],
        outputs: [floatValueInfo('y', [batch, 1, 8, 8])],
        opset: 17,
      }),
    );
    const model = await loadModel(`u2net:${file}`);
    try {
      assert.equal(model.supportsBatching, expected, `batch dimension ${batch}`);
      assert.deepEqual(model.inputSize, { width: 8, height: 8 });
    } finally {
      await model.close();
    }
  }
});

test('a model with several outputs is read through its first, as rembg does', async () => {
  const file = join(dir, 'two-outputs.onnx');
  writeFileSync(
    file,
    encodeModel({
      graphName: 'two_outputs',
      docString: 'first output named last alphabetically',
      nodes: [node('Conv', ['img', 'w'], 'z_first'), node('Sigmoid', ['z_first'], 'a_second')],
      initializers: [floatTensor('w', [1, 3, 1, 1], [1, 1, 1])],
      inputs: [floatValueInfo('img', [1, 3, 16, 16])],
      outputs: [floatValueInfo('z_first', [1, 1, 16, 16]), floatValueInfo('a_second', [1, 1, 16, 16])],
      opset: 17,
    }),
  );
  const model = await loadModel(`u2net:${file}`);
  try {
    assert.equal(model.outputName, 'z_first');
    assert.deepEqual(model.outputs.map((o) => o.name), ['z_first', 'a_second']);
  } finally {
    await model.close();
  }
});
