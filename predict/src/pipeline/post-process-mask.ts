/**
 * rembg's `post_process` (rembg/bg.py, applied when `post_process_mask` is true), on an 8-bit mask:
 *     mask = morphologyEx(mask, MORPH_OPEN, getStructuringElement(MORPH_ELLIPSE, (3, 3)))
 *     mask = GaussianBlur(mask, (5, 5), sigmaX=2, sigmaY=2, borderType=BORDER_DEFAULT)
 *     mask = np.where(mask < 127, 0, 255)
 * The opening removes specks and hairlines one pixel wide, the blur and threshold smooth the outline,
 * and the result is hard: every value is 0 or 255. OpenCV's 3×3 ellipse is the plus-shaped cross.
 * Typed arrays, one pass per step; the blur runs in floating point where OpenCV uses fixed point, so
 * a pixel whose blurred value sits right at the threshold may come out the other way.
 */

/** Min (erode) or max (dilate) over the pixel and its four neighbours; pixels past the edge are ignored, as OpenCV's default border does. */
function crossFilter(src: Uint8Array, width: number, height: number, pick: (a: number, b: number) => number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      let v = src[p]!;
      if (x > 0) v = pick(v, src[p - 1]!);
      if (x < width - 1) v = pick(v, src[p + 1]!);
      if (y > 0) v = pick(v, src[p - width]!);
      if (y < height - 1) v = pick(v, src[p + width]!);
      out[p] = v;
    }
  }
  return out;
}

/** OpenCV's getGaussianKernel(5, 2): exp(−(i−2)²/(2·2²)), normalised to sum 1. */
const GAUSS_5 = (() => {
  const k = [-2, -1, 0, 1, 2].map((i) => Math.exp(-(i * i) / 8));
  const sum = k.reduce((a, b) => a + b);
  return k.map((v) => v / sum);
})();

/** BORDER_REFLECT_101 (OpenCV's BORDER_DEFAULT): …, 2, 1 | 0, 1, 2, … | n−2, n−3, … */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  let j = i;
  while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
  return j;
}

/** Separable 5×5 Gaussian, then the threshold at 127; the blurred values are never stored as 8-bit. */
function blurAndThreshold(src: Uint8Array, width: number, height: number): Uint8Array {
  const rows = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -2; k <= 2; k++) sum += GAUSS_5[k + 2]! * src[y * width + reflect101(x + k, width)]!;
      rows[y * width + x] = sum;
    }
  }
  const out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -2; k <= 2; k++) sum += GAUSS_5[k + 2]! * rows[reflect101(y + k, height) * width + x]!;
      // OpenCV rounds the blurred value to 8 bits before np.where compares it with 127.
      out[y * width + x] = Math.round(sum) < 127 ? 0 : 255;
    }
  }
  return out;
}

/** The mask after rembg's post-processing; same size, every value 0 or 255. */
export function postProcessMaskSync(mask: Uint8Array, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) throw new Error(`expected a ${width}×${height} mask (${width * height} bytes), got ${mask.length}`);
  const opened = crossFilter(crossFilter(mask, width, height, Math.min), width, height, Math.max);
  return blurAndThreshold(opened, width, height);
}

/** As postProcessMaskSync, returned as a Buffer for the pipeline (async so a later version may move it off the event loop). */
export async function postProcessMask(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  const out = postProcessMaskSync(mask, width, height);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
