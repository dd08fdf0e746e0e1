import { createClient, type RedisClientType } from 'redis';

const SET_EVENTS = '__keyevent@0__:set';
const OUTPUT_SUFFIX = '_image_out';

/** A time the observer could not see writes in: from the last write seen before it until `to`. */
export interface Gap {
  /** The job whose output write was the last one seen before the gap; none if none was seen. */
  afterId: string | undefined;
  /** When `attach()` had subscribed again (ms since the epoch); Infinity while the gap is open. */
  to: number;
}

/**
 * Counts writes of `<prefix><id>_image_out` as Redis itself reports them (keyspace
 * notifications of `set`, which fire for writes made inside Lua scripts too), independently of
 * anything the services count. Notifications are a server setting that a restart forgets, so
 * around a Redis restart there is a short blind spot (until `attach()` has subscribed again);
 * it is kept so a write inside it can be told apart from a missing one, and the job hash's
 * `output_writes` (persisted) is the cross-check.
 *
 * The blind spot starts before `beginGap()`. With `appendfsync always` Redis sends replies and
 * notifications only after the fsync of the loop turn that made the writes, so a kill -9 during
 * that fsync leaves writes on disk that nobody was told of (CI saw one, stamped just before the kill).
 * What is certain is order: notifications reach one subscriber in the order of the writes. So
 * every write up to the last one seen was seen, and the spot starts at that write's Redis time,
 * which the judge reads from its job's `finished_at` (the same script stamps both).
 */
export class WriteObserver {
  readonly #writes = new Map<string, number>();
  readonly #prefix: string;
  readonly #url: string;
  #subscriber: RedisClientType | undefined;
  #lastSeen: string | undefined;
  #gap: Gap | undefined;
  /** The blind spots so far, oldest first. */
  readonly gaps: Gap[] = [];
  /** Connection errors of the subscriber; a restart causes some. */
  errors = 0;

  constructor(url: string, prefix: string) {
    this.#url = url;
    this.#prefix = prefix;
  }

  /** Turns on `set` key-event notifications and subscribes, on a connection of its own. */
  async attach(): Promise<void> {
    this.detach();
    // No reconnect: after a restart attach() runs again, and must turn notifications back on first.
    const subscriber: RedisClientType = createClient({ url: this.#url, name: 'chaos-write-observer', socket: { reconnectStrategy: false } });
    subscriber.on('error', () => (this.errors += 1));
    await subscriber.connect();
    // E = key-event channel, $ = string commands (SET, SETEX, ...): the smallest set that shows output writes.
    await subscriber.configSet('notify-keyspace-events', 'E$');
    await subscriber.subscribe(SET_EVENTS, (key) => this.#record(key));
    this.#subscriber = subscriber;
    if (this.#gap !== undefined) this.gaps.push({ ...this.#gap, to: Date.now() });
    this.#gap = undefined;
  }

  /** Marks the start of a blind spot (call before stopping Redis). */
  beginGap(): void {
    this.#gap ??= { afterId: this.#lastSeen, to: Infinity };
  }

  detach(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber?.isOpen) subscriber.destroy();
  }

  /**
   * True when a write Redis stamped at `atMs` fell in a blind spot (or one is open now).
   * `finishedAt` gives a job's `finished_at`: the Redis time of the last write seen before a gap.
   */
  blindAt(atMs: number, finishedAt: (id: string) => number | undefined): boolean {
    const open = this.#gap === undefined ? [] : [this.#gap];
    return [...this.gaps, ...open].some((gap) => {
      // Nothing seen before the gap: every earlier write may be the unseen one.
      const from = gap.afterId === undefined ? -Infinity : (finishedAt(gap.afterId) ?? -Infinity);
      // `>=`: a write in the same millisecond as the last one seen may have come after it.
      return atMs >= from && atMs <= gap.to;
    });
  }

  #record(key: string): void {
    if (!key.startsWith(this.#prefix) || !key.endsWith(OUTPUT_SUFFIX)) return;
    const id = key.slice(this.#prefix.length, -OUTPUT_SUFFIX.length);
    this.#lastSeen = id;
    this.#writes.set(id, (this.#writes.get(id) ?? 0) + 1);
  }

  /** Output writes seen for one job id. */
  writes(id: string): number {
    return this.#writes.get(id) ?? 0;
  }

  /** How many of `ids` have had their output written at least once. */
  written(ids: Iterable<string>): number {
    let n = 0;
    for (const id of ids) if (this.#writes.has(id)) n += 1;
    return n;
  }
}
