import { closeRedisClient, errorMessage, type JobRepository, type Logger, type RedisClient } from '@cutout/shared';

/**
 * Why a wait ended: the job ended, the wait ran out, the client went away, the proxy is
 * closing, or the subscriber connection dropped (an end published meanwhile would be missed).
 */
export type WakeReason = 'done' | 'timeout' | 'gone' | 'closing' | 'disconnected';

export interface JobWait {
  readonly woken: Promise<WakeReason>;
  /** Stops waiting and frees the slot; safe to call more than once, and after a wake. */
  cancel(): void;
}

/** The part of the listener GET /get_job uses. */
export type JobDoneWaits = Pick<JobDoneListener, 'waitFor'>;

export interface JobDoneListenerOptions {
  jobs: Pick<JobRepository, 'listenForDone'>;
  /** A connection of its own (e.g. `redis.duplicate()`), not yet connected: the listener connects and closes it. */
  subscriber: RedisClient;
  logger: Logger;
  /** Waits allowed at once; past it a long poll answers at once. Default 10 000. */
  maxWaiters?: number;
}

export const DEFAULT_MAX_WAITERS = 10_000;

interface Waiter {
  wake(reason: WakeReason): void;
}

/**
 * One pub/sub connection for the whole proxy and a map of job id → long polls waiting for it.
 * A wait is only offered while the subscription is live, so a caller that registers and then
 * reads the record never misses an end: one published later wakes it, one before shows in the read.
 */
export class JobDoneListener {
  readonly #o: Required<JobDoneListenerOptions>;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #count = 0;
  #subscribed = false;
  #subscribing = false;
  #down = false;
  #closing: Promise<void> | null = null;

  constructor(options: JobDoneListenerOptions) {
    this.#o = { maxWaiters: DEFAULT_MAX_WAITERS, ...options };
    if (!Number.isSafeInteger(this.#o.maxWaiters) || this.#o.maxWaiters < 0) {
      throw new TypeError(`JobDoneListener maxWaiters must be a whole number from 0, got ${this.#o.maxWaiters}`);
    }
  }

  /** Connects and subscribes in the background; Redis may be away, the client keeps trying. */
  start(): void {
    const { subscriber, logger } = this.#o;
    subscriber.on('error', (error: Error) => {
      if (!this.#down) logger.warn('job-done subscriber lost Redis; long polls answer at once until it is back', { error: error.message });
      this.#down = true;
    });
    // node-redis subscribes again by itself before 'ready' after a reconnect; only the first
    // subscribe (or one that failed) is ours to send.
    subscriber.on('ready', () => {
      this.#down = false;
      if (!this.#subscribed) void this.#subscribe();
    });
    // Ends published while the connection is down are never delivered: let every wait re-read now.
    subscriber.on('reconnecting', () => this.#wakeAll('disconnected'));
    subscriber.on('end', () => this.#wakeAll('disconnected'));
    subscriber.connect().catch((error: unknown) => {
      if (!this.#closing) logger.error('job-done subscriber could not connect', { error: errorMessage(error) });
    });
  }

  async #subscribe(): Promise<void> {
    if (this.#subscribing || this.#closing) return;
    this.#subscribing = true;
    try {
      await this.#o.jobs.listenForDone(this.#o.subscriber, (id) => this.#done(id));
      this.#subscribed = true;
      this.#o.logger.info('job-done subscriber ready');
    } catch (error) {
      this.#o.logger.warn('job-done subscribe failed; retrying on the next reconnect', { error: errorMessage(error) });
    } finally {
      this.#subscribing = false;
    }
  }

  /** True while an end would reach a waiter: subscribed, connected, not closing. */
  get ready(): boolean {
    return this.#subscribed && this.#o.subscriber.isReady && !this.#closing;
  }

  /** Waits registered right now. */
  get waiting(): number {
    return this.#count;
  }

  /**
   * Registers a wait for `id` of up to `ms`, ended early by `signal`. Null when no wait can be
   * offered (not subscribed, closing, or maxWaiters already wait): then answer at once.
   */
  waitFor(id: string, ms: number, signal?: AbortSignal): JobWait | null {
    if (!this.ready || this.#count >= this.#o.maxWaiters || signal?.aborted) return null;
    let resolve!: (reason: WakeReason) => void;
    const woken = new Promise<WakeReason>((r) => (resolve = r));
    let settled = false;
    const onAbort = () => waiter.wake('gone');
    const waiter: Waiter = {
      wake: (reason) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.#waiters.get(id);
        set?.delete(waiter);
        if (set?.size === 0) this.#waiters.delete(id);
        this.#count--;
        resolve(reason);
      },
    };
    const timer = setTimeout(() => waiter.wake('timeout'), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    let set = this.#waiters.get(id);
    if (!set) this.#waiters.set(id, (set = new Set()));
    set.add(waiter);
    this.#count++;
    return { woken, cancel: () => waiter.wake('gone') };
  }

  #done(id: string): void {
    const set = this.#waiters.get(id);
    if (set) for (const waiter of [...set]) waiter.wake('done');
  }

  #wakeAll(reason: WakeReason): void {
    for (const set of [...this.#waiters.values()]) for (const waiter of [...set]) waiter.wake(reason);
  }

  /** Answers every wait now (with the job's current state) and closes the connection; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#wakeAll('closing');
      await closeRedisClient(this.#o.subscriber);
    })();
    return this.#closing;
  }
}
