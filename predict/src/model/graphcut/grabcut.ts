import { COMPONENTS, ColourModel, kMeansLabels } from './gmm.js';
import { MaxFlowGraph } from './max-flow.js';

/** The knobs of the cut; defaults are GrabCut's published ones, not fitted to any photo set. */
export interface GrabCutParams {
  /** Smoothness weight γ of the paper (50). */
  gamma: number;
  /** Rounds of re-fitting the colour models and cutting again. */
  iterations: number;
  /** Width of the border strip taken as certain background, as a fraction of the grid's long side. */
  margin: number;
  /** Share of the border colour field in the background's colour model (0 = plain GrabCut). */
  fieldWeight: number;
  /** Spread, in 8-bit levels, of background colours around the border colour field. */
  fieldSigma: number;
  /** Extra foreground cost per pixel at the corners (scaled by squared distance from the centre). */
  centrePrior: number;
  /** When true, the bottom strip starts as background but may be cut into: subjects often stand on the bottom edge. */
  softBottom: boolean;
}

export const GRABCUT_DEFAULTS: Readonly<GrabCutParams> = Object.freeze({ gamma: 50, iterations: 3, margin: 0.02, fieldWeight: 0.5, fieldSigma: 8, centrePrior: 6, softBottom: true });

/** The 8-neighbourhood, each undirected pair once: right, down-left, down, down-right. */
const NEIGHBOURS: readonly (readonly [number, number])[] = [
  [1, 0],
  [-1, 1],
  [0, 1],
  [1, 1],
];

function colourDistance2(rgb: Uint8Array, p: number, q: number): number {
  const r = rgb[3 * p]! - rgb[3 * q]!;
  const g = rgb[3 * p + 1]! - rgb[3 * q + 1]!;
  const b = rgb[3 * p + 2]! - rgb[3 * q + 2]!;
  return r * r + g * g + b * b;
}

/**
 * Smoothness weights of every neighbour pair (in NEIGHBOURS order per pixel, 0 past the edge):
 * γ·exp(−β‖zp − zq‖²)/distance, β = 1 / (2·mean ‖zp − zq‖²), so the cut prefers colour edges.
 */
function pairWeights(rgb: Uint8Array, width: number, height: number, gamma: number): Float64Array {
  const weights = new Float64Array(width * height * NEIGHBOURS.length);
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      NEIGHBOURS.forEach(([dx, dy], k) => {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || nx >= width || ny >= height) return;
        const d = colourDistance2(rgb, y * width + x, ny * width + nx);
        weights[(y * width + x) * NEIGHBOURS.length + k] = d;
        sum += d;
        count++;
      });
    }
  }
  const beta = sum > 0 ? count / (2 * sum) : 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      NEIGHBOURS.forEach(([dx, dy], k) => {
        const nx = x + dx;
        const ny = y + dy;
        const i = (y * width + x) * NEIGHBOURS.length + k;
        if (nx < 0 || nx >= width || ny >= height) weights[i] = 0;
        else weights[i] = (gamma * Math.exp(-beta * weights[i]!)) / Math.hypot(dx, dy);
      });
    }
  }
  return weights;
}

/** 1 for the border strip (certain background), 0 for the rest (unknown, first guessed foreground). */
function borderStrip(width: number, height: number, m: number): Uint8Array {
  const hard = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x < m || y < m || x >= width - m || y >= height - m) hard[y * width + x] = 1;
    }
  }
  return hard;
}

/**
 * The colour the background would have at each pixel if it were the smooth field spanned by the
 * border strips (cutout-border's idea): left/right strip means blended across each row, top/bottom
 * across each column. Exact for plain and linear-gradient backgrounds, where a colour mixture is weakest:
 * a gradient's colours near the object are a narrow band the foreground model can claim.
 */
function borderField(rgb: Uint8Array, width: number, height: number, strip: number): Float32Array {
  const mean = (x0: number, x1: number, y0: number, y1: number, c: number) => {
    let sum = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += rgb[3 * (y * width + x) + c]!;
    return sum / ((x1 - x0) * (y1 - y0));
  };
  const field = new Float32Array(3 * width * height);
  for (let c = 0; c < 3; c++) {
    const left = Array.from({ length: height }, (_, y) => mean(0, strip, y, y + 1, c));
    const right = Array.from({ length: height }, (_, y) => mean(width - strip, width, y, y + 1, c));
    const top = Array.from({ length: width }, (_, x) => mean(x, x + 1, 0, strip, c));
    const bottom = Array.from({ length: width }, (_, x) => mean(x, x + 1, height - strip, height, c));
    for (let y = 0; y < height; y++) {
      const v = height > 1 ? y / (height - 1) : 0;
      for (let x = 0; x < width; x++) {
        const u = width > 1 ? x / (width - 1) : 0;
        field[3 * (y * width + x) + c] = 0.5 * ((1 - u) * left[y]! + u * right[y]!) + 0.5 * ((1 - v) * top[x]! + v * bottom[x]!);
      }
    }
  }
  return field;
}

/** −log of the background density: the mixture model blended with a round Gaussian around the border field. */
function backgroundCost(rgb: Uint8Array, p: number, bg: ColourModel, field: Float32Array, weight: number, sigma: number): number {
  const gmm = bg.negLogLikelihood(rgb, p);
  if (weight <= 0) return gmm;
  const dr = rgb[3 * p]! - field[3 * p]!;
  const dg = rgb[3 * p + 1]! - field[3 * p + 1]!;
  const db = rgb[3 * p + 2]! - field[3 * p + 2]!;
  const fieldCost = (dr * dr + dg * dg + db * db) / (2 * sigma * sigma) + 1.5 * Math.log(2 * Math.PI * sigma * sigma);
  // −log((1 − w)·e^−gmm + w·e^−fieldCost), without underflow.
  const a = Math.log(1 - weight) - gmm;
  const b = Math.log(weight) - fieldCost;
  const top = Math.max(a, b);
  return -(top + Math.log(Math.exp(a - top) + Math.exp(b - top)));
}

function indices(labels: Uint8Array, value: number): Int32Array {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === value) n++;
  const out = new Int32Array(n);
  for (let i = 0, j = 0; i < labels.length; i++) if (labels[i] === value) out[j++] = i;
  return out;
}

interface CutInputs {
  hard: Uint8Array;
  /** Extra foreground cost per pixel (the centre prior). */
  prior: Float32Array;
  weights: Float64Array;
  field: Float32Array;
  lambda: number;
}

function cut(rgb: Uint8Array, width: number, height: number, inputs: CutInputs, fg: ColourModel, bg: ColourModel, p: GrabCutParams): Uint8Array {
  const { hard, weights, field, lambda, prior } = inputs;
  const n = width * height;
  const graph = new MaxFlowGraph(n, n * NEIGHBOURS.length);
  for (let i = 0; i < n; i++) {
    // The source is foreground: a pixel pays its background cost to leave it, and the reverse.
    if (hard[i]) graph.addTerminal(i, 0, lambda);
    else graph.addTerminal(i, backgroundCost(rgb, i, bg, field, p.fieldWeight, p.fieldSigma), fg.negLogLikelihood(rgb, i) + prior[i]!);
  }
  // weights[] is 0 past the image's edge, so every positive entry names a real neighbour.
  const offsets = NEIGHBOURS.map(([dx, dy]) => dy * width + dx);
  const k = NEIGHBOURS.length;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const w = weights[i * k + j]!;
      if (w > 0) graph.addEdge(i, i + offsets[j]!, w, w);
    }
  }
  graph.maxFlow();
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = !hard[i] && graph.isSourceSide(i) ? 1 : 0;
  return labels;
}

/**
 * GrabCut without a user: the border strip is certain background, everything inside it starts as
 * probable foreground; colour models of both are fitted, the graph is cut, the models are re-fitted
 * to the new split, and so on. Input interleaved RGB at grid size; output 1 = foreground, 0 = background.
 */
export function grabCut(rgb: Uint8Array, width: number, height: number, overrides: Partial<GrabCutParams> = {}): Uint8Array {
  const p = { ...GRABCUT_DEFAULTS, ...overrides };
  if (rgb.length !== width * height * 3) throw new Error(`expected ${width * height * 3} RGB bytes for ${width}×${height}, got ${rgb.length}`);
  const strip = Math.max(1, Math.round(p.margin * Math.max(width, height)));
  const initial = borderStrip(width, height, strip);
  const hard = p.softBottom ? initial.map((v, i) => (i >= (height - strip) * width ? 0 : v)) : initial;
  const prior = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (2 * x) / Math.max(1, width - 1) - 1;
      const dy = (2 * y) / Math.max(1, height - 1) - 1;
      prior[y * width + x] = (p.centrePrior * (dx * dx + dy * dy)) / 2;
    }
  }
  // Larger than any pixel's smoothness costs together, so the strip cannot be cut away.
  const inputs: CutInputs = { hard, prior, weights: pairWeights(rgb, width, height, p.gamma), field: borderField(rgb, width, height, strip), lambda: 9 * p.gamma };
  let labels: Uint8Array = Uint8Array.from(initial, (h) => 1 - h);
  const fg = new ColourModel();
  const bg = new ColourModel();
  let fgPixels = indices(labels, 1);
  let bgPixels = indices(labels, 0);
  if (fgPixels.length === 0) return labels;
  let fgComponents = kMeansLabels(rgb, fgPixels, COMPONENTS);
  let bgComponents = kMeansLabels(rgb, bgPixels, COMPONENTS);
  for (let round = 0; round < p.iterations; round++) {
    fg.fit(rgb, fgPixels, fgComponents);
    bg.fit(rgb, bgPixels, bgComponents);
    const next = cut(rgb, width, height, inputs, fg, bg, p);
    const changed = next.some((v, i) => v !== labels[i]);
    labels = next;
    fgPixels = indices(labels, 1);
    bgPixels = indices(labels, 0);
    // Nothing left to model, or a fixed point: further rounds would cut the same way.
    if (fgPixels.length === 0 || !changed) break;
    fgComponents = fg.assign(rgb, fgPixels);
    bgComponents = bg.assign(rgb, bgPixels);
  }
  return labels;
}
