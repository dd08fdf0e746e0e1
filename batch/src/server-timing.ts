import type { JobTimings } from '@cutout/shared';

/** predict's own stage times, as stored in a job's timings. */
export type PredictStageTimings = Pick<
  JobTimings,
  'predict_decode_ms' | 'predict_preprocess_ms' | 'predict_inference_ms' | 'predict_postprocess_ms' | 'predict_encode_ms' | 'predict_batch_size'
>;

export interface ServerTimingMetric {
  name: string;
  dur?: number;
  desc?: string;
}

const STAGES = {
  decode: 'predict_decode_ms',
  preprocess: 'predict_preprocess_ms',
  inference: 'predict_inference_ms',
  postprocess: 'predict_postprocess_ms',
  encode: 'predict_encode_ms',
} as const satisfies Record<string, keyof PredictStageTimings>;

/** Splits on `separator` outside double quotes. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted && i + 1 < text.length) {
      current += c + text[++i]!;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

/** The metrics of a `Server-Timing` header (RFC: `name;dur=1.2;desc="x", ...`); malformed parts are skipped. */
export function parseServerTiming(header: string | readonly string[] | undefined): ServerTimingMetric[] {
  if (header === undefined) return [];
  const text = typeof header === 'string' ? header : header.join(',');
  const metrics: ServerTimingMetric[] = [];
  for (const entry of splitOutsideQuotes(text, ',')) {
    const [rawName, ...params] = splitOutsideQuotes(entry, ';');
    const name = rawName?.trim() ?? '';
    if (!/^[\w.-]+$/.test(name)) continue;
    const metric: ServerTimingMetric = { name };
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim().toLowerCase();
      const value = unquote(param.slice(eq + 1));
      if (key === 'dur' && metric.dur === undefined && value !== '' && Number.isFinite(Number(value))) metric.dur = Number(value);
      if (key === 'desc' && metric.desc === undefined) metric.desc = value;
    }
    metrics.push(metric);
  }
  return metrics;
}

function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  return Number(text);
}

/**
 * predict's stages from its Server-Timing header. The batch size comes from a `batch` (or
 * `batch_size`) metric's desc (or dur), or from a `batch=<n>` in the inference stage's desc.
 */
export function predictStageTimings(header: string | readonly string[] | undefined): PredictStageTimings {
  const timings: PredictStageTimings = {};
  for (const metric of parseServerTiming(header)) {
    const name = metric.name.toLowerCase();
    const field = (STAGES as Record<string, keyof PredictStageTimings>)[name];
    if (field !== undefined && metric.dur !== undefined && metric.dur >= 0) timings[field] = metric.dur;
    let size: number | undefined;
    if (name === 'batch' || name === 'batch_size') size = count(metric.desc) ?? (Number.isInteger(metric.dur) ? metric.dur : undefined);
    if (name === 'inference') size = count(/batch\s*[=:]?\s*(\d+)/i.exec(metric.desc ?? '')?.[1]);
    if (size !== undefined && size >= 1 && timings.predict_batch_size === undefined) timings.predict_batch_size = size;
  }
  return timings;
}
