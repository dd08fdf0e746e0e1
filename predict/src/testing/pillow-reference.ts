/**
 * Test-only: an independent, plainly written Pillow LANCZOS resize, to check the tensor presets feed
 * without trusting pipeline/pil-resize.ts.
 */

/**
 * Pillow's Image.resize(size, LANCZOS) on 8-bit pixels, written out from Pillow's Resample.c for
 * this test: per axis, a Lanczos-3 window widened by the shrink factor and centred on (i + ½)·scale,
 * weights normalised and rounded to 22-bit fixed point; horizontal pass to 8 bits, then vertical.
 */
export function pillowResize(src: ArrayLike<number>, w: number, h: number, ch: number, W: number, H: number): Uint8Array {
  const lanczos = (x: number) => (x === 0 ? 1 : Math.abs(x) >= 3 ? 0 : (3 * Math.sin(Math.PI * x) * Math.sin((Math.PI * x) / 3)) / (Math.PI * Math.PI * x * x));
  const axis = (inSize: number, outSize: number) =>
    Array.from({ length: outSize }, (_, i) => {
      const scale = inSize / outSize;
      const fs = Math.max(scale, 1);
      const centre = (i + 0.5) * scale;
      const lo = Math.max(Math.trunc(centre - 3 * fs + 0.5), 0);
      const hi = Math.min(Math.trunc(centre + 3 * fs + 0.5), inSize);
      const raw = Array.from({ length: hi - lo }, (_, k) => lanczos((k + lo - centre + 0.5) / fs));
      const total = raw.reduce((a, b) => a + b, 0);
      return { lo, weights: raw.map((v) => Math.trunc((v / total) * 4194304 + (v < 0 ? -0.5 : 0.5))) };
    });
  const pass = (input: ArrayLike<number>, outer: number, inner: number, map: ReturnType<typeof axis>, along: 'x' | 'y', inW: number) => {
    const outW = along === 'x' ? map.length : inW;
    const out = new Uint8Array(outW * (along === 'x' ? outer : map.length) * ch);
    map.forEach(({ lo, weights }, i) => {
      for (let j = 0; j < (along === 'x' ? outer : inner); j++) {
        for (let c = 0; c < ch; c++) {
          let sum = 2097152;
          weights.forEach((wt, k) => (sum += wt * input[along === 'x' ? (j * inW + lo + k) * ch + c : ((lo + k) * inW + j) * ch + c]!));
          out[along === 'x' ? (j * outW + i) * ch + c : (i * outW + j) * ch + c] = Math.min(255, Math.max(0, Math.floor(sum / 4194304)));
        }
      }
    });
    return out;
  };
  const across = W === w ? Uint8Array.from(src) : pass(src, h, 0, axis(w, W), 'x', w);
  return H === h ? across : pass(across, 0, W, axis(h, H), 'y', W);
}

