import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, checkPngDataLength, scanlineSize } from '@cutout/shared';
import { pngBomb, zeroPng, type PngHeader } from '@cutout/shared/testing';
import { decodeImage } from './decode.js';

const MAX_PIXELS = 50_000_000;

/**
 * Bombs of every PNG form, each packed densely enough to pass the length check, so only a capped
 * inflate can refuse it: the JS path's (8-bit RGB/RGBA up to 256×256) and the count beside sharp.
 */
const FORMS: Array<{ name: string; header: PngHeader; mib: number }> = [
  { name: 'RGB 64×64 (JS path, main thread)', header: { width: 64, height: 64 }, mib: 14 },
  { name: 'RGB 256×256 (JS path, thread pool)', header: { width: 256, height: 256 }, mib: 200 },
  { name: 'RGB 2000×2000 (sharp)', header: { width: 2000, height: 2000 }, mib: 1024 },
  { name: 'RGB 2000×2000 interlaced (sharp)', header: { width: 2000, height: 2000, interlaced: true }, mib: 1024 },
  { name: 'palette 256×256 (sharp)', header: { width: 256, height: 256, colour: 3 }, mib: 60 },
  { name: 'grey 16-bit 256×256 (sharp)', header: { width: 256, height: 256, colour: 0, depth: 16 }, mib: 100 },
  { name: 'grey and alpha 300×200 (sharp)', header: { width: 300, height: 200, colour: 4 }, mib: 100 },
  { name: 'RGBA 256×256 interlaced (sharp)', header: { width: 256, height: 256, colour: 6, interlaced: true }, mib: 100 },
  { name: 'grey 1-bit 256×256 (sharp)', header: { width: 256, height: 256, colour: 0, depth: 1 }, mib: 8 },
];

function exactSize(header: PngHeader): number {
  return scanlineSize(header.width, header.height, header.depth ?? 8, header.colour ?? 2, header.interlaced ? 1 : 0)!.bytes;
}

test('a PNG of any form whose data inflates past its header is refused with 422 PNG_DATA_TOO_LARGE', async (t) => {
  for (const { name, header, mib } of FORMS) {
    const bomb = pngBomb(header, mib);
    assert.doesNotThrow(() => checkPngDataLength(bomb), `${name}: dense enough that only inflating can tell`);
    const started = performance.now();
    await assert.rejects(decodeImage(bomb, MAX_PIXELS), (error: unknown) => {
      assert.ok(error instanceof AppError, `${name}: ${String(error)}`);
      assert.deepEqual([error.status, error.code], [422, 'PNG_DATA_TOO_LARGE'], `${name}: ${error.message}`);
      assert.match(error.message, /re-export/);
      return true;
    });
    t.diagnostic(`${name}: ${bomb.length} bytes inflating to ${mib} MiB refused in ${Math.round(performance.now() - started)} ms`);
  }
});

test('honest PNGs of the same forms, their data exactly the size of their scanlines, decode', async () => {
  for (const { name, header } of FORMS) {
    const image = await decodeImage(zeroPng(header, exactSize(header)), MAX_PIXELS);
    assert.deepEqual([image.width, image.height, image.format], [header.width, header.height, 'png'], name);
    assert.equal(image.rgb.length, header.width * header.height * 3, name);
  }
});

test("the issue's file (1 MB inflating to 1 GiB in a 256×256 header) is refused before anything is inflated", async () => {
  const bomb = pngBomb({ width: 256, height: 256 }, 1024);
  assert.throws(() => checkPngDataLength(bomb), /header allows/);
  await assert.rejects(decodeImage(bomb, MAX_PIXELS), (error: unknown) => error instanceof AppError && error.code === 'PNG_DATA_TOO_LARGE');
});
