import { errorMessage, LinkedAbort, type JobRepository, type JobTimings, type Logger, type RetryResult, type TakenJob } from '@cutout/shared';
import type { PredictCallOptions, PredictOutput } from './predict.client.js';
import { PredictError } from './predict.errors.js';
import { base64Bytes } from './base64-bytes.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';
import { retryDelayMs, type RetryPolicy } from './retry-policy.js';
import { sleep } from './timing.js';

/** The part of the predict client a processor uses. */
export interface Predictor {
  predict(jobId: string, imageBytes: Buffer, options?: PredictCallOptions): Promise<PredictOutput>;
}

export type ProcessorRepository = Pick<JobRepository, 'renew' | 'complete' | 'fail' | 'retry' | 'release' | 'leaseMs' | 'maxAttempts'>;

export interface JobProcessorDeps {
  repository: ProcessorRepository;
  predict: Predictor;
  logger: Logger;
  retry: RetryPolicy;
  /** Longest a shutdown hand-back keeps trying to reach Redis. Default 2000. */
  releaseWaitMs?: number;
  random?: () => number;
}

export interface ProcessOptions {
  /** Shown in the logs as `worker`: host:pid:loop. */
  worker: string;
  /** performance.now() when the take was sent; default now. */
  takenAt?: number;
  /** The take's Redis round trip, stored in the job's timings as redis_take_ms. */
  takeMs?: number;
  /** Aborts when the shutdown grace period is over: cut predict short and hand the job back. */
  shutdown?: AbortSignal;
  /** Aborts when batch closes its connections: stop retrying Redis writes. */
  halt?: AbortSignal;
  /** Aborts when the job is cancelled: stop predict; the job has already ended CANCELLED. */
  cancelled?: AbortSignal;
}

/**
 * - succeeded / failed / retry (scheduled again) / released (handed back at shutdown): recorded;
 * - lost: the lease went to another worker, nothing was written (or the write was refused);
 * - unrecorded: Redis stayed unreachable until the lease ran out; the reaper will requeue it.
 */
export type JobOutcome = 'succeeded' | 'failed' | 'retry' | 'released' | 'lost' | 'unrecorded';

export interface ProcessResult {
  outcome: JobOutcome;
  /** The error a failed or retried job carries. */
  errorCode?: string;
}

type Ending =
  | { kind: 'complete'; output: Buffer; predictMs: number; predict: PredictOutput['timings'] }
  | { kind: 'fail' | 'retry'; code: string; message: string; predictStatus?: number | undefined }
  | { kind: 'release' };

const NOT_WRITTEN = Symbol('not written');

/** Milliseconds to 0.01: tiny jobs take a few ms, so whole milliseconds would hide the stages. */
const ms = (value: number) => Math.round(value * 100) / 100;

/** Runs one taken job under its lease: predict, then complete, fail, retry or release. Never throws. */
export class JobProcessor {
  readonly #d: JobProcessorDeps;

  constructor(deps: JobProcessorDeps) {
    this.#d = deps;
  }

  async process(job: TakenJob, options: ProcessOptions): Promise<ProcessResult> {
    const { repository, logger } = this.#d;
    const started = performance.now();
    const heartbeat = new LeaseHeartbeat({ repository, logger, job, takenAt: options.takenAt ?? started, worker: options.worker });
    logger.info('job taken', { job_id: job.id, attempt: job.attempts, lease_token: job.token, worker: options.worker });
    try {
      const ending = await this.#run(job, heartbeat, options);
      if (ending === 'lost') return { outcome: 'lost' };
      heartbeat.settling();
      return await this.#end(job, heartbeat, options, started, ending);
    } catch (error) {
      // A bug in batch, not in the input or predict: record it rather than leave the job hanging.
      heartbeat.settling();
      const ending = { kind: 'fail', code: 'INTERNAL', message: `batch could not process the job: ${errorMessage(error)}` } as const;
      return await this.#end(job, heartbeat, options, started, ending);
    } finally {
      heartbeat.stop();
    }
  }

  async #run(job: TakenJob, heartbeat: LeaseHeartbeat, options: ProcessOptions): Promise<Ending | 'lost'> {
    const stop = new LinkedAbort([heartbeat.lost, options.shutdown, options.cancelled]);
    const predictStart = performance.now();
    try {
      const output = await this.#d.predict.predict(job.id, Buffer.from(job.imageBase64, 'base64'), { signal: stop.signal, options: job.options, input: job.input });
      return { kind: 'complete', output: output.bytes, predictMs: ms(performance.now() - predictStart), predict: output.timings };
    } catch (error) {
      // Cancelled or reaped: the job is someone else's business now, and nothing is written.
      if (heartbeat.lost.aborted || options.cancelled?.aborted) return 'lost';
      if (options.shutdown?.aborted) return { kind: 'release' };
      if (!(error instanceof PredictError)) throw error;
      // 4xx: the input itself is bad, so no other attempt can help.
      return { kind: error.retryable ? 'retry' : 'fail', code: error.code, message: error.message, predictStatus: error.status };
    } finally {
      stop.dispose();
    }
  }

  async #end(job: TakenJob, heartbeat: LeaseHeartbeat, options: ProcessOptions, started: number, ending: Ending): Promise<ProcessResult> {
    const { logger, repository } = this.#d;
    const fields = { job_id: job.id, lease_token: job.token, attempt: job.attempts, worker: options.worker };
    const delayMs = ending.kind === 'retry' ? retryDelayMs(job.attempts, this.#d.retry, this.#d.random) : 0;
    // A hand-back happens while batch is stopping: it gets a short wait, not the whole lease.
    const cap = ending.kind === 'release' ? performance.now() + (this.#d.releaseWaitMs ?? 2_000) : Infinity;
    const timings = ending.kind === 'complete' ? this.#timings(ending, options, started) : undefined;
    const reply = await this.#write(fields, heartbeat, options.halt, cap, () => this.#apply(job, ending, delayMs, timings));
    const durationMs = Math.round(performance.now() - started);
    const error = ending.kind === 'fail' || ending.kind === 'retry' ? { error_code: ending.code, error_message: ending.message, predict_status: ending.predictStatus } : {};
    if (reply === NOT_WRITTEN) {
      logger.error('job outcome not recorded', { ...fields, outcome: ending.kind, ...error, reason: 'Redis stayed unreachable until the lease ran out; the reaper will requeue the job' });
      return { outcome: 'unrecorded' };
    }
    if (reply === false || reply === 'lost') {
      logger.warn('late write refused', { ...fields, outcome: ending.kind, reason: 'the lease went to another worker' });
      return { outcome: 'lost' };
    }
    const errorCode = ending.kind === 'fail' || ending.kind === 'retry' ? ending.code : undefined;
    switch (ending.kind) {
      case 'complete':
        logger.info('job succeeded', { ...fields, duration_ms: durationMs, predict_ms: ending.predictMs, output_bytes: ending.output.length, timings });
        return { outcome: 'succeeded' };
      case 'release':
        logger.info('job released', { ...fields, reason: 'batch is shutting down; the job goes back to the front of the queue' });
        return { outcome: 'released' };
      case 'retry':
        if (reply === 'retry') {
          logger.warn('job retry scheduled', { ...fields, ...error, delay_ms: delayMs, max_attempts: repository.maxAttempts });
          return { outcome: 'retry', errorCode };
        }
        logger.warn('job failed', { ...fields, ...error, duration_ms: durationMs, reason: `attempts used up (${repository.maxAttempts})` });
        return { outcome: 'failed', errorCode };
      case 'fail':
        logger.warn('job failed', { ...fields, ...error, duration_ms: durationMs });
        return { outcome: 'failed', errorCode };
    }
  }

  /** What the complete step stores; the queue wait is added there, from the record. */
  #timings(ending: Extract<Ending, { kind: 'complete' }>, options: ProcessOptions, started: number): JobTimings {
    return {
      run_ms: ms(performance.now() - started),
      predict_ms: ending.predictMs,
      ...ending.predict,
      ...(options.takeMs === undefined ? {} : { redis_take_ms: ms(options.takeMs) }),
    };
  }

  #apply(job: TakenJob, ending: Ending, delayMs: number, timings: JobTimings | undefined): Promise<boolean | RetryResult> {
    const { repository } = this.#d;
    switch (ending.kind) {
      case 'complete':
        return repository.complete(job, job.token, base64Bytes(ending.output), timings);
      case 'fail':
        return repository.fail(job, job.token, ending.code, ending.message);
      case 'retry':
        return repository.retry(job, job.token, ending.code, ending.message, delayMs);
      case 'release':
        return repository.release(job, job.token);
    }
  }

  /**
   * Writes an outcome, retrying while Redis is unreachable until the lease may have run out
   * (the heartbeat keeps extending it whenever Redis answers). Every write is fenced by the
   * token, so a retry after a lost reply is answered as done and never applied twice.
   */
  async #write<T>(fields: object, heartbeat: LeaseHeartbeat, halt: AbortSignal | undefined, cap: number, write: () => Promise<T>): Promise<T | typeof NOT_WRITTEN> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        const left = Math.min(heartbeat.deadline, cap) - performance.now();
        if (halt?.aborted || left <= 0) return NOT_WRITTEN;
        if (attempt === 0) this.#d.logger.warn('outcome write failed; retrying while the lease lasts', { ...fields, error: errorMessage(error), lease_left_ms: Math.round(left) });
        await sleep(Math.min(50 * 2 ** attempt, 1_000, left), halt);
      }
    }
  }
}

export function createJobProcessor(deps: JobProcessorDeps): JobProcessor {
  return new JobProcessor(deps);
}
