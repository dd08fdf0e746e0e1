import type { ModelPreset } from '../model/presets.js';

export { toMaskBytes } from './mask.js';

/** The value every 8-bit level of each channel maps to, so the per-pixel work is three table reads. */
function levelTable(divisor: number, preset: ModelPreset): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = preset.mean[c]!;
    const std = preset.std[c]!;
    // Same operations in the same order as rembg (in float64, then stored as float32), so values match bit for bit.
    for (let v = 0; v < 256; v++) table[c * 256 + v] = (v / divisor - mean) / std;
  }
  return table;
}

/** rembg divides by the resized image's largest value over all channels, never by less than 1e-6. */
function largestValue(rgb: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < rgb.length; i++) {
    const v = rgb[i]!;
    if (v > max) {
      max = v;
      if (max === 255) break;
    }
  }
  return Math.max(max, 1e-6);
}

/**
 * Interleaved 8-bit RGB (HWC) to the model's float32 NCHW input, scaled and normalised as the preset
 * says: (v / divisor − mean[c]) / std[c], divisor 255 or the image's largest value. Writes into
 * `target` when given (e.g. one image's slot in a batch tensor), else into a new array.
 */
export function toInputTensor(rgb: Uint8Array, width: number, height: number, preset: ModelPreset, target?: Float32Array): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new Error(`expected ${plane * 3} RGB bytes for ${width}×${height}, got ${rgb.length}`);
  const out = target ?? new Float32Array(3 * plane);
  if (out.length < 3 * plane) throw new Error(`the target holds ${out.length} values; ${3 * plane} are needed`);
  const table = levelTable(preset.scale === 'max' ? largestValue(rgb) : 255, preset);
  const green = plane;
  const blue = 2 * plane;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[p] = table[rgb[i]!]!;
    out[green + p] = table[256 + rgb[i + 1]!]!;
    out[blue + p] = table[512 + rgb[i + 2]!]!;
  }
  return out;
}
