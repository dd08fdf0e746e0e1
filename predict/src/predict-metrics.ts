import { Histogram, type Registry } from 'prom-client';
import type { StageTimings } from './pipeline/remove-background.js';

/** Seconds; a stage of a tiny image takes well under a millisecond, inference on a big model seconds. */
const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256];
const STAGES = ['decode', 'preprocess', 'inference', 'postprocess', 'encode'] as const;

/**
 * Triton-style model-server series: each image's time in each pipeline stage, and the size of
 * the onnxruntime batch it ran in (so a batch of 4 is seen 4 times: the distribution is the
 * one images experience). Six observes per image, from the timings the pipeline already takes.
 */
export class PredictMetrics {
  readonly #stages: Histogram<'stage'>;
  readonly #batch: Histogram;

  constructor(registry: Registry) {
    this.#stages = new Histogram({
      name: 'cutout_predict_stage_seconds',
      help: 'Time each image spent in each stage of the pipeline (decode, preprocess, inference, postprocess, encode)',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers: [registry],
    });
    this.#batch = new Histogram({
      name: 'cutout_predict_batch_size',
      help: 'Images in the onnxruntime run each image ran in (1 = alone)',
      buckets: BATCH_BUCKETS,
      registers: [registry],
    });
  }

  observe(timings: StageTimings): void {
    for (const stage of STAGES) this.#stages.observe({ stage }, timings[stage] / 1000);
    this.#batch.observe(timings.batchSize);
  }
}
