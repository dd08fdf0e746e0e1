/**
 * Test-only: an independent, plainly written Pillow LANCZOS resize, to check the tensor presets feed
 * without trusting pipeline/pil-resize.ts.
 */

const ONE = 4194304; // 2^22: Pillow's fixed-point precision for 8-bit images
const lanczos = (x: number) => (x === 0 ? 1 : Math.abs(x) >= 3 ? 0 : (3 * Math.sin(Math.PI * x) * Math.sin((Math.PI * x) / 3)) / (Math.PI * Math.PI * x * x));

/** Per output index: the first input index and the fixed-point weights from there on. */
function axis(inSize: number, outSize: number): { lo: number; weights: number[] }[] {
  const scale = inSize / outSize;
  const fs = Math.max(scale, 1);
  const out: { lo: number; weights: number[] }[] = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - 3 * fs + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + 3 * fs + 0.5), inSize);
    const raw: number[] = [];
    for (let k = lo; k < hi; k++) raw.push(lanczos((k - centre + 0.5) / fs));
    const total = raw.reduce((a, b) => a + b, 0);
    out.push({ lo, weights: raw.map((v) => Math.trunc((v / total) * ONE + (v < 0 ? -0.5 : 0.5))) });
  }
  return out;
}

const to8 = (sum: number) => Math.min(255, Math.max(0, Math.floor(sum / ONE)));

/**
 * Pillow's Image.resize(size, LANCZOS) on 8-bit pixels, written out from Pillow's Resample.c for
 * tests: per axis, a Lanczos-3 window widened by the shrink factor and centred on (i + ½)·scale,
 * weights normalised and rounded to 22-bit fixed point; a horizontal pass to 8 bits, then vertical.
 */
export function pillowResize(src: ArrayLike<number>, w: number, h: number, ch: number, W: number, H: number): Uint8Array {
  let current = Uint8Array.from(src);
  if (W !== w) {
    const taps = axis(w, W);
    const next = new Uint8Array(W * h * ch);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < W; x++) {
        const { lo, weights } = taps[x]!;
        for (let c = 0; c < ch; c++) {
          let sum = ONE / 2;
          for (let k = 0; k < weights.length; k++) sum += weights[k]! * current[(y * w + lo + k) * ch + c]!;
          next[(y * W + x) * ch + c] = to8(sum);
        }
      }
    }
    current = next;
  }
  if (H !== h) {
    const taps = axis(h, H);
    const next = new Uint8Array(W * H * ch);
    for (let y = 0; y < H; y++) {
      const { lo, weights } = taps[y]!;
      for (let i = 0; i < W * ch; i++) {
        let sum = ONE / 2;
        for (let k = 0; k < weights.length; k++) sum += weights[k]! * current[(lo + k) * W * ch + i]!;
        next[y * W * ch + i] = to8(sum);
      }
    }
    current = next;
  }
  return current;
}
