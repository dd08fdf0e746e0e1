import type { ModelPreset } from '../model/presets.js';

const f32 = Math.fround;

/** The built-in model's output is already 0..1: scale, round and clamp. */
function unitMask(values: Float32Array): Uint8Array {
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! * 255;
    mask[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return mask;
}

function range(values: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** rembg's 1 / (1 + exp(−v)) on a float32 array: every step rounded to float32 as numpy does. */
function sigmoid32(v: number): number {
  return f32(1 / f32(1 + f32(Math.exp(-v))));
}

/**
 * rembg's post-processing: optional sigmoid, (v − min) / (max − min), ×255, truncated to uint8, with
 * every operation in float32 as numpy does it on the model's float32 output. Sigmoid is monotonic, so
 * its min and max are those of the raw values. A constant output carries no mask, and rembg would
 * divide by zero: it comes out fully transparent.
 */
function minMaxMask(values: Float32Array, withSigmoid: boolean): Uint8Array {
  const mask = new Uint8Array(values.length);
  const raw = range(values);
  const lo = withSigmoid ? sigmoid32(raw.min) : raw.min;
  const hi = withSigmoid ? sigmoid32(raw.max) : raw.max;
  const span = f32(hi - lo);
  if (!(span > 0 && Number.isFinite(span))) return mask;
  // Two loops rather than a per-pixel branch or callback: this runs over a million values per image.
  if (withSigmoid) {
    for (let i = 0; i < values.length; i++) mask[i] = f32(f32(f32(sigmoid32(values[i]!) - lo) / span) * 255);
  } else {
    for (let i = 0; i < values.length; i++) mask[i] = f32(f32(f32(values[i]! - lo) / span) * 255);
  }
  return mask;
}

/**
 * The model's output made into 8-bit mask values: the first `plane` values (channel 0 of the first
 * image in `values`), post-processed as the preset says. Uint8Array stores truncate, as numpy's astype does.
 */
export function toMaskBytes(values: Float32Array, plane: number, preset: ModelPreset): Uint8Array {
  if (values.length < plane) throw new Error(`the model output holds ${values.length} values; a ${plane}-pixel mask needs more`);
  const first = values.subarray(0, plane);
  if (preset.postprocess === 'none') return unitMask(first);
  return minMaxMask(first, preset.postprocess === 'sigmoid-minmax');
}
