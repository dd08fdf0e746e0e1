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
}

export interface JobKeys {
  readonly imageIn: string;
  readonly imageOut: string;
  /** Hash: status, timestamps, attempts, error, input facts. */
  readonly record: string;
}

export function queueKeys(prefix: string): QueueKeys {
  return {
    queue: `${prefix}job_id`,
    processing: `${prefix}job_id_processing`,
    counts: `${prefix}job_counts`,
  };
}

export function jobKeys(prefix: string, jobId: string): JobKeys {
  return {
    imageIn: `${prefix}${jobId}_image_in`,
    imageOut: `${prefix}${jobId}_image_out`,
    record: `${prefix}${jobId}_job`,
  };
}
