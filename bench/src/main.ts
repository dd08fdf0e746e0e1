import { measurePassthroughCost } from './passthrough-cost.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@cutout/config';
import { runBare } from './bare.js';
import { runEndToEnd } from './end-to-end.js';
import { loadImageSets } from './images.js';
import { prepareHeavyModel, runHeavy, type HeavyResult } from './heavy-model.js';
import { machineFacts } from './machine.js';
import { barePlan, endToEndPlan, parseArgs, runsPart, USAGE, UsageError, type BenchOptions } from './plan.js';
import { bareTable, busyWarning, describeSets, endToEndTable, renderMarkdown, targetsTable, type BenchReport } from './report.js';
import { round } from './stats.js';
import { compare, evaluateTargets, servingComparison } from './targets.js';
import { errorMessage } from '@cutout/shared';

/** bench/results, found from this file's place in bench/dist/. */
const DEFAULT_OUT = fileURLToPath(new URL('../results/', import.meta.url));

const progress = (line: string) => process.stdout.write(`${line}\n`);

function writeReport(report: BenchReport, outDir: string): { json: string; md: string } {
  mkdirSync(outDir, { recursive: true });
  // A quick or partial run never overwrites a full report.
  const only = report.only ? `-only-${report.only.join('-')}` : '';
  const base = join(outDir, `${report.date}${report.mode === 'quick' ? '-quick' : ''}${only}`);
  const files = { json: `${base}.json`, md: `${base}.md` };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.md, renderMarkdown(report));
  return files;
}

function printSummary(report: BenchReport): void {
  progress('');
  if (report.bare) progress(`Bare (in-process pipeline):\n${bareTable(report.bare)}\n`);
  progress(`End to end:\n${endToEndTable(report.endToEnd, report.bare)}\n`);
  const beside = servingComparison(report.endToEnd);
  if (beside.length > 0) progress(`Serving beside the floor stack and the Celery reference:\n${beside.map((line) => `  ${line}`).join('\n')}\n`);
  progress(`Targets (${report.machine.cores} cores):\n${targetsTable(report.targets)}`);
  for (const t of report.targets.filter((x) => x.verdict === 'MISS')) {
    progress(`\n${t.name} missed; bounded by:\n${t.bounds.map((b) => `  - ${b}`).join('\n')}`);
  }
  const busy = busyWarning(report);
  if (busy) progress(`\nWARNING: ${busy}`);
}

async function bench(options: BenchOptions): Promise<number> {
  const started = performance.now();
  const config = loadConfig(process.env);
  const machine = machineFacts();
  progress(`cutout bench (${options.quick ? 'quick' : 'full'}) on ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}`);
  // The 24-MP photo takes a few seconds to make; the quick run does not use it.
  const sets = await loadImageSets(!options.quick && runsPart(options, 'huge'));
  // predict's own image work on a tiny image, hot and in-process: the serving target's floor inside
  // predict. Before bare: once a model has run here, onnxruntime's threads count in this process's CPU.
  const passthrough = runsPart(options, 'serving') ? await measurePassthroughCost(sets.tiny, config, options.quick ? 300 : 3_000) : undefined;
  const { plans, durationMs } = barePlan(options, config.batchConcurrency);
  const bare = plans.length > 0 ? await runBare(config, sets, plans, durationMs, progress) : undefined;
  const { results, errors, skipped } = await runEndToEnd(endToEndPlan(options), sets, { logLevel: options.logLevel, progress });
  // The heavy model: IS-Net from the npm package's cache, bare and end to end; the quick run skips it.
  let heavy: HeavyResult | string = options.quick ? 'skipped in --quick mode' : 'not chosen by --only';
  if (!options.quick && runsPart(options, 'heavy')) {
    const prepared = await prepareHeavyModel(progress);
    if ('skipped' in prepared) heavy = prepared.skipped;
    else {
      try {
        heavy = await runHeavy(prepared.path, sets, { logLevel: options.logLevel, progress, durationMs: 45_000, maxMs: options.jobs !== undefined ? 600_000 : 45_000 });
      } catch (error) {
        const message = errorMessage(error);
        errors.push({ id: 'heavy', error: message });
        heavy = `failed: ${message.split('\n')[0]}`;
      }
    }
  }
  const report: BenchReport = {
    date: new Date().toISOString().slice(0, 10),
    mode: options.quick ? 'quick' : 'full',
    ...(options.only ? { only: [...options.only] } : {}),
    machine,
    settings: {
      model: config.model,
      batchConcurrency: config.batchConcurrency,
      predictMaxBatch: config.predictMaxBatch,
      predictMaxDelayMs: config.predictMaxDelayMs,
      predictIntraOpThreads: config.predictIntraOpThreads,
      predictInterOpThreads: config.predictInterOpThreads,
      predictGraphOptimization: config.predictGraphOptimization,
      predictSharpConcurrency: config.predictSharpConcurrency,
      serviceLogLevel: options.logLevel,
      jobsOverride: options.jobs ?? null,
    },
    imageSets: describeSets(sets),
    bare,
    endToEnd: results,
    passthrough,
    heavy: typeof heavy === 'string' ? undefined : heavy,
    errors,
    ...(skipped.length > 0 ? { skipped } : {}),
    comparison: compare(bare, results),
    targets: evaluateTargets(bare, results, machine.cores, heavy, passthrough),
    durationSeconds: round((performance.now() - started) / 1000, 1),
  };
  printSummary(report);
  const files = writeReport(report, options.outDir ?? DEFAULT_OUT);
  progress(`\nwrote ${files.json}\nwrote ${files.md}`);
  return errors.length > 0 ? 1 : 0;
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`cutout bench: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  process.exitCode = await bench(options);
}

main().catch((error: unknown) => {
  process.stderr.write(`cutout bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
