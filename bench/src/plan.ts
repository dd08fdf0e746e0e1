import type { BarePlan } from './bare.js';
import type { Scenario } from './end-to-end.js';
import type { ImageSetName } from './images.js';

export interface BenchOptions {
  quick: boolean;
  /** Folder for the .json and .md reports. */
  outDir: string | undefined;
  /** Jobs per end-to-end configuration; undefined = the per-set default, bounded by time. */
  jobs: number | undefined;
  logLevel: string;
  help: boolean;
  /** `--only`: the parts to run; undefined = all of them. */
  only: ReadonlySet<BenchPart> | undefined;
}

/** The parts `--only` can pick: the in-process pipeline, then the end-to-end sections. */
export const BENCH_PARTS = ['bare', 'serving', 'photos', 'huge', 'heavy'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

/** Whether a part runs: every part without `--only`, else only those it names. */
export function runsPart(options: Pick<BenchOptions, 'only'>, part: BenchPart): boolean {
  return options.only === undefined || options.only.has(part);
}

export const USAGE = `usage: npm run bench -- [--quick] [--only <parts>] [--out <dir>] [--n <jobs>] [--log-level <level>]

  --quick          a short run (small N, few configurations; well under a minute) to check the bench works
  --only <parts>   run only these parts, comma-separated: ${BENCH_PARTS.join(', ')} (a partial run, for development:
                   the targets whose part did not run say NOT RUN; its report is <date>-only-<parts>)
  --out <dir>      where to write <date>.json and <date>.md (default bench/results)
  --n <jobs>       jobs per end-to-end configuration (default: per image set, cut off after a few seconds)
  --log-level <l>  LOG_LEVEL of the services while measured (default warn: one log line per request costs CPU)`;

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, outDir: undefined, jobs: undefined, logLevel: 'warn', help: false, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--out') options.outDir = value();
    else if (arg === '--log-level') options.logLevel = value();
    else if (arg === '--only') options.only = parseParts(value());
    else if (arg === '--n') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--n takes a whole number of jobs ≥ 1');
      options.jobs = n;
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return options;
}

function parseParts(text: string): ReadonlySet<BenchPart> {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  const unknown = parts.filter((part) => !(BENCH_PARTS as readonly string[]).includes(part));
  if (parts.length === 0 || unknown.length > 0) throw new UsageError(`--only takes parts from ${BENCH_PARTS.join(', ')}, comma-separated; got ${JSON.stringify(text)}`);
  return new Set(parts as BenchPart[]);
}

/** Default jobs and time cap per image set: enough for stable percentiles within a few seconds each. */
const FULL: Record<ImageSetName, { jobs: number; maxMs: number }> = {
  huge: { jobs: 3, maxMs: 120_000 },
  tiny: { jobs: 8000, maxMs: 6_000 },
  mid: { jobs: 1000, maxMs: 8_000 },
  // 10 s gave 24–37 photo jobs, and the photo target moved between 71 % and 100 % from run to run.
  photo: { jobs: 400, maxMs: 20_000 },
};
const QUICK: Record<ImageSetName, { jobs: number; maxMs: number }> = {
  huge: { jobs: 1, maxMs: 60_000 },
  tiny: { jobs: 150, maxMs: 2_000 },
  mid: { jobs: 20, maxMs: 2_000 },
  photo: { jobs: 12, maxMs: 3_000 },
};

/** request.py's interval between get_job calls. */
const POLL_MS = 10;

function scenario(options: BenchOptions, set: ImageSetName, concurrency: number, extra: Partial<Scenario> = {}): Scenario {
  const limits = (options.quick ? QUICK : FULL)[set];
  const jobs = options.jobs ?? limits.jobs;
  // An explicit --n is honoured in full; the cap only guards against a stack that hangs.
  const maxMs = options.jobs !== undefined ? 600_000 : limits.maxMs;
  const warmupJobs = set === 'huge' ? 1 : options.quick ? concurrency : Math.max(2 * concurrency, set === 'tiny' ? 200 : 12);
  const model = extra.model !== undefined ? `-${extra.model}` : '';
  const read = extra.read === 'polling' ? '-poll' : '';
  const id = `${set}${model}${extra.stack ? `-${extra.stack}` : ''}-c${concurrency}${read}${extra.maxBatch !== undefined ? `-batch${extra.maxBatch}` : ''}${extra.run !== undefined ? `-run${extra.run}` : ''}`;
  return { id, set, concurrency, jobs, maxMs, warmupJobs, section: 'photos', ...extra };
}

/**
 * Jobs each serving configuration runs before it is measured: a service that runs for hours is
 * measured once V8 has compiled its hot paths. With 200, CPU per job on this machine came out
 * 30–40 % above the same stack's after 2,000, most of it V8's compiler threads.
 */
const SERVING_WARMUP_JOBS = { single: 500, concurrent: 2000 };

/** The stack's own cost: MODEL=passthrough on tiny images, polled every 10 ms like request.py, and long-polled. */
function serving(options: BenchOptions, concurrency: number, read: 'polling' | 'long-poll', extra: Partial<Scenario> = {}): Scenario {
  const warm = options.quick ? {} : { warmupJobs: concurrency === 1 ? SERVING_WARMUP_JOBS.single : SERVING_WARMUP_JOBS.concurrent };
  return scenario(options, 'tiny', concurrency, { section: 'serving', model: 'passthrough', read, ...(read === 'polling' ? { pollMs: POLL_MS } : {}), ...warm, ...extra });
}

/** The 24-MP JPEG is larger than the default MAX_IMAGE_BYTES allows. */
const HUGE_ENV = { MAX_IMAGE_BYTES: String(64 * 1024 * 1024) };

/** The end-to-end configurations, each on a fresh stack. The first measures the round-trip floors. */
export function endToEndPlan(options: BenchOptions): Scenario[] {
  return allScenarios(options).filter((s) => runsPart(options, s.section));
}

function allScenarios(options: BenchOptions): Scenario[] {
  if (options.quick) {
    return [serving(options, 1, 'polling', { floors: true }), serving(options, 16, 'polling'), serving(options, 16, 'polling', { stack: 'floor' }), scenario(options, 'tiny', 8, { maxBatch: 1 }), scenario(options, 'photo', 1)];
  }
  return [
    serving(options, 1, 'polling', { floors: true }),
    // The target's configuration three times, each beside the same load on the floor stack (the
    // design's traffic and nothing else): one run of it on this VM can land 30 % off another.
    ...[1, 2, 3].flatMap((run) => [serving(options, 16, 'polling', { run }), serving(options, 16, 'polling', { stack: 'floor', run })]),
    // The FastAPI + Celery reference the issue compared cutout with, on the same minutes (skipped with
    // the reason when this machine has no Python with its modules).
    serving(options, 16, 'polling', { stack: 'celery' }),
    serving(options, 64, 'polling'),
    serving(options, 1, 'long-poll'),
    serving(options, 16, 'long-poll'),
    serving(options, 64, 'long-poll'),
    scenario(options, 'tiny', 1),
    scenario(options, 'tiny', 16),
    scenario(options, 'photo', 1),
    scenario(options, 'photo', 4),
    scenario(options, 'photo', 8),
    scenario(options, 'photo', 8, { maxBatch: 1 }),
    scenario(options, 'huge', 1, { section: 'huge', env: HUGE_ENV }),
  ];
}

/** In-process runs: C=1 and the concurrency batch gives each predict server (BATCH_CONCURRENCY). */
export function barePlan(options: BenchOptions, batchConcurrency: number): { plans: BarePlan[]; durationMs: number } {
  if (!runsPart(options, 'bare')) return { plans: [], durationMs: 0 };
  if (options.quick) return { plans: [{ set: 'photo', concurrency: 1 }, { set: 'tiny', concurrency: 1 }], durationMs: 500 };
  const sets: ImageSetName[] = ['photo', 'tiny'];
  const levels = [...new Set([1, batchConcurrency])];
  return { plans: sets.flatMap((set) => levels.map((concurrency) => ({ set, concurrency }))), durationMs: 15_000 };
}
