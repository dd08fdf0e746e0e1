import { randomUUID } from 'node:crypto';
import {
  AppError,
  assertImageComplete,
  decodeBase64Upload,
  readImageHeader,
  type ImageHeader,
  type JobRecord,
  type JobRepository,
  type JobStatus,
  type JobTimings,
  type Logger,
} from '@cutout/shared';
import type { JobDoneWaits, WakeReason } from './job-done.listener.js';
import { imageTooLarge, jobNotFound, parseJobId } from './jobs.schema.js';
import type { RedisGuard } from './redis-guard.js';

export interface UploadLimits {
  /** Largest decoded image (MAX_IMAGE_BYTES). */
  maxImageBytes: number;
  /** Largest width × height (MAX_IMAGE_PIXELS). */
  maxImagePixels: number;
}

/** The part of the JobRepository the proxy uses. */
export type JobStore = Pick<JobRepository, 'enqueue' | 'get' | 'stats' | 'ping'>;

export interface CheckedUpload {
  bytes: Buffer;
  header: ImageHeader;
  /** What to store: the upload's base64 in canonical form. */
  base64: string;
}

/**
 * Everything the proxy can tell about an upload without decoding its pixels, cheapest first:
 * base64, byte size, format and size from the header, the file's structure, the pixel count.
 */
export function checkUpload(image: string, limits: UploadLimits): CheckedUpload {
  const { bytes, base64 } = decodeBase64Upload(image);
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
  return { bytes, header, base64 };
}

/** GET /get_job's answer: the contract's five fields, then our extras. */
export interface JobView {
  status: 'ok' | 'ng';
  job_id: string;
  job_status: JobStatus;
  img_in_base64: string | null;
  img_out_base64: string | null;
  error?: { code: string; message: string };
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  attempts: number;
  /** Where the time went (queue wait, predict's stages, ...), once the job SUCCEEDED; else null. */
  timings: JobTimings | null;
}

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toJobView(record: JobRecord): JobView {
  // "ok" promises the reference client a result it can save, so it needs both the state and the bytes.
  const done = record.status === 'SUCCEEDED' && record.imageOutBase64 !== null;
  return {
    status: done ? 'ok' : 'ng',
    job_id: record.id,
    job_status: record.status,
    img_in_base64: record.imageInBase64,
    img_out_base64: done ? record.imageOutBase64 : null,
    ...(record.status === 'FAILED' ? { error: record.error ?? { code: 'JOB_FAILED', message: 'the job failed without a recorded reason; submit it again' } } : {}),
    created_at: isoTime(record.createdAt),
    started_at: isoTime(record.startedAt),
    finished_at: isoTime(record.finishedAt),
    attempts: record.attempts,
    timings: record.timings,
  };
}

const isFinal = (status: JobStatus) => status === 'SUCCEEDED' || status === 'FAILED';

function queueFull(depth: number): AppError {
  return new AppError(
    429,
    'QUEUE_FULL',
    `the queue already holds ${depth} jobs, its limit (QUEUE_MAX_DEPTH); nothing was queued: send the same request again after the Retry-After seconds`,
  );
}

export interface JobServiceDeps {
  jobs: JobStore;
  logger: Logger;
  limits: UploadLimits;
  guard: RedisGuard;
  /** Long polls; without it `?wait=` answers at once. */
  jobDone?: JobDoneWaits | undefined;
}

export interface StartedJob {
  jobId: string;
  header: ImageHeader;
  bytes: number;
}

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /** Checks an upload and queues it; nothing is written unless every check passed. */
  async start(image: string, requestId: string): Promise<StartedJob> {
    const { bytes, header, base64: imageBase64 } = checkUpload(image, this.deps.limits);
    const jobId = randomUUID();
    // Stored in one canonical form (standard alphabet, padded, no prefix or line breaks) whatever
    // the client sent; it decodes to exactly the bytes that passed the checks.
    const job = { id: jobId, imageBase64, format: header.format, width: header.width, height: header.height, bytes: bytes.length };
    const queued = await this.deps.guard('enqueue', () => this.deps.jobs.enqueue(job));
    if (!queued.accepted) {
      this.deps.logger.warn('queue full: upload refused', { request_id: requestId, depth: queued.depth, bytes: bytes.length });
      throw queueFull(queued.depth);
    }
    this.deps.logger.info('job queued', { request_id: requestId, job_id: jobId, format: header.format, width: header.width, height: header.height, bytes: bytes.length });
    return { jobId, header, bytes: bytes.length };
  }

  /**
   * Resolves once the job has ended, `waitMs` has passed, `signal` aborted (the client left)
   * or no wait can be held (the subscriber is down, too many waits, shutdown): then read the
   * view. Unknown ids return at once, for view() to answer 404.
   */
  async waitForEnd(rawId: string, waitMs: number, signal?: AbortSignal): Promise<WakeReason | 'now'> {
    const id = parseJobId(rawId);
    const wait = id === null || waitMs <= 0 ? null : (this.deps.jobDone?.waitFor(id, waitMs, signal) ?? null);
    if (id === null || wait === null) return 'now';
    try {
      // Registered before this read: an end published after it wakes the wait, one before shows here.
      const record = await this.deps.guard('get job state', () => this.deps.jobs.get(id, { withImages: false }));
      if (record === null || isFinal(record.status)) return 'now';
      this.deps.logger.debug('long poll waiting', { job_id: id, wait_ms: waitMs, job_status: record.status });
      const reason = await wait.woken;
      this.deps.logger.debug('long poll woken', { job_id: id, reason });
      return reason;
    } finally {
      wait.cancel();
    }
  }

  /** The job's view; 404 JOB_NOT_FOUND for ids that are not ours, unknown or expired. */
  async view(rawId: string): Promise<JobView> {
    const id = parseJobId(rawId);
    const record = id === null ? null : await this.deps.guard('get job', () => this.deps.jobs.get(id));
    if (record === null) {
      throw jobNotFound();
    }
    return toJobView(record);
  }
}
