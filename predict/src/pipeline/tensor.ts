import type { ModelPreset } from '../model/presets.js';

/**
 * Interleaved 8-bit RGB (HWC) to the model's float32 NCHW input, scaled and normalised as the preset says.
 * This is input preparation only; the mask itself comes from the model.
 */
export function toInputTensor(rgb: Uint8Array, width: number, height: number, preset: ModelPreset): Float32Array {
  const plane = width * height;
  let divisor = 255;
  if (preset.scale === 'max') {
    let max = 0;
    for (let i = 0; i < rgb.length; i++) max = Math.max(max, rgb[i]!);
    divisor = Math.max(max, 1e-6);
  }
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = preset.mean[c]!;
    const std = preset.std[c]!;
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[base + p] = (rgb[p * 3 + c]! / divisor - mean) / std;
  }
  return out;
}

/** The model's output made into 8-bit mask values: first channel of the first image, post-processed, clamped. */
export function toMaskBytes(values: Float32Array, plane: number, preset: ModelPreset): Uint8Array {
  const first = values.subarray(0, plane);
  let data: Float32Array = first;
  if (preset.postprocess === 'sigmoid-minmax') data = first.map((v) => 1 / (1 + Math.exp(-v)));
  let offset = 0;
  let scale = 1;
  if (preset.postprocess !== 'none') {
    let min = Infinity;
    let max = -Infinity;
    for (const v of data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    offset = min;
    scale = max > min ? 1 / (max - min) : 0;
  }
  const mask = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) mask[i] = Math.min(255, Math.max(0, Math.round((data[i]! - offset) * scale * 255)));
  return mask;
}
