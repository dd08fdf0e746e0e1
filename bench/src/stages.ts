import type { JobSample } from './load-client.js';
import { mean, round } from './stats.js';

/** The stages a job's time splits into, in the order a job meets them. */
export const STAGES = [
  { key: 'queue_wait_ms', label: 'queue wait (created → claimed, Redis clock)' },
  { key: 'redis_take_ms', label: '  of which: batch take round trip (BLMOVE)' },
  { key: 'predict_decode_ms', label: 'predict: decode' },
  { key: 'predict_preprocess_ms', label: 'predict: preprocess' },
  { key: 'predict_inference_ms', label: 'predict: inference' },
  { key: 'predict_postprocess_ms', label: 'predict: postprocess' },
  { key: 'predict_encode_ms', label: 'predict: encode' },
  { key: 'predict_http_ms', label: 'predict: HTTP + express (predict_ms − stages)' },
  { key: 'batch_other_ms', label: 'batch: claim + own work (run − predict)' },
  { key: 'remainder_ms', label: 'rest: submit + enqueue, complete step, wake-up + read (latency − queue − run)' },
] as const;

export type StageKey = (typeof STAGES)[number]['key'];

const SERVER_STAGES = ['predict_decode_ms', 'predict_preprocess_ms', 'predict_inference_ms', 'predict_postprocess_ms', 'predict_encode_ms'] as const;

export interface StageBreakdown {
  /** Mean milliseconds per stage over the jobs that reported it; a stage nobody reported is absent. */
  meanMs: Partial<Record<StageKey, number>>;
  /** Mean of the raw fields batch stored (queue_wait_ms, run_ms, predict_ms, ...). */
  rawMeans: Record<string, number>;
  meanBatchSize: number | undefined;
  /** Jobs whose get_job answer carried timings. */
  jobsWithTimings: number;
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** The derived stages of one job; a stage whose inputs are missing is undefined. */
function derive(sample: JobSample): Partial<Record<StageKey, number>> {
  const t = sample.timings ?? {};
  const out: Partial<Record<StageKey, number>> = {};
  for (const { key } of STAGES) {
    const value = num(t[key]);
    if (value !== undefined) out[key] = value;
  }
  const predict = num(t.predict_ms);
  const run = num(t.run_ms);
  const queue = num(t.queue_wait_ms);
  const server = SERVER_STAGES.map((k) => num(t[k]));
  if (predict !== undefined && server.every((v) => v !== undefined)) {
    out.predict_http_ms = predict - server.reduce((a, b) => a! + b!, 0)!;
  }
  if (run !== undefined && predict !== undefined) out.batch_other_ms = run - predict;
  if (run !== undefined && queue !== undefined) out.remainder_ms = sample.latencyMs - queue - run;
  return out;
}

export function stageBreakdown(samples: readonly JobSample[]): StageBreakdown {
  const derived = samples.map(derive);
  const meanMs: Partial<Record<StageKey, number>> = {};
  for (const { key } of STAGES) {
    const values = derived.map((d) => d[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) meanMs[key] = round(mean(values), 3);
  }
  const rawMeans: Record<string, number> = {};
  for (const sample of samples) {
    for (const key of Object.keys(sample.timings ?? {})) rawMeans[key] ??= 0;
  }
  for (const key of Object.keys(rawMeans)) {
    const values = samples.map((s) => num(s.timings?.[key])).filter((v): v is number => v !== undefined);
    rawMeans[key] = round(mean(values), 3);
  }
  return {
    meanMs,
    rawMeans,
    meanBatchSize: rawMeans.predict_batch_size,
    jobsWithTimings: samples.filter((s) => s.timings !== null).length,
  };
}
