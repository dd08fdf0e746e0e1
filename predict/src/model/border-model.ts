import { encodeModel, floatTensor, floatValueInfo, int64Tensor, node } from './onnx-graph.js';

/**
 * The knobs of the border model. The defaults make the committed predict/models/cutout-border.onnx;
 * tests build variants with other values.
 */
export interface BorderModelParams {
  /** Input height and width. */
  size: number;
  /** Width in pixels of the border strips the background colour is read from. */
  strip: number;
  /** Colour distance (RGB in 0..1, so 0..√3) at which the mask crosses one half. */
  threshold: number;
  /** Steepness of the sigmoid around the threshold. */
  gain: number;
}

export const BORDER_MODEL_DEFAULTS: Readonly<BorderModelParams> = Object.freeze({ size: 320, strip: 4, threshold: 0.15, gain: 60 });

/** 5×5 binomial blur: a Gaussian stand-in whose weights (k/256) are exact in float32, so the file is reproducible. */
function binomialKernel(): number[] {
  const row = [1, 4, 6, 4, 1];
  return row.flatMap((a) => row.map((b) => (a * b) / 256));
}

/**
 * Per-position weights for blending the two opposite strips. The strips' means sit at their centres
 * (strip−1)/2 and size−1−(strip−1)/2, so t runs 0→1 between those centres; that makes the blend exact
 * for plain and linear-gradient backgrounds. The ½ averages the left/right and top/bottom estimates.
 */
function blendWeights(size: number, strip: number): { near: number[]; far: number[] } {
  const centre = (strip - 1) / 2;
  const span = size - strip;
  const t = Array.from({ length: size }, (_, i) => (i - centre) / span);
  return { near: t.map((x) => (1 - x) / 2), far: t.map((x) => x / 2) };
}

/**
 * A background-removal graph that needs no training: it takes the background to be the colour field
 * spanned by the image's four border strips, and calls a pixel foreground when its colour is far
 * from that field. Input `input` float32 [batch,3,S,S] RGB in 0..1; output `mask` float32 [batch,1,S,S] in 0..1.
 */
export function buildBorderModel(overrides: Partial<BorderModelParams> = {}): Uint8Array {
  const p = { ...BORDER_MODEL_DEFAULTS, ...overrides };
  const { size: s, strip: k } = p;
  if (!Number.isInteger(s) || !Number.isInteger(k) || k < 1 || 2 * k > s) throw new Error(`bad border model size ${s} / strip ${k}`);
  const w = blendWeights(s, k);
  const initializers = [
    int64Tensor('first_start', [0]),
    int64Tensor('first_end', [k]),
    int64Tensor('last_start', [s - k]),
    int64Tensor('last_end', [s]),
    int64Tensor('axis_rows', [2]),
    int64Tensor('axis_columns', [3]),
    int64Tensor('axis_channels', [1]),
    floatTensor('weight_left', [1, 1, 1, s], w.near),
    floatTensor('weight_right', [1, 1, 1, s], w.far),
    floatTensor('weight_top', [1, 1, s, 1], w.near),
    floatTensor('weight_bottom', [1, 1, s, 1], w.far),
    floatTensor('blur', [1, 1, 5, 5], binomialKernel()),
    floatTensor('threshold', [], [p.threshold]),
    floatTensor('gain', [], [p.gain]),
  ];
  const strip = (name: string, start: string, end: string, axis: 'rows' | 'columns') => [
    node('Slice', ['input', start, end, `axis_${axis}`], `${name}_strip`),
    node('ReduceMean', [`${name}_strip`], name, { axes: [axis === 'rows' ? 2 : 3], keepdims: 1 }),
  ];
  const nodes = [
    // Colour per row along the left and right edges ([N,3,S,1]); per column along the top and bottom ([N,3,1,S]).
    ...strip('left', 'first_start', 'first_end', 'columns'),
    ...strip('right', 'last_start', 'last_end', 'columns'),
    ...strip('top', 'first_start', 'first_end', 'rows'),
    ...strip('bottom', 'last_start', 'last_end', 'rows'),
    // Broadcasting spreads each edge estimate over the whole image.
    node('Mul', ['left', 'weight_left'], 'left_part'),
    node('Mul', ['right', 'weight_right'], 'right_part'),
    node('Mul', ['top', 'weight_top'], 'top_part'),
    node('Mul', ['bottom', 'weight_bottom'], 'bottom_part'),
    node('Add', ['left_part', 'right_part'], 'across'),
    node('Add', ['top_part', 'bottom_part'], 'down'),
    node('Add', ['across', 'down'], 'background'),
    node('Sub', ['input', 'background'], 'difference'),
    node('Mul', ['difference', 'difference'], 'squared'),
    node('ReduceSum', ['squared', 'axis_channels'], 'distance_squared', { keepdims: 1 }),
    node('Sqrt', ['distance_squared'], 'distance'),
    // Blurring first keeps lone noisy pixels from flipping and softens the edge a little.
    node('Conv', ['distance', 'blur'], 'smooth', { pads: [2, 2, 2, 2] }),
    node('Sub', ['smooth', 'threshold'], 'above'),
    node('Mul', ['above', 'gain'], 'logit'),
    node('Sigmoid', ['logit'], 'mask'),
  ];
  return encodeModel({
    graphName: 'cutout_border',
    docString: `cutout border model: background = border strips (${k} px) blended across the image; mask = sigmoid(${p.gain}·(blur(|rgb − background|) − ${p.threshold})). Input RGB/255.`,
    nodes,
    initializers,
    inputs: [floatValueInfo('input', ['batch', 3, s, s])],
    outputs: [floatValueInfo('mask', ['batch', 1, s, s])],
    opset: 17,
  });
}
