import type { BareResult, BareRun } from './bare.js';
import type { ScenarioResult } from './end-to-end.js';
import type { ImageSetName } from './images.js';
import { round } from './stats.js';

export type Verdict = 'PASS' | 'MISS' | 'NOT RUN';

export interface TargetResult {
  name: string;
  goal: string;
  measured: string;
  verdict: Verdict;
  /** For a MISS: what bounds the figure, from the measurements. */
  bounds: string[];
}

export interface Comparison {
  bestBarePhotoImagesPerSecond: number | undefined;
  bestEndToEndPhotoJobsPerSecond: number | undefined;
  throughputRatio: number | undefined;
  barePhotoP50AtC1: number | undefined;
  endToEndPhotoP50AtC1: number | undefined;
  addedLatencyAtC1: number | undefined;
}

/** Scenarios with the default batching (no PREDICT_MAX_BATCH override). */
const defaults = (results: readonly ScenarioResult[], set: ImageSetName) => results.filter((r) => r.scenario.set === set && r.scenario.maxBatch === undefined);
const best = <T>(items: readonly T[], value: (item: T) => number): T | undefined => items.reduce<T | undefined>((a, b) => (a === undefined || value(b) > value(a) ? b : a), undefined);

export function compare(bare: BareResult | undefined, results: readonly ScenarioResult[]): Comparison {
  const bareRuns = bare?.runs.filter((r) => r.set === 'photo') ?? [];
  const bestBare = best(bareRuns, (r) => r.imagesPerSecond);
  const bestE2e = best(defaults(results, 'photo'), (r) => r.load.jobsPerSecond);
  const bareC1 = bareRuns.find((r) => r.concurrency === 1);
  const e2eC1 = defaults(results, 'photo').find((r) => r.scenario.concurrency === 1);
  return {
    bestBarePhotoImagesPerSecond: bestBare?.imagesPerSecond,
    bestEndToEndPhotoJobsPerSecond: bestE2e?.load.jobsPerSecond,
    throughputRatio: bestBare && bestE2e ? round(bestE2e.load.jobsPerSecond / bestBare.imagesPerSecond, 3) : undefined,
    barePhotoP50AtC1: bareC1?.latency.p50,
    endToEndPhotoP50AtC1: e2eC1?.load.latency.p50,
    addedLatencyAtC1: bareC1 && e2eC1 ? round(e2eC1.load.latency.p50 - bareC1.latency.p50, 2) : undefined,
  };
}

/** Where the CPU went: cores per process, and CPU milliseconds each spends per job. */
export function cpuBound(result: ScenarioResult, cores: number): string {
  const { cpu, load } = result;
  const perJob = Object.entries(cpu.seconds)
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${round((seconds * 1000) / Math.max(1, load.jobs), 2)}`)
    .join(', ');
  const totalMsPerJob = (Object.values(cpu.seconds).reduce((a, b) => a + b, 0) * 1000) / Math.max(1, load.jobs);
  const ceiling = round((cores * 1000) / totalMsPerJob, 0);
  const other = cpu.otherCores !== undefined && cpu.otherCores >= 0.1 ? `; other work on the machine took another ${cpu.otherCores} cores meanwhile` : '';
  return (
    `CPU: the processes kept ${cpu.totalCores} of ${cores} cores busy (${Object.entries(cpu.cores).map(([n, c]) => `${n} ${c}`).join(', ')})${other}; ` +
    `CPU ms per job: ${perJob} = ${round(totalMsPerJob, 2)} ms in all, so ${cores} cores cannot pass ≈ ${ceiling} jobs/s`
  );
}

function stagesLine(result: ScenarioResult): string {
  const entries = Object.entries(result.stages.meanMs).map(([k, v]) => `${k.replace(/_ms$/, '')} ${v}`);
  return entries.length > 0 ? `mean stage ms: ${entries.join(', ')}` : 'stage timings: n/a (get_job reported no timings)';
}

/** predict's CPU per job against the wall time of its own stages: the excess is threads busy outside the measured work. */
function predictCpuLine(result: ScenarioResult): string | undefined {
  const cpu = result.cpu.seconds.predict;
  const m = result.stages.meanMs;
  const stages = [m.predict_decode_ms, m.predict_preprocess_ms, m.predict_inference_ms, m.predict_postprocess_ms, m.predict_encode_ms];
  if (cpu === undefined || stages.some((v) => v === undefined)) return undefined;
  const cpuMs = round((cpu * 1000) / Math.max(1, result.load.jobs), 2);
  const batch = result.stages.meanBatchSize ?? 1;
  return `predict uses ${cpuMs} CPU ms per job; its stages take ${round(stages.reduce((a, b) => a! + b!, 0)!, 2)} ms of wall time per request (mean batch ${batch}), with onnxruntime's and libvips' thread pools both working on it`;
}

function payloadLine(result: ScenarioResult): string {
  const mb = (bytes: number) => round(bytes / 2 ** 20, 2);
  return `payload: each job sends ${mb(result.load.meanUpBytes)} MiB of JSON (the image as base64) to start_job and reads ${mb(result.load.meanDownBytes)} MiB back from get_job (img_in_base64 and img_out_base64); the proxy decodes and checks the upload, and Redis stores and serves both images`;
}

function floorLine(floors: ScenarioResult['floors']): string | undefined {
  if (!floors) return undefined;
  const http = floors.httpNoop.p50;
  const ping = floors.redisPing.p50;
  // Submit, read and batch→predict are three HTTP exchanges; enqueue, take, claim and complete are four Redis steps.
  const floor = round(3 * http + 4 * ping, 2);
  return `single-request floor on this machine: HTTP no-op round trip p50 ${http} ms, Redis PING p50 ${ping} ms, proxy /health p50 ${floors.proxyHealth.p50} ms; a job needs ≥ 3 HTTP exchanges + ≥ 4 Redis steps ≈ ${floor} ms before any image work`;
}

function target(name: string, goal: string, measured: number | undefined, unit: string, pass: (v: number) => boolean, bounds: () => (string | undefined)[]): TargetResult {
  if (measured === undefined || Number.isNaN(measured)) return { name, goal, measured: 'n/a', verdict: 'NOT RUN', bounds: [] };
  const ok = pass(measured);
  return { name, goal, measured: `${measured} ${unit}`, verdict: ok ? 'PASS' : 'MISS', bounds: ok ? [] : bounds().filter((b): b is string => b !== undefined) };
}

const bareLine = (run: BareRun | undefined) =>
  run ? `bare ${run.set} C=${run.concurrency}: ${run.imagesPerSecond} images/s using ${run.cpuCores} cores, stages ${JSON.stringify(run.stagesMs)}` : undefined;

/** The four targets of issue 4, each with its verdict and, when missed, what holds it back. */
export function evaluateTargets(bare: BareResult | undefined, results: readonly ScenarioResult[], cores: number): TargetResult[] {
  const cmp = compare(bare, results);
  const floors = results.find((r) => r.floors)?.floors;
  const photoBest = best(defaults(results, 'photo'), (r) => r.load.jobsPerSecond);
  const photoC1 = defaults(results, 'photo').find((r) => r.scenario.concurrency === 1);
  const tinyC32 = defaults(results, 'tiny').find((r) => r.scenario.concurrency === 32);
  const tinyC1 = defaults(results, 'tiny').find((r) => r.scenario.concurrency === 1);
  const bareTiny = bare?.runs.find((r) => r.set === 'tiny' && r.concurrency === 1);
  const barePhoto = best(bare?.runs.filter((r) => r.set === 'photo') ?? [], (r) => r.imagesPerSecond);
  return [
    target('photo throughput vs bare', '≥ 90 %', cmp.throughputRatio === undefined ? undefined : round(cmp.throughputRatio * 100, 1), '%', (v) => v >= 90, () => [
      `end to end ${cmp.bestEndToEndPhotoJobsPerSecond} jobs/s (C=${photoBest?.scenario.concurrency}) against bare ${cmp.bestBarePhotoImagesPerSecond} images/s`,
      bareLine(barePhoto),
      photoBest && cpuBound(photoBest, cores),
      photoBest && stagesLine(photoBest),
    ]),
    target('added latency at C=1 (photos, p50)', '≤ 3 ms', cmp.addedLatencyAtC1, 'ms', (v) => v <= 3, () => [
      `end to end p50 ${cmp.endToEndPhotoP50AtC1} ms against bare p50 ${cmp.barePhotoP50AtC1} ms`,
      photoC1 && payloadLine(photoC1),
      photoC1 && stagesLine(photoC1),
      floorLine(floors),
    ]),
    target('tiny images at C=32', '≥ 2000 jobs/s', tinyC32?.load.jobsPerSecond, 'jobs/s', (v) => v >= 2000, () => [
      tinyC32 && cpuBound(tinyC32, cores),
      tinyC32 && predictCpuLine(tinyC32),
      tinyC32 && stagesLine(tinyC32),
      bareLine(bareTiny),
    ]),
    target('tiny images at C=1 (p50)', '< 5 ms', tinyC1?.load.latency.p50, 'ms', (v) => v < 5, () => [
      tinyC1 && stagesLine(tinyC1),
      floorLine(floors),
      bareTiny ? `the image work alone (bare tiny C=1) takes p50 ${bareTiny.latency.p50} ms` : undefined,
    ]),
  ];
}
