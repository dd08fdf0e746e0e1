import type { RedisClient } from './client.js';
import { jobKeys, queueKeys, type QueueKeys } from './keys.js';
import { enqueueScript } from './scripts/enqueue.js';
import { claimScript } from './scripts/claim.js';
import { completeScript, failScript } from './scripts/finish.js';
import type { JobStatus } from '../job-status.js';

export interface JobRepositoryOptions {
  keyPrefix: string;
  ttlSeconds: number;
  /** Admission control: enqueue refuses new jobs while this many wait. Default: no limit. */
  maxQueueDepth?: number;
}

export type EnqueueResult = { accepted: true; depth: number } | { accepted: false; depth: number };

export interface NewJob {
  id: string;
  imageBase64: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  createdAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
  imageInBase64: string | null;
  imageOutBase64: string | null;
}

export interface QueueStats {
  queued: number;
  running: number;
  submitted: number;
  succeeded: number;
  failed: number;
}

function toNumber(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The only code that reads or writes job state in Redis. */
export class JobRepository {
  readonly keys: QueueKeys;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: JobRepositoryOptions,
  ) {
    this.keys = queueKeys(options.keyPrefix);
  }

  private jobKeys(id: string) {
    return jobKeys(this.options.keyPrefix, id);
  }

  /**
   * Stores the input and the record and queues the id atomically. Refused, with nothing
   * written, while the queue already holds `maxQueueDepth` jobs.
   */
  async enqueue(job: NewJob): Promise<EnqueueResult> {
    const k = this.jobKeys(job.id);
    const maxDepth = this.options.maxQueueDepth ?? Number.MAX_SAFE_INTEGER;
    const reply = Number(
      await enqueueScript.run(
        this.redis,
        [k.imageIn, k.record, this.keys.queue, this.keys.counts],
        [job.id, job.imageBase64, String(this.options.ttlSeconds), String(Date.now()), job.format, String(job.width), String(job.height), String(job.bytes), String(maxDepth)],
      ),
    );
    return reply < 0 ? { accepted: false, depth: maxDepth } : { accepted: true, depth: reply };
  }

  /** One consistent read of a job; null when the id is unknown or expired. */
  async get(id: string, { withImages = true } = {}): Promise<JobRecord | null> {
    const k = this.jobKeys(id);
    const multi = this.redis.multi().hGetAll(k.record);
    if (withImages) multi.get(k.imageIn).get(k.imageOut);
    const [hash, imageIn, imageOut] = (await multi.exec()) as unknown as [Record<string, string>, string | null, string | null];
    if (!hash || Object.keys(hash).length === 0) return null;
    return {
      id,
      status: hash.status as JobStatus,
      createdAt: toNumber(hash.created_at),
      startedAt: toNumber(hash.started_at),
      finishedAt: toNumber(hash.finished_at),
      attempts: toNumber(hash.attempts) ?? 0,
      error: hash.error_code ? { code: hash.error_code, message: hash.error_message ?? '' } : null,
      imageInBase64: imageIn ?? null,
      imageOutBase64: imageOut ?? null,
    };
  }

  async stats(): Promise<QueueStats> {
    const [queued, running, counts] = (await this.redis
      .multi()
      .lLen(this.keys.queue)
      .lLen(this.keys.processing)
      .hGetAll(this.keys.counts)
      .exec()) as unknown as [number, number, Record<string, string>];
    return {
      queued: Number(queued),
      running: Number(running),
      submitted: toNumber(counts.submitted) ?? 0,
      succeeded: toNumber(counts.succeeded) ?? 0,
      failed: toNumber(counts.failed) ?? 0,
    };
  }

  /**
   * Waits up to `timeoutSeconds` for a job id and moves it to the processing list in the same
   * command, so a taken job is never only in a worker's memory. Blocks its connection: give
   * each worker a connection of its own.
   */
  async take(blockingClient: RedisClient, timeoutSeconds: number): Promise<string | null> {
    return blockingClient.blMove(this.keys.queue, this.keys.processing, 'RIGHT', 'LEFT', timeoutSeconds);
  }

  /** Marks a taken job RUNNING and returns its input; null when it expired meanwhile. */
  async claim(id: string): Promise<string | null> {
    const k = this.jobKeys(id);
    const reply = await claimScript.run(this.redis, [this.keys.processing, k.record, k.imageIn, this.keys.counts], [id, String(Date.now())]);
    return typeof reply === 'string' ? reply : null;
  }

  /** Stores the output and marks the job SUCCEEDED; false when the job was no longer running. */
  async complete(id: string, outputBase64: string): Promise<boolean> {
    const k = this.jobKeys(id);
    const reply = await completeScript.run(
      this.redis,
      [this.keys.processing, k.record, k.imageOut, k.imageIn, this.keys.counts],
      [id, outputBase64, String(this.options.ttlSeconds), String(Date.now())],
    );
    return Number(reply) === 1;
  }

  /** Marks the job FAILED with a reason; false when the job was no longer running. */
  async fail(id: string, code: string, message: string): Promise<boolean> {
    const k = this.jobKeys(id);
    const reply = await failScript.run(
      this.redis,
      [this.keys.processing, k.record, k.imageIn, this.keys.counts],
      [id, code, message, String(this.options.ttlSeconds), String(Date.now())],
    );
    return Number(reply) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
