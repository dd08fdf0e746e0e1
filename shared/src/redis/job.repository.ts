import type { RedisClient } from './client.js';
import { jobKeys, queueKeys, type QueueKeys } from './keys.js';
import { enqueueScript } from './scripts/enqueue.js';
import { takeScript } from './scripts/take.js';
import { releaseScript, renewScript } from './scripts/lease.js';
import { completeScript, failScript, retryScript } from './scripts/finish.js';
import { reapScript } from './scripts/reap.js';
import { releaseLockScript } from './scripts/reaper-lock.js';
import { parseJobTimings, pickJobTimings, type JobTimings } from './job-timings.js';
import type { JobStatus } from '../job-status.js';
import { parseStoredOptions, type JobOptions } from '../contract/options.js';

export interface JobRepositoryOptions {
  keyPrefix: string;
  ttlSeconds: number;
  /** Admission control: enqueue refuses new jobs while this many wait. Default: no limit. */
  maxQueueDepth?: number;
  /** Claims a job may have (crashed workers and retryable failures both count). Default 3. */
  maxAttempts?: number;
  /** How long a claim lasts unless renewed; also the grace before a lease-less id is recovered. Default 30 000. */
  leaseMs?: number;
  /** Newest FAILED jobs kept in the dead-letter list. Default 1000. */
  deadLetterMax?: number;
  /** Most ids one take or one part of reap looks at, so no script holds Redis long. Default 100. */
  stepLimit?: number;
}

export type EnqueueResult =
  | { accepted: true; depth: number }
  /** 'queue': QUEUE_MAX_DEPTH jobs wait; 'owner': the API key has its most unfinished jobs. */
  | { accepted: false; depth: number; reason: 'queue' | 'owner' };

export interface NewJob {
  id: string;
  imageBase64: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  /** How the output is made; default the RGBA PNG. */
  options?: JobOptions;
  /** The API key's name that submitted the job; absent while the API is open. */
  owner?: string;
  /** The owner's most unfinished jobs (API_KEY_MAX_QUEUED); absent or 0 for no limit. */
  ownerMaxActive?: number;
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  createdAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  attempts: number;
  options: JobOptions;
  /** The API key's name that submitted it; null while the API is open. */
  owner: string | null;
  error: { code: string; message: string } | null;
  /** The last retryable failure (or WORKER_LOST), kept while the job waits to run again. */
  lastError: { code: string; message: string } | null;
  /** The current claim, while RUNNING. `token` is the fencing token. */
  lease: { owner: string; token: number; deadline: number } | null;
  /** When a scheduled retry is due (ms). */
  retryAt: number | null;
  /** How many times an output was stored: 1 for a finished job, never more. */
  outputWrites: number;
  imageInBase64: string | null;
  imageOutBase64: string | null;
  /** Where the time went, stored when the job SUCCEEDED; null before, or when none was stored. */
  timings: JobTimings | null;
}

export interface QueueStats {
  queued: number;
  running: number;
  /** Waiting for a retry to come due. */
  delayed: number;
  /** Entries in the dead-letter list (capped at deadLetterMax). */
  deadLetters: number;
  submitted: number;
  succeeded: number;
  failed: number;
}

/** A job taken with a lease: run it, renew with `token`, end it with `token`. */
export interface TakenJob {
  id: string;
  token: number;
  /** This claim's number, from 1. */
  attempts: number;
  imageBase64: string;
  options: JobOptions;
}

export interface TakeResult {
  job: TakenJob | null;
  /** Ids take ended FAILED on the way (INPUT_EXPIRED, TOO_MANY_ATTEMPTS). */
  failed: Array<{ id: string; code: string }>;
  /** Ids dropped from the queue because their record had expired or already ended. */
  dropped: number;
}

/** retry's answer: scheduled again, FAILED for good (attempts used up), or the claim was lost. */
export type RetryResult = 'retry' | 'failed' | 'lost';

export interface ReapResult {
  /** Due retries moved back onto the queue. */
  promoted: string[];
  /** Expired leases put back on the queue. */
  requeued: string[];
  /** Expired leases that had used up their attempts: FAILED WORKER_LOST. */
  failed: string[];
  /** Lease-less ids found in processing and put back on the queue. */
  orphans: string[];
}

export interface DeadLetter {
  jobId: string;
  code: string;
  message: string;
  attempts: number;
  failedAt: number;
}

const DEFAULTS = { maxAttempts: 3, leaseMs: 30_000, deadLetterMax: 1_000, stepLimit: 100 } as const;
/** How many processing ids reap checks for a missing lease per call. */
const ORPHAN_SCAN = 1_000;

function toNumber(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function errorOf(code: string | undefined, message: string | undefined) {
  return code ? { code, message: message ?? '' } : null;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`JobRepository ${name} must be a whole number from 1, got ${value}`);
}

/** The only code that reads or writes job state in Redis. */
export class JobRepository {
  readonly keys: QueueKeys;
  readonly #o: Required<JobRepositoryOptions>;

  constructor(
    private readonly redis: RedisClient,
    options: JobRepositoryOptions,
  ) {
    this.#o = { maxQueueDepth: Number.MAX_SAFE_INTEGER, ...DEFAULTS, ...options };
    for (const name of ['ttlSeconds', 'maxQueueDepth', 'maxAttempts', 'leaseMs', 'deadLetterMax', 'stepLimit'] as const) {
      checkPositiveInteger(name, this.#o[name]);
    }
    this.keys = queueKeys(options.keyPrefix);
  }

  get leaseMs(): number {
    return this.#o.leaseMs;
  }

  get maxAttempts(): number {
    return this.#o.maxAttempts;
  }

  private jobKeys(id: string) {
    return jobKeys(this.#o.keyPrefix, id);
  }

  /**
   * Stores the input and the record and queues the id atomically. Refused, with nothing
   * written, while the queue already holds `maxQueueDepth` jobs.
   */
  async enqueue(job: NewJob): Promise<EnqueueResult> {
    const k = this.jobKeys(job.id);
    const { maxQueueDepth, ttlSeconds } = this.#o;
    const reply = Number(
      await enqueueScript.run(
        this.redis,
        [k.imageIn, k.record, this.keys.queue, this.keys.counts, this.keys.ownerActive],
        [
          job.id,
          job.imageBase64,
          String(ttlSeconds),
          job.format,
          String(job.width),
          String(job.height),
          String(job.bytes),
          String(maxQueueDepth),
          job.options ? JSON.stringify(job.options) : '',
          job.owner ?? '',
          String(job.ownerMaxActive ?? 0),
        ],
      ),
    );
    if (reply === -1) return { accepted: false, depth: maxQueueDepth, reason: 'queue' };
    if (reply === -2) return { accepted: false, depth: job.ownerMaxActive ?? 0, reason: 'owner' };
    return { accepted: true, depth: reply };
  }

  /** One consistent read of a job; null when the id is unknown or expired. */
  async get(id: string, { withImages = true } = {}): Promise<JobRecord | null> {
    const k = this.jobKeys(id);
    const multi = this.redis.multi().hGetAll(k.record);
    if (withImages) multi.get(k.imageIn).get(k.imageOut);
    const [hash, imageIn, imageOut] = (await multi.exec()) as unknown as [Record<string, string>, string | null, string | null];
    if (!hash || Object.keys(hash).length === 0) return null;
    const token = toNumber(hash.lease_token);
    return {
      id,
      status: hash.status as JobStatus,
      createdAt: toNumber(hash.created_at),
      startedAt: toNumber(hash.started_at),
      finishedAt: toNumber(hash.finished_at),
      attempts: toNumber(hash.attempts) ?? 0,
      options: parseStoredOptions(hash.options),
      owner: hash.owner || null,
      error: errorOf(hash.error_code, hash.error_message),
      lastError: errorOf(hash.last_error_code, hash.last_error_message),
      lease: token === null ? null : { owner: hash.lease_owner ?? '', token, deadline: toNumber(hash.lease_deadline) ?? 0 },
      retryAt: toNumber(hash.retry_at),
      outputWrites: toNumber(hash.output_writes) ?? 0,
      timings: parseJobTimings(hash.timings),
      imageInBase64: imageIn ?? null,
      imageOutBase64: imageOut ?? null,
    };
  }

  /** The stored output's base64, or null when there is none (yet, or any more). */
  async output(id: string): Promise<string | null> {
    return this.redis.get(this.jobKeys(id).imageOut);
  }

  async stats(): Promise<QueueStats> {
    const [queued, running, delayed, deadLetters, counts] = (await this.redis
      .multi()
      .lLen(this.keys.queue)
      .lLen(this.keys.processing)
      .zCard(this.keys.delayed)
      .lLen(this.keys.deadLetter)
      .hGetAll(this.keys.counts)
      .exec()) as unknown as [number, number, number, number, Record<string, string>];
    return {
      queued: Number(queued),
      running: Number(running),
      delayed: Number(delayed),
      deadLetters: Number(deadLetters),
      submitted: toNumber(counts.submitted) ?? 0,
      succeeded: toNumber(counts.succeeded) ?? 0,
      failed: toNumber(counts.failed) ?? 0,
    };
  }

  /**
   * Takes the oldest waiting job with a lease for `workerId`, in one atomic step. `job` is null
   * when nothing is waiting; then wait with `waitForWork` and take again.
   */
  async take(workerId: string): Promise<TakeResult> {
    const { keyPrefix, leaseMs, maxAttempts, ttlSeconds, deadLetterMax, stepLimit } = this.#o;
    const reply = (await takeScript.run(
      this.redis,
      [this.keys.queue, this.keys.processing, this.keys.leases, this.keys.counts, this.keys.deadLetter, this.keys.ownerActive],
      [keyPrefix, workerId, String(leaseMs), String(maxAttempts), String(ttlSeconds), String(deadLetterMax), String(stepLimit), this.keys.jobDone],
    )) as [[string, number, number, string, string] | [], string[], number];
    const [taken, failedFlat, dropped] = reply;
    const failed: TakeResult['failed'] = [];
    for (let i = 0; i + 1 < failedFlat.length; i += 2) failed.push({ id: failedFlat[i]!, code: failedFlat[i + 1]! });
    const job =
      taken.length === 5
        ? { id: taken[0], token: Number(taken[1]), attempts: Number(taken[2]), imageBase64: taken[3], options: parseStoredOptions(taken[4]) }
        : null;
    return { job, failed, dropped: Number(dropped) };
  }

  /**
   * Blocks up to `timeoutSeconds` until the queue holds an id, without taking it: a BLMOVE of
   * the queue onto itself, right end to right end, changes nothing and returns as soon as
   * there is work. True when there may be work. Blocks its connection: give it its own.
   */
  async waitForWork(blockingClient: RedisClient, timeoutSeconds: number): Promise<boolean> {
    return (await blockingClient.blMove(this.keys.queue, this.keys.queue, 'RIGHT', 'RIGHT', timeoutSeconds)) !== null;
  }

  /**
   * Calls `onDone(id)` for each job that ends SUCCEEDED or FAILED from now on (complete, fail,
   * a retry out of attempts, take and the reaper giving up), once subscribed. Uses `subscriber`
   * for nothing else: a subscribed connection can run no other command. node-redis subscribes
   * again by itself after a reconnect; ends published while it was away are not replayed.
   * Returns the unsubscribe.
   */
  async listenForDone(subscriber: RedisClient, onDone: (id: string) => void): Promise<() => Promise<void>> {
    const channel = this.keys.jobDone;
    const listener = (message: string) => onDone(message);
    await subscriber.subscribe(channel, listener);
    return async () => {
      await subscriber.unsubscribe(channel, listener);
    };
  }

  /** Extends the lease; false when the claim is no longer the caller's (stop, write nothing). */
  async renew(id: string, token: number): Promise<boolean> {
    const reply = await renewScript.run(this.redis, [this.jobKeys(id).record, this.keys.leases], [id, String(token), String(this.#o.leaseMs)]);
    return Number(reply) === 1;
  }

  /**
   * Stores the output, SUCCEEDED, and the worker's `timings` (queue_wait_ms is added from the
   * record); false when the claim is no longer the caller's (nothing written).
   */
  async complete(id: string, token: number, outputBase64: string, timings?: JobTimings): Promise<boolean> {
    const k = this.jobKeys(id);
    const reply = await completeScript.run(
      this.redis,
      [this.keys.processing, this.keys.leases, k.record, k.imageOut, k.imageIn, this.keys.counts, this.keys.ownerActive],
      [id, String(token), outputBase64, String(this.#o.ttlSeconds), this.keys.jobDone, timings ? JSON.stringify(pickJobTimings(timings)) : ''],
    );
    return Number(reply) === 1;
  }

  /** FAILED with a reason, dead-lettered; false when the claim is no longer the caller's. */
  async fail(id: string, token: number, code: string, message: string): Promise<boolean> {
    const k = this.jobKeys(id);
    const reply = await failScript.run(
      this.redis,
      [this.keys.processing, this.keys.leases, k.record, k.imageIn, this.keys.counts, this.keys.deadLetter, this.keys.ownerActive],
      [id, String(token), code, message, String(this.#o.ttlSeconds), String(this.#o.deadLetterMax), this.keys.jobDone],
    );
    return Number(reply) === 1;
  }

  /** Runs the job again after `delayMs`, or FAILED with this error once its attempts are used up. */
  async retry(id: string, token: number, code: string, message: string, delayMs: number): Promise<RetryResult> {
    const k = this.jobKeys(id);
    const { maxAttempts, ttlSeconds, deadLetterMax } = this.#o;
    const reply = await retryScript.run(
      this.redis,
      [this.keys.processing, this.keys.leases, this.keys.delayed, k.record, k.imageIn, this.keys.counts, this.keys.deadLetter, this.keys.ownerActive],
      [id, String(token), code, message, String(Math.max(0, Math.round(delayMs))), String(maxAttempts), String(ttlSeconds), String(deadLetterMax), this.keys.jobDone],
    );
    return reply === 'retry' || reply === 'failed' ? reply : 'lost';
  }

  /** Hands a job back at shutdown (front of the queue, attempt not counted); false when the claim was lost. */
  async release(id: string, token: number): Promise<boolean> {
    const reply = await releaseScript.run(
      this.redis,
      [this.keys.queue, this.keys.processing, this.keys.leases, this.jobKeys(id).record],
      [id, String(token)],
    );
    return Number(reply) === 1;
  }

  /** One bounded reaper round; run it while holding the reaper lock. */
  async reap(): Promise<ReapResult> {
    const { keyPrefix, maxAttempts, leaseMs, ttlSeconds, deadLetterMax, stepLimit } = this.#o;
    const k = this.keys;
    const [promoted, requeued, failed, orphans] = (await reapScript.run(
      this.redis,
      [k.queue, k.processing, k.leases, k.delayed, k.orphans, k.counts, k.deadLetter, k.ownerActive],
      [keyPrefix, String(maxAttempts), String(leaseMs), String(ttlSeconds), String(deadLetterMax), String(stepLimit), String(ORPHAN_SCAN), k.jobDone],
    )) as [string[], string[], string[], string[]];
    return { promoted, requeued, failed, orphans };
  }

  /** True when a reap round hit its bound, so another round should follow at once. */
  reapWasFull(result: ReapResult): boolean {
    const { stepLimit } = this.#o;
    return result.promoted.length >= stepLimit || result.requeued.length + result.failed.length >= stepLimit;
  }

  /** Takes the reaper mutex for up to `ttlMs` (SET NX PX); false when another process holds it. */
  async acquireReaperLock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.reaperLock, owner, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } })) === 'OK';
  }

  /** Releases the mutex if `owner` still holds it. */
  async releaseReaperLock(owner: string): Promise<boolean> {
    return Number(await releaseLockScript.run(this.redis, [this.keys.reaperLock], [owner])) === 1;
  }

  /** The newest `limit` dead letters, newest first. */
  async deadLetters(limit: number): Promise<DeadLetter[]> {
    if (limit < 1) return [];
    const lines = await this.redis.lRange(this.keys.deadLetter, 0, limit - 1);
    return lines.flatMap((line) => {
      try {
        const d = JSON.parse(line) as { job_id: string; code: string; message: string; attempts: number; failed_at: number };
        return [{ jobId: d.job_id, code: d.code, message: d.message, attempts: d.attempts, failedAt: d.failed_at }];
      } catch {
        return [];
      }
    });
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
