import sharp, { type Metadata } from 'sharp';
import { AppError, checkPngDataLength, pngDataTooLarge, readImageHeader, type ImageFormat, type PngData } from '@cutout/shared';
import { decodeSimplePng } from './png.js';
import { inflatesPast } from './png-inflate.js';

/** The input as 8-bit sRGB, interleaved RGB, at the size a viewer shows it (EXIF orientation applied). */
export interface DecodedImage {
  readonly rgb: Buffer;
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
}

function decodeFailed(detail: string): AppError {
  return new AppError(422, 'IMAGE_DECODE_FAILED', `the image could not be decoded (${detail}); send a complete, uncorrupted PNG, JPEG or WebP file`);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}

function tooManyPixels(width: number, height: number, maxPixels: number): AppError {
  return new AppError(422, 'TOO_MANY_PIXELS', `the image is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels}; scale it down and send it again`);
}


/**
 * The slow check, only for a header that claims too many pixels: a file sharp cannot even read
 * the header of is IMAGE_DECODE_FAILED (a WebP bomb is, say), a readable one TOO_MANY_PIXELS.
 */
async function checkedSize(bytes: Buffer, maxPixels: number): Promise<void> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeFailed(reason(error));
  }
  if (meta.width * meta.height > maxPixels) throw tooManyPixels(meta.width, meta.height, maxPixels);
}

/** Any image through sharp, with the pixel limit; its failures are IMAGE_DECODE_FAILED. */
async function decodeWithSharp(bytes: Buffer, maxPixels: number): Promise<Omit<DecodedImage, 'format'>> {
  try {
    // failOn 'error' rejects truncated and corrupt data but lets through files that only raise warnings.
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    return { rgb: data, width: info.width, height: info.height };
  } catch (error) {
    throw decodeFailed(reason(error));
  }
}

/**
 * A PNG the JS path does not take, through sharp. libpng reads only the scanlines the header
 * declares and ignores any data after them, so a bomb costs sharp no more than an honest image
 * of its size; alongside, off the main thread, the data is inflated and counted up to that size,
 * so such a file is refused (PNG_DATA_TOO_LARGE) whatever its colour type, depth or size.
 */
async function decodePngWithSharp(bytes: Buffer, data: PngData, maxPixels: number): Promise<DecodedImage> {
  const [decoded, bomb] = await Promise.allSettled([
    decodeWithSharp(bytes, maxPixels),
    data.inflatedSize === null ? Promise.resolve(false) : inflatesPast(data.idat, data.inflatedSize),
  ]);
  if (bomb.status === 'fulfilled' && bomb.value) {
    throw pngDataTooLarge(data.width, data.height, `it inflates past the ${data.inflatedSize} bytes of its scanlines`);
  }
  if (decoded.status === 'rejected') throw decoded.reason;
  return { ...decoded.value, format: 'png' };
}

/**
 * Bytes to raw RGB, decoded once. Any alpha the input has is dropped (the model's mask replaces it);
 * greyscale, 16-bit and CMYK inputs become 8-bit sRGB.
 */
export async function decodeImage(bytes: Buffer, maxPixels: number): Promise<DecodedImage> {
  // Told apart by bytes, with the same checks and codes the proxy uses (415 for other formats).
  // The header's size is checked before decoding, so a small file that claims a huge image costs
  // nothing; reading it here saves a sharp metadata() call (most of a millisecond on small images).
  const { format, width, height } = readImageHeader(bytes);
  if (width * height > maxPixels) await checkedSize(bytes, maxPixels);
  if (format !== 'png') return { ...(await decodeWithSharp(bytes, maxPixels)), format };
  // The proxy's cheap check again (predict also takes requests that did not come through it):
  // data longer than the pixels could need is refused before any of it is inflated.
  const data = checkPngDataLength(bytes);
  const simple = await decodeSimplePng(bytes);
  return simple ? { ...simple, format } : decodePngWithSharp(bytes, data, maxPixels);
}
