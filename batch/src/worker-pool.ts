import { hostname } from 'node:os';
import { closeRedisClient, errorMessage, type JobRepository, type Logger, type RedisClient, type TakenJob, WakeableSleeps } from '@cutout/shared';
import { JobProcessor, type Predictor } from './job.processor.js';
import { JobWaiter } from './job-waiter.js';
import { CancelWatch } from './cancel-watch.js';
import { WaitTurn } from './wait-turn.js';
import type { PredictServerHealth } from './predict.client.js';
import { Reaper } from './reaper.js';
import { within } from './timing.js';
import type { BatchMetrics } from './batch-metrics.js';

export interface WorkerPoolOptions {
  /** Used for take/renew/complete/fail and duplicated once per worker for the blocking wait. */
  redis: RedisClient;
  /** Its leaseMs and maxAttempts rule the jobs this pool runs. */
  repository: JobRepository;
  predict: Predictor & { close(): Promise<void>; health?(): Promise<PredictServerHealth[]> };
  logger: Logger;
  /** Jobs run at once: one loop, and one blocking Redis connection, each (one of them blocks at a time). */
  concurrency: number;
  /** How long close() waits for running jobs before it hands them back to the queue. */
  shutdownGraceMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** How often this pool tries to run the reaper. Default 1000. */
  reaperIntervalMs?: number;
  /** Names this process in worker ids (`<name>:<loop>`) and the reaper lock. Default host:pid. */
  name?: string;
  /** How long one blocking wait lasts in Redis. Default 1. */
  blockTimeoutSeconds?: number;
  /** How far past that a wait may run before its connection is replaced. Default 2000. */
  watchdogMarginMs?: number;
  /** Longest pause between takes while Redis or predict is away. Default 2000. */
  maxBackoffMs?: number;
  /** Longest a hand-back at shutdown keeps trying to reach Redis. Default 2000. */
  releaseWaitMs?: number;
  /** Where outcomes, run and wait times and reaper actions are counted; none: not counted. */
  metrics?: BatchMetrics;
}

const FIRST_BACKOFF_MS = 50;
/** Longest a single cleanup step may take before close() moves on. */
const CLOSE_STEP_MS = 2_000;

/**
 * `concurrency` loops, each taking one job at a time with a lease (one atomic Lua step) and
 * running it to an outcome; one idle loop at a time blocks on its own connection until work
 * arrives, the others wait for their turn in memory (wait-turn.ts). The
 * pool also runs the reaper when it holds the fleet-wide lock. Takes ownership of `redis` and
 * `predict`: close() closes them.
 */
export class WorkerPool {
  readonly #o: Required<Omit<WorkerPoolOptions, 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'metrics'>>;
  readonly #metrics: BatchMetrics | undefined;
  readonly #processor: JobProcessor;
  readonly #reaper: Reaper;
  readonly #cancels: CancelWatch;
  readonly #waiters: JobWaiter[] = [];
  /** Only the idle worker holding it blocks in Redis, so one push wakes one worker (wait-turn.ts). */
  readonly #turn = new WaitTurn();
  readonly #loops: Promise<void>[] = [];
  readonly #sleeps = new WakeableSleeps();
  /** Aborted when the grace period runs out: running jobs stop and are handed back. */
  readonly #abort = new AbortController();
  /** Aborted when the connections close: outcome writes stop retrying. */
  readonly #halt = new AbortController();
  #predictDown: Promise<void> | null = null;
  #running = 0;
  #started = false;
  #stopping = false;
  #closing: Promise<void> | null = null;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`WorkerPool concurrency must be a whole number from 1, got ${options.concurrency}`);
    }
    if (!(options.shutdownGraceMs >= 0)) throw new Error(`WorkerPool shutdownGraceMs must be 0 or more, got ${options.shutdownGraceMs}`);
    const { retryBaseDelayMs, retryMaxDelayMs, metrics, ...rest } = options;
    this.#metrics = metrics;
    this.#o = {
      reaperIntervalMs: 1_000,
      name: `${hostname()}:${process.pid}`,
      blockTimeoutSeconds: 1,
      watchdogMarginMs: 2_000,
      maxBackoffMs: 2_000,
      releaseWaitMs: 2_000,
      ...rest,
    };
    if (!(this.#o.blockTimeoutSeconds > 0)) throw new Error('WorkerPool blockTimeoutSeconds must be positive');
    const { repository, predict, logger, releaseWaitMs } = this.#o;
    this.#processor = new JobProcessor({ repository, predict, logger, releaseWaitMs, retry: { baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs } });
    this.#reaper = new Reaper({
      repository,
      logger,
      intervalMs: this.#o.reaperIntervalMs,
      owner: `${this.#o.name}:reaper`,
      ...(metrics ? { onRound: (result) => metrics.reaped(result) } : {}),
    });
    this.#cancels = new CancelWatch({ redis: this.#o.redis, repository, logger });
  }

  /** Jobs being processed right now. */
  get running(): number {
    return this.#running;
  }

  /** True from start() until close(): the worker loops are taking jobs. */
  get working(): boolean {
    return this.#started && !this.#stopping;
  }

  /** Starts the loops and the reaper. Calling it again is a no-op. */
  async start(): Promise<void> {
    if (this.#closing) throw new Error('WorkerPool is closed');
    if (this.#started) return;
    this.#started = true;
    const { redis, repository, logger, name, concurrency, blockTimeoutSeconds, watchdogMarginMs } = this.#o;
    for (let slot = 0; slot < concurrency; slot++) {
      const waiter = new JobWaiter({ redis, repository, logger, name: `cutout-batch-wait-${slot}`, timeoutSeconds: blockTimeoutSeconds, watchdogMarginMs });
      this.#waiters.push(waiter);
      // Opened now, though used only on its worker's turn, so a connection problem shows at start.
      waiter.open();
      this.#loops.push(this.#loop(`${name}:${slot}`, waiter));
    }
    this.#reaper.start();
    // Not awaited: while the subscription is not up, a cancel still stops its job at the next heartbeat.
    this.#cancels.start().catch((error: unknown) => logger.warn('cancel subscription failed; cancels take effect at the next heartbeat', { error: errorMessage(error) }));
  }

  async #loop(worker: string, waiter: JobWaiter): Promise<void> {
    const { repository, logger } = this.#o;
    let takeFailures = 0;
    let waitFailures = 0;
    // Held from this worker's blocking wait until the take after it has returned (wait-turn.ts).
    let release: (() => void) | null = null;
    const letGo = () => {
      release?.();
      release = null;
    };
    while (!this.#stopping) {
      if (this.#predictDown) {
        letGo();
        await this.#predictDown;
        continue;
      }
      const takenAt = performance.now();
      let taken;
      let takeMs;
      try {
        taken = await repository.take(worker);
        takeMs = performance.now() - takenAt;
      } catch (error) {
        letGo();
        // One line per outage, not one per retry.
        if (takeFailures === 0) logger.warn('worker cannot take jobs; retrying', { worker, error: errorMessage(error) });
        await this.#sleep(this.#backoff(takeFailures++));
        continue;
      }
      // The id this wait was woken for is out of the queue now, so the next idle worker may block.
      letGo();
      if (takeFailures > 0) logger.info('worker taking jobs again', { worker, failed_takes: takeFailures });
      takeFailures = 0;
      for (const { id, code } of taken.failed) {
        this.#metrics?.failedAtTake(code);
        logger.warn('job failed', { job_id: id, error_code: code, worker, reason: 'found when taking it' });
      }
      if (taken.job) {
        this.#metrics?.taken(taken.queueWaitMs);
        await this.#runJob(taken.job, worker, takenAt, takeMs);
        continue;
      }
      if (taken.failed.length > 0 || taken.dropped > 0) continue; // stopped early: there may be more
      release = await this.#turn.acquire();
      try {
        await waiter.wait();
        waitFailures = 0;
      } catch {
        await this.#sleep(this.#backoff(waitFailures++));
      }
    }
    letGo();
  }

  async #runJob(job: TakenJob, worker: string, takenAt: number, takeMs: number): Promise<void> {
    this.#running++;
    const cancel = this.#cancels.track(job.id);
    try {
      const result = await this.#processor.process(job, { worker, takenAt, takeMs, shutdown: this.#abort.signal, halt: this.#halt.signal, cancelled: cancel.signal });
      this.#metrics?.ended(result.outcome, result.errorCode, performance.now() - takenAt);
      if (result.errorCode === 'PREDICT_UNAVAILABLE') this.#predictDown ??= this.#waitForPredict().finally(() => (this.#predictDown = null));
    } catch (error) {
      this.#o.logger.error('job processing crashed', { job_id: job.id, worker, error: errorMessage(error) });
    } finally {
      cancel.done();
      this.#running--;
    }
  }

  /**
   * While no predict server answers, every job taken would only spend an attempt, so the whole
   * queue could run out of attempts in one predict restart. Pause taking until one is healthy.
   */
  async #waitForPredict(): Promise<void> {
    const { predict, logger } = this.#o;
    if (!predict.health) return;
    logger.warn('predict unreachable; pausing takes until it answers');
    for (let attempt = 0; !this.#stopping; attempt++) {
      await this.#sleep(this.#backoff(attempt));
      const health = await predict.health().catch(() => []);
      if (health.some((h) => h.ok)) {
        logger.info('predict reachable again; taking jobs', { checks: attempt + 1 });
        return;
      }
    }
  }

  #backoff(failures: number): number {
    return Math.min(FIRST_BACKOFF_MS * 2 ** Math.min(failures, 16), this.#o.maxBackoffMs);
  }

  #sleep(ms: number): Promise<void> {
    return this.#stopping ? Promise.resolve() : this.#sleeps.sleep(ms);
  }

  /**
   * Stops taking jobs, lets running ones finish within the grace period, hands the rest back
   * to the queue, then closes predict and Redis. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { logger, shutdownGraceMs, releaseWaitMs, predict, redis } = this.#o;
    this.#stopping = true;
    this.#sleeps.wakeAll();
    // Idle loops are blocked in a wait that moves nothing, or waiting for their turn to: dropping
    // the connections and the turn is safe.
    this.#turn.close();
    for (const waiter of this.#waiters) waiter.close();
    await this.#step('stop the reaper', () => this.#reaper.close());
    await this.#step('stop the cancel subscription', () => this.#cancels.close());
    const loops = Promise.all(this.#loops);
    if (!(await within(loops, shutdownGraceMs))) {
      logger.warn('shutdown grace period over; handing running jobs back', { running: this.#running, grace_ms: shutdownGraceMs });
      this.#abort.abort(new Error('batch is shutting down'));
      if (!(await within(loops, releaseWaitMs + 1_000))) {
        logger.warn('jobs still running after the hand-back; their leases will expire', { running: this.#running });
      }
    }
    this.#halt.abort();
    await this.#step('close predict client', () => predict.close());
    await this.#step('close redis connection', () => closeRedisClient(redis), () => redis.isOpen && redis.destroy());
  }

  /** Runs one cleanup step, logging instead of throwing, so every later step still runs. */
  async #step(name: string, run: () => Promise<void>, onTimeout?: () => void): Promise<void> {
    let failure: unknown = null;
    try {
      const done = await within(
        run().catch((error: unknown) => (failure = error ?? 'unknown error')),
        CLOSE_STEP_MS,
      );
      if (!done) {
        this.#o.logger.warn('shutdown step timed out', { step: name, timeout_ms: CLOSE_STEP_MS });
        onTimeout?.();
      }
    } catch (error) {
      failure = error ?? 'unknown error';
    }
    if (failure !== null) this.#o.logger.error('shutdown step failed', { step: name, error: errorMessage(failure) });
  }
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  return new WorkerPool(options);
}
