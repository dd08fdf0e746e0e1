import { promisify } from 'node:util';
import { crc32, deflateSync, inflate, inflateSync } from 'node:zlib';
import { pngDataTooLarge } from '@cutout/shared';

/**
 * A PNG reader and writer in JS for small images. Every sharp call costs about 0.6–0.9 ms of CPU
 * whatever the image's size (libvips sets up a pipeline and its threads each time), while zlib
 * deflates a 64×64 RGBA image in under 0.1 ms. Big images stay with sharp: it works off the
 * main thread, and there its per-call cost is nothing beside the pixels.
 */

/** The largest image (width × height) the JS path decodes or encodes; larger goes through sharp. */
export const JS_CODEC_MAX_PIXELS = 256 * 256;

/**
 * Compressed data up to this size is inflated on the main thread: the thread pool's round trip
 * costs about 90 µs of CPU, twice the whole inflate of a tiny image (the bench's 64×64 PNGs
 * hold 7 KiB). Inflate time follows the compressed size, not the capped output: a stream of empty
 * deflate blocks, the slowest kind, takes about 0.14 µs a byte, so this bounds a stall near 2 ms.
 */
export const SYNC_INFLATE_MAX_BYTES = 16 * 1024;

const inflateOnThreadPool = promisify(inflate);

/** PNG filter type 1. */
const SUB_FILTER = 1;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks a simple file may carry that change nothing about its 8-bit RGB values once alpha is dropped. */
const HARMLESS = new Set(['PLTE', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'sBIT', 'bKGD', 'pHYs', 'tIME', 'tEXt', 'zTXt', 'iTXt', 'hIST', 'sPLT']);

export interface RawRgb {
  readonly rgb: Buffer;
  readonly width: number;
  readonly height: number;
}

interface Layout {
  width: number;
  height: number;
  /** Bytes per pixel: 3 for RGB, 4 for RGBA. */
  bpp: 3 | 4;
}

function readLayout(ihdr: Buffer): Layout | null {
  if (ihdr.length !== 13) return null;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const [depth, colour, compression, filter, interlace] = [ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]];
  if (depth !== 8 || compression !== 0 || filter !== 0 || interlace !== 0) return null;
  if (colour !== 2 && colour !== 6) return null;
  if (width === 0 || height === 0 || width * height > JS_CODEC_MAX_PIXELS) return null;
  return { width, height, bpp: colour === 2 ? 3 : 4 };
}

/** The IHDR and the joined IDAT data, or null for anything the simple path does not handle. */
function readChunks(bytes: Buffer): { layout: Layout; data: Buffer } | null {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(SIGNATURE)) return null;
  let layout: Layout | null = null;
  const idat: Buffer[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const end = at + 12 + length;
    if (end > bytes.length) return null;
    const type = bytes.toString('latin1', at + 4, at + 8);
    const body = bytes.subarray(at + 8, at + 8 + length);
    // A damaged chunk goes to sharp, which gives the error every other input gets.
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== bytes.readUInt32BE(at + 8 + length)) return null;
    if (type === 'IHDR') layout = readLayout(body);
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') return layout && idat.length > 0 ? { layout, data: idat.length === 1 ? idat[0]! : Buffer.concat(idat) } : null;
    // iCCP (a colour profile), eXIf (maybe an orientation) and anything unknown: sharp knows what to do.
    else if (!HARMLESS.has(type)) return null;
    if (!layout) return null;
    at = end;
  }
  return null;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Undoes the filter of the scanline of `n` bytes at `at` in `data`, in place; the previous
 * unfiltered line is at `at - n - 1` (past its filter byte), or zeros when `first`. Offsets, not a
 * subarray per line: a view per line was 6 KB of garbage per 64-line image, a sixth of predict's.
 */
function unfilterLine(kind: number, data: Buffer, at: number, n: number, bpp: number, first: boolean): boolean {
  const up = at - n - 1;
  switch (kind) {
    case 0:
      return true;
    case 1:
      for (let i = bpp; i < n; i++) data[at + i] = (data[at + i]! + data[at + i - bpp]!) & 0xff;
      return true;
    case 2:
      if (!first) for (let i = 0; i < n; i++) data[at + i] = (data[at + i]! + data[up + i]!) & 0xff;
      return true;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? data[at + i - bpp]! : 0;
        const above = first ? 0 : data[up + i]!;
        data[at + i] = (data[at + i]! + ((left + above) >> 1)) & 0xff;
      }
      return true;
    case 4:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? data[at + i - bpp]! : 0;
        const above = first ? 0 : data[up + i]!;
        const corner = first || i < bpp ? 0 : data[up + i - bpp]!;
        data[at + i] = (data[at + i]! + paeth(left, above, corner)) & 0xff;
      }
      return true;
    default:
      return false;
  }
}

/**
 * The scanlines of `layout`, inflated and capped at the size the header gives them; null when the
 * stream is damaged or short (sharp then gives the error every other input gets). Data that
 * would inflate further is refused: only its first `size + 1` bytes are ever produced.
 */
async function inflateScanlines(data: Buffer, layout: Layout, size: number): Promise<Buffer | null> {
  // One output chunk of the expected size (and a byte, so zlib ends with room left): with the
  // default 16 KiB chunks a 64×64 RGBA image took two chunks and a copy, twice the CPU.
  const options = { chunkSize: Math.max(64, size + 1), maxOutputLength: size };
  let lines: Buffer;
  try {
    lines = data.length <= SYNC_INFLATE_MAX_BYTES ? inflateSync(data, options) : await inflateOnThreadPool(data, options);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw pngDataTooLarge(layout.width, layout.height, `it inflates past the ${size} bytes of its scanlines`);
    }
    return null;
  }
  return lines.length === size ? lines : null;
}

/**
 * A small, plain PNG (8-bit RGB or RGBA, not interlaced, no colour profile or EXIF) to raw RGB,
 * alpha dropped; null for any other file, which then goes through sharp. Throws 422
 * PNG_DATA_TOO_LARGE when the data inflates past what the header allows (a decompression bomb).
 */
export async function decodeSimplePng(bytes: Buffer): Promise<RawRgb | null> {
  const chunks = readChunks(bytes);
  if (!chunks) return null;
  const { width, height, bpp } = chunks.layout;
  const stride = width * bpp;
  const data = await inflateScanlines(chunks.data, chunks.layout, height * (stride + 1));
  if (!data) return null;
  const rgb = Buffer.allocUnsafe(width * height * 3);
  for (let y = 0, o = 0; y < height; y++) {
    const at = y * (stride + 1) + 1;
    if (!unfilterLine(data[at - 1]!, data, at, stride, bpp, y === 0)) return null;
    for (let i = at, end = at + stride; i < end; i += bpp, o += 3) {
      rgb[o] = data[i]!;
      rgb[o + 1] = data[i + 1]!;
      rgb[o + 2] = data[i + 2]!;
    }
  }
  return { rgb, width, height };
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Sub-filtered scanlines, each led by its filter byte, a byte at a time. */
function subLines(pixels: Uint8Array, width: number, height: number, channels: number): Buffer {
  const stride = width * channels;
  const lines = Buffer.allocUnsafe(height * (stride + 1));
  for (let y = 0, from = 0, to = 0; y < height; y++, from += stride) {
    lines[to++] = SUB_FILTER;
    for (let i = 0; i < channels; i++) lines[to++] = pixels[from + i]!;
    for (let i = from + channels, end = from + stride; i < end; i++) lines[to++] = (pixels[i]! - pixels[i - channels]!) & 0xff;
  }
  return lines;
}

const HIGH_BITS = 0x80808080;
const LOW_BITS = 0x7f7f7f7f;

/**
 * Scratch space of the RGBA encoder, big enough for the largest image the JS path takes, used
 * again by every call: encodePng is synchronous (deflateSync reads the lines before it returns),
 * so no two calls can share it at once, and a tiny image costs no 16 KB of new buffers.
 */
const SCRATCH_LINES = Buffer.alloc(JS_CODEC_MAX_PIXELS * 4 + Math.sqrt(JS_CODEC_MAX_PIXELS) * 4 + 1024);
/** The lines' pixels start one byte past each filter byte, so not 4-byte aligned: written through a DataView. */
const SCRATCH_VIEW = new DataView(SCRATCH_LINES.buffer, SCRATCH_LINES.byteOffset, SCRATCH_LINES.length);
/** The pixels are read as words in the machine's byte order, so they are written back in it. */
const NATIVE_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * subLines for RGBA, a pixel at a time: the four byte-wise differences of two pixels as one
 * 32-bit operation (each byte's high bit handled apart so no borrow crosses into the next byte).
 * Half the time of the byte loop on a 64×64 image. Needs the pixels 4-byte aligned. The answer
 * lives in scratch space: read it before the next call. No view per line: those were a sixth of
 * predict's garbage on a tiny image.
 */
function subLinesRgba(pixels: Uint8Array, width: number, height: number): Buffer {
  const stride = width * 4;
  const words = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  const view = SCRATCH_VIEW;
  const lines = SCRATCH_LINES.subarray(0, height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const start = y * width;
    let to = y * (stride + 1);
    lines[to++] = SUB_FILTER;
    view.setUint32(to, words[start]!, NATIVE_LITTLE_ENDIAN);
    to += 4;
    for (let i = start + 1, end = start + width; i < end; i++, to += 4) {
      const x = words[i]!;
      const left = words[i - 1]!;
      view.setUint32(to, ((x | HIGH_BITS) - (left & LOW_BITS)) ^ ((x ^ ~left) & HIGH_BITS), NATIVE_LITTLE_ENDIAN);
    }
  }
  return lines;
}

/**
 * deflate's output buffer: small outputs are a few KiB at most, and each call would otherwise
 * allocate zlib's default 16 KiB for them; a larger one takes more chunks, joined once.
 */
const DEFLATE_CHUNK = 4096;

/**
 * Raw 8-bit pixels (4 channels: RGBA, 1: greyscale) as a PNG, every line with the Sub filter
 * (each byte less the same channel of the pixel to its left). Measured on the test photos
 * scaled down with a cutout's transparent border, at level 4: Sub makes 256-pixel outputs 13 %
 * smaller than no filter and 64-pixel ones 3 %, deflating no slower; on a smooth tiny image
 * (the bench's) 17 times smaller and twice as fast to deflate. Paeth saves 3 % more but costs a
 * JS pass several times Sub's; choosing per line (libpng's heuristic) costs five passes.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 4, level: number): Buffer {
  const stride = width * channels;
  if (pixels.length !== stride * height) throw new Error(`expected ${stride * height} bytes for ${width}×${height}×${channels}, got ${pixels.length}`);
  const fits = width * height <= JS_CODEC_MAX_PIXELS && height * (stride + 1) <= SCRATCH_LINES.length;
  const lines = channels === 4 && fits && pixels.byteOffset % 4 === 0 ? subLinesRgba(pixels, width, height) : subLines(pixels, width, height, channels);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 0;
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(lines, { level, chunkSize: DEFLATE_CHUNK })), chunk('IEND', Buffer.alloc(0))]);
}
