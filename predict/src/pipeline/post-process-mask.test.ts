import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postProcessMask, postProcessMaskSync } from './post-process-mask.js';

/**
 * rembg's post_process written out the long way, for comparison: opening with OpenCV's 3×3 ellipse
 * (the plus-shaped cross, out-of-image pixels ignored), the full 2-D 5×5 Gaussian (σ = 2) with
 * reflect-101 borders, rounding to 8 bits, threshold at 127.
 */
function reference(mask: Uint8Array, w: number, h: number): Uint8Array {
  const at = (m: Uint8Array, x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? undefined : m[y * w + x]!);
  const morph = (m: Uint8Array, f: (...v: number[]) => number) =>
    Uint8Array.from({ length: w * h }, (_, p) => {
      const x = p % w;
      const y = Math.floor(p / w);
      const values = [at(m, x, y), at(m, x - 1, y), at(m, x + 1, y), at(m, x, y - 1), at(m, x, y + 1)].filter((v): v is number => v !== undefined);
      return f(...values);
    });
  const opened = morph(morph(mask, Math.min), Math.max);
  const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const g = [-2, -1, 0, 1, 2].map((i) => Math.exp(-(i * i) / 8));
  const total = g.reduce((a, b) => a + b) ** 2;
  return Uint8Array.from({ length: w * h }, (_, p) => {
    const x = p % w;
    const y = Math.floor(p / w);
    let sum = 0;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) sum += g[dx + 2]! * g[dy + 2]! * opened[reflect(y + dy, h) * w + reflect(x + dx, w)]!;
    return Math.round(sum / total) < 127 ? 0 : 255;
  });
}

function drawn(w: number, h: number, paint: (x: number, y: number) => number): Uint8Array {
  return Uint8Array.from({ length: w * h }, (_, p) => paint(p % w, Math.floor(p / w)));
}

test('specks and one-pixel lines go, a solid shape stays, every value is 0 or 255', () => {
  const w = 40;
  const h = 30;
  const mask = drawn(w, h, (x, y) => {
    if (x === 3 && y === 3) return 255; // a speck
    if (y === 25 && x > 2 && x < 37) return 255; // a hairline
    if (x >= 12 && x < 28 && y >= 6 && y < 20) return 200; // a solid square, not fully opaque
    return 0;
  });
  const out = postProcessMaskSync(mask, w, h);
  assert.ok(out.every((v) => v === 0 || v === 255));
  assert.equal(out[3 * w + 3], 0, 'speck removed');
  assert.ok(out.subarray(25 * w, 26 * w).every((v) => v === 0), 'hairline removed');
  assert.equal(out[13 * w + 20], 255, 'square kept and made opaque');
  assert.equal(out[13 * w + 5], 0);
});

test('the same as the long-hand reference on a noisy soft mask, edges included', () => {
  const w = 23;
  const h = 17;
  let seed = 3;
  const noise = () => ((seed = (seed * 16807) % 2147483647) % 256);
  const mask = drawn(w, h, (x, y) => {
    const d = Math.hypot(x - 11, y - 8);
    return d < 6 ? 255 : d < 8 ? Math.round(255 * (8 - d) / 2) : noise() > 230 ? 255 : 0;
  });
  const out = postProcessMaskSync(mask, w, h);
  const expected = reference(mask, w, h);
  const differing = out.reduce((n, v, i) => n + (v !== expected[i] ? 1 : 0), 0);
  assert.equal(differing, 0);
  assert.ok(out.some((v) => v === 255) && out.some((v) => v === 0));
});

test('a mask of the wrong size is an error; the async form gives the same bytes as a Buffer', async () => {
  assert.throws(() => postProcessMaskSync(new Uint8Array(5), 2, 2), /expected a 2×2 mask/);
  const mask = drawn(8, 8, (x, y) => (x > 1 && x < 6 && y > 1 && y < 6 ? 255 : 0));
  const asBuffer = await postProcessMask(mask, 8, 8);
  assert.ok(Buffer.isBuffer(asBuffer));
  assert.deepEqual([...asBuffer], [...postProcessMaskSync(mask, 8, 8)]);
});
