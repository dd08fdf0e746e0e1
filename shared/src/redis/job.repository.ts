import { randomBytes } from 'node:crypto';
import type { RedisClient } from './client.js';
import { groupKeys, jobKeys, queueKeyList, queueKeys, type QueueKeys } from './keys.js';
import { enqueueGroupScript, enqueueScript } from './scripts/enqueue.js';
import { takeScript } from './scripts/take.js';
import { releaseScript, renewScript } from './scripts/lease.js';
import { cancelScript, completeScript, failScript, retryScript } from './scripts/finish.js';
import { reapJobScript, reapScanScript } from './scripts/reap.js';
import { acquireLockScript, releaseLockScript } from './scripts/reaper-lock.js';
import type { LuaScript } from './lua-script.js';
import { pickJobTimings, type JobTimings } from './job-timings.js';
import { parseStoredOptions } from '../contract/options.js';
import { readGroupRecord, type GroupRecord } from './group-record.js';
import { readJobWithImagePieces, type JobWithImagePieces } from './job-image-pieces.js';
import { toJobRecord, toNumber, type ClaimRef, type DeadLetter, type EnqueueResult, type JobRecord, type NewImage, type NewJob, type QueueStats, type ReapResult, type RetryResult, type SubmitFields, type TakenJob, type TakeResult } from './job-record.js';

export type { ClaimRef, DeadLetter, EnqueueResult, JobRecord, NewImage, NewJob, QueueStats, ReapResult, RetryResult, SubmitFields, TakenJob, TakeResult } from './job-record.js';

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

const DEFAULTS = { maxAttempts: 3, leaseMs: 30_000, deadLetterMax: 1_000, stepLimit: 100 } as const;
/** How many processing ids reap checks for a missing lease per call. */
const ORPHAN_SCAN = 1_000;

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`JobRepository ${name} must be a whole number from 1, got ${value}`);
}

/** A job's record with its images as Redis holds them: their base64 text as bytes, never made a JS string. */
export interface JobWithImageBytes {
  /** The record; its imageInBase64 and imageOutBase64 are null (the bytes are below). */
  record: JobRecord;
  imageIn: Buffer | null;
  imageOut: Buffer | null;
}

/** A step that may end a job answers this when it was not given the job's group (nothing written). */
type NeedGroup = ['need_group', string];
function needGroup(reply: unknown): string | null {
  return Array.isArray(reply) && reply[0] === 'need_group' ? String(reply[1]) : null;
}

const NONCE_BYTES = 12;
/** Random bytes for nonces, drawn 256 nonces at a time: one randomBytes call costs about 7 µs here, for 12 bytes or 3 KB. */
let noncePool = Buffer.alloc(0);
let nonceAt = 0;

/** The random half of a fencing token: unique per claim even when Redis forgets the counter. */
function claimNonce(): string {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_BYTES * 256);
    nonceAt = 0;
  }
  return noncePool.toString('base64url', nonceAt, (nonceAt += NONCE_BYTES));
}

type TakeReply =
  | ['taken', string, number, string, string, string, string, string, string, number, string]
  | ['moved' | 'dropped', string]
  | ['failed', string, string]
  | NeedGroup;

type ReapKind = 'due' | 'lease' | 'orphan' | 'deadline';

/** The only code that reads or writes job state in Redis. */
export class JobRepository {
  readonly keys: QueueKeys;
  readonly #o: Required<JobRepositoryOptions>;
  readonly #queueKeys: string[];
  /** The takes of this repository, one after another (take()). */
  #takes: Promise<void> = Promise.resolve();
  /** The next waiting id as the last successful take left the queue; null: read it. */
  #nextCandidate: string | null = null;

  constructor(
    private readonly redis: RedisClient,
    options: JobRepositoryOptions,
  ) {
    this.#o = { maxQueueDepth: Number.MAX_SAFE_INTEGER, ...DEFAULTS, ...options };
    for (const name of ['ttlSeconds', 'maxQueueDepth', 'maxAttempts', 'leaseMs', 'deadLetterMax', 'stepLimit'] as const) {
      checkPositiveInteger(name, this.#o[name]);
    }
    this.keys = queueKeys(options.keyPrefix);
    this.#queueKeys = queueKeyList(this.keys);
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
   * Runs a state-changing script with the queue keys and settings every such script takes
   * first; `group` (a job's group, '' for none or not known) adds that group's keys at the end.
   */
  #run(script: LuaScript, keys: string[], args: (string | Buffer)[], group = ''): Promise<unknown> {
    const { ttlSeconds, deadLetterMax, maxAttempts } = this.#o;
    const common = [group, String(ttlSeconds), String(deadLetterMax), this.keys.jobDone, String(maxAttempts), this.keys.jobCancel];
    const g = group === '' ? [] : Object.values(groupKeys(this.#o.keyPrefix, group));
    return script.run(this.redis, [...this.#queueKeys, ...keys, ...g], [...common, ...args]);
  }

  /**
   * Runs a step that may end a job, given the job's group when the caller knows it. When it
   * did not (a plain id), the step answers which group it needs, having written nothing, and
   * runs once more with it: one extra round trip, only for jobs of a group.
   */
  async #runEnding(script: LuaScript, keys: string[], args: (string | Buffer)[], group: string): Promise<unknown> {
    const reply = await this.#run(script, keys, args, group);
    const needed = needGroup(reply);
    if (needed === null || needed === group) return reply;
    return this.#run(script, keys, args, needed);
  }

  #idempotencyKey(fields: SubmitFields): string {
    const scope = fields.idempotency ? `${fields.owner ?? ''}:${fields.idempotency.key}` : '';
    return `${this.#o.keyPrefix}idempotency:${scope}`;
  }

  #submitArgs(fields: SubmitFields): string[] {
    return [
      fields.options ? JSON.stringify(fields.options) : '',
      fields.owner ?? '',
      String(fields.ownerMaxActive ?? 0),
      fields.priority ?? 'normal',
      String(Math.max(0, Math.round(fields.deadlineMs ?? 0))),
      fields.callbackUrl ?? '',
      fields.idempotency?.bodyHash ?? '',
      String(Math.round(fields.notAfter ?? 0)),
    ];
  }

  #enqueueResult(reply: [number, string | number] | [number], id: string, fields: SubmitFields): EnqueueResult {
    const [code, value] = reply;
    if (code === 1) return { accepted: true, depth: Number(value), id, repeated: false };
    if (code === 2) return { accepted: true, depth: 0, id: String(value), repeated: true };
    if (code === -2) return { accepted: false, depth: fields.ownerMaxActive ?? 0, reason: 'owner' };
    if (code === -3) return { accepted: false, depth: 0, reason: 'idempotency' };
    if (code === -4) return { accepted: false, depth: 0, reason: 'late' };
    return { accepted: false, depth: this.#o.maxQueueDepth, reason: 'queue' };
  }

  /**
   * Stores the input and the record and queues the id atomically. Refused, with nothing
   * written, while the queue already holds `maxQueueDepth` jobs (all priorities), the owner has
   * its most unfinished jobs, or the idempotency key was used with another body; a repeat with
   * the same key and body answers the first job's id and writes nothing.
   */
  async enqueue(job: NewJob): Promise<EnqueueResult> {
    const reply = (await this.#run(
      enqueueScript,
      [this.jobKeys(job.id).record, this.jobKeys(job.id).imageIn, this.#idempotencyKey(job)],
      [job.id, job.imageBase64, job.format, String(job.width), String(job.height), String(job.bytes), String(this.#o.maxQueueDepth), ...this.#submitArgs(job)],
    )) as [number, string | number];
    return this.#enqueueResult(reply, job.id, job);
  }

  /** A group: one job per image and the group's record, all queued or none, in one step. */
  async enqueueGroup(groupId: string, images: readonly NewImage[], fields: SubmitFields): Promise<EnqueueResult> {
    const g = groupKeys(this.#o.keyPrefix, groupId);
    const perImage = images.flatMap((i) => [i.id, i.imageBase64, i.format, String(i.width), String(i.height), String(i.bytes)]);
    const imageKeys = images.flatMap((i) => [this.jobKeys(i.id).record, this.jobKeys(i.id).imageIn]);
    const reply = (await this.#run(
      enqueueGroupScript,
      [g.record, g.jobs, this.#idempotencyKey(fields), ...imageKeys],
      [groupId, String(this.#o.maxQueueDepth), ...this.#submitArgs(fields), String(images.length), ...perImage],
    )) as [number, string | number];
    return this.#enqueueResult(reply, groupId, fields);
  }

  /**
   * A job's record and, by default, its images; null when the id is unknown or expired.
   *
   * Reads are pipelined, never a MULTI: Redis refuses a whole MULTI, even one that only reads,
   * while it is over maxmemory, and status reads must keep working then. The order is enough:
   * the record is read first, and the enqueue and complete scripts write an image before (or
   * with) the record that names it, so a SUCCEEDED record always finds its output.
   */
  async get(id: string, { withImages = true } = {}): Promise<JobRecord | null> {
    const k = this.jobKeys(id);
    const reads = this.redis.multi().hGetAll(k.record);
    if (withImages) reads.get(k.imageIn).get(k.imageOut);
    const [hash, imageIn, imageOut] = (await reads.execAsPipeline()) as unknown as [Record<string, string>, string | null, string | null];
    if (!hash || Object.keys(hash).length === 0) return null;
    return toJobRecord(id, hash, imageIn ?? null, imageOut ?? null);
  }

  /** get() with both images as pieces: a large image is read a piece at a time (job-image-pieces.ts). */
  getWithImagePieces(id: string): Promise<JobWithImagePieces | null> {
    return readJobWithImagePieces(this.redis, id, this.jobKeys(id));
  }

  /** A group's record and its jobs' records in order (no images); null when unknown or expired. */
  async getGroup(groupId: string): Promise<{ group: GroupRecord; jobs: JobRecord[] } | null> {
    const g = groupKeys(this.#o.keyPrefix, groupId);
    // Pipelined, as get() explains: a group's list is written once, with its record.
    const [hash, ids] = (await this.redis.multi().hGetAll(g.record).lRange(g.jobs, 0, -1).execAsPipeline()) as unknown as [Record<string, string>, string[]];
    if (!hash || Object.keys(hash).length === 0) return null;
    const reads = this.redis.multi();
    for (const id of ids) reads.hGetAll(this.jobKeys(id).record);
    const hashes = ids.length === 0 ? [] : ((await reads.execAsPipeline()) as unknown as Record<string, string>[]);
    const jobs = ids.flatMap((id, i) => (hashes[i] && Object.keys(hashes[i]).length > 0 ? [toJobRecord(id, hashes[i], null, null)] : []));
    return { group: readGroupRecord(groupId, hash, ids), jobs };
  }

  /** The stored output's base64, or null when there is none (yet, or any more). */
  async output(id: string): Promise<string | null> {
    return this.redis.get(this.jobKeys(id).imageOut);
  }

  /**
   * Cancels a job, or each unfinished job of a group, in one step: queued ones never run,
   * running ones end at once (their worker is told and its result refused). The count of jobs
   * cancelled (0: everything had already ended), or null for an unknown id.
   */
  async cancel(kind: 'job' | 'group', id: string): Promise<number | null> {
    let reply;
    if (kind === 'job') {
      const k = this.jobKeys(id);
      reply = await this.#runEnding(cancelScript, [k.record, k.imageIn], [kind, id], '');
    } else {
      // The script is given every job's keys, so it reads the group's list first (it never changes).
      const ids = await this.redis.lRange(groupKeys(this.#o.keyPrefix, id).jobs, 0, -1);
      const keys = ids.flatMap((jobId) => [this.jobKeys(jobId).record, this.jobKeys(jobId).imageIn]);
      reply = await this.#run(cancelScript, keys, [kind, id, ...ids], id);
    }
    const count = Number(reply);
    return count < 0 ? null : count;
  }

  async stats(): Promise<QueueStats> {
    const k = this.keys;
    const [high, normal, low, running, delayed, deadLetters, counts, outbox] = (await this.redis
      .multi()
      .lLen(k.queueHigh)
      .lLen(k.queue)
      .lLen(k.queueLow)
      .lLen(k.processing)
      .zCard(k.delayed)
      .lLen(k.deadLetter)
      .hGetAll(k.counts)
      .zCard(k.outbox)
      // Pipelined, as get() explains: the gauges need no snapshot, and must read while Redis is full.
      .execAsPipeline()) as unknown as [number, number, number, number, number, number, Record<string, string>, number];
    const count = (name: string) => toNumber(counts[name]) ?? 0;
    return {
      queued: Number(high) + Number(normal) + Number(low),
      queuedByPriority: { high: Number(high), normal: Number(normal), low: Number(low) },
      running: Number(running),
      delayed: Number(delayed),
      deadLetters: Number(deadLetters),
      submitted: count('submitted'),
      succeeded: count('succeeded'),
      failed: count('failed'),
      cancelled: count('cancelled'),
      callbacksPending: Number(outbox),
      callbacksDelivered: count('callbacks_delivered'),
      callbacksFailed: count('callbacks_failed'),
    };
  }

  /**
   * Takes the next waiting job with a lease for `workerId`, in one atomic step: of the highest
   * priority with work, the first in its fair order (keys with work waiting are served in turn;
   * with one key, the oldest). `job` is null when nothing is waiting; then wait with
   * `waitForWork` and take again.
   *
   * A take needs a candidate's keys (a script never builds a key name, see lua-lib.ts): a read
   * of the next id of each priority, then the take script given that candidate. When another
   * worker took the candidate first, or it could not run and was settled, the script's answer
   * names the next candidate, so contention costs one more script call, not another read.
   *
   * The takes of one repository (one batch process) run one at a time: its workers would
   * otherwise read the same next id together and all but one run the script for nothing.
   * A successful take's answer names the id that is next after it, and the next take starts
   * from that instead of reading again; the script checks it like any candidate, so a stale one
   * (another process took it, a higher priority or another key's job arrived) costs one more call.
   */
  take(workerId: string): Promise<TakeResult> {
    const turn = this.#takes.then(() => this.#take(workerId));
    this.#takes = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  async #take(workerId: string): Promise<TakeResult> {
    const { leaseMs, stepLimit } = this.#o;
    const nonce = claimNonce();
    const failed: TakeResult['failed'] = [];
    let dropped = 0;
    // Used once: a hint left by a take long ago, or one that was wrong, is not tried again.
    let candidate = this.#nextCandidate ?? (await this.#nextWaiting());
    this.#nextCandidate = null;
    let group = '';
    for (let step = 0; candidate !== '' && step < stepLimit; step++) {
      const k = this.jobKeys(candidate);
      const reply = (await this.#run(takeScript, [k.record, k.imageIn], [workerId, String(leaseMs), candidate, nonce], group)) as TakeReply;
      if (reply[0] === 'taken') {
        const [, token, attempts, imageBase64, options, format, width, height, jobGroup, waitedMs, next] = reply;
        // '' (nothing was left) is no hint: a job may arrive before the next take.
        this.#nextCandidate = next || null;
        const job: TakenJob = {
          id: candidate,
          token,
          attempts: Number(attempts),
          group: jobGroup || null,
          worker: workerId,
          imageBase64,
          options: parseStoredOptions(options),
          input: { format, width: Number(width), height: Number(height) },
        };
        return { job, failed, dropped, queueWaitMs: Number(waitedMs) };
      }
      if (reply[0] === 'need_group') {
        group = reply[1];
        continue;
      }
      if (reply[0] === 'failed') failed.push({ id: candidate, code: reply[1] });
      if (reply[0] === 'dropped') dropped++;
      candidate = reply[0] === 'failed' ? reply[2] : reply[1];
      group = '';
    }
    return { job: null, failed, dropped };
  }

  /**
   * The id a take would start with, '' when none wait: in the highest priority with work, the
   * first of its fair order, or its list's oldest when the order is empty (ids queued before it
   * existed). The take script checks it and names the right one when it was not.
   */
  async #nextWaiting(): Promise<string> {
    const k = this.keys;
    // A pipeline, not MULTI: the take script checks the candidate again, so the reads need not be one snapshot.
    const reads = this.redis.multi();
    for (const [list, order] of [[k.queueHigh, k.orderHigh], [k.queue, k.order], [k.queueLow, k.orderLow]] as const) reads.lIndex(list, -1).zRange(order, 0, 0);
    const replies = (await reads.execAsPipeline()) as unknown as Array<string | null | string[]>;
    for (let i = 0; i < replies.length; i += 2) {
      const oldest = replies[i] as string | null;
      if (oldest) return (replies[i + 1] as string[])[0] ?? oldest;
    }
    return '';
  }

  /**
   * Blocks up to `timeoutSeconds` for a wake token: each step that makes a job runnable pushes
   * one, so one idle worker wakes per job, whatever its priority, instead of every worker
   * running a take that finds nothing. True when there may be work. Blocks its connection:
   * give it its own. A token moves no job, so losing one (a crash, the cap) costs only the
   * wait until the next timeout.
   */
  async waitForWork(blockingClient: RedisClient, timeoutSeconds: number): Promise<boolean> {
    return (await blockingClient.brPop(this.keys.wake, timeoutSeconds)) !== null;
  }

  /**
   * Calls `onDone(id)` for each job that ends (and each group whose last job ends) from now on,
   * once subscribed. Uses `subscriber` for nothing else: a subscribed connection can run no
   * other command. node-redis subscribes again by itself after a reconnect; ends published
   * while it was away are not replayed. Returns the unsubscribe.
   */
  async listenForDone(subscriber: RedisClient, onDone: (id: string) => void): Promise<() => Promise<void>> {
    return this.#listen(subscriber, this.keys.jobDone, onDone);
  }

  /** Calls `onCancel(id)` for each RUNNING job cancelled from now on, so its worker can stop at once. */
  async listenForCancel(subscriber: RedisClient, onCancel: (id: string) => void): Promise<() => Promise<void>> {
    return this.#listen(subscriber, this.keys.jobCancel, onCancel);
  }

  async #listen(subscriber: RedisClient, channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    const listener = (message: string) => handler(message);
    await subscriber.subscribe(channel, listener);
    return async () => {
      await subscriber.unsubscribe(channel, listener);
    };
  }

  /**
   * The fenced steps take the job as its id or as the TakenJob (any `ClaimRef`): given the
   * TakenJob, the worker is checked with the token and the job's group goes with the call, so a
   * group job's end costs no extra round trip.
   */
  #claim(job: string | ClaimRef): { id: string; group: string; worker: string } {
    if (typeof job === 'string') return { id: job, group: '', worker: '' };
    return { id: job.id, group: job.group ?? '', worker: job.worker ?? '' };
  }

  /** Extends the lease; false when the claim is no longer the caller's (stop, write nothing). */
  async renew(job: string | ClaimRef, token: string): Promise<boolean> {
    const { id, worker } = this.#claim(job);
    const reply = await renewScript.run(this.redis, [this.jobKeys(id).record, this.keys.leases], [id, token, String(this.#o.leaseMs), worker]);
    return Number(reply) === 1;
  }

  /**
   * Stores the output, SUCCEEDED, and the worker's `timings` (queue_wait_ms is added from the
   * record); false when the claim is no longer the caller's (nothing written). The output's
   * base64 may come as a string or as its bytes (a Buffer goes to Redis without being copied).
   * While Redis is over maxmemory it throws (OOM) and writes nothing; the lease still renews,
   * so the caller tries again.
   */
  async complete(job: string | ClaimRef, token: string, outputBase64: string | Buffer, timings?: JobTimings): Promise<boolean> {
    const { id, group, worker } = this.#claim(job);
    const k = this.jobKeys(id);
    const timingsJson = timings ? JSON.stringify(pickJobTimings(timings)) : '';
    return Number(await this.#runEnding(completeScript, [k.record, k.imageOut, k.imageIn], [id, token, outputBase64, timingsJson, worker], group)) === 1;
  }

  /** FAILED with a reason, dead-lettered; false when the claim is no longer the caller's. */
  async fail(job: string | ClaimRef, token: string, code: string, message: string): Promise<boolean> {
    const { id, group, worker } = this.#claim(job);
    const k = this.jobKeys(id);
    return Number(await this.#runEnding(failScript, [k.record, k.imageIn], [id, token, code, message, worker], group)) === 1;
  }

  /** Runs the job again after `delayMs`, or FAILED with this error once its attempts are used up. */
  async retry(job: string | ClaimRef, token: string, code: string, message: string, delayMs: number): Promise<RetryResult> {
    const { id, group, worker } = this.#claim(job);
    const k = this.jobKeys(id);
    const reply = await this.#runEnding(retryScript, [k.record, k.imageIn], [id, token, code, message, String(Math.max(0, Math.round(delayMs))), worker], group);
    return reply === 'retry' || reply === 'failed' ? reply : 'lost';
  }

  /** Hands a job back at shutdown (oldest end of its queue, attempt not counted); false when the claim was lost. */
  async release(job: string | ClaimRef, token: string): Promise<boolean> {
    const { id, worker } = this.#claim(job);
    return Number(await this.#run(releaseScript, [this.jobKeys(id).record], [id, token, worker])) === 1;
  }

  /**
   * One bounded reaper round; run it while holding the reaper lock. A scan of the queue's keys
   * finds the work, then one step per id (sent together, so one more round trip) does it with
   * that id's keys, each checking again that its condition still holds.
   */
  async reap(): Promise<ReapResult> {
    const { leaseMs, stepLimit } = this.#o;
    const [due, expired, orphans, deadlines] = (await this.#run(reapScanScript, [], [String(leaseMs), String(stepLimit), String(ORPHAN_SCAN)])) as [string[], string[], string[], string[]];
    // Latest due first: each goes to the oldest end, so the earliest due ends up taken first.
    const steps: Array<[ReapKind, string]> = [
      ...[...due].reverse().map((id): [ReapKind, string] => ['due', id]),
      ...expired.map((id): [ReapKind, string] => ['lease', id]),
      ...orphans.map((id): [ReapKind, string] => ['orphan', id]),
      ...deadlines.map((id): [ReapKind, string] => ['deadline', id]),
    ];
    const replies = await Promise.all(steps.map(([kind, id]) => this.#reapOne(kind, id)));
    const result: ReapResult = { promoted: [], requeued: [], failed: [], orphans: [], deadlines: [] };
    const into = { promoted: result.promoted, requeued: result.requeued, failed: result.failed, orphan: result.orphans, deadline: result.deadlines } as const;
    replies.forEach((reply, i) => {
      if (typeof reply === 'string' && reply in into) into[reply as keyof typeof into].push(steps[i]![1]);
    });
    return result;
  }

  #reapOne(kind: ReapKind, id: string): Promise<unknown> {
    const k = this.jobKeys(id);
    return this.#runEnding(reapJobScript, [k.record, k.imageIn], [kind, id, String(this.#o.leaseMs)], '');
  }

  /** True when a reap round hit its bound, so another round should follow at once. */
  reapWasFull(result: ReapResult): boolean {
    const { stepLimit } = this.#o;
    return result.promoted.length >= stepLimit || result.requeued.length + result.failed.length >= stepLimit || result.deadlines.length >= stepLimit;
  }

  /** Takes the reaper mutex for up to `ttlMs` (SET NX PX, in a script that runs while Redis is full); false when another process holds it. */
  async acquireReaperLock(owner: string, ttlMs: number): Promise<boolean> {
    return Number(await acquireLockScript.run(this.redis, [this.keys.reaperLock], [owner, String(Math.round(ttlMs))])) === 1;
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

  /** Redis's memory use and limit (`INFO memory`); max is 0 when no maxmemory is set. */
  async memory(): Promise<{ used: number; max: number }> {
    const info = await this.redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { used: field('used_memory'), max: field('maxmemory') };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
