/**
 * The full-size half of cutout-graphcut in bands of rows: the same arithmetic as the upscale graph
 * (upscale-model.ts): the guided filter's a_r, a_g, a_b and b spread bilinearly from the grid to the
 * photo (half-pixel centres, edges clamped, as ONNX Resize does), then
 * alpha = round(255 · clip(Σ_c a_c·rgb_c/255 + b, 0, 1)).
 *
 * Why not the graph for every photo: onnxruntime materialises each step at full size in float32 (the
 * cast photo, its transpose, four upsampled planes, their products: about 130 bytes a pixel), which is
 * 3.3 GB for a 24-megapixel photo. Here only one row of coefficients (4 × the grid's width) exists
 * at a time besides the photo and the alpha itself.
 */

/** For each output position along one axis: the two grid cells it lies between and the weight of the second. */
interface AxisTaps {
  low: Int32Array;
  high: Int32Array;
  weight: Float32Array;
}

/** ONNX Resize's `linear` + `half_pixel` source coordinate for each of `out` positions over `size` cells. */
function axisTaps(out: number, size: number): AxisTaps {
  const low = new Int32Array(out);
  const high = new Int32Array(out);
  const weight = new Float32Array(out);
  const scale = out / size;
  for (let i = 0; i < out; i++) {
    const source = Math.min(Math.max((i + 0.5) / scale - 0.5, 0), size - 1);
    const l = Math.floor(source);
    low[i] = l;
    high[i] = Math.min(l + 1, size - 1);
    weight[i] = source - l;
  }
  return { low, high, weight };
}

/** Pixels per band: about 10 ms of work, so a large photo never holds predict's event loop for long. */
const BAND_PIXELS = 1 << 19;

/**
 * `rgb`: the photo, interleaved 8-bit, `width`×`height`; `coefficients`: Float32Array [4, gridHeight,
 * gridWidth] (guidedCoefficients). Resolves to the alpha, one byte a pixel, the same bytes the
 * upscale graph gives; yields to the event loop between bands of rows.
 */
export async function applyCoefficients(rgb: Uint8Array, width: number, height: number, coefficients: Float32Array, gridWidth: number, gridHeight: number): Promise<Uint8Array> {
  const plane = gridWidth * gridHeight;
  if (coefficients.length !== 4 * plane) throw new Error(`expected ${4 * plane} coefficients for a ${gridWidth}×${gridHeight} grid, got ${coefficients.length}`);
  if (rgb.length !== 3 * width * height) throw new Error(`expected ${3 * width * height} RGB bytes for ${width}×${height}, got ${rgb.length}`);
  const alpha = new Uint8Array(width * height);
  const columns = axisTaps(width, gridWidth);
  const rows = axisTaps(height, gridHeight);
  const band = Math.max(1, Math.floor(BAND_PIXELS / width));
  for (let y0 = 0; y0 < height; y0 += band) {
    if (y0 > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    applyRows(rgb, width, coefficients, gridWidth, plane, columns, rows, alpha, y0, Math.min(height, y0 + band));
  }
  return alpha;
}

function applyRows(rgb: Uint8Array, width: number, coefficients: Float32Array, gridWidth: number, plane: number, columns: AxisTaps, rows: AxisTaps, alpha: Uint8Array, from: number, to: number): void {
  const { low: x0, high: x1, weight: wx } = columns;
  // One grid row of each plane, already blended between the two grid rows around the output row.
  const row = new Float32Array(4 * gridWidth);
  const inv255 = 1 / 255;
  for (let y = from; y < to; y++) {
    const top = rows.low[y]! * gridWidth;
    const bottom = rows.high[y]! * gridWidth;
    const wy = rows.weight[y]!;
    for (let k = 0; k < 4; k++) {
      const base = k * plane;
      const at = k * gridWidth;
      for (let gx = 0; gx < gridWidth; gx++) {
        const a = coefficients[base + top + gx]!;
        row[at + gx] = a + (coefficients[base + bottom + gx]! - a) * wy;
      }
    }
    let p = y * width;
    let q = 3 * p;
    for (let x = 0; x < width; x++, p++, q += 3) {
      const l = x0[x]!;
      const h = x1[x]!;
      const w = wx[x]!;
      const ar = row[l]! + (row[h]! - row[l]!) * w;
      const ag = row[gridWidth + l]! + (row[gridWidth + h]! - row[gridWidth + l]!) * w;
      const ab = row[2 * gridWidth + l]! + (row[2 * gridWidth + h]! - row[2 * gridWidth + l]!) * w;
      const b = row[3 * gridWidth + l]! + (row[3 * gridWidth + h]! - row[3 * gridWidth + l]!) * w;
      const v = (ar * rgb[q]! + ag * rgb[q + 1]! + ab * rgb[q + 2]!) * inv255 + b;
      // Clipped to 0..1, then rounded half up, as the graph's Clip, +½ and Cast do.
      alpha[p] = v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0;
    }
  }
}
