import { errorMessage, type JobRepository, type Logger, type TakenJob } from '@cutout/shared';

export interface LeaseHeartbeatOptions {
  repository: Pick<JobRepository, 'renew' | 'leaseMs'>;
  logger: Logger;
  job: TakenJob;
  /** performance.now() when the take was sent: the lease cannot have started before it. */
  takenAt: number;
  worker: string;
}

/** Thrown into a running job when its claim went to someone else. */
export class LeaseLostError extends Error {
  constructor(jobId: string) {
    super(`the lease on job ${jobId} was lost (it was reaped and may run elsewhere)`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Renews a job's lease every third of its length while the job runs. When a renew says the
 * claim is no longer ours, `lost` aborts: the job must stop and write nothing. While Redis
 * cannot be reached it keeps trying; `deadline` says until when the lease surely holds.
 */
export class LeaseHeartbeat {
  readonly #o: LeaseHeartbeatOptions;
  readonly #lost = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #deadline: number;
  #renewing = false;
  #settling = false;
  #stopped = false;
  #failures = 0;

  constructor(options: LeaseHeartbeatOptions) {
    this.#o = options;
    this.#deadline = options.takenAt + options.repository.leaseMs;
    this.#timer = setInterval(() => void this.#beat(), Math.max(1, Math.floor(options.repository.leaseMs / 3)));
  }

  /** Aborts (with a LeaseLostError) once the claim is known to be someone else's. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** performance.now() time until which the lease surely holds, from the last successful renew. */
  get deadline(): number {
    return this.#deadline;
  }

  /**
   * The outcome is being written: keep the lease alive, but a renew refused from now on means
   * the write itself ended the claim, which is not a loss to report.
   */
  settling(): void {
    this.#settling = true;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async #beat(): Promise<void> {
    // One renew at a time: a slow Redis must not pile them up.
    if (this.#renewing || this.#stopped) return;
    this.#renewing = true;
    const { repository, logger, job, worker } = this.#o;
    const sentAt = performance.now();
    try {
      const held = await repository.renew(job, job.token);
      if (held) {
        this.#deadline = sentAt + repository.leaseMs;
        if (this.#failures > 0) logger.info('lease renewed again', { job_id: job.id, lease_token: job.token, failed_renewals: this.#failures });
        this.#failures = 0;
      } else if (!this.#stopped && !this.#settling) {
        logger.warn('lease lost', { job_id: job.id, lease_token: job.token, worker });
        this.#lost.abort(new LeaseLostError(job.id));
        this.stop();
      }
    } catch (error) {
      if (this.#failures++ === 0) logger.warn('lease renew failed; retrying', { job_id: job.id, lease_token: job.token, error: errorMessage(error) });
    } finally {
      this.#renewing = false;
    }
  }
}
