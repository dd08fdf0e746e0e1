import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT } from '@cutout/dev';

/** The image sets the bench runs: the real photos, tiny PNGs and one mid size. */
export type ImageSetName = 'photo' | 'mid' | 'tiny' | 'huge';

export interface BenchImage {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
}

export interface ImageSet {
  name: ImageSetName;
  description: string;
  images: BenchImage[];
}

export const PHOTO_DIR = join(REPO_ROOT, 'test', 'fixtures', 'images');
const TINY_SIZE = 64;
const MID_SIZE = 512;

async function describe(name: string, bytes: Buffer): Promise<BenchImage> {
  const meta = await sharp(bytes).metadata();
  return { name, bytes, width: meta.width ?? 0, height: meta.height ?? 0 };
}

async function loadPhotos(): Promise<BenchImage[]> {
  const names = readdirSync(PHOTO_DIR)
    .filter((name) => /\.(jpe?g|png|webp)$/i.test(name))
    .sort();
  if (names.length === 0) throw new Error(`no test photos in ${PHOTO_DIR}`);
  return Promise.all(names.map((name) => describe(name, readFileSync(join(PHOTO_DIR, name)))));
}

/** A small PNG with a gradient background and a disc, so each variant is a real, distinct picture. */
async function tinyPng(variant: number): Promise<BenchImage> {
  const size = TINY_SIZE;
  const rgb = Buffer.alloc(size * size * 3);
  const cx = 20 + ((variant * 7) % 24);
  const cy = 20 + ((variant * 11) % 24);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < 14 ** 2;
      rgb[i] = inside ? 200 - variant * 10 : 40 + x;
      rgb[i + 1] = inside ? 60 + variant * 15 : 80 + y;
      rgb[i + 2] = inside ? 90 : 160 - variant * 5;
    }
  }
  const bytes = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
  return { name: `tiny-${variant}.png`, bytes, width: size, height: size };
}

/** A 24-megapixel (6000×4000) JPEG: a gradient with noise and a disc, so it compresses like a photo (about 10–20 MB). */
async function hugeJpeg(): Promise<BenchImage> {
  const [width, height] = [6000, 4000];
  const rgb = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = seed % 48;
      const inside = (x - 3000) ** 2 + (y - 2000) ** 2 < 1200 ** 2;
      rgb[i] = (inside ? 200 : (x * 255) / width) + noise / 2;
      rgb[i + 1] = (inside ? 60 : (y * 255) / height) + noise / 3;
      rgb[i + 2] = (inside ? 90 : 160) + noise / 4;
    }
  }
  const bytes = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  return { name: 'huge-24mp.jpg', bytes, width, height };
}

async function midJpeg(photo: BenchImage): Promise<BenchImage> {
  const bytes = await sharp(photo.bytes).resize(MID_SIZE, MID_SIZE, { fit: 'cover' }).flatten().jpeg({ quality: 90 }).toBuffer();
  return { name: photo.name.replace(/\.\w+$/, `-${MID_SIZE}.jpg`), bytes, width: MID_SIZE, height: MID_SIZE };
}

/** Every image set, built once: photos from the fixtures, the others derived or drawn from them. */
export async function loadImageSets(withHuge = true): Promise<Record<ImageSetName, ImageSet>> {
  const photos = await loadPhotos();
  const huge = withHuge ? [await hugeJpeg()] : [];
  const tiny = await Promise.all(Array.from({ length: 8 }, (_, i) => tinyPng(i)));
  const mid = await Promise.all(photos.map(midJpeg));
  return {
    photo: { name: 'photo', description: `the ${photos.length} test photos (${sizeRange(photos)}), cycled`, images: photos },
    mid: { name: 'mid', description: `${mid.length} ${MID_SIZE}×${MID_SIZE} JPEGs cut from the photos`, images: mid },
    tiny: { name: 'tiny', description: `${tiny.length} ${TINY_SIZE}×${TINY_SIZE} PNGs (the model costs almost nothing)`, images: tiny },
    huge: { name: 'huge', description: `a 6000×4000 (24 MP) JPEG made in the bench, ${huge[0] ? (huge[0].bytes.length / 2 ** 20).toFixed(1) : '-'} MiB`, images: huge },
  };
}

function sizeRange(images: readonly BenchImage[]): string {
  const pixels = images.map((i) => i.width * i.height);
  const mp = (n: number) => (n / 1e6).toFixed(2);
  return `${mp(Math.min(...pixels))}–${mp(Math.max(...pixels))} MP`;
}
