/**
 * Every Redis key the system writes. The first three are fixed by the contract;
 * the rest are ours and documented in the README's Redis layout section.
 */
export interface QueueKeys {
  /** List of waiting job ids: LPUSH by the proxy, taken from the right by batch. */
  readonly queue: string;
  /** List of ids a batch worker has taken and not yet finished. */
  readonly processing: string;
  /** Hash of cumulative counters: submitted, succeeded, failed. */
  readonly counts: string;
  /** Zset id → lease deadline (ms): the reaper finds expired claims here. */
  readonly leases: string;
  /** Zset id → time a retry is due (ms). */
  readonly delayed: string;
  /** List of JSON lines, newest first, one per FAILED job; capped. */
  readonly deadLetter: string;
  /** String: the reaper mutex, holding its owner's name. */
  readonly reaperLock: string;
  /** Hash id → when the reaper first saw it in processing without a lease (ms). */
  readonly orphans: string;
  /** Hash API key name → its jobs not yet ended, for API_KEY_MAX_QUEUED. */
  readonly ownerActive: string;
  /**
   * Pub/sub channel, not a key: every step that ends a job SUCCEEDED or FAILED publishes its
   * id here, in the same atomic step, so a long poll can answer at once.
   */
  readonly jobDone: string;
}

export interface JobKeys {
  readonly imageIn: string;
  readonly imageOut: string;
  /** Hash: status, timestamps, attempts, lease, error, input facts. */
  readonly record: string;
}

/**
 * What follows the job id in each job-scoped key. Scripts that only learn an id inside Redis
 * (take, reap) get the prefix and build the same names from these, so the naming lives here.
 */
export const JOB_KEY_SUFFIXES = Object.freeze({ imageIn: '_image_in', imageOut: '_image_out', record: '_job' });

export function queueKeys(prefix: string): QueueKeys {
  return {
    queue: `${prefix}job_id`,
    processing: `${prefix}job_id_processing`,
    counts: `${prefix}job_counts`,
    leases: `${prefix}job_leases`,
    delayed: `${prefix}job_delayed`,
    deadLetter: `${prefix}job_dead_letter`,
    reaperLock: `${prefix}reaper_lock`,
    orphans: `${prefix}job_orphans`,
    ownerActive: `${prefix}job_owner_active`,
    jobDone: `${prefix}job_done`,
  };
}

export function jobKeys(prefix: string, jobId: string): JobKeys {
  return {
    imageIn: `${prefix}${jobId}${JOB_KEY_SUFFIXES.imageIn}`,
    imageOut: `${prefix}${jobId}${JOB_KEY_SUFFIXES.imageOut}`,
    record: `${prefix}${jobId}${JOB_KEY_SUFFIXES.record}`,
  };
}
