import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type ort from 'onnxruntime-node';
import { describeModel } from '../metadata.js';
import { removeBackground } from '../pipeline/remove-background.js';
import { loadModel, type LoadedModel } from './model-loader.js';
import { parseModelSpec } from './model-spec.js';
import { encodeModel, floatTensor, floatValueInfo, node } from './onnx-graph.js';
import { MODEL_PRESETS, type PublishedSignature } from './presets.js';
import { pillowResize } from '../testing/pillow-reference.js';

const IMAGES = new URL('../../../test/fixtures/images/', import.meta.url);

/**
 * What each preset must do, written out here rather than read from presets.ts, so a wrong number there
 * fails a test: rembg's size, scale, mean, std and post-processing per model.
 */
interface Expected {
  size: number;
  scale: 'max' | 'unit';
  mean: readonly number[];
  std: readonly number[];
  post: 'minmax' | 'sigmoid-minmax' | 'none';
  photo: string;
  /** rembg's presets resize as Pillow does; the built-in one with sharp's lanczos3. */
  pil?: false;
}
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const EXPECTED: Record<string, Expected> = {
  'cutout-border': { size: 320, scale: 'unit', mean: [0, 0, 0], std: [1, 1, 1], post: 'none', photo: 'car-1.jpg', pil: false },
  u2net: { size: 320, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'minmax', photo: 'car-1.jpg' },
  u2netp: { size: 320, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'minmax', photo: 'girl-1.jpg' },
  u2net_human_seg: { size: 320, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'minmax', photo: 'girl-1.jpg' },
  silueta: { size: 320, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'minmax', photo: 'animal-1.jpg' },
  // rembg/sessions/dis_general_use.py since "fix DIS normalization values": mean 0.5, std 1.
  'isnet-general-use': { size: 1024, scale: 'max', mean: [0.5, 0.5, 0.5], std: [1, 1, 1], post: 'minmax', photo: 'car-1.jpg' },
  'isnet-anime': { size: 1024, scale: 'max', mean: IMAGENET_MEAN, std: [1, 1, 1], post: 'minmax', photo: 'anime-girl-1.jpg' },
  'birefnet-general': { size: 1024, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'sigmoid-minmax', photo: 'girl-1.jpg' },
  'bria-rmbg': { size: 1024, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'minmax', photo: 'plants-1.jpg' },
};
/** The rest of the BiRefNet family shares birefnet_general.py's predict(); checked on a small synthetic image to keep the suite fast. */
for (const name of ['birefnet-general-lite', 'birefnet-portrait', 'birefnet-dis', 'birefnet-hrsod', 'birefnet-cod', 'birefnet-massive']) {
  EXPECTED[name] = { size: 1024, scale: 'max', mean: IMAGENET_MEAN, std: IMAGENET_STD, post: 'sigmoid-minmax', photo: 'small' };
}
/** Built in and not fed a resized tensor: cutout-graphcut has its own tests (graphcut/). */
const NOT_FED = ['cutout-graphcut'];

/** The built-in model's signature, for the preset that has no published file. */
const BORDER_SIGNATURE: PublishedSignature = {
  inputs: [{ name: 'input', shape: ['batch', 3, 320, 320] }],
  outputs: [{ name: 'mask', shape: ['batch', 1, 320, 320] }],
  note: 'built in',
};

/** The first output is this fixed mix of the input's channels (a 1×1 convolution); side outputs use others. */
const MIX = [0.9, 1.1, 1.3];

/**
 * A stand-in with the published model's tensor names and shapes: every output is a 1×1 convolution of
 * the input, the first with MIX, passed through a sigmoid when the model's output is meant to be 0..1.
 */
function standIn(signature: PublishedSignature, squash: boolean): Uint8Array {
  const input = signature.inputs[0]!;
  const initializers: ReturnType<typeof floatTensor>[] = [];
  const nodes: ReturnType<typeof node>[] = [];
  signature.outputs.forEach((output, k) => {
    initializers.push(floatTensor(`mix_${k}`, [1, 3, 1, 1], k === 0 ? MIX : [k, -0.5 * k, 0.25]));
    if (k === 0 && squash) {
      nodes.push(node('Conv', [input.name, 'mix_0'], 'logit_0'), node('Sigmoid', ['logit_0'], output.name));
    } else {
      nodes.push(node('Conv', [input.name, `mix_${k}`], output.name));
    }
  });
  return encodeModel({
    graphName: 'stand_in',
    docString: 'test stand-in for a published background-removal model',
    nodes,
    initializers,
    inputs: [floatValueInfo(input.name, input.shape)],
    outputs: signature.outputs.map((o) => floatValueInfo(o.name, o.shape)),
    opset: 17,
  });
}

async function resizeAs(e: Expected, data: Buffer, w: number, h: number, ch: 1 | 3, W: number, H: number): Promise<Buffer> {
  if (e.pil !== false) return Buffer.from(pillowResize(data, w, h, ch, W, H));
  const out = sharp(data, { raw: { width: w, height: h, channels: ch } }).resize(W, H, { kernel: 'lanczos3', fit: 'fill' });
  return (ch === 1 ? out.extractChannel(0) : out).raw().toBuffer();
}

/** rembg's preprocessing, written plainly: decode, Lanczos to S×S, ÷ max (or 255), − mean, ÷ std, NCHW. */
async function referenceTensor(bytes: Buffer, e: Expected): Promise<Float32Array> {
  const { data, info } = await sharp(bytes).autoOrient().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const s = e.size;
  const small = await resizeAs(e, data, info.width, info.height, 3, s, s);
  let max = 0;
  for (const v of small) max = Math.max(max, v);
  const divisor = e.scale === 'max' ? Math.max(max, 1e-6) : 255;
  const tensor = new Float32Array(3 * s * s);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      for (let c = 0; c < 3; c++) tensor[c * s * s + y * s + x] = (small[(y * s + x) * 3 + c]! / divisor - e.mean[c]!) / e.std[c]!;
    }
  }
  return tensor;
}

/** The mask the stand-in should give for `tensor` under post-processing `post`, at the model's size. */
function referenceMask(tensor: Float32Array, s: number, post: Expected['post']): Buffer {
  const plane = s * s;
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const values = new Float64Array(plane);
  for (let p = 0; p < plane; p++) values[p] = MIX[0]! * tensor[p]! + MIX[1]! * tensor[plane + p]! + MIX[2]! * tensor[2 * plane + p]!;
  const out = Buffer.alloc(plane);
  if (post === 'none') {
    for (let p = 0; p < plane; p++) out[p] = Math.round(sigmoid(values[p]!) * 255);
    return out;
  }
  if (post === 'sigmoid-minmax') for (let p = 0; p < plane; p++) values[p] = sigmoid(values[p]!);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let p = 0; p < plane; p++) out[p] = Math.trunc(((values[p]! - lo) / (hi - lo)) * 255);
  return out;
}

function maskAtSize(e: Expected, mask: Buffer, s: number, width: number, height: number): Promise<Buffer> {
  return resizeAs(e, mask, s, s, 1, width, height);
}

function differences(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** The model with its session watched: every feed and output passes through to the real session and is kept. */
function watched(model: LoadedModel): { model: LoadedModel; feeds: Float32Array[] } {
  const feeds: Float32Array[] = [];
  const session = new Proxy(model.session, {
    get(target, property) {
      if (property !== 'run') return Reflect.get(target, property) as unknown;
      return (input: Record<string, ort.Tensor>, ...rest: unknown[]) => {
        feeds.push(Float32Array.from(input[model.inputName]!.data as Float32Array));
        return (target.run as (...args: unknown[]) => unknown).call(target, input, ...rest);
      };
    },
  });
  return { model: { ...model, session }, feeds };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cutout-presets-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('every preset has an expectation here, and every expectation a preset', () => {
  assert.deepEqual(Object.keys(MODEL_PRESETS).sort(), [...Object.keys(EXPECTED), ...NOT_FED].sort());
});

/** The cutout's alpha is the reference mask for `e.post` (within resampling and float32 rounding) and far from the other kind. */
async function assertAlpha(png: Buffer, tensor: Float32Array, e: Expected, width: number, height: number): Promise<void> {
  const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
  const reference = referenceMask(tensor, e.size, e.post);
  const near = differences(alpha, await maskAtSize(e, reference, e.size, width, height));
  assert.ok(near.max <= 2, `alpha differs from the reference mask by up to ${near.max}`);
  if (e.post === 'none' || !reference.some((v) => v > 0)) return;
  const other = e.post === 'minmax' ? 'sigmoid-minmax' : 'minmax';
  const far = differences(alpha, await maskAtSize(e, referenceMask(tensor, e.size, other), e.size, width, height));
  assert.ok(far.mean > 5, `${other} would give nearly the same alpha (mean difference ${far.mean.toFixed(2)}); the check proves nothing`);
}

/** Loads a stand-in for preset `name` through MODEL parsing, cuts out `bytes` and checks tensor, PNG and alpha. */
async function checkPreset(name: string, e: Expected, bytes: Buffer): Promise<void> {
  const preset = MODEL_PRESETS[name]!;
  const signature = preset.published ?? BORDER_SIGNATURE;
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, standIn(signature, e.post === 'none'));
  const loaded = await loadModel(`${name}:${file}`);
  try {
    assert.equal(loaded.preset.name, name);
    assert.equal(loaded.inputName, signature.inputs[0]!.name);
    assert.equal(loaded.outputName, signature.outputs[0]!.name);
    assert.deepEqual(loaded.outputs.map((o) => o.name), signature.outputs.map((o) => o.name));
    assert.deepEqual(loaded.inputSize, { width: e.size, height: e.size });
    assert.equal(loaded.supportsBatching, typeof signature.inputs[0]!.shape[0] === 'string');

    const { model, feeds } = watched(loaded);
    const result = await removeBackground(bytes, model, { maxImagePixels: 50_000_000 });

    // (a) the tensor fed to onnxruntime is rembg's, value for value.
    const expected = await referenceTensor(bytes, e);
    assert.equal(feeds.length, 1);
    assert.equal(feeds[0]!.length, expected.length);
    const worst = differences(feeds[0]!, expected).max;
    assert.equal(worst, 0, `largest difference from the reference tensor: ${worst}`);

    // (b) an 8-bit RGBA PNG at the photo's size.
    const info = await sharp(bytes).metadata();
    const out = await sharp(result.bytes).metadata();
    assert.deepEqual([out.format, out.channels, out.depth, out.width, out.height], ['png', 4, 'uchar', info.width, info.height]);

    // (c) its alpha is the stand-in's first output, post-processed as this preset says and no other way.
    await assertAlpha(result.bytes, expected, e, info.width!, info.height!);
  } finally {
    await loaded.close();
  }
}

for (const [name, e] of Object.entries(EXPECTED)) {
  test(`${name}: a stand-in with the published signature gets rembg's tensor, and its mask comes back as alpha`, async () => {
    const bytes = e.photo === 'small' ? await dimImage(96, 64, 230) : readFileSync(new URL(e.photo, IMAGES));
    await checkPreset(name, e, bytes);
  });
}

/** A PNG whose brightest value is `peak`, with a brighter square in the middle so the mask has something to find. */
function dimImage(width: number, height: number, peak: number): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = Math.abs(x - width / 2) < width / 5 && Math.abs(y - height / 2) < height / 5;
      const i = (y * width + x) * 3;
      rgb[i] = inside ? peak : Math.round((peak / 3) * (x / width));
      rgb[i + 1] = inside ? Math.round(peak * 0.8) : 20;
      rgb[i + 2] = inside ? Math.round(peak * 0.5) : Math.round((peak / 4) * (y / height));
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

test('u2net: a dim image is divided by its own largest value, not by 255', async () => {
  const e = EXPECTED.u2net!;
  const bytes = await dimImage(300, 200, 150);
  const reference = await referenceTensor(bytes, e);
  // The largest red value must sit near 150/150, where ÷255 would put it near 0.59.
  const redPeak = reference.subarray(0, e.size * e.size).reduce((a, b) => Math.max(a, b));
  assert.ok(redPeak > (0.95 - 0.485) / 0.229, `red peaks at ${redPeak}`);
  await checkPreset('u2net', e, bytes);
});

test('isnet-general-use: an all-black image gives (0 − mean) / std and a fully transparent cutout, not NaN', async () => {
  const e = EXPECTED['isnet-general-use']!;
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
  await checkPreset('isnet-general-use', e, bytes);
  const file = join(dir, 'isnet-general-use.onnx');
  const model = await loadModel(`isnet-general-use:${file}`);
  try {
    const result = await removeBackground(bytes, model, { maxImagePixels: 10_000 });
    const alpha = await sharp(result.bytes).extractChannel(3).raw().toBuffer();
    assert.ok(alpha.every((v) => v === 0), 'a constant model output carries no mask');
  } finally {
    await model.close();
  }
});

test('/metadata reports the preset, the model\'s real signature, the preprocessing and whether it batches', async () => {
  const signature = MODEL_PRESETS['bria-rmbg']!.published!;
  const file = join(dir, 'metadata.onnx');
  writeFileSync(file, standIn(signature, false));
  const model = await loadModel(`bria-rmbg:${file}`);
  try {
    const body = JSON.parse(JSON.stringify(describeModel(model, { maxImageBytes: 1, maxImagePixels: 2 }))) as Record<string, Record<string, unknown>>;
    assert.equal(body.model!.preset, 'bria-rmbg');
    assert.deepEqual(body.input, { name: 'pixel_values', type: 'float32', layout: 'NCHW', shape: ['batch_size', 3, 1024, 1024] });
    assert.deepEqual(body.output, { name: 'alphas', shape: ['batch_size', 1, 1024, 1024] });
    assert.deepEqual(body.signature!.outputs, [{ name: 'alphas', shape: ['batch_size', 1, 1024, 1024] }]);
    assert.deepEqual(body.preprocessing!.mean, IMAGENET_MEAN);
    assert.deepEqual(body.preprocessing!.std, IMAGENET_STD);
    assert.deepEqual(body.preprocessing!.resize, { width: 1024, height: 1024, kernel: "Pillow's LANCZOS (as rembg), re-implemented", keep_aspect: false });
    // A file named in MODEL: its checksum is reported, its licence honestly unknown.
    assert.equal(body.model!.source, 'file');
    assert.match(String((body.model!.checksum as Record<string, unknown>).sha256), /^[0-9a-f]{64}$/);
    assert.match(String(body.model!.licence), /unknown/);
    assert.equal(body.postprocessing!.kind, 'minmax');
    assert.equal(body.batching!.supports_batching, true);
    assert.equal(body.session!.graph_optimization, 'all');
  } finally {
    await model.close();
  }
});

test('MODEL: rembg names, and the older isnet and birefnet aliases, pick their presets; prototype keys do not', () => {
  const file = join(dir, 'any.onnx');
  writeFileSync(file, standIn(BORDER_SIGNATURE, true));
  assert.equal(parseModelSpec(`u2net_human_seg:${file}`).preset.name, 'u2net_human_seg');
  assert.equal(parseModelSpec(`isnet:${file}`).preset.name, 'isnet-general-use');
  assert.equal(parseModelSpec(`birefnet:${file}`).preset.name, 'birefnet-general');
  assert.throws(() => parseModelSpec(`constructor:${file}`), /unknown preset "constructor"/);
  assert.throws(() => parseModelSpec('toString'), /unknown preset; use one of cutout-graphcut, cutout-border, u2net, /);
});
