/**
 * A Gaussian mixture over RGB colours with full 3×3 covariances: the colour model of GrabCut
 * (Rother, Kolmogorov, Blake, SIGGRAPH 2004). Pixels are Uint8 RGB triples; index lists pick the
 * pixels a model is fitted to.
 */

export const COMPONENTS = 5;
/** Added to a covariance's diagonal so a flat-coloured component stays invertible. */
const REGULARISATION = 0.01;

interface Component {
  weight: number;
  mean: [number, number, number];
  /** Inverse covariance, row-major. */
  inverse: Float64Array;
  /** log(weight) − ½·log(det Σ) − (3/2)·log(2π): the parts of log N that do not depend on the colour. */
  logNorm: number;
}

/** A small deterministic generator: the same image always gives the same cut. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function distance2(rgb: Uint8Array, p: number, c: ArrayLike<number>): number {
  const r = rgb[3 * p]! - c[0]!;
  const g = rgb[3 * p + 1]! - c[1]!;
  const b = rgb[3 * p + 2]! - c[2]!;
  return r * r + g * g + b * b;
}

/** At most this many pixels seed the k-means; the colour spread of a few thousand is the spread of all. */
const KMEANS_SAMPLES = 4000;

function nearestCentre(rgb: Uint8Array, p: number, centres: Float64Array, k: number): number {
  let best = 0;
  let bestD = Infinity;
  const r = rgb[3 * p]!;
  const g = rgb[3 * p + 1]!;
  const b = rgb[3 * p + 2]!;
  for (let c = 0; c < k; c++) {
    const dr = r - centres[3 * c]!;
    const dg = g - centres[3 * c + 1]!;
    const db = b - centres[3 * c + 2]!;
    const d = dr * dr + dg * dg + db * db;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/**
 * k-means++ seeding and a few Lloyd steps on an even sample of the pixels, then every pixel to its
 * nearest centre: the first assignment of pixels to components.
 */
export function kMeansLabels(rgb: Uint8Array, pixels: Int32Array, k: number, rounds = 8): Uint8Array {
  const labels = new Uint8Array(pixels.length);
  if (pixels.length === 0) return labels;
  const step = Math.max(1, Math.floor(pixels.length / KMEANS_SAMPLES));
  const sample = Int32Array.from({ length: Math.ceil(pixels.length / step) }, (_, i) => pixels[i * step]!);
  const next = random(pixels.length * 2654435761);
  const centres = new Float64Array(3 * k);
  const nearest = new Float64Array(sample.length).fill(Infinity);
  let count = 0;
  let pick = sample[Math.floor(next() * sample.length)]!;
  while (count < k) {
    centres.set([rgb[3 * pick]!, rgb[3 * pick + 1]!, rgb[3 * pick + 2]!], 3 * count);
    const centre = centres.subarray(3 * count, 3 * count + 3);
    count++;
    let total = 0;
    for (let i = 0; i < sample.length; i++) {
      nearest[i] = Math.min(nearest[i]!, distance2(rgb, sample[i]!, centre));
      total += nearest[i]!;
    }
    if (total === 0) break;
    let target = next() * total;
    let chosen = sample.length - 1;
    for (let i = 0; i < sample.length; i++) {
      target -= nearest[i]!;
      if (target <= 0) {
        chosen = i;
        break;
      }
    }
    pick = sample[chosen]!;
  }
  const sums = new Float64Array(4 * count);
  for (let round = 0; round < rounds; round++) {
    sums.fill(0);
    for (let i = 0; i < sample.length; i++) {
      const p = sample[i]!;
      const c = nearestCentre(rgb, p, centres, count);
      sums[4 * c]! += rgb[3 * p]!;
      sums[4 * c + 1]! += rgb[3 * p + 1]!;
      sums[4 * c + 2]! += rgb[3 * p + 2]!;
      sums[4 * c + 3]!++;
    }
    for (let c = 0; c < count; c++) {
      const n = sums[4 * c + 3]!;
      if (n > 0) centres.set([sums[4 * c]! / n, sums[4 * c + 1]! / n, sums[4 * c + 2]! / n], 3 * c);
    }
  }
  for (let i = 0; i < pixels.length; i++) labels[i] = nearestCentre(rgb, pixels[i]!, centres, count);
  return labels;
}

function invert3(m: Float64Array): { inverse: Float64Array; det: number } {
  const [a, b, c, d, e, f, g, h, i] = m as unknown as number[] as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  const inv = new Float64Array([A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d]);
  for (let k = 0; k < 9; k++) inv[k]! /= det;
  return { inverse: inv, det };
}

export class ColourModel {
  private components: Component[] = [];
  /** Per-component logs of one pixel, reused: this runs for every pixel of every iteration. */
  private readonly logs = new Float64Array(COMPONENTS);

  /** Fits one Gaussian per label value (0..COMPONENTS−1) to the pixels carrying it. */
  fit(rgb: Uint8Array, pixels: Int32Array, labels: Uint8Array): void {
    const n = new Float64Array(COMPONENTS);
    const sum = new Float64Array(COMPONENTS * 3);
    const prod = new Float64Array(COMPONENTS * 9);
    for (let i = 0; i < pixels.length; i++) {
      const k = labels[i]!;
      const p = 3 * pixels[i]!;
      const x = [rgb[p]!, rgb[p + 1]!, rgb[p + 2]!];
      n[k]!++;
      for (let u = 0; u < 3; u++) {
        sum[3 * k + u]! += x[u]!;
        for (let v = 0; v < 3; v++) prod[9 * k + 3 * u + v]! += x[u]! * x[v]!;
      }
    }
    this.components = [];
    for (let k = 0; k < COMPONENTS; k++) {
      const count = n[k]!;
      if (count === 0) continue;
      const mean: [number, number, number] = [sum[3 * k]! / count, sum[3 * k + 1]! / count, sum[3 * k + 2]! / count];
      const cov = new Float64Array(9);
      for (let u = 0; u < 3; u++) {
        for (let v = 0; v < 3; v++) cov[3 * u + v] = prod[9 * k + 3 * u + v]! / count - mean[u]! * mean[v]!;
        cov[4 * u]! += REGULARISATION;
      }
      let { inverse, det } = invert3(cov);
      if (!(det > 1e-9)) {
        // Singular even after regularisation (one or two pixels): fall back to a round Gaussian.
        cov.fill(0);
        cov[0] = cov[4] = cov[8] = 1;
        ({ inverse, det } = invert3(cov));
      }
      const weight = count / pixels.length;
      this.components.push({ weight, mean, inverse, logNorm: Math.log(weight) - 0.5 * Math.log(det) - 1.5 * Math.log(2 * Math.PI) });
    }
  }

  get size(): number {
    return this.components.length;
  }

  /** log N(x | component k) + log weight, for the colour at pixel p. */
  private componentLog(c: Component, rgb: Uint8Array, p: number): number {
    const x = rgb[3 * p]! - c.mean[0];
    const y = rgb[3 * p + 1]! - c.mean[1];
    const z = rgb[3 * p + 2]! - c.mean[2];
    const m = c.inverse;
    const q = x * (m[0]! * x + m[1]! * y + m[2]! * z) + y * (m[3]! * x + m[4]! * y + m[5]! * z) + z * (m[6]! * x + m[7]! * y + m[8]! * z);
    return c.logNorm - 0.5 * q;
  }

  /** −log p(colour at pixel p), summed over components with log-sum-exp so far-off colours do not underflow. */
  negLogLikelihood(rgb: Uint8Array, p: number): number {
    let best = -Infinity;
    const logs = this.logs;
    const count = this.components.length;
    for (let k = 0; k < count; k++) {
      logs[k] = this.componentLog(this.components[k]!, rgb, p);
      if (logs[k]! > best) best = logs[k]!;
    }
    if (best === -Infinity) return 1e3;
    let total = 0;
    for (let k = 0; k < count; k++) total += Math.exp(logs[k]! - best);
    return -(best + Math.log(total));
  }

  /** The most likely component for each pixel: GrabCut's re-assignment step. */
  assign(rgb: Uint8Array, pixels: Int32Array): Uint8Array {
    const labels = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      let best = 0;
      let bestLog = -Infinity;
      for (let k = 0; k < this.components.length; k++) {
        const l = this.componentLog(this.components[k]!, rgb, pixels[i]!);
        if (l > bestLog) {
          bestLog = l;
          best = k;
        }
      }
      labels[i] = best;
    }
    return labels;
  }
}
