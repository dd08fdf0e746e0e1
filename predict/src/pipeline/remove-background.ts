import sharp, { type Sharp } from 'sharp';
import ort from 'onnxruntime-node';
import type { LoadedModel } from '../model/model-loader.js';
import { decodeImage, type DecodedImage } from './decode.js';
import type { ImageFormat } from '@cutout/shared';
import { toInputTensor, toMaskBytes } from './tensor.js';
import { runAlone, type InferenceBatcher, type InferenceResult } from './batcher.js';
import { encodeOutput, type OutputEncoding } from './output.js';
import { isPassthrough } from '../model/passthrough.js';
import { DEFAULT_JOB_OPTIONS, type OutputOptions } from '@cutout/shared/contract';
import { graphcutAlpha } from './graphcut-stage.js';
import { postProcessMask } from './post-process-mask.js';
import { pilLanczosResize } from './pil-resize.js';

/** Milliseconds spent in each stage of one image. */
export interface StageTimings {
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
  encode: number;
  /** How many images shared the onnxruntime run this one was in (1 = it ran alone). */
  batchSize: number;
}

export interface CutoutResult {
  /** The output the options asked for; by default an 8-bit RGBA PNG: the input's RGB, the model's mask as alpha. */
  readonly bytes: Buffer;
  /** image/png or image/webp. */
  readonly mediaType: string;
  readonly width: number;
  readonly height: number;
  readonly inputFormat: ImageFormat;
  readonly timings: StageTimings;
}

export interface RemoveBackgroundOptions {
  /** Larger images are refused with 422 TOO_MANY_PIXELS. */
  maxImagePixels: number;
  /** Gathers concurrent images into shared onnxruntime runs; without one, each image runs alone at once. */
  batcher?: InferenceBatcher;
  /** rembg's post_process_mask: opening, blur and threshold on the mask before it becomes alpha. */
  postProcessMask?: boolean;
  /** What to produce (CONTRACT §3, §6); default the RGBA PNG cutout. */
  output?: OutputOptions;
  /** How PNG outputs are compressed (OUTPUT_PNG_COMPRESSION). */
  encoding?: OutputEncoding;
}

const RESIZE = { fit: 'fill', kernel: 'lanczos3' } as const;

/** Sizes already checked at decode, so the raw intermediate steps need no second limit. */
function raw(data: Uint8Array, width: number, height: number, channels: 1 | 3): Sharp {
  return sharp(data, { raw: { width, height, channels }, limitInputPixels: false });
}

/** rembg's presets resize as Pillow does, the built-in ones with libvips (see ResizeKernel). */
async function resized(data: Uint8Array, width: number, height: number, channels: 1 | 3, to: { width: number; height: number }, model: LoadedModel): Promise<Uint8Array> {
  if (model.preset.resize === 'pil-lanczos') return pilLanczosResize(data, width, height, channels, to.width, to.height);
  const out = raw(data, width, height, channels).resize(to.width, to.height, RESIZE);
  // sharp writes sRGB by default, which would triple a one-band image; keep the single band.
  return (channels === 1 ? out.extractChannel(0) : out).raw().toBuffer();
}

async function preprocess(image: DecodedImage, model: LoadedModel): Promise<ort.Tensor> {
  const { width, height } = model.inputSize;
  const small = await resized(image.rgb, image.width, image.height, 3, model.inputSize, model);
  return new ort.Tensor('float32', toInputTensor(small, width, height, model.preset), [1, 3, height, width]);
}

function infer(input: ort.Tensor, model: LoadedModel, batcher: InferenceBatcher | undefined): Promise<InferenceResult> {
  const data = input.data as Float32Array;
  return batcher ? batcher.run(data, input.dims) : runAlone(model, data, input.dims);
}

/** The mask at the image's own size. */
async function postprocess(output: InferenceResult, image: DecodedImage, model: LoadedModel): Promise<Buffer> {
  const maskHeight = output.dims.at(-2)!;
  const maskWidth = output.dims.at(-1)!;
  const mask = toMaskBytes(output.data as Float32Array, maskWidth * maskHeight, model.preset);
  const alpha = await resized(mask, maskWidth, maskHeight, 1, image, model);
  return Buffer.from(alpha.buffer, alpha.byteOffset, alpha.byteLength);
}


/**
 * The whole cutout of one image, usable without HTTP: bytes in, RGBA PNG out, with per-stage timings.
 * Bad input throws AppError (4xx); anything else is predict's own failure.
 */
export async function removeBackground(bytes: Buffer, model: LoadedModel, options: RemoveBackgroundOptions): Promise<CutoutResult> {
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = now - mark;
    mark = now;
    return Math.round(ms * 100) / 100;
  };
  const image = await decodeImage(bytes, options.maxImagePixels);
  const decode = lap();
  const masked = isPassthrough(model)
    ? opaqueMask(image)
    : model.preset.kind === 'graphcut'
      ? await graphcutMask(image, model)
      : await onnxMask(image, model, options.batcher, lap);
  // Both timed their own stages; this lap only moves the mark to now.
  lap();
  // Asked for directly, or as the job's post_process_mask option.
  const clean = options.postProcessMask ?? options.output?.post_process_mask ?? false;
  const alpha = clean ? await postProcessMask(masked.alpha, image.width, image.height) : masked.alpha;
  masked.stages.postprocess = Math.round((masked.stages.postprocess + lap()) * 100) / 100;
  const output = await encodeOutput(image, alpha, options.output ?? DEFAULT_JOB_OPTIONS, options.encoding);
  const encodeMs = lap();
  return {
    bytes: output.bytes,
    mediaType: output.mediaType,
    width: image.width,
    height: image.height,
    inputFormat: image.format,
    timings: { decode, ...masked.stages, encode: encodeMs },
  };
}

/** A mask of 255s shared by every small passthrough image; nothing writes to a mask once made. */
const OPAQUE = Buffer.alloc(256 * 256, 255);

/** MODEL=passthrough: every pixel kept, no resize, no model. */
function opaqueMask(image: DecodedImage): { alpha: Buffer; stages: MaskStages } {
  const pixels = image.width * image.height;
  const alpha = pixels <= OPAQUE.length ? OPAQUE.subarray(0, pixels) : Buffer.alloc(pixels, 255);
  return { alpha, stages: { preprocess: 0, inference: 0, postprocess: 0, batchSize: 1 } };
}

type MaskStages = Omit<StageTimings, 'decode' | 'encode'>;

/** The mask of a network run by onnxruntime: resize, normalise, infer (maybe batched), post-process. */
async function onnxMask(image: DecodedImage, model: LoadedModel, batcher: InferenceBatcher | undefined, lap: () => number): Promise<{ alpha: Buffer; stages: MaskStages }> {
  const input = await preprocess(image, model);
  const preprocessMs = lap();
  const output = await infer(input, model, batcher);
  const inference = lap();
  const alpha = await postprocess(output, image, model);
  const postprocessMs = lap();
  return { alpha, stages: { preprocess: preprocessMs, inference, postprocess: postprocessMs, batchSize: output.batchSize } };
}

/** The built-in graph cut: its grid, its cut and its full-size upscale stand for the three stages. */
async function graphcutMask(image: DecodedImage, model: LoadedModel): Promise<{ alpha: Buffer; stages: MaskStages }> {
  const { alpha, timings } = await graphcutAlpha(image, model);
  return { alpha, stages: { preprocess: timings.grid, inference: timings.cut, postprocess: timings.upscale, batchSize: 1 } };
}
