import type { Config } from '@cutout/config';
import { loadModel, parseModelSpec, removeBackground } from '@cutout/predict';
import type { ImageSet } from './images.js';
import { round } from './stats.js';

/** What predict's own image work costs per image with MODEL=passthrough, in this process. */
export interface PassthroughCost {
  images: number;
  /** CPU µs of removeBackground per image: PNG decode, the opaque mask, PNG encode. */
  cpuMicrosPerImage: number;
  /** The output's bytes per image. */
  outputBytes: number;
}

/**
 * The serving target's lower bound inside predict: removeBackground on the tiny images one after
 * another, hot (after a warm-up), so no HTTP, no metrics and no other process. Whatever predict
 * spends per request beyond this and beyond a bare node:http server is its own overhead.
 */
export async function measurePassthroughCost(set: ImageSet, config: Config, durationMs: number): Promise<PassthroughCost> {
  const model = await loadModel(parseModelSpec('passthrough', { modelsDir: config.modelsDir }), {});
  try {
    const options = { maxImagePixels: config.maxImagePixels, encoding: { pngCompression: config.outputPngCompression } };
    let outputBytes = 0;
    const once = async (i: number) => (outputBytes += (await removeBackground(set.images[i % set.images.length]!.bytes, model, options)).bytes.length);
    for (let i = 0; i < 2000; i++) await once(i);
    outputBytes = 0;
    const cpu = process.cpuUsage();
    const until = performance.now() + durationMs;
    let images = 0;
    while (performance.now() < until) await once(images++);
    const used = process.cpuUsage(cpu);
    return { images, cpuMicrosPerImage: round((used.user + used.system) / images, 1), outputBytes: Math.round(outputBytes / images) };
  } finally {
    await model.close();
  }
}
