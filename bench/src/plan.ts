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
}

export const USAGE = `usage: npm run bench -- [--quick] [--out <dir>] [--n <jobs>] [--log-level <level>]

  --quick          a short run (small N, few configurations; well under a minute) to check the bench works
  --out <dir>      where to write <date>.json and <date>.md (default bench/results)
  --n <jobs>       jobs per end-to-end configuration (default: per image set, cut off after a few seconds)
  --log-level <l>  LOG_LEVEL of the services while measured (default warn: one log line per request costs CPU)`;

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, outDir: undefined, jobs: undefined, logLevel: 'warn', help: false };
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
    else if (arg === '--n') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--n takes a whole number of jobs ≥ 1');
      options.jobs = n;
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return options;
}

/** Default jobs and time cap per image set: enough for stable percentiles within a few seconds each. */
const FULL: Record<ImageSetName, { jobs: number; maxMs: number }> = {
  tiny: { jobs: 8000, maxMs: 6_000 },
  mid: { jobs: 1000, maxMs: 8_000 },
  photo: { jobs: 400, maxMs: 10_000 },
};
const QUICK: Record<ImageSetName, { jobs: number; maxMs: number }> = {
  tiny: { jobs: 150, maxMs: 2_000 },
  mid: { jobs: 20, maxMs: 2_000 },
  photo: { jobs: 12, maxMs: 3_000 },
};

function scenario(options: BenchOptions, set: ImageSetName, concurrency: number, extra: Partial<Scenario> = {}): Scenario {
  const limits = (options.quick ? QUICK : FULL)[set];
  const jobs = options.jobs ?? limits.jobs;
  // An explicit --n is honoured in full; the cap only guards against a stack that hangs.
  const maxMs = options.jobs !== undefined ? 600_000 : limits.maxMs;
  const warmupJobs = options.quick ? concurrency : Math.max(2 * concurrency, set === 'tiny' ? 200 : 12);
  const id = `${set}-c${concurrency}${extra.maxBatch !== undefined ? `-batch${extra.maxBatch}` : ''}`;
  return { id, set, concurrency, jobs, maxMs, warmupJobs, ...extra };
}

/** The end-to-end configurations, each on a fresh stack. The first measures the round-trip floors. */
export function endToEndPlan(options: BenchOptions): Scenario[] {
  if (options.quick) {
    return [
      scenario(options, 'tiny', 1, { floors: true }),
      scenario(options, 'tiny', 8),
      scenario(options, 'tiny', 8, { maxBatch: 1 }),
      scenario(options, 'photo', 1),
    ];
  }
  return [
    scenario(options, 'tiny', 1, { floors: true }),
    scenario(options, 'tiny', 8),
    scenario(options, 'tiny', 32),
    scenario(options, 'tiny', 32, { maxBatch: 1 }),
    scenario(options, 'mid', 1),
    scenario(options, 'mid', 8),
    scenario(options, 'photo', 1),
    scenario(options, 'photo', 8),
    scenario(options, 'photo', 32),
    scenario(options, 'photo', 8, { maxBatch: 1 }),
  ];
}

/** In-process runs: C=1 and the concurrency batch gives each predict server (BATCH_CONCURRENCY). */
export function barePlan(options: BenchOptions, batchConcurrency: number): { plans: BarePlan[]; durationMs: number } {
  if (options.quick) return { plans: [{ set: 'photo', concurrency: 1 }, { set: 'tiny', concurrency: 1 }], durationMs: 500 };
  const sets: ImageSetName[] = ['photo', 'mid', 'tiny'];
  const levels = [...new Set([1, batchConcurrency])];
  return { plans: sets.flatMap((set) => levels.map((concurrency) => ({ set, concurrency }))), durationMs: 5_000 };
}
