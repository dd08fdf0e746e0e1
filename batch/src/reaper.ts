import { errorMessage, type JobRepository, type Logger, type ReapResult } from '@cutout/shared';

export interface ReaperOptions {
  repository: Pick<JobRepository, 'reap' | 'reapWasFull' | 'acquireReaperLock' | 'releaseReaperLock'>;
  logger: Logger;
  /** How often to try for the lock and reap. */
  intervalMs: number;
  /** Unique per process: the lock holds it, so only its holder can release it. */
  owner: string;
  /** How long the lock lasts if its holder dies before releasing it. Default max(2000, 2 × interval). */
  lockTtlMs?: number;
  /** Told every round's result (the metrics hook). */
  onRound?: (result: ReapResult) => void;
}

/** Full rounds run back to back in one tick before the reaper yields until the next one. */
const MAX_ROUNDS_PER_TICK = 10;

/**
 * Every interval, tries to take the fleet-wide reaper lock; the holder promotes due retries,
 * requeues (or fails) jobs whose lease ran out and recovers lease-less ids, then lets go.
 */
export class Reaper {
  readonly #o: Required<Omit<ReaperOptions, 'onRound'>> & Pick<ReaperOptions, 'onRound'>;
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #closed = false;
  #failures = 0;

  constructor(options: ReaperOptions) {
    if (!(options.intervalMs > 0)) throw new Error(`Reaper intervalMs must be positive, got ${options.intervalMs}`);
    this.#o = { lockTtlMs: Math.max(2_000, options.intervalMs * 2), ...options };
  }

  start(): void {
    if (this.#closed || this.#timer || this.#tick) return;
    this.#schedule();
  }

  /** Runs one tick now (tests, and the first tick at start). */
  runOnce(): Promise<void> {
    this.#tick ??= this.#run().finally(() => (this.#tick = null));
    return this.#tick;
  }

  /** Stops ticking and waits for a tick in progress; safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#tick;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.runOnce().then(() => this.#schedule());
    }, this.#o.intervalMs);
  }

  async #run(): Promise<void> {
    const { repository, logger, owner, lockTtlMs } = this.#o;
    try {
      if (!(await repository.acquireReaperLock(owner, lockTtlMs))) return;
      try {
        for (let round = 0; round < MAX_ROUNDS_PER_TICK && !this.#closed; round++) {
          const result = await repository.reap();
          this.#o.onRound?.(result);
          this.#log(result);
          if (!repository.reapWasFull(result)) break;
        }
      } finally {
        await repository.releaseReaperLock(owner).catch(() => undefined);
      }
      if (this.#failures > 0) logger.info('reaper running again', { failed_ticks: this.#failures });
      this.#failures = 0;
    } catch (error) {
      // One line per outage, not one per tick.
      if (this.#failures++ === 0) logger.warn('reaper cannot reach redis; retrying', { error: errorMessage(error) });
    }
  }

  #log(result: ReapResult): void {
    const { logger, owner } = this.#o;
    for (const id of result.promoted) logger.info('job reaped', { job_id: id, action: 'retry due', reaper: owner });
    for (const id of result.requeued) logger.warn('job reaped', { job_id: id, action: 'requeued', reason: 'its lease ran out', reaper: owner });
    for (const id of result.failed) {
      logger.warn('job reaped', { job_id: id, action: 'failed', error_code: 'WORKER_LOST', reason: 'its lease ran out on its last attempt', reaper: owner });
    }
    for (const id of result.orphans) logger.warn('job reaped', { job_id: id, action: 'orphan requeued', reason: 'in processing without a lease', reaper: owner });
    for (const id of result.deadlines) logger.warn('job reaped', { job_id: id, action: 'failed', error_code: 'DEADLINE_EXCEEDED', reason: 'not started within its deadline', reaper: owner });
    const total = result.promoted.length + result.requeued.length + result.failed.length + result.orphans.length + result.deadlines.length;
    if (total > 0) {
      logger.info('reaper round', { promoted: result.promoted.length, requeued: result.requeued.length, failed: result.failed.length, orphans: result.orphans.length, deadlines: result.deadlines.length });
    }
  }
}
