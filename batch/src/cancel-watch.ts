import type { JobRepository, Logger, RedisClient } from '@cutout/shared';

export interface CancelWatchOptions {
  /** Duplicated for the subscription; a subscribed connection can run nothing else. */
  redis: RedisClient;
  repository: Pick<JobRepository, 'listenForCancel'>;
  logger: Logger;
}

/**
 * Hears of cancelled jobs (the cancel step publishes each RUNNING job's id) and aborts the
 * signal of the one this process runs, so its predict call stops at once. Only a shortcut: a
 * cancel missed while the subscription was down still stops the job at its next heartbeat (the
 * lease is gone), and its late result is refused either way.
 */
export class CancelWatch {
  readonly #o: CancelWatchOptions;
  readonly #running = new Map<string, AbortController>();
  #subscriber: RedisClient | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: CancelWatchOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const subscriber = this.#o.redis.duplicate({ name: 'cutout-batch-cancel' });
    subscriber.on('error', (error: Error) => this.#o.logger.debug('cancel subscriber error', { error: error.message }));
    this.#subscriber = subscriber;
    await subscriber.connect();
    await this.#o.repository.listenForCancel(subscriber, (id) => {
      const controller = this.#running.get(id);
      if (!controller) return;
      this.#o.logger.info('job cancelled while running; stopping it', { job_id: id });
      controller.abort(new Error('the job was cancelled'));
    });
  }

  /** A signal that aborts if `jobId` is cancelled while it runs here; call `done` when it ends. */
  track(jobId: string): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    this.#running.set(jobId, controller);
    return { signal: controller.signal, done: () => this.#running.delete(jobId) };
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const subscriber = this.#subscriber;
      this.#subscriber = null;
      if (subscriber?.isOpen) await subscriber.close().catch(() => subscriber.destroy());
    })();
    return this.#closing;
  }
}
