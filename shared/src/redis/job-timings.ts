/**
 * Where a finished job's time went, stored as JSON in its record's `timings` field by the
 * complete step and shown by GET /get_job. Every field is in milliseconds except
 * predict_batch_size; a field is absent when it was not measured.
 */
export interface JobTimings {
  /** started_at − created_at of the claim that finished the job (Redis clock). */
  queue_wait_ms?: number;
  /** In batch, from the take's answer to sending the complete step. */
  run_ms?: number;
  /** The predict HTTP round trip batch saw. */
  predict_ms?: number;
  /** predict's own stages, from its Server-Timing header. */
  predict_decode_ms?: number;
  predict_preprocess_ms?: number;
  predict_inference_ms?: number;
  predict_postprocess_ms?: number;
  predict_encode_ms?: number;
  /** How many images shared predict's inference run. */
  predict_batch_size?: number;
  /** The take step's Redis round trip. */
  redis_take_ms?: number;
}

export const JOB_TIMING_FIELDS = Object.freeze([
  'queue_wait_ms',
  'run_ms',
  'predict_ms',
  'predict_decode_ms',
  'predict_preprocess_ms',
  'predict_inference_ms',
  'predict_postprocess_ms',
  'predict_encode_ms',
  'predict_batch_size',
  'redis_take_ms',
] as const satisfies ReadonlyArray<keyof JobTimings>);

/** The known, finite, non-negative fields of `value`; anything else is left out. */
export function pickJobTimings(value: unknown): JobTimings {
  const timings: JobTimings = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return timings;
  const source = value as Record<string, unknown>;
  for (const field of JOB_TIMING_FIELDS) {
    const n = source[field];
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) timings[field] = n;
  }
  return timings;
}

/** A stored `timings` field; null when there is none or it is not a JSON object. */
export function parseJobTimings(text: string | undefined): JobTimings | null {
  if (text === undefined || text === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? pickJobTimings(parsed) : null;
}
