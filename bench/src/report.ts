import type { PassthroughCost } from './passthrough-cost.js';
import type { BareResult } from './bare.js';
import type { ScenarioResult } from './end-to-end.js';
import type { HeavyResult } from './heavy-model.js';
import type { ImageSet, ImageSetName } from './images.js';
import type { MachineFacts } from './machine.js';
import { STAGES } from './stages.js';
import { cell, table } from './table.js';
import { serviceCpuMsPerJob, servingComparison, type Comparison, type TargetResult } from './targets.js';

/** Everything one bench run measured; written as the .json report. */
export interface BenchReport {
  date: string;
  mode: 'quick' | 'full';
  /** `--only`'s parts, when the run was partial. */
  only?: string[];
  machine: MachineFacts;
  settings: Record<string, unknown>;
  imageSets: Record<ImageSetName, { description: string; images: { name: string; width: number; height: number; bytes: number }[] }>;
  bare: BareResult | undefined;
  endToEnd: ScenarioResult[];
  /** predict's image work per tiny image with MODEL=passthrough, in-process; undefined when serving did not run. */
  passthrough?: PassthroughCost | undefined;
  /** IS-Net bare and end to end, batching on and off; undefined when it did not run. */
  heavy: HeavyResult | undefined;
  errors: { id: string; error: string }[];
  /** Configurations that could not run on this machine, and why (the Celery reference without its Python modules). */
  skipped?: { id: string; reason: string }[];
  comparison: Comparison;
  targets: TargetResult[];
  durationSeconds: number;
}

export function describeSets(sets: Record<ImageSetName, ImageSet>): BenchReport['imageSets'] {
  const out = {} as BenchReport['imageSets'];
  for (const set of Object.values(sets)) {
    out[set.name] = { description: set.description, images: set.images.map((i) => ({ name: i.name, width: i.width, height: i.height, bytes: i.bytes.length })) };
  }
  return out;
}

const label = (r: ScenarioResult) =>
  `${r.scenario.set}${r.scenario.stack === 'floor' ? ' FLOOR STACK' : r.scenario.stack === 'celery' ? ' CELERY REFERENCE' : r.scenario.model ? ` ${r.scenario.model.split(':')[0]}` : ''} C=${r.scenario.concurrency}${r.scenario.read === 'polling' ? ` poll ${r.scenario.pollMs ?? 2} ms` : ''}${r.scenario.maxBatch !== undefined ? ` batch=${r.scenario.maxBatch}` : ''}`;

/** The stack's own cost: CPU ms per job of each service and in all (the bench client apart), jobs/s, p50/p99. */
function servingTable(results: readonly ScenarioResult[]): string {
  const rows = results.filter((r) => r.scenario.section === 'serving');
  if (rows.length === 0) return '_Not run._';
  const roles = ['predict', 'batch', 'proxy', 'redis'];
  return table(
    ['config', 'read', 'jobs', 'jobs/s', 'p50 ms', 'p99 ms', 'requests/job', ...roles.map((r) => `${r} ms/job`), 'services ms/job', 'client ms/job'],
    rows.map((r) => {
      const { perService, total } = serviceCpuMsPerJob(r);
      const client = ((r.cpu.seconds.bench ?? 0) * 1000) / Math.max(1, r.load.jobs);
      return [label(r), r.load.readMode, String(r.load.jobs), cell(r.load.jobsPerSecond), cell(r.load.latency.p50), cell(r.load.latency.p99), cell(r.load.requestsPerJob), ...roles.map((role) => cell(perService[role])), cell(total), cell(Math.round(client * 1000) / 1000)];
    }),
  );
}

function servingComparisonSection(report: BenchReport): string {
  const lines = servingComparison(report.endToEnd).map((line) => `- ${line}`);
  for (const skip of report.skipped ?? []) lines.push(`- ${skip.id}: skipped, ${skip.reason}`);
  return lines.length > 0 ? lines.join('\n') : '_Not run._';
}

export function targetsTable(targets: readonly TargetResult[]): string {
  return table(['target', 'goal', 'measured', 'verdict'], targets.map((t) => [t.name, t.goal, t.measured, t.verdict]));
}

export function bareTable(bare: BareResult): string {
  return table(
    ['set', 'C', 'images', 'images/s', 'p50 ms', 'p95 ms', 'p99 ms', 'cores', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'batch', 'other cores'],
    bare.runs.map((r) => [
      r.set, String(r.concurrency), String(r.images), cell(r.imagesPerSecond), cell(r.latency.p50), cell(r.latency.p95), cell(r.latency.p99), cell(r.cpuCores),
      cell(r.stagesMs.decode), cell(r.stagesMs.preprocess), cell(r.stagesMs.inference), cell(r.stagesMs.postprocess), cell(r.stagesMs.encode), cell(r.meanBatchSize), cell(r.otherCores),
    ]),
  );
}

function bareP50(bare: BareResult | undefined, r: ScenarioResult): number | undefined {
  const runs = bare?.runs.filter((b) => b.set === r.scenario.set) ?? [];
  return (runs.find((b) => b.concurrency === 1) ?? runs[0])?.latency.p50;
}

export function endToEndTable(results: readonly ScenarioResult[], bare: BareResult | undefined): string {
  return table(
    ['config', 'max batch', 'jobs', 'jobs/s', 'p50 ms', 'p95 ms', 'p99 ms', 'bare p50 ms', 'mean batch', 'KB up/down', 'read', 'failed'],
    results.map((r) => [
      label(r), String(r.settings.predictMaxBatch), String(r.load.jobs), cell(r.load.jobsPerSecond), cell(r.load.latency.p50), cell(r.load.latency.p95), cell(r.load.latency.p99),
      cell(bareP50(bare, r)), cell(r.stages.meanBatchSize), `${Math.round(r.load.meanUpBytes / 1024)}/${Math.round(r.load.meanDownBytes / 1024)}`, r.load.readMode, String(r.load.failures),
    ]),
  );
}

function stageTable(results: readonly ScenarioResult[]): string {
  const rows = STAGES.map((s) => [s.label, ...results.map((r) => cell(r.stages.meanMs[s.key]))]);
  rows.push(['**measured latency, mean**', ...results.map((r) => cell(r.load.latency.mean))]);
  return table(['stage (mean ms)', ...results.map(label)], rows);
}

function cpuTable(results: readonly ScenarioResult[]): string {
  const roles = ['predict', 'batch', 'proxy', 'redis', 'bench'];
  return table(
    ['config', ...roles.map((r) => `${r} cores`), 'total cores', 'CPU ms/job', 'other processes cores'],
    results.map((r) => {
      const seconds = Object.values(r.cpu.seconds).reduce((a, b) => a + b, 0);
      return [label(r), ...roles.map((role) => cell(r.cpu.cores[role])), cell(r.cpu.totalCores), cell((seconds * 1000) / Math.max(1, r.load.jobs), 2), cell(r.cpu.otherCores)];
    }),
  );
}

function memoryTable(results: readonly ScenarioResult[]): string {
  const roles = ['predict', 'batch', 'proxy', 'redis', 'bench'];
  return table(['config', ...roles.map((r) => `${r} MiB`), 'pids from'], results.map((r) => [label(r), ...roles.map((role) => cell(r.peakMemoryMb[role])), r.pidSource]));
}

function batchingTable(results: readonly ScenarioResult[]): string {
  const off = results.filter((r) => r.scenario.maxBatch === 1);
  const rows = off.flatMap((r) => {
    const on = results.find((o) => o.scenario.set === r.scenario.set && o.scenario.concurrency === r.scenario.concurrency && o.scenario.maxBatch === undefined);
    return [on, r].filter((x): x is ScenarioResult => x !== undefined);
  });
  if (rows.length === 0) return '_Not run in this mode._';
  return table(
    ['config', 'PREDICT_MAX_BATCH', 'jobs/s', 'p50 ms', 'p95 ms', 'mean batch', 'inference ms', 'predict cores'],
    rows.map((r) => [label(r), String(r.settings.predictMaxBatch), cell(r.load.jobsPerSecond), cell(r.load.latency.p50), cell(r.load.latency.p95), cell(r.stages.meanBatchSize), cell(r.stages.meanMs.predict_inference_ms), cell(r.cpu.cores.predict)]),
  );
}

function heavySection(heavy: HeavyResult | undefined): string {
  if (!heavy) return '_Not run (see the targets)._';
  const rows = heavy.runs.map((r) => [
    String(r.maxBatch), String(heavy.concurrency), `${r.bareRate} (${r.bare.images})`, `${r.endToEndRate} (${r.endToEnd.load.jobs})`, `${(r.ratio * 100).toFixed(1)} %`,
    cell(r.bare.latency.p50), cell(r.endToEnd.load.latency.p50), cell(r.bare.meanBatchSize), cell(r.endToEnd.stages.meanBatchSize),
    cell(r.bare.stagesMs.inference), cell(r.endToEnd.stages.meanMs.predict_inference_ms), cell(r.bareCpuMsPerImage), cell(r.endToEndCpuMsPerJob), `${cell(r.bare.otherCores)} / ${cell(r.endToEnd.cpu.otherCores)}`,
  ]);
  return `Model: ${heavy.model}, on the test photos.\n\n${table(
    ['PREDICT_MAX_BATCH', 'C', 'bare images/s (images)', 'e2e jobs/s (jobs)', 'e2e / bare', 'bare p50 ms', 'e2e p50 ms', 'bare mean batch', 'e2e mean batch', 'bare inference ms', 'e2e inference ms', 'bare CPU ms/image', 'e2e CPU ms/job', 'other cores bare / e2e'],
    rows,
  )}\n\nThe end-to-end runs also appear in the tables below (stages, CPU, memory) as \`photo isnet-general-use:…\`.`;
}

function floorsSection(results: readonly ScenarioResult[]): string {
  const floors = results.find((r) => r.floors)?.floors;
  if (!floors) return '_Not measured._';
  return table(
    ['round trip (sequential, one connection)', 'p50 ms', 'p95 ms', 'p99 ms'],
    [
      ['Redis PING (node-redis)', cell(floors.redisPing.p50), cell(floors.redisPing.p95), cell(floors.redisPing.p99)],
      ['HTTP no-op (predict GET /health)', cell(floors.httpNoop.p50), cell(floors.httpNoop.p95), cell(floors.httpNoop.p99)],
      ['proxy GET /health (HTTP + Redis PING)', cell(floors.proxyHealth.p50), cell(floors.proxyHealth.p95), cell(floors.proxyHealth.p99)],
    ],
  );
}

function comparisonSection(c: Comparison): string {
  return [
    `- Best bare photo throughput: ${cell(c.bestBarePhotoImagesPerSecond)} images/s; best end-to-end photo throughput: ${cell(c.bestEndToEndPhotoJobsPerSecond)} jobs/s; ratio ${c.throughputRatio === undefined ? 'n/a' : `${(c.throughputRatio * 100).toFixed(1)} %`}.`,
    `- Photos at C=1: bare p50 ${cell(c.barePhotoP50AtC1)} ms, end-to-end p50 ${cell(c.endToEndPhotoP50AtC1)} ms, added ${cell(c.addedLatencyAtC1)} ms.`,
  ].join('\n');
}

function boundsSection(targets: readonly TargetResult[]): string {
  const missed = targets.filter((t) => t.verdict === 'MISS' || (t.verdict === 'NOT RUN' && t.bounds.length > 0));
  if (missed.length === 0) return 'Every target that ran was met.';
  return missed.map((t) => [`**${t.name}** (${t.goal}, measured ${t.measured}):`, ...t.bounds.map((b) => `- ${b}`)].join('\n')).join('\n\n');
}

const METHOD = `How the figures are made:
- **bare** loads the model once in the bench's own process with predict's session settings, sharp concurrency and batcher, warms up with every image once, then runs removeBackground with C images in flight for a fixed time. Latency is per image; the stages are removeBackground's own timings.
- **end to end** starts a fresh stack per configuration (private redis-server, predict, batch, proxy as child processes on free ports), warms it up, then submits N jobs with C in flight through POST /start_job and reads each through GET /get_job (long poll \`?wait=30\`, or polling every 2 ms when the proxy ignores \`wait\`). Latency runs from sending start_job to having parsed the finished get_job answer. The client is undici in the bench process, on the same cores as the stack.
- **stages** come from the \`timings\` each finished job reports (see the stage table's labels for how the derived rows are computed); "n/a" means the stack did not report that field.
- **CPU** is utime+stime from /proc/<pid>/stat over the measured interval, as cores kept busy; **memory** is VmHWM (peak RSS) from /proc/<pid>/status at the end of the run (the bench process includes the bare run's model).`;

function bareBatching(bare: BareResult | undefined): string {
  if (!bare) return '';
  const { maxBatch, maxDelayMs } = bare.settings;
  return maxBatch === undefined
    ? 'This build of @cutout/predict exports no InferenceBatcher, so bare ran every image in its own onnxruntime call.'
    : `Bare used predict's batcher: max batch ${maxBatch}, max delay ${maxDelayMs} ms.`;
}

/** A sentence when other work on the machine competed with the measurements, else undefined. */
export function busyWarning(report: BenchReport): string | undefined {
  const others = [...report.endToEnd.map((r) => r.cpu.otherCores ?? 0), ...(report.bare?.runs.map((r) => r.otherCores ?? 0) ?? [])];
  const busiest = Math.max(0, ...others);
  if (busiest < 0.25) return undefined;
  return `other processes on the machine kept up to ${busiest} cores busy during the measurements (see the "other" columns), so the figures are pessimistic; run again on a quiet machine.`;
}

export function renderMarkdown(report: BenchReport): string {
  const { machine: m } = report;
  const sets = Object.values(report.imageSets).map((s) => `- ${s.description}`).join('\n');
  const busy = busyWarning(report);
  const warning = busy ? `\n\n**Warning:** ${busy}` : '';
  const allRuns = [...report.endToEnd, ...(report.heavy?.runs.map((r) => r.endToEnd) ?? [])];
  const parts = [
    `# cutout benchmark, ${report.date}${report.mode === 'quick' ? ' (quick mode: small N, few configurations)' : ''}${report.only ? ` (partial: only ${report.only.join(', ')})` : ''}`,
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}, redis-server ${m.redisServer}; commit ${m.commit}; load average at start ${m.loadAverageAtStart.join(' / ')}; the whole run took ${report.durationSeconds} s.${warning}`,
    `Settings: \`${JSON.stringify(report.settings)}\``,
    `Images:\n${sets}`,
    `## Targets\n\n${targetsTable(report.targets)}`,
    `### What bounds each missed target\n\n${boundsSection(report.targets)}`,
    `## Serving: the stack's own cost (MODEL=passthrough, 64×64 PNGs)\n\n${servingTable(report.endToEnd)}\n\nCPU is utime+stime from /proc per process over the measured interval, divided by the jobs finished; the client (the bench process) is shown apart and not counted. Each configuration is measured after a warm-up (2,000 jobs at C ≥ 16, 500 at C = 1), so V8 has compiled the hot paths, as in a service that has been up a while. requests/job counts the client's start_job and get_job calls. The FLOOR STACK row is the same load on bench/src/floor: the same processes and hops doing nothing but the traffic the design fixes (a node:http proxy storing the input and queueing the id, workers taking ids with BRPOP and calling an HTTP model server that echoes the image, Redis with the same settings). It is the cost of the design's traffic in Node on this machine, before any work of cutout's own. The CELERY REFERENCE row is the same load on bench/celery-reference (seed 001's design: FastAPI under uvicorn queues a Celery task that decodes the PNG, adds an opaque alpha and encodes it with Pillow; a prefork Celery worker with BATCH_CONCURRENCY processes; Redis as broker and result backend, same settings): its web process is in the proxy column, the Celery worker's processes in the batch column.${report.passthrough ? ` Predict's image work alone, in-process and hot (removeBackground with MODEL=passthrough on the tiny images, ${report.passthrough.images} of them): ${report.passthrough.cpuMicrosPerImage} CPU µs per image, ${report.passthrough.outputBytes} bytes out.` : ''}`,
    `### Beside the floor stack and the Celery reference (same minutes)\n\n${servingComparisonSection(report)}`,
    `## Bare: the predict pipeline in one process\n\n${report.bare ? bareTable(report.bare) : '_Not run._'}\n\nStage columns are mean ms per image; "batch" is the mean number of images per onnxruntime run. ${bareBatching(report.bare)}`,
    `## End to end: the whole stack through the job API\n\n${endToEndTable(allRuns, report.bare)}`,
    `## End to end against bare\n\n${comparisonSection(report.comparison)}`,
    `## Where the time goes (per-stage breakdown)\n\n${stageTable(allRuns)}`,
    `## Heavy model: IS-Net, bare and end to end\n\n${heavySection(report.heavy)}`,
    `## Batching on and off\n\n${batchingTable(report.endToEnd)}`,
    `## CPU share during each run\n\n${cpuTable(allRuns)}\n\nAll processes share ${m.cores} cores: the bench client, proxy, batch, predict and Redis. "Other processes" is machine-wide busy time (/proc/stat) that none of them accounts for: anything else running on the machine during the measurement, which makes the figures pessimistic when it is not near 0.`,
    `## Peak memory (VmHWM) of each process\n\n${memoryTable(allRuns)}`,
    `## Single-request floor on this machine\n\n${floorsSection(report.endToEnd)}`,
    `## Method\n\n${METHOD}`,
  ];
  if (report.errors.length > 0) parts.push(`## Errors\n\n${report.errors.map((e) => `- ${e.id}: ${e.error.split('\n')[0]}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}
