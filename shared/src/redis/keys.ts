/**
 * Every Redis key the system writes. `job_id`, `<id>_image_in` and `<id>_image_out` are fixed
 * by the contract; the rest are ours and documented in the README's Redis layout section.
 */
export interface QueueKeys {
  /** Lists of waiting job ids by priority: LPUSH on submit, taken from the right. `queue` is the contract's `job_id` (normal). */
  readonly queueHigh: string;
  readonly queue: string;
  readonly queueLow: string;
  /**
   * The fair order beside each list (CONTRACT §13): a zset of the same queued ids, scored by the
   * slot each was given, so a take gives out the lowest slot and keys with work are served in turn.
   */
  readonly orderHigh: string;
  readonly order: string;
  readonly orderLow: string;
  /** Hash of the fair order's state: round:<priority>, next:<priority>:<owner>, queued:<priority>:<owner> (scripts/fair-order.ts). */
  readonly orderSlots: string;
  /** List of ids a batch worker has taken and not yet finished. */
  readonly processing: string;
  /** Zset id → lease deadline (ms): the reaper finds expired claims here. */
  readonly leases: string;
  /** Zset id → time a retry is due (ms). */
  readonly delayed: string;
  /** Hash of cumulative counters: submitted, succeeded, failed, cancelled, callbacks_*. */
  readonly counts: string;
  /** List of JSON lines, newest first, one per FAILED job; capped. */
  readonly deadLetter: string;
  /** Hash API key name → its jobs not yet ended, for API_KEY_MAX_QUEUED. */
  readonly ownerActive: string;
  /** List of wake tokens: one per job made runnable, so one idle worker wakes per job. */
  readonly wake: string;
  /** Zset id → the time (ms) a job must have started by (deadline_s), while it has not. */
  readonly deadlines: string;
  /**
   * Zset "job:<id>" / "group:<id>" → when it joins its delivery lane (ms), +inf once it has: the
   * outbox, every callback not yet delivered or given up.
   */
  readonly outbox: string;
  /** Hash outbox entry → delivery attempts claimed so far; "to:<entry>" → "<API key name>\n<receiver origin>". */
  readonly callbackAttempts: string;
  /** Zset, by name (score 0): "<lane>\0<due ms>\0<entry>" for each callback waiting in its lane (its API key's, or its receiver's). */
  readonly callbackQueue: string;
  /** Zset lane → its last claim (ms): lanes with a due callback and room under CALLBACK_KEY_CONCURRENCY, served in that order. */
  readonly callbackLanesReady: string;
  /** Zset lane → when its first callback is due (ms), for lanes whose first is not due yet. */
  readonly callbackLanesWaiting: string;
  /** Zset lane → its last claim (ms); forgotten an hour after a lane went idle. */
  readonly callbackLanesServed: string;
  /** Hash lane → callback deliveries in flight. */
  readonly callbackLanesBusy: string;
  /** Zset outbox entry → the end of its delivery claim's lease (ms). */
  readonly callbackInflight: string;
  /** Zset receiver origin → until when no callback is sent to it (ms), after failures. */
  readonly callbackRest: string;
  /** Hash receiver origin → its failed deliveries in a row. */
  readonly callbackFailures: string;
  /** Hash id → when the reaper first saw it in processing without a lease (ms). */
  readonly orphans: string;
  /** List of JSON lines, newest first, one per callback that gave up; capped. */
  readonly callbackDead: string;
  /** String: the reaper mutex, holding its owner's name. */
  readonly reaperLock: string;
  /**
   * Pub/sub channel, not a key: every step that ends a job publishes its id here (and a
   * group's id when its last job ends), in the same atomic step, so long polls answer at once.
   */
  readonly jobDone: string;
  /** Pub/sub channel: the id of each RUNNING job that was cancelled, so its worker stops at once. */
  readonly jobCancel: string;
}

export interface JobKeys {
  readonly imageIn: string;
  readonly imageOut: string;
  /** Hash: status, timestamps, attempts, lease, error, input facts, options. */
  readonly record: string;
}

export interface GroupKeys {
  /** Hash: created_at, size, unfinished, options, owner, callback_url, finished_at. */
  readonly record: string;
  /** List of the group's job ids, in the order of its images. */
  readonly jobs: string;
}

/**
 * What follows an id in each id-scoped key. No script builds a key name from these: every key a
 * script touches is passed in KEYS (see scripts/lua-lib.ts).
 */
export const JOB_KEY_SUFFIXES = Object.freeze({ imageIn: '_image_in', imageOut: '_image_out', record: '_job' });
export const GROUP_KEY_SUFFIXES = Object.freeze({ record: '_group', jobs: '_group_jobs' });

export function queueKeys(prefix: string): QueueKeys {
  return {
    queueHigh: `${prefix}job_id_high`,
    queue: `${prefix}job_id`,
    queueLow: `${prefix}job_id_low`,
    orderHigh: `${prefix}job_id_high_order`,
    order: `${prefix}job_id_order`,
    orderLow: `${prefix}job_id_low_order`,
    orderSlots: `${prefix}job_order_slots`,
    processing: `${prefix}job_id_processing`,
    leases: `${prefix}job_leases`,
    delayed: `${prefix}job_delayed`,
    counts: `${prefix}job_counts`,
    deadLetter: `${prefix}job_dead_letter`,
    ownerActive: `${prefix}job_owner_active`,
    wake: `${prefix}job_wake`,
    deadlines: `${prefix}job_deadlines`,
    outbox: `${prefix}callback_outbox`,
    callbackAttempts: `${prefix}callback_attempts`,
    callbackQueue: `${prefix}callback_queue`,
    callbackLanesReady: `${prefix}callback_lanes_ready`,
    callbackLanesWaiting: `${prefix}callback_lanes_waiting`,
    callbackLanesServed: `${prefix}callback_lanes_served`,
    callbackLanesBusy: `${prefix}callback_lanes_busy`,
    callbackInflight: `${prefix}callback_inflight`,
    callbackRest: `${prefix}callback_rest`,
    callbackFailures: `${prefix}callback_failures`,
    orphans: `${prefix}job_orphans`,
    callbackDead: `${prefix}callback_dead_letter`,
    reaperLock: `${prefix}reaper_lock`,
    jobDone: `${prefix}job_done`,
    jobCancel: `${prefix}job_cancel`,
  };
}

/**
 * The queue-level keys every state-changing script receives first, in this order (the Lua
 * prelude `Q` reads them by position), so each script sees the whole queue the same way.
 */
export function queueKeyList(k: QueueKeys): string[] {
  return [k.queueHigh, k.queue, k.queueLow, k.processing, k.leases, k.delayed, k.counts, k.deadLetter, k.ownerActive, k.wake, k.deadlines, k.outbox, k.callbackAttempts, k.orphans, k.callbackDead, k.orderHigh, k.order, k.orderLow, k.orderSlots];
}

export function jobKeys(prefix: string, jobId: string): JobKeys {
  return {
    imageIn: `${prefix}${jobId}${JOB_KEY_SUFFIXES.imageIn}`,
    imageOut: `${prefix}${jobId}${JOB_KEY_SUFFIXES.imageOut}`,
    record: `${prefix}${jobId}${JOB_KEY_SUFFIXES.record}`,
  };
}

export function groupKeys(prefix: string, groupId: string): GroupKeys {
  return { record: `${prefix}${groupId}${GROUP_KEY_SUFFIXES.record}`, jobs: `${prefix}${groupId}${GROUP_KEY_SUFFIXES.jobs}` };
}
