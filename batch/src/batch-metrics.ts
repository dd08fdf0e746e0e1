import { Counter, Histogram, type Registry } from 'prom-client';
import { isErrorCode } from '@cutout/shared/contract';
import type { ReapResult } from '@cutout/shared';
import type { JobOutcome } from './job.processor.js';

/** Seconds; jobs take milliseconds (passthrough) to minutes (a large image on a heavy model). */
const RUN_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds; a backlog can hold a job for hours. */
const WAIT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 14400];

/** What the reaper did, as the `action` label says it. */
const REAP_ACTIONS = { promoted: 'retry_due', requeued: 'requeued', failed: 'failed', orphans: 'orphan_requeued', deadlines: 'deadline_failed' } as const;

/** A code label with a bounded set of values: catalogued codes as they are, anything else as OTHER. */
function codeLabel(code: string | undefined): string {
  if (code === undefined) return '';
  return isErrorCode(code) ? code : 'OTHER';
}

/**
 * What one batch process counts (summed over processes by Prometheus): each claim's outcome,
 * its run and queue-wait times, and what the reaper did. A few counter and histogram updates
 * per job; nothing per byte.
 */
export class BatchMetrics {
  readonly #jobs: Counter<'outcome' | 'code'>;
  readonly #run: Histogram;
  readonly #wait: Histogram;
  readonly #reaped: Counter<'action'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#jobs = new Counter({
      name: 'cutout_jobs_total',
      help: 'Job claims this process ended, by outcome (succeeded, failed, retry, released, lost, unrecorded) and, for failed and retry, the error code',
      labelNames: ['outcome', 'code'],
      registers,
    });
    this.#run = new Histogram({ name: 'cutout_job_run_seconds', help: 'Time from take to recorded outcome of each claim this process ran', buckets: RUN_BUCKETS, registers });
    this.#wait = new Histogram({ name: 'cutout_job_queue_wait_seconds', help: "Time from submit to each claim this process took (Redis's clock; a retry counts from the first submit)", buckets: WAIT_BUCKETS, registers });
    this.#reaped = new Counter({ name: 'cutout_reaped_jobs_total', help: 'Jobs the reaper acted on in this process, by action', labelNames: ['action'], registers });
    // Zero series for the outcomes an alert compares, so a rate() has a start point.
    for (const outcome of ['succeeded', 'failed', 'retry'] as const) this.#jobs.inc({ outcome, code: '' }, 0);
  }

  /** A claim was taken `queueWaitMs` after its submit. */
  taken(queueWaitMs: number | undefined): void {
    if (queueWaitMs !== undefined && queueWaitMs >= 0) this.#wait.observe(queueWaitMs / 1000);
  }

  /** A claim this process ran ended, `runMs` after its take. */
  ended(outcome: JobOutcome, code: string | undefined, runMs: number): void {
    this.#jobs.inc({ outcome, code: codeLabel(code) });
    if (outcome !== 'lost') this.#run.observe(runMs / 1000);
  }

  /** A job ended FAILED by the take script on the way (its data gone, its deadline past). */
  failedAtTake(code: string): void {
    this.#jobs.inc({ outcome: 'failed', code: codeLabel(code) });
  }

  reaped(result: ReapResult): void {
    for (const [field, action] of Object.entries(REAP_ACTIONS) as Array<[keyof ReapResult, string]>) {
      if (result[field].length > 0) this.#reaped.inc({ action }, result[field].length);
    }
    if (result.failed.length > 0) this.#jobs.inc({ outcome: 'failed', code: 'WORKER_LOST' }, result.failed.length);
    if (result.deadlines.length > 0) this.#jobs.inc({ outcome: 'failed', code: 'DEADLINE_EXCEEDED' }, result.deadlines.length);
  }
}
