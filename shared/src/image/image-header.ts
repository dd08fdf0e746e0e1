import { AppError } from '../errors.js';
import { readPngData } from './png-data.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

const ACCEPTED = 'send a PNG, JPEG or WebP file';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);
const RIFF = Buffer.from('RIFF', 'latin1');
const WEBP = Buffer.from('WEBP', 'latin1');

function truncated(format: string, what: string): AppError {
  return new AppError(400, 'IMAGE_TRUNCATED', `the ${format} file is cut short (${what}); upload the whole file`);
}

function corrupt(format: string, what: string): AppError {
  return new AppError(422, 'IMAGE_DECODE_FAILED', `the ${format} file is corrupt (${what}); re-export it, or ${ACCEPTED}`);
}

/** True when `bytes` starts with `prefix`, or is a shorter start of it (a file cut inside its signature). */
function startsWith(bytes: Buffer, prefix: Buffer, offset = 0): boolean {
  const n = Math.min(prefix.length, Math.max(0, bytes.length - offset));
  return n > 0 && bytes.compare(prefix, 0, n, offset, offset + n) === 0;
}

function need(bytes: Buffer, length: number, format: string, what: string): void {
  if (bytes.length < length) throw truncated(format, what);
}

function readPng(bytes: Buffer): ImageHeader {
  need(bytes, 24, 'PNG', 'no complete IHDR header');
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw corrupt('PNG', 'the first chunk is not IHDR');
  return { format: 'png', width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

// SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

// Markers that stand alone, with no length field: TEM, RST0..7, SOI.
function isStandalone(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);
}

/**
 * Walks a JPEG's marker segments from SOI to the first one `wanted` accepts and returns the
 * offset of its length field. Fill bytes and standalone markers are skipped.
 */
function findJpegSegment(bytes: Buffer, wanted: (marker: number) => boolean, what: string): number {
  let offset = 2;
  for (;;) {
    need(bytes, offset + 2, 'JPEG', `it ends before the ${what}`);
    if (bytes[offset] !== 0xff) throw corrupt('JPEG', `no marker at byte ${offset}`);
    while (bytes[offset + 1] === 0xff) {
      offset++;
      need(bytes, offset + 2, 'JPEG', `it ends before the ${what}`);
    }
    const marker = bytes[offset + 1]!;
    offset += 2;
    if (isStandalone(marker)) continue;
    need(bytes, offset + 2, 'JPEG', 'it ends inside a segment header');
    if (wanted(marker)) return offset;
    if (marker === 0x00 || marker === 0xd9 || marker === 0xda) {
      throw corrupt('JPEG', `marker 0xFF${marker.toString(16).toUpperCase().padStart(2, '0')} comes before the ${what}`);
    }
    const length = bytes.readUInt16BE(offset);
    if (length < 2) throw corrupt('JPEG', `segment length ${length} at byte ${offset}`);
    offset += length;
  }
}

function readJpeg(bytes: Buffer): ImageHeader {
  const frame = findJpegSegment(bytes, isStartOfFrame, 'frame header');
  need(bytes, frame + 7, 'JPEG', 'it ends inside the frame header');
  return { format: 'jpeg', height: bytes.readUInt16BE(frame + 3), width: bytes.readUInt16BE(frame + 5) };
}

function readWebp(bytes: Buffer): ImageHeader {
  need(bytes, 20, 'WebP', 'no first chunk header');
  const chunk = bytes.toString('latin1', 12, 16);
  const data = 20;
  if (chunk === 'VP8 ') {
    need(bytes, data + 10, 'WebP', 'no complete VP8 frame header');
    if (bytes[data + 3] !== 0x9d || bytes[data + 4] !== 0x01 || bytes[data + 5] !== 0x2a) {
      throw corrupt('WebP', 'the VP8 start code is missing');
    }
    return { format: 'webp', width: bytes.readUInt16LE(data + 6) & 0x3fff, height: bytes.readUInt16LE(data + 8) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    need(bytes, data + 5, 'WebP', 'no complete VP8L header');
    if (bytes[data] !== 0x2f) throw corrupt('WebP', 'the VP8L signature is missing');
    const bits = bytes.readUInt32LE(data + 1);
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    need(bytes, data + 10, 'WebP', 'no complete VP8X header');
    return { format: 'webp', width: bytes.readUIntLE(data + 4, 3) + 1, height: bytes.readUIntLE(data + 7, 3) + 1 };
  }
  throw corrupt('WebP', `unknown first chunk ${JSON.stringify(chunk)}`);
}

/** Which of the accepted formats `bytes` is, judged by its magic bytes alone. */
function sniff(bytes: Buffer): ImageFormat | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, JPEG_SIGNATURE)) return 'jpeg';
  if (startsWith(bytes, RIFF) && (bytes.length <= 8 || startsWith(bytes, WEBP, 8))) return 'webp';
  return null;
}

/**
 * The format and size of an image, read from its header without decoding it.
 * 415 UNSUPPORTED_IMAGE_FORMAT when it is not PNG/JPEG/WebP, 400 IMAGE_TRUNCATED when the header
 * is cut short, 422 IMAGE_DECODE_FAILED when it is malformed, 422 INVALID_DIMENSIONS for a zero side.
 */
export function readImageHeader(bytes: Buffer): ImageHeader {
  if (bytes.length === 0) throw new AppError(400, 'EMPTY_IMAGE', `the image is empty; ${ACCEPTED}`);
  const format = sniff(bytes);
  if (format === null) {
    throw new AppError(415, 'UNSUPPORTED_IMAGE_FORMAT', `the bytes are not a PNG, JPEG or WebP image (formats are told by content, not by name); ${ACCEPTED}`);
  }
  const signature = { png: PNG_SIGNATURE.length, jpeg: JPEG_SIGNATURE.length, webp: 12 }[format];
  need(bytes, signature, format.toUpperCase(), 'it ends inside the signature');
  const header = format === 'png' ? readPng(bytes) : format === 'jpeg' ? readJpeg(bytes) : readWebp(bytes);
  if (header.width === 0 || header.height === 0) {
    throw new AppError(422, 'INVALID_DIMENSIONS', `the image header declares a size of ${header.width}×${header.height}; an image needs at least one pixel each way`);
  }
  return header;
}

function assertPngComplete(bytes: Buffer): void {
  // Following the chunks' lengths to IEND proves every chunk is present without inflating the pixels.
  const { complete, stoppedAt } = readPngData(bytes);
  if (!complete) throw truncated('PNG', `its chunks stop at byte ${stoppedAt} of ${bytes.length} without reaching IEND`);
}

const EOI = Buffer.from([0xff, 0xd9]);

function assertJpegComplete(bytes: Buffer): void {
  // The scan is found by walking segments, so an EXIF thumbnail (a whole JPEG inside APP1)
  // cannot stand in for it. Entropy-coded data escapes 0xFF as FF 00, so FF D9 after the scan
  // starts can only be a marker; searching from there rather than only near the tail keeps
  // files with trailers after EOI (phone metadata, motion-photo video) valid.
  const scan = findJpegSegment(bytes, (marker) => marker === 0xda, 'image data');
  if (bytes.indexOf(EOI, scan) < 0) throw truncated('JPEG', 'it has no end-of-image marker');
}

function assertWebpComplete(bytes: Buffer): void {
  const riffEnd = 8 + bytes.readUInt32LE(4);
  if (riffEnd > bytes.length) throw truncated('WebP', `the RIFF header declares ${riffEnd} bytes but ${bytes.length} arrived`);
  let offset = 12;
  while (offset + 8 <= riffEnd) {
    const size = bytes.readUInt32LE(offset + 4);
    offset += 8 + size + (size & 1);
    if (offset > riffEnd + 1) throw truncated('WebP', 'a chunk runs past the end of the RIFF data');
  }
}

/**
 * A cheap structural check that the whole file arrived: PNG chunks reach IEND, a JPEG has its
 * end-of-image marker after its image data, a WebP's RIFF size and chunks fit. It does not
 * decompress anything, so corrupt pixel data still passes (the decoder catches that later).
 */
export function assertImageComplete(bytes: Buffer, header: Pick<ImageHeader, 'format'>): void {
  if (header.format === 'png') assertPngComplete(bytes);
  else if (header.format === 'jpeg') assertJpegComplete(bytes);
  else assertWebpComplete(bytes);
}
