import type { JobRepository, Logger } from '@cutout/shared';
import type { PredictCallOptions } from './predict.client.js';
import { PredictError } from './predict.errors.js';

/** The part of the predict client a processor uses. */
export interface Predictor {
  predict(jobId: string, imageBytes: Buffer, options?: PredictCallOptions): Promise<Buffer>;
}

export interface JobProcessorDeps {
  repository: JobRepository;
  predict: Predictor;
  logger: Logger;
}

/**
 * - succeeded / failed: the job reached that state in Redis;
 * - skipped: the job was gone (expired) or no longer RUNNING, nothing to do;
 * - abandoned: shutdown cut the job short, or Redis could not record its end; it stays in
 *   job_id_processing for a later recovery step.
 */
export type JobOutcome = 'succeeded' | 'failed' | 'skipped' | 'abandoned';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one taken job: claim, predict, complete or fail. Never throws. */
export class JobProcessor {
  constructor(private readonly deps: JobProcessorDeps) {}

  async process(id: string, signal?: AbortSignal): Promise<JobOutcome> {
    const startedAt = performance.now();
    try {
      return await this.#run(id, startedAt, signal);
    } catch (error) {
      if (signal?.aborted) return this.#abandon(id, startedAt, 'batch shut down before the job finished');
      return this.#fail(id, startedAt, 'INTERNAL', `batch could not process the job: ${messageOf(error)}`);
    }
  }

  async #run(id: string, startedAt: number, signal: AbortSignal | undefined): Promise<JobOutcome> {
    const { repository, predict, logger } = this.deps;
    const input = await repository.claim(id);
    if (input === null) {
      logger.warn('job skipped', { job_id: id, reason: 'the job or its input expired before it ran' });
      return 'skipped';
    }
    const imageBytes = Buffer.from(input, 'base64');
    logger.info('job taken', { job_id: id, input_bytes: imageBytes.length });

    const predictStart = performance.now();
    let png: Buffer;
    try {
      png = await predict.predict(id, imageBytes, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) return this.#abandon(id, startedAt, 'batch shut down while predict was running');
      if (!(error instanceof PredictError)) throw error;
      return this.#fail(id, startedAt, error.code, error.message, { retryable: error.retryable, predict_status: error.status });
    }
    const predictMs = Math.round(performance.now() - predictStart);

    if (!(await repository.complete(id, png.toString('base64')))) {
      logger.warn('job skipped', { job_id: id, reason: 'the job was no longer running when its result came back' });
      return 'skipped';
    }
    logger.info('job succeeded', {
      job_id: id,
      duration_ms: Math.round(performance.now() - startedAt),
      predict_ms: predictMs,
      input_bytes: imageBytes.length,
      output_bytes: png.length,
    });
    return 'succeeded';
  }

  async #fail(id: string, startedAt: number, code: string, message: string, extra: Record<string, unknown> = {}): Promise<JobOutcome> {
    const { repository, logger } = this.deps;
    const fields = { job_id: id, error_code: code, error_message: message, duration_ms: Math.round(performance.now() - startedAt), ...extra };
    try {
      if (!(await repository.fail(id, code, message))) {
        logger.warn('job skipped', { ...fields, reason: 'the job was no longer running when it failed' });
        return 'skipped';
      }
    } catch (error) {
      logger.error('job failure not recorded', { ...fields, redis_error: messageOf(error) });
      return 'abandoned';
    }
    logger.warn('job failed', fields);
    return 'failed';
  }

  #abandon(id: string, startedAt: number, reason: string): JobOutcome {
    this.deps.logger.warn('job abandoned', { job_id: id, reason, duration_ms: Math.round(performance.now() - startedAt) });
    return 'abandoned';
  }
}

export function createJobProcessor(deps: JobProcessorDeps): JobProcessor {
  return new JobProcessor(deps);
}
