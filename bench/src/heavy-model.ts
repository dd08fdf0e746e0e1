import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@cutout/config';
import { NpmFetchError, assembleIsnet, fetchIsnetPackage } from '@cutout/clients/models';
import { NPM_ISNET } from '@cutout/predict/models';
import { runBare, type BareRun } from './bare.js';
import { runScenario, type Scenario, type ScenarioResult } from './end-to-end.js';
import type { ImageSet, ImageSetName } from './images.js';
import { round } from './stats.js';

/**
 * Where @imgly/background-removal-data (AGPL-3.0) is fetched with `npm pack` and the IS-Net file is
 * assembled: the model store's own cache (cutout-models pull --from-npm uses it too), never a
 * dependency of the project, never in the repository.
 */
export const HEAVY_MODEL_CACHE = join(homedir(), '.cache', 'cutout');
const ASSEMBLED = join(HEAVY_MODEL_CACHE, 'models', 'isnet-general-use.onnx');

/** Fetches (once) and assembles (once) the fp32 IS-Net; a reason instead when it cannot. */
export async function prepareHeavyModel(progress: (line: string) => void): Promise<{ path: string } | { skipped: string }> {
  try {
    const packageDir = await fetchIsnetPackage(HEAVY_MODEL_CACHE);
    if (!existsSync(ASSEMBLED)) {
      progress(`heavy model: assembling ${NPM_ISNET.resource} of ${NPM_ISNET.packageName}@${NPM_ISNET.version} (AGPL-3.0, used here for measurement only) into ${ASSEMBLED}`);
      await mkdir(join(HEAVY_MODEL_CACHE, 'models'), { recursive: true });
      await assembleIsnet(packageDir, ASSEMBLED);
    }
    return { path: ASSEMBLED };
  } catch (error) {
    if (!(error instanceof NpmFetchError)) throw error;
    return {
      skipped: `skipped: ${error.message}; the bench fetches ${NPM_ISNET.packageName}@${NPM_ISNET.version} with \`npm pack\` into ${HEAVY_MODEL_CACHE} (AGPL-3.0, never a dependency, never committed) and needs the registry once`,
    };
  }
}

/** One batching setting of the heavy-model comparison: bare and end to end at C = BATCH_CONCURRENCY. */
export interface HeavyRun {
  maxBatch: number;
  bare: BareRun;
  endToEnd: ScenarioResult;
  /** Bare images/s and end-to-end jobs/s to three decimals (IS-Net runs well under one image a second here). */
  bareRate: number;
  endToEndRate: number;
  /** End-to-end jobs/s over bare images/s. */
  ratio: number;
  /** CPU ms per image in bare (the bench process) and per job end to end (every service). */
  bareCpuMsPerImage: number;
  endToEndCpuMsPerJob: number;
}

export interface HeavyResult {
  model: string;
  concurrency: number;
  runs: HeavyRun[];
}

/**
 * The regime where inference dominates: IS-Net (1024×1024, fp32) on the test photos, bare and through
 * the whole stack at C = BATCH_CONCURRENCY, with predict's batcher at PREDICT_MAX_BATCH and at 1.
 */
export async function runHeavy(
  modelPath: string,
  sets: Record<ImageSetName, ImageSet>,
  options: { logLevel: string; progress: (line: string) => void; durationMs: number; maxMs: number },
): Promise<HeavyResult> {
  const model = `isnet-general-use:${modelPath}`;
  const base = loadConfig(process.env);
  const concurrency = base.batchConcurrency;
  const settings = [...new Set([base.predictMaxBatch, 1])];
  const runs: HeavyRun[] = [];
  for (const maxBatch of settings) {
    const config = loadConfig({ ...process.env, MODEL: model, PREDICT_MAX_BATCH: String(maxBatch) });
    options.progress(`heavy model, PREDICT_MAX_BATCH=${maxBatch}:`);
    const bare = (await runBare(config, sets, [{ set: 'photo', concurrency }], options.durationMs, options.progress)).runs[0]!;
    const scenario: Scenario = {
      id: `photo-isnet-c${concurrency}-batch${maxBatch}`,
      set: 'photo',
      concurrency,
      maxBatch,
      jobs: 1000,
      maxMs: options.maxMs,
      warmupJobs: concurrency,
      section: 'heavy',
      model,
    };
    const endToEnd = await runScenario(scenario, sets.photo, options);
    options.progress(`  end to end ${endToEnd.load.jobs} jobs in ${endToEnd.load.wallMs} ms: ${endToEnd.load.jobsPerSecond} jobs/s, p50 ${endToEnd.load.latency.p50} ms`);
    const services = Object.entries(endToEnd.cpu.seconds).filter(([name]) => name !== 'bench').reduce((a, [, s]) => a + s, 0);
    const bareRate = bare.images / (bare.wallMs / 1000);
    const endToEndRate = endToEnd.load.jobs / (endToEnd.load.wallMs / 1000);
    runs.push({
      maxBatch,
      bare,
      endToEnd,
      bareRate: round(bareRate, 3),
      endToEndRate: round(endToEndRate, 3),
      ratio: round(endToEndRate / bareRate, 3),
      bareCpuMsPerImage: round((bare.cpuCores * 1000) / bareRate, 1),
      endToEndCpuMsPerJob: round((services * 1000) / Math.max(1, endToEnd.load.jobs), 1),
    });
  }
  return { model: `isnet-general-use (${NPM_ISNET.packageName}@${NPM_ISNET.version} ${NPM_ISNET.resource})`, concurrency, runs };
}
