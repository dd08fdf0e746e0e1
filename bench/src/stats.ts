/** Summary statistics over latency samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** Rounds to `digits` decimals so the JSON report stays readable. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The q-quantile (0..1) by linear interpolation between the closest ranks of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const weight = position - lower;
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    mean: round(mean(sorted)),
    p50: round(quantile(sorted, 0.5)),
    p95: round(quantile(sorted, 0.95)),
    p99: round(quantile(sorted, 0.99)),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * Mean of each named field over records that carry it as a finite number; a field no record
 * carries is left out, so a missing stage shows as "n/a" rather than as 0.
 */
export function meanFields(records: readonly Record<string, unknown>[], fields: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const field of fields) {
    const values = records.map((r) => r[field]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (values.length > 0) out[field] = round(mean(values), 3);
  }
  return out;
}

/** Work per second over a wall-clock interval. */
export function rate(count: number, wallMs: number): number {
  return wallMs > 0 ? round((count * 1000) / wallMs, 1) : Number.NaN;
}
