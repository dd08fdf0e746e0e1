import { loadConfig } from '@cutout/config';
import { startStack, type StackHandle } from '@cutout/dev';
import { measureFloors, type Floors } from './floors.js';
import type { ImageSet, ImageSetName } from './images.js';
import { runLoad, type LoadResult, type ReadMode } from './load-client.js';
import { childPidsByRole, CpuMeter, peakMemoryMb, type CpuUsage, type PidMap } from './process-stats.js';
import { stageBreakdown, type StageBreakdown } from './stages.js';
import { round } from './stats.js';
import { errorMessage } from '@cutout/shared';
import { startFloorStack } from './floor/floor-stack.js';
import { ReferenceUnavailableError, startCeleryStack } from './reference/celery-stack.js';

/** One end-to-end configuration; each runs on a stack of its own. */
export interface Scenario {
  id: string;
  set: ImageSetName;
  concurrency: number;
  /** PREDICT_MAX_BATCH for this stack; undefined keeps the configured default. */
  maxBatch?: number;
  jobs: number;
  maxMs: number;
  warmupJobs: number;
  /** Measure the single-round-trip floors on this stack before its load. */
  floors?: boolean;
  /** Which part of the report it belongs to: the stack's own cost, photos with a model, the 24-MP photo. */
  section: 'serving' | 'photos' | 'huge' | 'heavy';
  /** MODEL for this stack (e.g. passthrough); undefined keeps the configured one. */
  model?: string;
  /** How the client reads results; polling waits `pollMs` between get_job calls, as request.py does. */
  read?: ReadMode;
  pollMs?: number;
  /** More settings for this stack's services. */
  env?: Record<string, string>;
  /**
   * In place of cutout's stack, same client and load: 'floor', the floor stack (floor/floor-stack.ts);
   * 'celery', the FastAPI + Celery reference (reference/celery-stack.ts).
   */
  stack?: 'floor' | 'celery';
  /** Which of the repeated runs of one configuration this is (1, 2, 3); the targets take their median. */
  run?: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  settings: { predictMaxBatch: number; predictMaxDelayMs: number; batchConcurrency: number; logLevel: string };
  startupMs: number;
  load: Omit<LoadResult, 'samples'>;
  stages: StageBreakdown;
  cpu: CpuUsage;
  peakMemoryMb: Record<string, number>;
  /** Where the pids came from: the stack handle, or this process's children found in /proc. */
  pidSource: 'handle' | 'proc-scan' | 'mixed';
  floors?: Floors;
}

export interface EndToEndOptions {
  logLevel: string;
  /** Receives progress lines. */
  progress: (line: string) => void;
}

/** The stack's pids from the handle; one it does not know (0 or absent) is looked for among our children. */
function stackPids(handle: StackHandle): { pids: PidMap; source: ScenarioResult['pidSource'] } {
  const scanned = childPidsByRole();
  const known: Partial<Record<string, number>> = { ...handle.pids };
  const pids: PidMap = {};
  let fromHandle = 0;
  for (const role of ['predict', 'batch', 'proxy', 'redis']) {
    const reported = known[role];
    if (typeof reported === 'number' && reported > 0) {
      pids[role] = reported;
      fromHandle++;
    } else if (scanned[role] !== undefined) {
      pids[role] = scanned[role]!;
    }
  }
  pids.bench = process.pid;
  const source = fromHandle === 4 || (fromHandle === 3 && pids.redis === undefined) ? 'handle' : fromHandle === 0 ? 'proc-scan' : 'mixed';
  return { pids, source };
}

function stackEnv(scenario: Scenario, logLevel: string): Record<string, string | undefined> {
  return {
    // A private Redis even when REDIS_URL is set: the bench fills it with thousands of jobs.
    REDIS_URL: undefined,
    REDIS_KEY_PREFIX: '',
    LOG_LEVEL: logLevel,
    ...(scenario.maxBatch !== undefined ? { PREDICT_MAX_BATCH: String(scenario.maxBatch) } : {}),
    ...(scenario.model !== undefined ? { MODEL: scenario.model } : {}),
    ...scenario.env,
  };
}

/** Fails with the service's last lines when a service dies while the load runs. */
function crashGuard(handle: StackHandle): Promise<never> {
  return handle.crashed.then((exit) => {
    throw new Error(`${exit.service} exited (code ${exit.code}, signal ${exit.signal}) during the run; last output:\n${exit.lastLines.join('\n')}`);
  });
}

/** The load a scenario runs, on whichever stack; CPU is metered from the end of the warm-up. */
function scenarioLoad(scenario: Scenario, set: ImageSet, proxyUrl: string, onMeasureStart: () => void): Promise<LoadResult> {
  return runLoad({
    proxyUrl,
    images: set.images,
    concurrency: scenario.concurrency,
    jobs: scenario.jobs,
    maxMs: scenario.maxMs,
    warmupJobs: scenario.warmupJobs,
    ...(scenario.read ? { read: scenario.read } : {}),
    ...(scenario.pollMs !== undefined ? { pollMs: scenario.pollMs } : {}),
    onMeasureStart,
  });
}

/** A stack measured in place of cutout's: the floor stack or the Celery reference. */
interface StandInStack {
  proxyUrl: string;
  pids: PidMap;
  /** More processes of one role (the Celery worker's pool): their CPU is added to that role's. */
  rolePids?(): { role: string; pids: number[] };
  stop(): Promise<void>;
}

/**
 * A stand-in stack under the scenario's load, measured as cutout's is (no stages, no floors):
 * the floor stack, what the design's traffic alone costs; the FastAPI + Celery reference, whose
 * web process is counted as the proxy and its Celery worker (main process and pool) as batch.
 */
async function runStandIn(name: string, start: () => Promise<StandInStack>, scenario: Scenario, set: ImageSet, settings: ScenarioResult['settings']): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const stack = await start();
  const startupMs = round(performance.now() - startedAt, 0);
  try {
    const extra = stack.rolePids?.() ?? { role: '', pids: [] };
    const parts = extra.pids.map((_, i) => `${extra.role}:${i}`);
    const pids: PidMap = { ...stack.pids, bench: process.pid, ...Object.fromEntries(extra.pids.map((pid, i) => [parts[i]!, pid])) };
    let meter: CpuMeter | undefined;
    const load = await scenarioLoad(scenario, set, stack.proxyUrl, () => (meter = new CpuMeter(pids)));
    const cpu = foldInto(meter!.stop(), extra.role, parts);
    const { samples, ...figures } = load;
    if (figures.jobs === 0) throw new Error(`no job of the ${name} finished: ${figures.firstFailure ?? 'unknown'}`);
    return { scenario, settings, startupMs, load: figures, stages: stageBreakdown(samples), cpu, peakMemoryMb: peakMemoryMb(pids), pidSource: 'handle' };
  } finally {
    await stack.stop();
  }
}

/** The CPU of `parts` added to `into`'s, and the parts dropped: one column per role in the tables. */
function foldInto(cpu: CpuUsage, into: string, parts: readonly string[]): CpuUsage {
  const seconds = { ...cpu.seconds };
  const cores = { ...cpu.cores };
  for (const part of parts) {
    seconds[into] = round((seconds[into] ?? 0) + (seconds[part] ?? 0), 2);
    cores[into] = round((cores[into] ?? 0) + (cores[part] ?? 0), 2);
    delete seconds[part];
    delete cores[part];
  }
  return { ...cpu, seconds, cores };
}

/** Starts a fresh stack, optionally measures the floors, runs the load, reads CPU and memory, stops. */
export async function runScenario(scenario: Scenario, set: ImageSet, options: EndToEndOptions): Promise<ScenarioResult> {
  const env = stackEnv(scenario, options.logLevel);
  const config = loadConfig({ ...process.env, ...env });
  const settings = { predictMaxBatch: config.predictMaxBatch, predictMaxDelayMs: config.predictMaxDelayMs, batchConcurrency: config.batchConcurrency, logLevel: options.logLevel };
  if (scenario.stack === 'floor') return runStandIn('floor stack', () => startFloorStack(settings.batchConcurrency), scenario, set, settings);
  if (scenario.stack === 'celery') {
    const start = async () => {
      const reference = await startCeleryStack(settings.batchConcurrency);
      return { ...reference, rolePids: () => ({ role: 'batch', pids: reference.poolPids() }) };
    };
    return runStandIn('Celery reference', start, scenario, set, settings);
  }
  const logs: string[] = [];
  const startedAt = performance.now();
  const handle = await startStack({
    proxyPort: 0,
    batchMetricsPort: 0,
    predictPort: 0,
    redisUrl: undefined,
    env,
    pretty: false,
    logSink: (line) => {
      logs.push(line);
      if (logs.length > 300) logs.shift();
    },
  });
  const startupMs = round(performance.now() - startedAt, 0);
  try {
    const floors = scenario.floors ? await measureFloors(handle, 2000) : undefined;
    const { pids, source } = stackPids(handle);
    let meter: CpuMeter | undefined;
    const guard = crashGuard(handle);
    // A crash after the race is over must not surface as an unhandled rejection.
    guard.catch(() => undefined);
    const load = await Promise.race([scenarioLoad(scenario, set, handle.proxyUrl, () => (meter = new CpuMeter(pids))), guard]);
    const cpu = meter!.stop();
    const { samples, ...figures } = load;
    if (figures.jobs === 0) throw new Error(`no job succeeded: ${figures.firstFailure ?? 'unknown'}; last output:\n${logs.slice(-20).join('\n')}`);
    return {
      scenario,
      settings,
      startupMs,
      load: figures,
      stages: stageBreakdown(samples),
      cpu,
      peakMemoryMb: peakMemoryMb(pids),
      pidSource: source,
      ...(floors ? { floors } : {}),
    };
  } finally {
    await handle.stop();
  }
}

/**
 * Every scenario in turn, each on a fresh stack; a failing scenario is reported and skipped, and
 * one that cannot run on this machine (the Celery reference without its Python modules) is skipped
 * with the reason, not counted as a failure.
 */
export async function runEndToEnd(
  scenarios: readonly Scenario[],
  sets: Record<ImageSetName, ImageSet>,
  options: EndToEndOptions,
): Promise<{ results: ScenarioResult[]; errors: { id: string; error: string }[]; skipped: { id: string; reason: string }[] }> {
  const results: ScenarioResult[] = [];
  const errors: { id: string; error: string }[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (const scenario of scenarios) {
    options.progress(`end to end ${scenario.id}: ${scenario.set}, C=${scenario.concurrency}${scenario.maxBatch !== undefined ? `, PREDICT_MAX_BATCH=${scenario.maxBatch}` : ''} ...`);
    try {
      const result = await runScenario(scenario, sets[scenario.set], options);
      results.push(result);
      const { load } = result;
      options.progress(
        `  ${load.jobs} jobs in ${load.wallMs} ms: ${load.jobsPerSecond} jobs/s, p50 ${load.latency.p50} ms, p95 ${load.latency.p95} ms, p99 ${load.latency.p99} ms (${load.readMode}${load.failures ? `, ${load.failures} failed` : ''})`,
      );
    } catch (error) {
      const message = errorMessage(error);
      if (error instanceof ReferenceUnavailableError) {
        skipped.push({ id: scenario.id, reason: message });
        options.progress(`  skipped: ${message}`);
        continue;
      }
      errors.push({ id: scenario.id, error: message });
      options.progress(`  FAILED: ${message}`);
    }
  }
  return { results, errors, skipped };
}
