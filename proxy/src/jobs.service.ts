import { randomUUID } from 'node:crypto';
import {
  AppError,
  assertImageComplete,
  checkPngDataLength,
  decodeBase64Upload,
  readImageField,
  readImageHeader,
  type ImageHeader,
  type EnqueueResult,
  type JobRecord,
  type JobRepository,
  type JobWithImagePieces,
  type Logger,
} from '@cutout/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_JOB_OPTIONS, isFinalStatus, outputMediaType, type JobOptions } from '@cutout/shared/contract';
import type { Owner } from './auth.js';
import type { JobDoneWaits, WakeReason } from './job-done.listener.js';
import { toJobView, type JobView } from './job-views.js';
import { imageTooLarge, jobNotFound, parseJobId } from './jobs.schema.js';
import type { RawUpload } from './upload.body.js';
import { DEFAULT_SUBMIT_POLICY, resolveSubmitFields, type SubmitPolicy } from './submit-fields.js';
import type { MemoryGuard } from './memory-guard.js';
import { redisUnavailable, type RedisGuard } from './redis-guard.js';

const DEFAULT_SUBMIT_TIMEOUT_MS = 800;

export interface UploadLimits {
  /** Largest decoded image (MAX_IMAGE_BYTES). */
  maxImageBytes: number;
  /** Largest width × height (MAX_IMAGE_PIXELS). */
  maxImagePixels: number;
}

/** The part of the JobRepository the proxy uses. */
export type JobStore = Pick<JobRepository, 'enqueue' | 'enqueueGroup' | 'get' | 'getWithImagePieces' | 'getGroup' | 'cancel' | 'output' | 'stats' | 'ping' | 'memory'>;

export interface CheckedUpload {
  bytes: Buffer;
  header: ImageHeader;
  /** What to store: the upload's base64 in canonical form. */
  base64: string;
}

/**
 * Everything the proxy can tell about an image without decoding its pixels, cheapest first:
 * byte size, format and size from the header, the file's structure, the pixel count, and for a
 * PNG whether its compressed data is longer than its header's pixels could ever need.
 */
export function checkImageBytes(bytes: Buffer, limits: UploadLimits): ImageHeader {
  if (bytes.length === 0) throw new AppError(400, 'EMPTY_IMAGE', 'the file is empty; send a PNG, JPEG or WebP file');
  if (bytes.length > limits.maxImageBytes) throw imageTooLarge(limits.maxImageBytes, bytes.length);
  const header = readImageHeader(bytes);
  assertImageComplete(bytes, header);
  const pixels = header.width * header.height;
  if (pixels > limits.maxImagePixels) {
    throw new AppError(
      422,
      'TOO_MANY_PIXELS',
      `the image is ${header.width}×${header.height} = ${pixels} pixels, over the limit of ${limits.maxImagePixels} pixels (MAX_IMAGE_PIXELS); scale it down and send it again`,
    );
  }
  if (header.format === 'png') checkPngDataLength(bytes);
  return header;
}

/** A base64 upload (start_job, JSON bodies): the base64 is checked first, then the bytes. */
export function checkUpload(image: string, limits: UploadLimits): CheckedUpload {
  const { bytes, base64 } = decodeBase64Upload(image);
  return { bytes, header: checkImageBytes(bytes, limits), base64 };
}

/** An upload in any body form, checked; a JSON body without an image string is 400 MISSING_IMAGE. */
export function checkRawUpload(upload: RawUpload, limits: UploadLimits): CheckedUpload {
  if (upload.kind === 'oversized') throw imageTooLarge(limits.maxImageBytes);
  if (upload.kind === 'bytes') {
    const header = checkImageBytes(upload.bytes, limits);
    return { bytes: upload.bytes, header, base64: upload.bytes.toString('base64') };
  }
  return checkUpload(readImageField(upload.image), limits);
}

export function refused(queued: Extract<EnqueueResult, { accepted: false }>): AppError {
  if (queued.reason === 'late') return redisUnavailable();
  if (queued.reason === 'idempotency') {
    return new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with another body; use a new key for a new request');
  }
  if (queued.reason === 'owner') {
    return new AppError(
      429,
      'KEY_QUEUE_FULL',
      `this API key already has ${queued.depth} unfinished jobs, its limit (its max_queued in API_KEYS_FILE, else API_KEY_MAX_QUEUED); nothing was queued: send it again after the Retry-After seconds, or wait for your jobs to finish`,
    );
  }
  return new AppError(
    429,
    'QUEUE_FULL',
    `the queue already holds ${queued.depth} jobs, its limit (QUEUE_MAX_DEPTH); nothing was queued: send the same request again after the Retry-After seconds`,
  );
}

/** What a submit carries besides the image. */
export interface SubmitOptions {
  requestId: string;
  /** The API key's name; null while the API is open. */
  owner?: Owner;
  options?: JobOptions;
  /** Idempotency-Key and the body's hash; the same pair answers the first job. */
  idempotency?: { key: string; bodyHash: string } | null;
}

/** The output of a SUCCEEDED job, ready to send. */
export interface JobResult {
  bytes: Buffer;
  mediaType: string;
  /** Stable for the job's one result: its id and the claim that stored it. */
  etag: string;
}

/** How long a synchronous caller waits between looks when no long poll can be held (subscriber down). */
const SYNC_RECHECK_MS = 250;

export interface JobServiceDeps {
  jobs: JobStore;
  logger: Logger;
  limits: UploadLimits;
  guard: RedisGuard;
  /** Long polls; without it `?wait=` answers at once. */
  jobDone?: JobDoneWaits | undefined;
  /** Callbacks, deadlines and per-key limits; default: no callbacks, no deadline, no limit. */
  policy?: SubmitPolicy;
  /** REDIS_COMMAND_TIMEOUT_MS: what a submit may wait for Redis, before its upload's transfer time. */
  redisTimeoutMs?: number;
  /** Admission by Redis's memory (QUEUE_MAX_MEMORY_RATIO); without it only the depth counts. */
  memory?: MemoryGuard;
}

/** Redis reads a large upload at no less than this, so its submit gets this much more time. */
const UPLOAD_BYTES_PER_MS = 16 * 1024;
/** How long before the caller gives up the script must have run: the reply still has to arrive. */
const SUBMIT_MARGIN_MS = 100;

export interface StartedJob {
  jobId: string;
  /** The job as it was queued (created_at on the proxy's clock; a read gives Redis's). */
  record: JobRecord;
  header: ImageHeader;
  bytes: number;
  /** True when an Idempotency-Key named an earlier job: nothing new was queued. */
  repeated: boolean;
}

export class JobService {
  readonly policy: SubmitPolicy;

  constructor(private readonly deps: JobServiceDeps) {
    this.policy = deps.policy ?? DEFAULT_SUBMIT_POLICY;
  }

  get jobs(): JobStore {
    return this.deps.jobs;
  }

  get guard(): RedisGuard {
    return this.deps.guard;
  }

  /**
   * Runs an enqueue so that a 503 means nothing was queued: the proxy waits `timeoutMs` (more
   * for a large upload, which takes Redis time to read), and the script itself refuses, by
   * Redis's clock, once the proxy is about to stop waiting. A Redis that stalls and runs the
   * script late therefore writes nothing, and the client's retry runs the image once.
   */
  async enqueueOnce(what: string, payloadBytes: number, enqueue: (notAfter: number) => Promise<EnqueueResult>): Promise<EnqueueResult> {
    await this.deps.memory?.check(payloadBytes);
    const timeoutMs = (this.deps.redisTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS) + Math.ceil(payloadBytes / UPLOAD_BYTES_PER_MS);
    const notAfter = Date.now() + timeoutMs - Math.min(SUBMIT_MARGIN_MS, timeoutMs / 4);
    return this.deps.guard(what, () => enqueue(notAfter), { timeoutMs });
  }

  /** Checks a start_job upload and queues it; nothing is written unless every check passed. */
  start(image: string, requestId: string, owner: Owner = null): Promise<StartedJob> {
    return this.submit(checkUpload(image, this.deps.limits), { requestId, owner });
  }

  /** Queues a checked upload with its options and owner, in one atomic step. */
  async submit(upload: CheckedUpload, submit: SubmitOptions): Promise<StartedJob> {
    const { bytes, header, base64: imageBase64 } = upload;
    const { requestId, owner = null, options } = submit;
    const jobId = randomUUID();
    const fields = await resolveSubmitFields(options, owner, this.policy, submit.idempotency ?? null);
    // Stored in one canonical form (standard alphabet, padded, no prefix or line breaks) whatever
    // the client sent; it decodes to exactly the bytes that passed the checks.
    const job = { id: jobId, imageBase64, format: header.format, width: header.width, height: header.height, bytes: bytes.length, ...fields };
    const queued = await this.enqueueOnce('enqueue', imageBase64.length, (notAfter) => this.deps.jobs.enqueue({ ...job, notAfter }));
    if (!queued.accepted) {
      this.deps.logger.warn(queued.reason === 'queue' ? 'queue full: upload refused' : 'upload refused', { request_id: requestId, reason: queued.reason, depth: queued.depth, bytes: bytes.length, api_key: owner ?? undefined });
      throw refused(queued);
    }
    if (queued.repeated) {
      this.deps.logger.info('idempotent repeat: no new job', { request_id: requestId, job_id: queued.id, api_key: owner ?? undefined });
      return { jobId: queued.id, record: await this.record(queued.id, owner), header, bytes: bytes.length, repeated: true };
    }
    this.deps.logger.info('job queued', { request_id: requestId, job_id: jobId, format: header.format, width: header.width, height: header.height, bytes: bytes.length, priority: fields.priority, api_key: owner ?? undefined });
    const record: JobRecord = {
      id: jobId,
      status: 'QUEUED',
      priority: fields.priority ?? 'normal',
      group: null,
      callbackUrl: fields.callbackUrl ?? null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      attempts: 0,
      options: options ?? DEFAULT_JOB_OPTIONS,
      owner,
      error: null,
      lastError: null,
      lease: null,
      retryAt: null,
      outputWrites: 0,
      imageInBase64: null,
      imageOutBase64: null,
      timings: null,
    };
    return { jobId, record, header, bytes: bytes.length, repeated: false };
  }

  /**
   * Resolves once the job has ended, `waitMs` has passed, `signal` aborted (the client left)
   * or no wait can be held (the subscriber is down, too many waits, shutdown): then read the
   * view. Unknown ids return at once, for view() to answer 404.
   */
  async waitForEnd(rawId: string, waitMs: number, signal?: AbortSignal, owner: Owner = null): Promise<WakeReason | 'now'> {
    const id = parseJobId(rawId);
    const wait = id === null || waitMs <= 0 ? null : (this.deps.jobDone?.waitFor(id, waitMs, signal) ?? null);
    if (id === null || wait === null) return 'now';
    try {
      // Registered before this read: an end published after it wakes the wait, one before shows here.
      const record = await this.deps.guard('get job state', () => this.deps.jobs.get(id, { withImages: false }));
      // Another key's job answers at once, as an unknown one does: a wait must not tell that it exists.
      if (record === null || isFinalStatus(record.status) || (owner !== null && record.owner !== owner)) return 'now';
      this.deps.logger.debug('long poll waiting', { job_id: id, wait_ms: waitMs, job_status: record.status });
      const reason = await wait.woken;
      this.deps.logger.debug('long poll woken', { job_id: id, reason });
      return reason;
    } finally {
      wait.cancel();
    }
  }

  /**
   * The job's record (without images, or with them for §1's view); 404 JOB_NOT_FOUND for ids
   * that are not ours, unknown, expired, or another API key's: whether a job exists is itself
   * not told to a key that does not own it. `submitWith` names the submit call the 404 points to.
   */
  async record(rawId: string, owner: Owner, { withImages = false, submitWith }: { withImages?: boolean; submitWith?: string } = {}): Promise<JobRecord> {
    const id = parseJobId(rawId);
    const record = id === null ? null : await this.deps.guard('get job', () => this.deps.jobs.get(id, { withImages }));
    if (record === null || (owner !== null && record.owner !== owner)) throw jobNotFound(submitWith);
    return record;
  }

  /** §1's view of the job, with both images. */
  async view(rawId: string, owner: Owner = null): Promise<JobView> {
    return toJobView(await this.record(rawId, owner, { withImages: true }));
  }

  /**
   * §1's view as Redis holds it: the record and both images' base64 as bytes (a large one as
   * pieces still to be read), for writeJobView and streamJobView; the same 404s as record().
   */
  async viewBytes(rawId: string, owner: Owner = null): Promise<JobWithImagePieces> {
    const id = parseJobId(rawId);
    const job = id === null ? null : await this.deps.guard('get job', () => this.deps.jobs.getWithImagePieces(id));
    if (job === null || (owner !== null && job.record.owner !== owner)) throw jobNotFound();
    return job;
  }

  /** The output bytes of a SUCCEEDED job; 409 while it is not finished or when it failed. */
  async result(rawId: string, owner: Owner): Promise<JobResult> {
    const record = await this.record(rawId, owner);
    if (record.status === 'QUEUED' || record.status === 'RUNNING') {
      throw new AppError(409, 'JOB_NOT_FINISHED', `the job is ${record.status}; fetch the result once it has SUCCEEDED (GET /v1/jobs/{id}?wait=30 waits for it), after the Retry-After seconds`);
    }
    if (record.status === 'FAILED') {
      const error = record.error ?? { code: 'JOB_FAILED', message: 'no reason was recorded' };
      throw new AppError(409, 'JOB_FAILED', `the job FAILED with ${error.code}: ${error.message}`);
    }
    if (record.status === 'CANCELLED') throw new AppError(409, 'JOB_CANCELLED', 'the job was cancelled before it finished; it has no result');
    const base64 = await this.outputBase64(record.id);
    if (base64 === null) throw jobNotFound();
    return { bytes: Buffer.from(base64, 'base64'), mediaType: outputMediaType(record.options.format), etag: `"${record.id}-${record.attempts}"` };
  }

  /**
   * DELETE /v1/jobs/{id}: a queued job ends CANCELLED at once and never runs; a running one ends
   * CANCELLED and its worker stops (its result is refused). 409 when it had already ended.
   */
  async cancel(rawId: string, owner: Owner): Promise<JobRecord> {
    const record = await this.record(rawId, owner);
    const cancelled = await this.deps.guard('cancel job', () => this.deps.jobs.cancel('job', record.id));
    if (cancelled === null) throw jobNotFound();
    if (cancelled === 0) {
      throw new AppError(409, 'JOB_ALREADY_FINISHED', `the job has already ended ${(await this.record(record.id, owner)).status}; there is nothing to cancel`);
    }
    this.deps.logger.info('job cancelled', { job_id: record.id, was: record.status, api_key: owner ?? undefined });
    return this.record(record.id, owner);
  }

  /** The stored output's base64 (what §1 and seed 001 carry), or null. */
  outputBase64(id: string): Promise<string | null> {
    return this.deps.guard('get job output', () => this.deps.jobs.output(id));
  }

  /**
   * Waits, for a synchronous caller, until the job has ended or `timeoutMs` has passed, and
   * returns its record. Long polls are renewed until the deadline; while none can be held (the
   * subscriber is away) it looks again every quarter second. Never cancels the job.
   */
  async awaitEnd(id: string, owner: Owner, timeoutMs: number, signal?: AbortSignal): Promise<JobRecord> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = deadline - performance.now();
      const reason = left > 0 ? await this.waitForEnd(id, left, signal, owner) : 'timeout';
      const record = await this.record(id, owner);
      if (isFinalStatus(record.status) || signal?.aborted || performance.now() >= deadline) return record;
      if (reason === 'now' || reason === 'disconnected') await sleep(Math.min(SYNC_RECHECK_MS, deadline - performance.now()));
    }
  }
}
