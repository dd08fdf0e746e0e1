import { constants, crc32, deflateRawSync, deflateSync } from 'node:zlib';

/**
 * PNGs whose IDAT data inflates to far more than their header allows (decompression bombs), built
 * without ever holding the inflated bytes: a test can make a 1 GiB bomb in a few milliseconds.
 */

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MIB = 1024 * 1024;
/** zlib's largest window: a raw segment made with this much zero history refers only to zeros. */
const WINDOW = 32 * 1024;

export interface PngHeader {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey and alpha, 6 RGBA. Default 2. */
  colour?: 0 | 2 | 3 | 4 | 6;
  /** Default 8. */
  depth?: 1 | 2 | 4 | 8 | 16;
  /** Adam7 when true. */
  interlaced?: boolean;
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)) >>> 0, 8 + body.length);
  return out;
}

/** A PNG with this header whose one IDAT chunk holds `zlibData` as it is. */
export function pngWithData(header: PngHeader, zlibData: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(header.width, 0);
  ihdr.writeUInt32BE(header.height, 4);
  ihdr[8] = header.depth ?? 8;
  ihdr[9] = header.colour ?? 2;
  ihdr[12] = header.interlaced ? 1 : 0;
  // A palette image needs its palette before the data; one black entry fits index 0.
  const palette = header.colour === 3 ? [chunk('PLTE', Buffer.alloc(3))] : [];
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...palette, chunk('IDAT', zlibData), chunk('IEND', Buffer.alloc(0))]);
}

let segments: { first: Buffer; next: Buffer } | undefined;

/**
 * A zlib stream of `mib` MiB of zero bytes, about 1 KiB per MiB. Deflate blocks can be joined at a
 * byte boundary (a sync flush ends on one), and a MiB of zeros compressed after zeros refers only
 * to zeros, so one such segment repeated stands for any number of MiB; the Adler-32 of n zeros is
 * 1 + (n mod 65521) × 65536.
 */
export function zerosZlib(mib: number): Buffer {
  const zeros = Buffer.alloc(MIB);
  segments ??= {
    first: deflateRawSync(zeros, { level: 9, finishFlush: constants.Z_SYNC_FLUSH }),
    next: deflateRawSync(zeros, { level: 9, dictionary: Buffer.alloc(WINDOW), finishFlush: constants.Z_SYNC_FLUSH }),
  };
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((((mib * MIB) % 65521) * 65536) + 1) >>> 0);
  const parts = [Buffer.from([0x78, 0xda]), segments.first];
  for (let i = 1; i < mib; i++) parts.push(segments.next);
  // A final fixed-Huffman block holding only its end code: bits 1, 01, 0000000.
  parts.push(Buffer.from([0x03, 0x00]), adler);
  return Buffer.concat(parts);
}

/** A PNG with this header whose data inflates to `mib` MiB of zeros (valid scanlines, far too many). */
export function pngBomb(header: PngHeader, mib: number): Buffer {
  return pngWithData(header, zerosZlib(mib));
}

/** An honest PNG with this header: zero pixels, exactly the scanlines it needs (`bytes` of them, see scanlineSize). */
export function zeroPng(header: PngHeader, bytes: number, level = 6): Buffer {
  return pngWithData(header, deflateSync(Buffer.alloc(bytes), { level }));
}
