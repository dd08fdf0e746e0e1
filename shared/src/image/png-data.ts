import { AppError } from '../errors.js';

/**
 * What a PNG's header allows its pixel data to be, read without inflating anything. The IDAT
 * chunks hold one zlib stream of filtered scanlines whose size the IHDR fixes exactly; a stream
 * that inflates past it (a decompression bomb: 1 MB of IDAT can inflate to 1 GiB) is refused.
 */

/** Samples per pixel by colour type: 0 grey, 2 RGB, 3 palette index, 4 grey and alpha, 6 RGBA. */
const SAMPLES: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** The bit depths the PNG specification allows for each colour type. */
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7's seven passes: first column, first row, column step, row step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export interface PngData {
  readonly width: number;
  readonly height: number;
  /**
   * What the IDAT stream must inflate to: every scanline (of every Adam7 pass when interlaced),
   * each led by its filter byte. Null when the IHDR's colour type, bit depth or interlace method
   * is not one the specification allows (every decoder refuses such a file).
   */
  readonly inflatedSize: number | null;
  /** The most that inflated size can take compressed (maxCompressedSize); null with inflatedSize. */
  readonly compressedLimit: number | null;
  /** The IDAT chunks' data in file order, views into the file: together one zlib stream. */
  readonly idat: readonly Buffer[];
  /** Their total length. */
  readonly idatBytes: number;
  /** True when the walk reached IEND; else `stoppedAt` is where the chunks stop (the file is cut short). */
  readonly complete: boolean;
  readonly stoppedAt: number;
}

/** Bytes of one scanline's samples, `width` pixels of `bits` each, rounded up to whole bytes. */
function lineBytes(width: number, bits: number): number {
  return Math.ceil((width * bits) / 8);
}

/** The scanlines' total size (filter bytes included) and how many there are, or null for an IHDR no decoder accepts. */
export function scanlineSize(width: number, height: number, depth: number, colour: number, interlace: number): { bytes: number; rows: number } | null {
  const samples = SAMPLES[colour];
  if (samples === undefined || !DEPTHS[colour]!.includes(depth) || (interlace !== 0 && interlace !== 1)) return null;
  const bits = samples * depth;
  if (interlace === 0) return { bytes: height * (lineBytes(width, bits) + 1), rows: height };
  let bytes = 0;
  let rows = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    // A pass with no pixel in it (a narrow or short image) has no scanlines, not even filter bytes.
    const passWidth = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const passHeight = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (passWidth === 0 || passHeight === 0) continue;
    bytes += passHeight * (lineBytes(passWidth, bits) + 1);
    rows += passHeight;
  }
  return { bytes, rows };
}

/**
 * The most `bytes` of scanlines can take once deflated by any encoder that is not hostile, with a
 * wide margin: a literal never costs more than 9 bits (fixed Huffman codes), so an eighth more;
 * 8 bytes a scanline for a stored block or a flush after each one (streaming encoders do that); and
 * 1 KiB for the zlib wrapper and block headers. zlib's own worst case (stored blocks) is far less:
 * 5 bytes per 64 KiB.
 */
export function maxCompressedSize(bytes: number, rows: number): number {
  return bytes + Math.ceil(bytes / 8) + 8 * rows + 1024;
}

/**
 * The IHDR's size and the IDAT chunks of a PNG whose header readImageHeader accepted. Walks the
 * chunks by their lengths without checking CRCs or inflating; a chunk cut short ends the walk
 * (the decoder reports the damage).
 */
export function readPngData(bytes: Buffer): PngData {
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const size = bytes.length >= 29 ? scanlineSize(width, height, bytes[24]!, bytes[25]!, bytes[28]!) : null;
  const idat: Buffer[] = [];
  let idatBytes = 0;
  let complete = false;
  let at = 8;
  // An IEND chunk header is 8 bytes; its CRC is not needed to know the file reached it.
  while (at + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const end = at + 12 + length;
    if (end > bytes.length) break;
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (type === 'IEND') {
      complete = true;
      break;
    }
    if (type === 'IDAT' && length > 0) {
      idat.push(bytes.subarray(at + 8, at + 8 + length));
      idatBytes += length;
    }
    at = end;
  }
  return {
    complete,
    stoppedAt: Math.min(at, bytes.length),
    width,
    height,
    inflatedSize: size && size.bytes,
    compressedLimit: size && maxCompressedSize(size.bytes, size.rows),
    idat,
    idatBytes,
  };
}

/** 422 PNG_DATA_TOO_LARGE: the IDAT data holds more than the header's size; `detail` says how we know. */
export function pngDataTooLarge(width: number, height: number, detail: string): AppError {
  return new AppError(
    422,
    'PNG_DATA_TOO_LARGE',
    `the PNG's compressed pixel data holds more than its ${width}×${height} header allows (${detail}), as a decompression bomb does; ` +
      're-export the image (open it and save it as a new PNG) and send it again',
  );
}

/**
 * The cheap half of the check, used by the proxy on every upload and by predict before it inflates
 * anything: IDAT data longer than its scanlines could compress to cannot be an honest image. It
 * cannot catch a small, densely compressed bomb: predict's inflate, capped at inflatedSize, does.
 */
export function checkPngDataLength(bytes: Buffer): PngData {
  const data = readPngData(bytes);
  if (data.compressedLimit !== null && data.idatBytes > data.compressedLimit) {
    throw pngDataTooLarge(data.width, data.height, `${data.idatBytes} bytes of compressed data where at most ${data.compressedLimit} could be needed`);
  }
  return data;
}
