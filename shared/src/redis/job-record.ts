import { parseJobTimings, type JobTimings } from './job-timings.js';
import { parseStoredOptions, type JobOptions } from '../contract/options.js';
import type { Priority, V1Status } from '../contract/status.js';

// The shapes the job repository reads and writes, and how a record's hash becomes a JobRecord.

export type EnqueueResult =
  /** `id`: the new job's (or group's), or the earlier one an idempotent repeat names (`repeated`). */
  | { accepted: true; depth: number; id: string; repeated: boolean }
  /**
   * 'queue': QUEUE_MAX_DEPTH jobs wait; 'owner': the API key has its most unfinished jobs;
   * 'idempotency': the Idempotency-Key was used with another body; 'late': the script ran after
   * `notAfter`, when the caller had already given up. Nothing was written.
   */
  | { accepted: false; depth: number; reason: 'queue' | 'owner' | 'idempotency' | 'late' };

/** What a submit carries besides its image(s): the same for every job of a group. */
export interface SubmitFields {
  /** How the output is made; default the RGBA PNG. */
  options?: JobOptions;
  /** The API key's name that submitted the job; absent while the API is open. */
  owner?: string;
  /** The owner's most unfinished jobs (API_KEY_MAX_QUEUED); absent or 0 for no limit. */
  ownerMaxActive?: number;
  /** Default normal (the contract's `job_id` list). */
  priority?: Priority;
  /** A job not started this long after submit ends FAILED DEADLINE_EXCEEDED. */
  deadlineMs?: number;
  /** POSTed when the job (or the group) ends. */
  callbackUrl?: string;
  /** Idempotency-Key, scoped by the caller (API key name), and a hash of the body. */
  idempotency?: { key: string; bodyHash: string };
  /**
   * Epoch ms after which, by Redis's clock, the submit must not happen: the caller stops waiting
   * then (and answers 503), so a script that only runs later (Redis was stalled) writes nothing.
   */
  notAfter?: number;
}

export interface NewImage {
  id: string;
  imageBase64: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
}

export type NewJob = NewImage & SubmitFields;

export interface JobRecord {
  id: string;
  status: V1Status;
  priority: Priority;
  /** The group the job belongs to, if any. */
  group: string | null;
  callbackUrl: string | null;
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
  /** The current claim, while RUNNING. `token` is the fencing token ("<claim counter>:<nonce>"). */
  lease: { owner: string; token: string; deadline: number } | null;
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
  /** Waiting, all priorities together (what QUEUE_MAX_DEPTH counts). */
  queued: number;
  /** Waiting, by priority. */
  queuedByPriority: Record<Priority, number>;
  running: number;
  /** Waiting for a retry to come due. */
  delayed: number;
  /** Entries in the dead-letter list (capped at deadLetterMax). */
  deadLetters: number;
  submitted: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Callback deliveries waiting (due or in flight), delivered, and given up. */
  callbacksPending: number;
  callbacksDelivered: number;
  callbacksFailed: number;
}

/**
 * What the fenced steps need to know of a claim besides its token. The TakenJob is one: given
 * it, the worker is checked with the token and the job's group travels with its end.
 */
export interface ClaimRef {
  id: string;
  /** The job's group, when it has one (its end reaches the group in the same step). */
  group?: string | null;
  /** The worker that took the claim (lease_owner). */
  worker?: string;
}

/** A job taken with a lease: run it, renew with `token`, end it with `token`. */
export interface TakenJob extends ClaimRef {
  id: string;
  /**
   * The fencing token: this job's claim counter and a random nonce made for this take
   * ("2:Jq0x…"), so no two claims share one, even when Redis lost writes and the counter repeats.
   */
  token: string;
  /** This claim's number, from 1. */
  attempts: number;
  group: string | null;
  worker: string;
  imageBase64: string;
  options: JobOptions;
  /** What the proxy read from the input's header when it accepted it. */
  input: { format: string; width: number; height: number };
}

export interface TakeResult {
  job: TakenJob | null;
  /** Ids take ended FAILED on the way (INPUT_EXPIRED, TOO_MANY_ATTEMPTS). */
  failed: Array<{ id: string; code: string }>;
  /** Ids dropped from the queue because their record had expired or already ended. */
  dropped: number;
  /** With a job: milliseconds from its submit to this claim, by Redis's clock (earlier attempts included). */
  queueWaitMs?: number;
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
  /** Queued jobs whose deadline passed: FAILED DEADLINE_EXCEEDED. */
  deadlines: string[];
}

export interface DeadLetter {
  jobId: string;
  code: string;
  message: string;
  attempts: number;
  failedAt: number;
}

export function toNumber(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function errorOf(code: string | undefined, message: string | undefined) {
  return code ? { code, message: message ?? '' } : null;
}

const PRIORITIES: ReadonlySet<string> = new Set(['high', 'normal', 'low']);

export function toJobRecord(id: string, hash: Record<string, string>, imageIn: string | null, imageOut: string | null): JobRecord {
  const token = hash.lease_token || null;
  return {
    id,
    status: hash.status as V1Status,
    priority: (PRIORITIES.has(hash.priority ?? '') ? hash.priority : 'normal') as Priority,
    group: hash.group || null,
    callbackUrl: hash.callback_url || null,
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
    imageInBase64: imageIn,
    imageOutBase64: imageOut,
  };
}
