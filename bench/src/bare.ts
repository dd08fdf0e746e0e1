import sharp from 'sharp';
import type { Config } from '@cutout/config';
import * as predict from '@cutout/predict';
import { loadModel, removeBackground, type LoadedModel, type RemoveBackgroundOptions } from '@cutout/predict';
import type { ImageSet, ImageSetName } from './images.js';
import { CpuMeter } from './process-stats.js';
import { meanFields, rate, round, summarize, type LatencySummary } from './stats.js';

/** One in-process configuration: an image set at a concurrency. */
export interface BarePlan {
  set: ImageSetName;
  concurrency: number;
}

export interface BareRun extends BarePlan {
  images: number;
  wallMs: number;
  imagesPerSecond: number;
  latency: LatencySummary;
  /** Mean milliseconds of each pipeline stage (decode, preprocess, inference, postprocess, encode). */
  stagesMs: Record<string, number>;
  meanBatchSize: number | undefined;
  /** Cores this process kept busy on average. */
  cpuCores: number;
  /** Cores other processes on the machine kept busy meanwhile. */
  otherCores: number | undefined;
}

export interface BareResult {
  model: { name: string; preset: string; inputSize: string; loadMs: number; supportsBatching: boolean | undefined };
  /** maxBatch/maxDelayMs are undefined when predict has no batcher to use. */
  settings: { intraOpThreads: number; interOpThreads: number; graphOptimization: string; sharpConcurrency: number; maxBatch: number | undefined; maxDelayMs: number | undefined };
  runs: BareRun[];
}

const STAGE_FIELDS = ['decode', 'preprocess', 'inference', 'postprocess', 'encode', 'batchSize'] as const;

/** What the bench needs of predict's InferenceBatcher. */
interface Batcher {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly modelSupportsBatching?: boolean;
  close(): Promise<void>;
}
type BatcherClass = new (model: LoadedModel, options: { maxBatch: number; maxDelayMs: number }) => Batcher;

interface Pipeline {
  model: LoadedModel;
  /** Undefined when this build of predict has no batcher: every image then runs alone. */
  batcher: Batcher | undefined;
}

/** predict's batcher class, looked up so the bench still runs against a predict without one. */
const BatcherClass = (predict as unknown as { InferenceBatcher?: BatcherClass }).InferenceBatcher;

/** The model, session settings, sharp concurrency and batcher exactly as predict's main.ts sets them up. */
async function loadLikePredict(config: Config): Promise<Pipeline> {
  if (config.predictSharpConcurrency > 0) sharp.concurrency(config.predictSharpConcurrency);
  const model = await loadModel(config.model, {
    intraOpThreads: config.predictIntraOpThreads,
    interOpThreads: config.predictInterOpThreads,
    graphOptimizationLevel: config.predictGraphOptimization,
    threadSpinning: config.predictThreadSpinning,
  });
  const batcher = BatcherClass && new BatcherClass(model, { maxBatch: config.predictMaxBatch, maxDelayMs: config.predictMaxDelayMs });
  return { model, batcher };
}

/**
 * Runs the images of a set round and round with `concurrency` in flight until `durationMs` has
 * passed and every image ran at least twice.
 */
async function measure(plan: BarePlan, set: ImageSet, pipeline: Pipeline, config: Config, durationMs: number): Promise<BareRun> {
  const options = { maxImagePixels: config.maxImagePixels, batcher: pipeline.batcher } as RemoveBackgroundOptions;
  const run = (index: number) => removeBackground(set.images[index % set.images.length]!.bytes, pipeline.model, options);
  // Warm-up: every image once, so sharp's and onnxruntime's first-call costs stay out of the figures.
  for (let i = 0; i < set.images.length; i++) await run(i);
  const latencies: number[] = [];
  const timings: Record<string, unknown>[] = [];
  const minimum = set.images.length * 2;
  const meter = new CpuMeter({ bench: process.pid });
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (performance.now() - started < durationMs || next < minimum) {
      const index = next++;
      const t0 = performance.now();
      const result = await run(index);
      latencies.push(performance.now() - t0);
      timings.push({ ...result.timings });
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const wallMs = performance.now() - started;
  const cpu = meter.stop();
  const means = meanFields(timings, STAGE_FIELDS);
  const { batchSize, ...stagesMs } = means;
  return {
    ...plan,
    images: latencies.length,
    wallMs: round(wallMs, 1),
    imagesPerSecond: rate(latencies.length, wallMs),
    latency: summarize(latencies),
    stagesMs,
    meanBatchSize: batchSize,
    cpuCores: cpu.cores.bench ?? Number.NaN,
    otherCores: cpu.otherCores,
  };
}

/** The predict pipeline in this process, no HTTP and no Redis: the ceiling the stack is held to. */
export async function runBare(
  config: Config,
  sets: Record<ImageSetName, ImageSet>,
  plans: readonly BarePlan[],
  durationMs: number,
  progress: (line: string) => void,
): Promise<BareResult> {
  const pipeline = await loadLikePredict(config);
  try {
    const runs: BareRun[] = [];
    for (const plan of plans) {
      const result = await measure(plan, sets[plan.set], pipeline, config, durationMs);
      runs.push(result);
      progress(
        `bare ${plan.set} C=${plan.concurrency}: ${result.images} images, ${result.imagesPerSecond} images/s, p50 ${result.latency.p50} ms, p95 ${result.latency.p95} ms, p99 ${result.latency.p99} ms`,
      );
    }
    const { model, batcher } = pipeline;
    return {
      model: { name: model.name, preset: model.preset.name, inputSize: `${model.inputSize.width}×${model.inputSize.height}`, loadMs: model.loadMs, supportsBatching: batcher?.modelSupportsBatching },
      settings: {
        intraOpThreads: config.predictIntraOpThreads,
        interOpThreads: config.predictInterOpThreads,
        graphOptimization: config.predictGraphOptimization,
        sharpConcurrency: config.predictSharpConcurrency || sharp.concurrency(),
        maxBatch: batcher?.maxBatch,
        maxDelayMs: batcher?.maxDelayMs,
      },
      runs,
    };
  } finally {
    await pipeline.batcher?.close();
    await pipeline.model.close();
  }
}
