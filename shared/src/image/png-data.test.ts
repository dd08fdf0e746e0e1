import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, crc32, deflateRawSync, inflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { AppError } from '../errors.js';
import { pngBomb, pngWithData, type PngHeader } from '../testing/png-bomb.js';
import { checkPngDataLength, readPngData, scanlineSize } from './png-data.js';

/** Noise, so that nothing compresses: the worst case for an honest file's length. */
function noise(bytes: number, seed = 99): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = seed >> 23;
  }
  return out;
}

/** Every form sharp writes: grey, grey and alpha, RGB, RGBA, 16-bit, palettes of 1 to 8 bits, each also interlaced. */
function forms(width: number, height: number): Array<[string, () => Sharp]> {
  const rgba = () => sharp(noise(width * height * 4), { raw: { width, height, channels: 4 } });
  const rgb = () => rgba().removeAlpha();
  const base: Array<[string, (s: Sharp) => Sharp, () => Sharp]> = [
    ['RGB', (s) => s, rgb],
    ['RGBA', (s) => s, rgba],
    ['grey', (s) => s.toColourspace('b-w'), rgb],
    ['grey and alpha', (s) => s.toColourspace('b-w'), rgba],
    ['RGB 16-bit', (s) => s.toColourspace('rgb16'), rgb],
    ['grey 16-bit', (s) => s.toColourspace('grey16'), rgb],
  ];
  const out: Array<[string, () => Sharp]> = [];
  for (const progressive of [false, true]) {
    const tag = progressive ? ', interlaced' : '';
    for (const [name, convert, source] of base) out.push([name + tag, () => convert(source()).png({ progressive, compressionLevel: 0 })]);
    // libvips writes a palette of 2, 4 or 16 colours with 1, 2 or 4 bits an index.
    for (const bitdepth of [1, 2, 4, 8] as const) out.push([`palette ${bitdepth}-bit${tag}`, () => rgb().png({ progressive, palette: true, colours: 2 ** bitdepth })]);
  }
  return out;
}

function idatOf(png: Buffer): Buffer {
  return Buffer.concat(readPngData(png).idat);
}

test('scanlineSize is what real files of every form inflate to, interlaced or not, at odd sizes', async () => {
  const seen = new Set<string>();
  for (const [width, height] of [[1, 1], [2, 3], [7, 5], [33, 17], [64, 9]] as const) {
    for (const [name, make] of forms(width, height)) {
      const png = await make().toBuffer();
      const [depth, colour, interlace] = [png[24]!, png[25]!, png[28]!];
      seen.add(`${colour}/${depth}/${interlace}`);
      const size = scanlineSize(width, height, depth, colour, interlace);
      assert.ok(size, `${name} ${width}×${height}: a size`);
      assert.equal(size.bytes, inflateSync(idatOf(png)).length, `${name} ${width}×${height} (colour ${colour}, depth ${depth}, interlace ${interlace})`);
      assert.equal(readPngData(png).inflatedSize, size.bytes);
    }
  }
  // Guards the guard: the forms above really cover sub-byte, 8-bit and 16-bit rows, both layouts.
  for (const form of ['0/8/0', '0/16/1', '2/8/0', '2/16/1', '3/1/0', '3/2/1', '3/4/0', '4/8/1', '6/8/0']) assert.ok(seen.has(form), `covered ${form}: ${[...seen].join(' ')}`);
});

test('an IHDR no decoder accepts has no size, and no length is refused for it', () => {
  assert.equal(scanlineSize(8, 8, 8, 5, 0), null, 'colour type 5');
  assert.equal(scanlineSize(8, 8, 16, 3, 0), null, '16-bit palette');
  assert.equal(scanlineSize(8, 8, 8, 2, 2), null, 'interlace method 2');
  const odd = pngBomb({ width: 8, height: 8 }, 4);
  odd[25] = 5;
  assert.equal(checkPngDataLength(odd).compressedLimit, null);
});

/** A zlib stream of `lines`, each in its own stored block followed by a sync flush, as a streaming encoder may write. */
function storedLineByLine(lines: Buffer[]): Buffer {
  const all = Buffer.concat(lines);
  let a = 1;
  let b = 0;
  for (const byte of all) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((b << 16) | a) >>> 0);
  const blocks = lines.map((line) => deflateRawSync(line, { level: 0, finishFlush: constants.Z_SYNC_FLUSH }));
  return Buffer.concat([Buffer.from([0x78, 0x01]), ...blocks, Buffer.from([0x03, 0x00]), adler]);
}

test('honest files pass the length check even stored uncompressed, and a block and a flush for every scanline', async () => {
  for (const [width, height] of [[1, 1], [3, 200], [256, 256], [1000, 40]] as const) {
    for (const [name, make] of forms(width, height)) {
      const png = await make().toBuffer();
      const data = checkPngDataLength(png);
      assert.ok(data.idatBytes <= data.compressedLimit!, `${name} ${width}×${height}`);
    }
    // One grey pixel per line is where per-line overhead weighs most against the data.
    for (const header of [{ width, height, colour: 2 }, { width, height, colour: 0, depth: 1 }] as PngHeader[]) {
      const size = scanlineSize(width, height, header.depth ?? 8, header.colour!, 0)!;
      const line = size.bytes / height;
      const lines = Array.from({ length: height }, (_, y) => Buffer.concat([Buffer.from([0]), noise(line - 1, y + 1)]));
      const png = pngWithData(header, storedLineByLine(lines));
      assert.equal(inflateSync(idatOf(png)).length, size.bytes, 'the hand-made stream is what it claims');
      assert.doesNotThrow(() => checkPngDataLength(png), `a stored block and flush per line, ${JSON.stringify(header)}`);
    }
  }
});

test("the issue's file is refused: a 256×256 header whose 1 MB of data inflates to 1 GiB", () => {
  const bomb = pngBomb({ width: 256, height: 256 }, 1024);
  assert.ok(bomb.length > 1_000_000 && bomb.length < 1_100_000, `${bomb.length} bytes`);
  assert.throws(
    () => checkPngDataLength(bomb),
    (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.status, 422);
      assert.equal(error.code, 'PNG_DATA_TOO_LARGE');
      assert.match(error.message, /256×256/);
      assert.match(error.message, /re-export/);
      return true;
    },
  );
  // Encoders split the data over many IDAT chunks: they count together.
  const split = splitIdat(bomb, 8192);
  assert.equal(readPngData(split).idat.length, Math.ceil(readPngData(bomb).idatBytes / 8192));
  assert.equal(readPngData(split).idatBytes, readPngData(bomb).idatBytes);
  assert.throws(() => checkPngDataLength(split), /PNG_DATA_TOO_LARGE|header allows/);
});

/** The same PNG with its (one) IDAT chunk cut into chunks of `size` bytes. */
function splitIdat(png: Buffer, size: number): Buffer {
  const data = idatOf(png);
  const at = png.indexOf('IDAT') - 4;
  const chunks: Buffer[] = [];
  for (let from = 0; from < data.length; from += size) {
    const body = data.subarray(from, from + size);
    const chunk = Buffer.alloc(12 + body.length);
    chunk.writeUInt32BE(body.length, 0);
    chunk.write('IDAT', 4, 'latin1');
    body.copy(chunk, 8);
    chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + body.length)) >>> 0, 8 + body.length);
    chunks.push(chunk);
  }
  return Buffer.concat([png.subarray(0, at), ...chunks, png.subarray(at + 12 + data.length)]);
}

test('a bomb packed within what its header could need passes the length check: only inflating can catch it', () => {
  const dense = pngBomb({ width: 256, height: 256 }, 200);
  const data = checkPngDataLength(dense);
  assert.ok(data.idatBytes <= data.compressedLimit!, `${data.idatBytes} of at most ${data.compressedLimit}`);
  assert.equal(data.inflatedSize, 256 * (256 * 3 + 1));
});
