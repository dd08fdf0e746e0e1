import { crc32 } from 'node:zlib';

/** Broken and lying variants of real image files, for bad-input tests. */

/** A copy of a PNG whose IHDR declares another size (CRC fixed, so only the size is a lie). */
export function withDeclaredSize(source: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(source);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

/** Offset of a JPEG's first marker segment that `wanted` accepts (the 0xFF byte). */
export function jpegSegmentOffset(jpeg: Buffer, wanted: (marker: number) => boolean): number {
  let offset = 2;
  while (offset + 4 <= jpeg.length) {
    const marker = jpeg[offset + 1]!;
    if (jpeg[offset] === 0xff && wanted(marker)) return offset;
    offset += 2 + jpeg.readUInt16BE(offset + 2);
  }
  throw new Error('no such JPEG segment');
}

const isStartOfFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** A copy of a JPEG whose frame header declares another size. */
export function jpegWithDeclaredSize(source: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(source);
  const sof = jpegSegmentOffset(out, isStartOfFrame);
  out.writeUInt16BE(height, sof + 5);
  out.writeUInt16BE(width, sof + 7);
  return out;
}

/** A copy of an extended (VP8X) WebP whose canvas declares another size. */
export function webpWithDeclaredCanvas(source: Buffer, width: number, height: number): Buffer {
  if (source.toString('latin1', 12, 16) !== 'VP8X') throw new Error('not an extended (VP8X) WebP; make one with an alpha channel');
  const out = Buffer.from(source);
  out.writeUIntLE(width - 1, 24, 3);
  out.writeUIntLE(height - 1, 27, 3);
  return out;
}

/** A PNG whose chunk chain is intact but whose first IDAT bytes are garbage: only a decoder notices. */
export function pngWithCorruptPixels(source: Buffer): Buffer {
  const out = Buffer.from(source);
  const idat = out.indexOf('IDAT');
  out.fill(0x5a, idat + 4, idat + 4 + Math.min(40, out.readUInt32BE(idat - 4)));
  return out;
}
