/**
 * The low-resolution half of a fast colour guided filter (He, Sun, Tang, "Guided Image Filtering",
 * PAMI 2013; He and Sun, "Fast Guided Filter", 2015). Around every grid pixel the mask is fitted as
 * a linear function of the colour, q = a·I + b; the averaged a (three colour weights) and b are
 * returned at grid size. Upsampled and applied to the full-size photo (upscale-model.ts), they give
 * a mask whose edges follow the photo's own edges, at the cost of one multiply-add per pixel.
 */

export interface GuidedFilterParams {
  /** Window radius in grid pixels. */
  radius: number;
  /** Regularisation: larger flattens the mask where colours vary little. Colours are in 0..1. */
  epsilon: number;
}

export const GUIDED_DEFAULTS: Readonly<GuidedFilterParams> = Object.freeze({ radius: 2, epsilon: 1e-3 });

/** Mean over the (2r+1)² window clipped to the image, through a summed-area table. */
function boxMean(src: Float64Array, width: number, height: number, r: number): Float64Array {
  const stride = width + 1;
  const table = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += src[y * width + x]!;
      table[(y + 1) * stride + x + 1] = table[y * stride + x + 1]! + row;
    }
  }
  const out = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(height, y + r + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(width, x + r + 1);
      const sum = table[y1 * stride + x1]! - table[y0 * stride + x1]! - table[y1 * stride + x0]! + table[y0 * stride + x0]!;
      out[y * width + x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

/**
 * Grid RGB (interleaved 8-bit) and a mask in 0..1 → Float32Array [4, height, width]: the mean colour
 * weights a_r, a_g, a_b and the mean offset b.
 */
export function guidedCoefficients(rgb: Uint8Array, mask: ArrayLike<number>, width: number, height: number, overrides: Partial<GuidedFilterParams> = {}): Float32Array {
  const { radius: r, epsilon } = { ...GUIDED_DEFAULTS, ...overrides };
  const n = width * height;
  const channel = (c: number) => {
    const plane = new Float64Array(n);
    for (let i = 0; i < n; i++) plane[i] = rgb[3 * i + c]! / 255;
    return plane;
  };
  const I = [channel(0), channel(1), channel(2)];
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = mask[i]!;
  const product = (a: Float64Array, b: Float64Array) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
    return out;
  };
  const meanI = I.map((c) => boxMean(c, width, height, r));
  const meanP = boxMean(p, width, height, r);
  const centred = (corr: Float64Array, u: Float64Array, v: Float64Array) => {
    for (let i = 0; i < n; i++) corr[i]! -= u[i]! * v[i]!;
    return corr;
  };
  const covIp = I.map((c, k) => centred(boxMean(product(c, p), width, height, r), meanI[k]!, meanP));
  // The six distinct entries of each window's colour covariance.
  const pairs = [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2], [2, 2]] as const;
  const cov = pairs.map(([u, v]) => centred(boxMean(product(I[u]!, I[v]!), width, height, r), meanI[u]!, meanI[v]!));
  const a = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // (Σ + εU)⁻¹ · cov(I, p) by the adjugate of the symmetric 3×3 matrix.
    const s00 = cov[0]![i]! + epsilon;
    const s01 = cov[1]![i]!;
    const s02 = cov[2]![i]!;
    const s11 = cov[3]![i]! + epsilon;
    const s12 = cov[4]![i]!;
    const s22 = cov[5]![i]! + epsilon;
    const i00 = s11 * s22 - s12 * s12;
    const i01 = s02 * s12 - s01 * s22;
    const i02 = s01 * s12 - s02 * s11;
    const i11 = s00 * s22 - s02 * s02;
    const i12 = s01 * s02 - s00 * s12;
    const i22 = s00 * s11 - s01 * s01;
    const det = s00 * i00 + s01 * i01 + s02 * i02;
    const c0 = covIp[0]![i]!;
    const c1 = covIp[1]![i]!;
    const c2 = covIp[2]![i]!;
    const a0 = (i00 * c0 + i01 * c1 + i02 * c2) / det;
    const a1 = (i01 * c0 + i11 * c1 + i12 * c2) / det;
    const a2 = (i02 * c0 + i12 * c1 + i22 * c2) / det;
    a[0]![i] = a0;
    a[1]![i] = a1;
    a[2]![i] = a2;
    b[i] = meanP[i]! - a0 * meanI[0]![i]! - a1 * meanI[1]![i]! - a2 * meanI[2]![i]!;
  }
  const out = new Float32Array(4 * n);
  [...a, b].forEach((plane, k) => out.set(boxMean(plane, width, height, r), k * n));
  return out;
}
