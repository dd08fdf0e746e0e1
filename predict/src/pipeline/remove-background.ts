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

async function preprocess(image: DecodedImage, model: LoadedModel): Promise<ort.Tensor> {
  const { width, height } = model.inputSize;
  const small = await raw(image.rgb, image.width, image.height, 3).resize(width, height, RESIZE).raw().toBuffer();
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
  // sharp writes sRGB by default, which would triple a one-band image; keep the single band.
  return raw(mask, maskWidth, maskHeight, 1).resize(image.width, image.height, RESIZE).extractChannel(0).raw().toBuffer();
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
  let alpha: Buffer;
  let preprocessMs = 0;
  let inference = 0;
  let batchSize = 1;
  if (isPassthrough(model)) {
    alpha = Buffer.alloc(image.width * image.height, 255);
  } else {
    const input = await preprocess(image, model);
    preprocessMs = lap();
    const inferred = await infer(input, model, options.batcher);
    inference = lap();
    batchSize = inferred.batchSize;
    alpha = await postprocess(inferred, image, model);
  }
  const postprocessMs = lap();
  const output = await encodeOutput(image, alpha, options.output ?? DEFAULT_JOB_OPTIONS, options.encoding);
  const encodeMs = lap();
  return {
    bytes: output.bytes,
    mediaType: output.mediaType,
    width: image.width,
    height: image.height,
    inputFormat: image.format,
    timings: { decode, preprocess: preprocessMs, inference, postprocess: postprocessMs, encode: encodeMs, batchSize },
  };
}
