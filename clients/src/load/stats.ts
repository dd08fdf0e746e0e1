/** One request as the load run saw it; times are ms on the monotonic clock since the run began. */
export interface Sample {
  round: number;
  startMs: number;
  latencyMs: number;
  ok: boolean;
  /** The error code when it failed (the proxy's, or TIMEOUT / NETWORK / UNREACHABLE / BAD_ANSWER). */
  code?: string;
  /** Images in the request (more than 1 with --group). */
  images: number;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface RoundFigures {
  round: number;
  sent: number;
  succeeded: number;
  failed: number;
  latency_ms: Latency | null;
}

/** Everything the table, --json and the report show. Snake case: it is also the JSON line's shape. */
export interface Summary {
  api: string;
  mode: 'closed' | 'open';
  requests_per_round: number;
  rounds: number;
  interval_s: number | null;
  group: number | null;
  sent: number;
  succeeded: number;
  failed: number;
  failed_by_code: Record<string, number>;
  /** Over the succeeded requests: a fast failure says nothing about how long a cutout takes. */
  latency_ms: Latency | null;
  duration_s: number;
  throughput_rps: number;
  images_per_s: number;
  per_round: RoundFigures[];
}

/** The nearest-rank percentile of ascending `sorted` (no interpolation: every figure is one a request had). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function latencyOf(samples: readonly Sample[]): Latency | null {
  const sorted = samples.filter((s) => s.ok).map((s) => s.latencyMs).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const tenth = (n: number) => Math.round(n * 10) / 10;
  return { p50: tenth(percentile(sorted, 50)), p95: tenth(percentile(sorted, 95)), p99: tenth(percentile(sorted, 99)), max: tenth(sorted[sorted.length - 1]!) };
}

export interface RunShape {
  api: string;
  requests: number;
  rounds: number;
  intervalMs: number | undefined;
  group: number | undefined;
}

export function summarize(samples: readonly Sample[], shape: RunShape, durationMs: number): Summary {
  const ok = samples.filter((s) => s.ok);
  const byCode: Record<string, number> = {};
  for (const s of samples) if (!s.ok) byCode[s.code ?? 'UNKNOWN'] = (byCode[s.code ?? 'UNKNOWN'] ?? 0) + 1;
  const seconds = Math.max(durationMs, 1) / 1000;
  const perRound: RoundFigures[] = [];
  for (let round = 1; round <= shape.rounds; round++) {
    const mine = samples.filter((s) => s.round === round);
    const good = mine.filter((s) => s.ok).length;
    perRound.push({ round, sent: mine.length, succeeded: good, failed: mine.length - good, latency_ms: latencyOf(mine) });
  }
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  return {
    api: shape.group === undefined ? shape.api : 'v1 groups',
    mode: shape.intervalMs === undefined ? 'closed' : 'open',
    requests_per_round: shape.requests,
    rounds: shape.rounds,
    interval_s: shape.intervalMs === undefined ? null : shape.intervalMs / 1000,
    group: shape.group ?? null,
    sent: samples.length,
    succeeded: ok.length,
    failed: samples.length - ok.length,
    failed_by_code: byCode,
    latency_ms: latencyOf(samples),
    duration_s: round3(seconds),
    throughput_rps: round3(ok.length / seconds),
    images_per_s: round3(ok.reduce((n, s) => n + s.images, 0) / seconds),
    per_round: perRound,
  };
}

const ms = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '-' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);

/** Rows of cells as aligned text, the first row a header. */
export function alignRows(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}

/** The end-of-run table. */
export function formatSummary(s: Summary): string[] {
  const mode = s.mode === 'open' ? `open loop: ${s.requests_per_round} every ${s.interval_s} s × ${s.rounds}` : `closed loop: ${s.requests_per_round} in parallel × ${s.rounds}`;
  const lines = [`cutout-load  ${s.api}  ${mode}${s.group === null ? '' : `, ${s.group} images per request`}`, ''];
  const failed = Object.entries(s.failed_by_code).sort((a, b) => b[1] - a[1]);
  lines.push(
    ...alignRows([
      ['sent', String(s.sent)],
      ['succeeded', String(s.succeeded)],
      ['failed', String(s.failed)],
      ...failed.map(([code, n]) => [`  ${code}`, String(n)]),
      ['p50 latency', ms(s.latency_ms?.p50)],
      ['p95 latency', ms(s.latency_ms?.p95)],
      ['p99 latency', ms(s.latency_ms?.p99)],
      ['max latency', ms(s.latency_ms?.max)],
      ['duration', `${s.duration_s.toFixed(1)} s`],
      ['throughput', `${s.throughput_rps.toFixed(2)} req/s${s.group === null ? '' : ` (${s.images_per_s.toFixed(1)} images/s)`}`],
    ]),
  );
  if (s.rounds > 1) {
    lines.push('', ...alignRows([['round', 'sent', 'ok', 'failed', 'p50', 'p95', 'max'], ...s.per_round.map((r) => [String(r.round), String(r.sent), String(r.succeeded), String(r.failed), ms(r.latency_ms?.p50), ms(r.latency_ms?.p95), ms(r.latency_ms?.max)])]));
  }
  lines.push('', 'latency: from sending a request to having its result, succeeded requests only');
  return lines;
}
