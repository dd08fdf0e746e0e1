import sharp, { type Sharp } from 'sharp';
import { outputMediaType, type OutputOptions } from '@cutout/shared/contract';
import type { DecodedImage } from './decode.js';

/** The finished output: its bytes and their media type. */
export interface EncodedOutput {
  readonly bytes: Buffer;
  readonly mediaType: string;
}

function rawImage(data: Buffer, width: number, height: number, channels: 1 | 3 | 4): Sharp {
  return sharp(data, { raw: { width, height, channels }, limitInputPixels: false });
}

function inFormat(pipeline: Sharp, options: OutputOptions): Sharp {
  // Lossless: a cutout's edges are what people look at, and lossy WebP smears them.
  return options.format === 'webp' ? pipeline.webp({ lossless: true }) : pipeline.png();
}

/** '#rrggbbaa' as sharp's colour object. */
function colourOf(hex: string): { r: number; g: number; b: number; alpha: number } {
  const byte = (i: number) => Number.parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16);
  return { r: byte(0), g: byte(1), b: byte(2), alpha: byte(3) / 255 };
}

/**
 * The output CONTRACT §3 and the job's options ask for: the RGBA cutout (default), the mask
 * alone as greyscale (`only_mask`, which wins over `bgcolor` as in rembg), or the cutout
 * composited over `bgcolor`; as PNG or lossless WebP.
 */
export async function encodeOutput(image: DecodedImage, alpha: Buffer, options: OutputOptions): Promise<EncodedOutput> {
  const { width, height } = image;
  let pipeline: Sharp;
  if (options.only_mask) {
    // sharp writes sRGB by default, which would make the one band three; keep it greyscale.
    pipeline = rawImage(alpha, width, height, 1).toColourspace('b-w');
  } else {
    const rgba = rawImage(image.rgb, width, height, 3).joinChannel(alpha, { raw: { width, height, channels: 1 } });
    if (options.bgcolor === null) {
      pipeline = rgba;
    } else {
      const cutout = await rgba.raw().toBuffer();
      pipeline = sharp({ create: { width, height, channels: 4, background: colourOf(options.bgcolor) }, limitInputPixels: false }).composite([
        { input: cutout, raw: { width, height, channels: 4 } },
      ]);
    }
  }
  return { bytes: await inFormat(pipeline, options).toBuffer(), mediaType: outputMediaType(options.format) };
}
