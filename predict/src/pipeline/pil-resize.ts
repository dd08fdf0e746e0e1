/**
 * Pillow's LANCZOS resize for 8-bit images, as rembg calls it (`img.resize(size, Image.LANCZOS)`),
 * re-implemented from its published algorithm (Pillow's libImaging/Resample.c): a separable
 * Lanczos-3 filter widened by the scale when shrinking; a horizontal pass into an 8-bit image, then a
 * vertical pass; weights normalised per output pixel and rounded to fixed point with 22 fractional
 * bits; sums rounded half up and clamped to 0..255. libvips's lanczos3 (sharp) places and rounds
 * its taps differently, which is most of the difference between our masks and rembg's.
 */

const PRECISION_BITS = 32 - 8 - 2;
const SUPPORT = 3;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos(x: number): number {
  return x > -SUPPORT && x < SUPPORT ? sinc(x) * sinc(x / SUPPORT) : 0;
}

interface Taps {
  /** First input index of each output pixel's window. */
  start: Int32Array;
  /** Window length of each output pixel. */
  length: Int32Array;
  /** `width` fixed-point weights per output pixel. */
  weights: Int32Array;
  width: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const width = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const length = new Int32Array(outSize);
  const weights = new Int32Array(outSize * width);
  const k = new Float64Array(width);
  for (let xx = 0; xx < outSize; xx++) {
    const centre = (xx + 0.5) * scale;
    // Pillow truncates toward zero here: (int)(centre − support + 0.5).
    const xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(centre + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - centre + 0.5) / filterScale);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = total !== 0 ? k[x]! / total : 0;
      weights[xx * width + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    length[xx] = xmax;
  }
  return { start, length, weights, width };
}

const ONE = 1 << PRECISION_BITS;

function clip8(v: number): number {
  if (v < 0) return 0;
  const shifted = Math.floor(v / ONE);
  return shifted > 255 ? 255 : shifted;
}

/** The 3-channel horizontal pass with the channels summed together: each tap's weight is read once. */
function horizontalRgb(src: Uint8Array, inW: number, height: number, outW: number): Uint8Array {
  const t = taps(inW, outW);
  const out = new Uint8Array(outW * height * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < height; y++) {
    const row = y * inW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const n = t.length[xx]!;
      const base = xx * t.width;
      let i = row + t.start[xx]! * 3;
      let r = half;
      let g = half;
      let b = half;
      for (let x = 0; x < n; x++, i += 3) {
        const w = t.weights[base + x]!;
        r += src[i]! * w;
        g += src[i + 1]! * w;
        b += src[i + 2]! * w;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function horizontal(src: Uint8Array, inW: number, height: number, channels: number, outW: number): Uint8Array {
  if (channels === 3) return horizontalRgb(src, inW, height, outW);
  const t = taps(inW, outW);
  const out = new Uint8Array(outW * height * channels);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < height; y++) {
    const row = y * inW * channels;
    for (let xx = 0; xx < outW; xx++) {
      const x0 = t.start[xx]!;
      const n = t.length[xx]!;
      const base = xx * t.width;
      for (let c = 0; c < channels; c++) {
        let sum = half;
        for (let x = 0; x < n; x++) sum += src[row + (x0 + x) * channels + c]! * t.weights[base + x]!;
        out[(y * outW + xx) * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

function vertical(src: Uint8Array, width: number, inH: number, channels: number, outH: number): Uint8Array {
  const t = taps(inH, outH);
  const out = new Uint8Array(width * outH * channels);
  const half = 1 << (PRECISION_BITS - 1);
  const stride = width * channels;
  for (let yy = 0; yy < outH; yy++) {
    const y0 = t.start[yy]!;
    const n = t.length[yy]!;
    const base = yy * t.width;
    for (let i = 0; i < stride; i++) {
      let sum = half;
      for (let y = 0; y < n; y++) sum += src[(y0 + y) * stride + i]! * t.weights[base + y]!;
      out[yy * stride + i] = clip8(sum);
    }
  }
  return out;
}

/** Interleaved 8-bit pixels (1 or 3 channels) resized as Pillow's Image.resize(size, LANCZOS) does. */
export function pilLanczosResize(src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height * channels) throw new Error(`expected ${width * height * channels} bytes for ${width}×${height}×${channels}, got ${src.length}`);
  // Pillow skips a pass whose size does not change.
  const across = outWidth !== width ? horizontal(src, width, height, channels, outWidth) : src;
  return outHeight !== height ? vertical(across, outWidth, height, channels, outHeight) : across;
}
