import { ELEMENT_TYPE, encodeModel, floatTensor, floatValueInfo, int64Tensor, node, uint8ValueInfo } from '../onnx-graph.js';

/**
 * The full-size half of cutout-graphcut: an ONNX graph, so no JavaScript touches every pixel of a
 * large photo. Inputs: `rgb` uint8 [1, H, W, 3], the decoded photo as is; `coefficients` float32
 * [1, 4, h, w], the guided filter's a_r, a_g, a_b and b on the small grid (guided-filter.ts).
 * Output: `alpha` uint8 [1, 1, H, W] = round(255 · clip(Σ_c a_c·rgb_c/255 + b, 0, 1)), with a and b
 * upsampled bilinearly to H×W.
 */
export function buildUpscaleModel(): Uint8Array {
  const initializers = [
    floatTensor('inv255', [], [1 / 255]),
    floatTensor('zero', [], [0]),
    floatTensor('one', [], [1]),
    floatTensor('scale255', [], [255]),
    floatTensor('half', [], [0.5]),
    int64Tensor('batch_and_planes', [1, 4]),
    int64Tensor('hw_start', [2]),
    int64Tensor('hw_end', [4]),
    int64Tensor('axis_zero', [0]),
    int64Tensor('plane_a_start', [0]),
    int64Tensor('plane_a_end', [3]),
    int64Tensor('plane_b_end', [4]),
    int64Tensor('axis_planes', [1]),
  ];
  const nodes = [
    node('Cast', ['rgb'], 'rgb_float', { to: ELEMENT_TYPE.float }),
    node('Mul', ['rgb_float', 'inv255'], 'rgb_unit'),
    node('Transpose', ['rgb_unit'], 'guide', { perm: [0, 3, 1, 2] }),
    // Target size [1, 4, H, W] from the photo itself.
    node('Shape', ['guide'], 'guide_shape'),
    node('Slice', ['guide_shape', 'hw_start', 'hw_end', 'axis_zero'], 'guide_hw'),
    node('Concat', ['batch_and_planes', 'guide_hw'], 'target_size', { axis: 0 }),
    node('Resize', ['coefficients', '', '', 'target_size'], 'coefficients_full', { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }),
    node('Slice', ['coefficients_full', 'plane_a_start', 'plane_a_end', 'axis_planes'], 'weights'),
    node('Slice', ['coefficients_full', 'plane_a_end', 'plane_b_end', 'axis_planes'], 'offset'),
    node('Mul', ['weights', 'guide'], 'weighted'),
    node('ReduceSum', ['weighted', 'axis_planes'], 'weighted_sum', { keepdims: 1 }),
    node('Add', ['weighted_sum', 'offset'], 'mask'),
    node('Clip', ['mask', 'zero', 'one'], 'mask_unit'),
    node('Mul', ['mask_unit', 'scale255'], 'mask_levels'),
    // Cast truncates; adding ½ first makes it round (values are ≥ 0 here).
    node('Add', ['mask_levels', 'half'], 'mask_rounding'),
    node('Cast', ['mask_rounding'], 'alpha', { to: ELEMENT_TYPE.uint8 }),
  ];
  return encodeModel({
    graphName: 'cutout_graphcut_upscale',
    docString: 'cutout-graphcut full-size stage: bilinear upsampling of guided-filter coefficients, alpha = round(255·clip(a·rgb/255 + b)).',
    nodes,
    initializers,
    inputs: [uint8ValueInfo('rgb', [1, 'height', 'width', 3]), floatValueInfo('coefficients', [1, 4, 'grid_height', 'grid_width'])],
    outputs: [uint8ValueInfo('alpha', [1, 1, 'height', 'width'])],
    opset: 17,
  });
}
