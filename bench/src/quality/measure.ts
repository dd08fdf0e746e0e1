import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { removeBackground, type LoadedModel } from '@cutout/predict';

/** How one photo's mask compares with the reference mask. */
export interface PhotoQuality {
  photo: string;
  width: number;
  height: number;
  /** Intersection over union of alpha ≥ 128 in both. */
  iou: number;
  /** Mean |alpha − reference alpha| in levels of 0..255. */
  meanAbsDiff: number;
  /** Wall time of removeBackground, warm, best of the runs. */
  wallMs: number;
  /** CPU time (user + system, all threads) of that run. */
  cpuMs: number;
  /** Stage times of that run, from the pipeline. */
  stages: Record<string, number>;
  /** The cutout PNG, for the contact sheet. */
  png: Buffer;
  referencePng: Buffer;
}

/** The alpha channel of a PNG (opaque when it has none). */
async function alphaOf(png: Buffer): Promise<Buffer> {
  return sharp(png).ensureAlpha().extractChannel(3).raw().toBuffer();
}

/** IoU (alpha ≥ 128) and mean absolute difference of two equally sized alpha planes. */
export function compareAlpha(alpha: Uint8Array, reference: Uint8Array): { iou: number; meanAbsDiff: number } {
  if (alpha.length !== reference.length) throw new Error(`masks of ${alpha.length} and ${reference.length} pixels`);
  let both = 0;
  let either = 0;
  let diff = 0;
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i]! >= 128;
    const b = reference[i]! >= 128;
    if (a && b) both++;
    if (a || b) either++;
    diff += Math.abs(alpha[i]! - reference[i]!);
  }
  return { iou: either === 0 ? 1 : both / either, meanAbsDiff: diff / alpha.length };
}

/** Photos in `imagesDir` that have `<name>.out.png` in `referenceDir`, sorted by name. */
export function pairedPhotos(imagesDir: string, referenceDir: string): { photo: string; image: string; reference: string }[] {
  const references = new Set(readdirSync(referenceDir));
  return readdirSync(imagesDir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .map((f) => ({ photo: f.replace(/\.[^.]+$/, ''), image: join(imagesDir, f) }))
    .filter((p) => references.has(`${p.photo}.out.png`))
    .map((p) => ({ ...p, reference: join(referenceDir, `${p.photo}.out.png`) }))
    .sort((a, b) => a.photo.localeCompare(b.photo));
}

async function timedRun(bytes: Buffer, model: LoadedModel): Promise<{ png: Buffer; wallMs: number; cpuMs: number; stages: Record<string, number> }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await removeBackground(bytes, model, { maxImagePixels: 100_000_000 });
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const { batchSize: _batch, ...stages } = result.timings;
  return { png: result.bytes, wallMs, cpuMs: (used.user + used.system) / 1000, stages };
}

/**
 * Cuts each photo `runs` times after one warm-up run (the first run of a process pays for JIT and
 * onnxruntime's allocations) and keeps the fastest run's times; quality is the same every run.
 */
export async function measurePhoto(model: LoadedModel, paths: { photo: string; image: string; reference: string }, runs: number): Promise<PhotoQuality> {
  const bytes = readFileSync(paths.image);
  const referencePng = readFileSync(paths.reference);
  let best = await timedRun(bytes, model);
  for (let i = 0; i < runs; i++) {
    const run = await timedRun(bytes, model);
    if (run.wallMs < best.wallMs || i === 0) best = run;
  }
  const meta = await sharp(best.png).metadata();
  const { iou, meanAbsDiff } = compareAlpha(await alphaOf(best.png), await alphaOf(referencePng));
  return { photo: paths.photo, width: meta.width, height: meta.height, iou, meanAbsDiff, wallMs: best.wallMs, cpuMs: best.cpuMs, stages: best.stages, png: best.png, referencePng };
}
