import { closeRedisClient, type JobRepository, type Logger, type RedisClient } from '@cutout/shared';
import { JobProcessor, type Predictor } from './job.processor.js';

export interface WorkerPoolOptions {
  /** Used for claim/complete/fail and duplicated once per worker for the blocking take. */
  redis: RedisClient;
  repository: JobRepository;
  predict: Predictor & { close(): Promise<void> };
  logger: Logger;
  /** Jobs run at once: one loop, and one blocking Redis connection, each. */
  concurrency: number;
  /** How long close() waits for running jobs before it abandons them. */
  shutdownGraceMs: number;
  /** How long one take blocks; also the longest close() waits for an idle worker to notice. Default 1. */
  blockTimeoutSeconds?: number;
  /** Longest pause between takes while Redis is away. Default 2000. */
  maxBackoffMs?: number;
}

const FIRST_BACKOFF_MS = 50;
/** After the grace period, how long abandoned jobs get to unwind before connections close. */
const ABANDON_WAIT_MS = 1_000;
/** Longest a single cleanup step may take before close() moves on. */
const CLOSE_STEP_MS = 2_000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `concurrency` loops, each taking one job at a time from the reliable queue (BLMOVE job_id →
 * job_id_processing) and running it to an end state. Takes ownership of `redis` and `predict`:
 * close() closes them.
 */
export class WorkerPool {
  readonly #options: Required<WorkerPoolOptions>;
  readonly #processor: JobProcessor;
  readonly #blocking: RedisClient[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #sleepers = new Set<() => void>();
  /** Aborted when the grace period runs out, to cut running predict calls short. */
  readonly #abort = new AbortController();
  #running = 0;
  #started: Promise<void> | null = null;
  #stopping = false;
  #stop!: () => void;
  /** Settles when close() begins, so a worker still waiting for its first connection gives up. */
  readonly #stopped = new Promise<void>((resolve) => (this.#stop = resolve));
  #closing: Promise<void> | null = null;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`WorkerPool concurrency must be a whole number from 1, got ${options.concurrency}`);
    }
    if (!(options.shutdownGraceMs >= 0)) throw new Error(`WorkerPool shutdownGraceMs must be 0 or more, got ${options.shutdownGraceMs}`);
    this.#options = { blockTimeoutSeconds: 1, maxBackoffMs: 2_000, ...options };
    if (!(this.#options.blockTimeoutSeconds > 0)) throw new Error('WorkerPool blockTimeoutSeconds must be positive');
    this.#processor = new JobProcessor({ repository: options.repository, predict: options.predict, logger: options.logger });
  }

  /** Jobs being processed right now. */
  get running(): number {
    return this.#running;
  }

  /** Starts the loops; resolves once every worker's connection is up. Calling it again is a no-op. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error('WorkerPool is closed'));
    this.#started ??= this.#startLoops();
    return this.#started;
  }

  async #startLoops(): Promise<void> {
    const { redis, logger, concurrency } = this.#options;
    const connected: Promise<unknown>[] = [];
    for (let worker = 0; worker < concurrency; worker++) {
      const blocking = redis.duplicate({ name: `cutout-batch-take-${worker}` });
      // A duplicate does not inherit listeners, and an 'error' event with none would crash the process.
      blocking.on('error', (error: Error) => logger.debug('redis connection error', { worker, error: error.message }));
      this.#blocking.push(blocking);
      const ready = blocking.connect();
      connected.push(ready);
      this.#loops.push(this.#loop(worker, blocking, ready));
    }
    await Promise.all(connected);
  }

  async #loop(worker: number, blocking: RedisClient, ready: Promise<unknown>): Promise<void> {
    const { repository, logger, blockTimeoutSeconds, maxBackoffMs } = this.#options;
    try {
      await Promise.race([ready, this.#stopped]);
    } catch (error) {
      if (!this.#stopping) logger.error('worker could not connect to redis', { worker, error: messageOf(error) });
      return;
    }
    let failures = 0;
    while (!this.#stopping) {
      let id: string | null;
      try {
        id = await repository.take(blocking, blockTimeoutSeconds);
      } catch (error) {
        if (this.#stopping) break;
        const delay = Math.min(FIRST_BACKOFF_MS * 2 ** failures, maxBackoffMs);
        // One line per outage, not one per retry.
        if (failures === 0) logger.warn('worker cannot take jobs; retrying', { worker, error: messageOf(error), retry_in_ms: delay });
        failures++;
        await this.#sleep(delay);
        continue;
      }
      if (failures > 0) {
        logger.info('worker taking jobs again', { worker, failed_takes: failures });
        failures = 0;
      }
      // An id taken here is already in job_id_processing, so it is run even when close() came meanwhile.
      if (id !== null) await this.#runJob(id);
    }
  }

  async #runJob(id: string): Promise<void> {
    this.#running++;
    try {
      await this.#processor.process(id, this.#abort.signal);
    } catch (error) {
      this.#options.logger.error('job processing crashed', { job_id: id, error: messageOf(error) });
    } finally {
      this.#running--;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  /**
   * Stops taking jobs, lets running ones finish within the grace period (abandoning the rest
   * in job_id_processing), then closes predict and Redis. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { logger, shutdownGraceMs, predict, redis } = this.#options;
    this.#stopping = true;
    this.#stop();
    for (const wake of [...this.#sleepers]) wake();
    const loops = Promise.all(this.#loops);
    if (!(await within(loops, shutdownGraceMs))) {
      logger.warn('shutdown grace period over; abandoning running jobs', { running: this.#running, grace_ms: shutdownGraceMs });
      this.#abort.abort(new Error('batch is shutting down'));
      await within(loops, ABANDON_WAIT_MS);
    }
    await this.#step('close predict client', () => predict.close());
    for (const blocking of this.#blocking) {
      // A take may still be blocked if Redis hangs: destroy rather than wait for its reply.
      await this.#step('close redis worker connection', async () => {
        if (blocking.isOpen) blocking.destroy();
      });
    }
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
        this.#options.logger.warn('shutdown step timed out', { step: name, timeout_ms: CLOSE_STEP_MS });
        onTimeout?.();
      }
    } catch (error) {
      failure = error ?? 'unknown error';
    }
    if (failure !== null) this.#options.logger.error('shutdown step failed', { step: name, error: messageOf(failure) });
  }
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  return new WorkerPool(options);
}
