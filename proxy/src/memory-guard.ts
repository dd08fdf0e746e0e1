import { AppError, type JobRepository } from '@cutout/shared';

export interface MemoryGuardOptions {
  jobs: Pick<JobRepository, 'memory'>;
  /** QUEUE_MAX_MEMORY_RATIO. */
  maxRatio: number;
  /** How long one reading of INFO memory is trusted. Default 1000 ms. */
  cacheMs?: number;
  /** How long a reading may take before the upload goes ahead without it. Default 200 ms. */
  readTimeoutMs?: number;
}

/**
 * Admission control by memory: under `noeviction`, a Redis at maxmemory refuses only the scripts
 * whose first write grows memory, so some steps would fail and others not. Uploads are refused
 * (429, nothing queued) while Redis is above the share of its limit, so the steps that finish the
 * jobs already accepted keep the room they need. A reading is reused for a second: INFO costs
 * Redis a little on every call, and memory does not jump between uploads. The check is best
 * effort: a Redis that does not answer INFO quickly is left to the enqueue itself, whose own
 * timeout and refusal rules apply.
 */
export class MemoryGuard {
  readonly #o: Required<MemoryGuardOptions>;
  #reading: { at: number; used: number; max: number } | null = null;

  constructor(options: MemoryGuardOptions) {
    this.#o = { cacheMs: 1_000, readTimeoutMs: 200, ...options };
  }

  /** Throws 429 QUEUE_FULL when Redis is too full to take an upload of `bytes` more. */
  async check(bytes: number): Promise<void> {
    const now = performance.now();
    if (this.#reading === null || now - this.#reading.at > this.#o.cacheMs) {
      const fresh = await this.#read();
      if (fresh) this.#reading = { at: now, ...fresh };
    }
    if (this.#reading === null) return;
    const { used, max } = this.#reading;
    // The upload's own bytes count: a large one may be what would cross the limit.
    const ratio = max > 0 ? (used + bytes) / max : 0;
    if (ratio > this.#o.maxRatio) {
      throw new AppError(
        429,
        'QUEUE_FULL',
        `the job store would be ${Math.round(ratio * 100)} % full, over its limit of ${Math.round(this.#o.maxRatio * 100)} % (QUEUE_MAX_MEMORY_RATIO of Redis's maxmemory); nothing was queued: send the same request again after the Retry-After seconds`,
      );
    }
  }

  async #read(): Promise<{ used: number; max: number } | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.#o.readTimeoutMs);
    });
    try {
      return await Promise.race([this.#o.jobs.memory().catch(() => null), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
