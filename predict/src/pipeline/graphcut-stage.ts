import sharp from 'sharp';
import type { LoadedModel } from '../model/model-loader.js';
import { grabCut } from '../model/graphcut/grabcut.js';
import { guidedCoefficients } from '../model/graphcut/guided-filter.js';
import { applyCoefficients } from '../model/graphcut/apply-coefficients.js';
import type { DecodedImage } from './decode.js';

/** Milliseconds of the three steps, reported as the pipeline's preprocess, inference and postprocess. */
export interface GraphcutTimings {
  grid: number;
  cut: number;
  upscale: number;
}

/** The grid the cut runs on: the photo scaled so its long side is `longSide` (never enlarged). */
export function gridSize(width: number, height: number, longSide: number): { width: number; height: number } {
  const scale = Math.min(1, longSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * cutout-graphcut's mask at the photo's size: sharp shrinks the photo to the grid, grabCut and the
 * guided filter's coefficients run in TypeScript there, and applyCoefficients brings them to the
 * full-size pixels as the model's ONNX graph (upscale-model.ts) would. Images never share a run, so there is no batcher here.
 */
export async function graphcutAlpha(image: DecodedImage, model: LoadedModel): Promise<{ alpha: Buffer; timings: GraphcutTimings }> {
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = Math.round((now - mark) * 100) / 100;
    mark = now;
    return ms;
  };
  const grid = gridSize(image.width, image.height, model.preset.size);
  const small = await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 }, limitInputPixels: false })
    .resize(grid.width, grid.height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const gridMs = lap();
  const labels = grabCut(small, grid.width, grid.height);
  const coefficients = guidedCoefficients(small, labels, grid.width, grid.height);
  const cutMs = lap();
  // The upscale graph's arithmetic in bands of rows (apply-coefficients.ts): the same bytes, without
  // onnxruntime's full-size float32 intermediates (3.3 GB at 24 MP), and less CPU on photos.
  const alpha = await applyCoefficients(image.rgb, image.width, image.height, coefficients, grid.width, grid.height);
  const upscaleMs = lap();
  return { alpha: Buffer.from(alpha.buffer, alpha.byteOffset, alpha.byteLength), timings: { grid: gridMs, cut: cutMs, upscale: upscaleMs } };
}
