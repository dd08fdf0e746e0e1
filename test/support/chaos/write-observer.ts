import { createClient, type RedisClientType } from 'redis';

const SET_EVENTS = '__keyevent@0__:set';
const OUTPUT_SUFFIX = '_image_out';

/**
 * Counts writes of `<prefix><id>_image_out` as Redis itself reports them (keyspace
 * notifications of `set`, which fire for writes made inside Lua scripts too), independently of
 * anything the services count. Notifications are a server setting that a restart forgets, so
 * around a Redis restart there is a short blind spot (from `beginGap()` until `attach()` has
 * subscribed again); the times are kept so a write inside it can be told apart from a missing
 * one, and the job hash's `output_writes` (persisted) is the cross-check.
 */
export class WriteObserver {
  readonly #writes = new Map<string, number>();
  readonly #prefix: string;
  readonly #url: string;
  #subscriber: RedisClientType | undefined;
  #gapStart: number | undefined;
  /** [from, to] in ms since the epoch during which writes could not be seen. */
  readonly gaps: Array<[number, number]> = [];
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
    if (this.#gapStart !== undefined) this.gaps.push([this.#gapStart, Date.now()]);
    this.#gapStart = undefined;
  }

  /** Marks the start of a blind spot (call before stopping Redis). */
  beginGap(): void {
    this.#gapStart ??= Date.now();
  }

  detach(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber?.isOpen) subscriber.destroy();
  }

  /** True when `atMs` fell in a blind spot, or one is open now. */
  blindAt(atMs: number): boolean {
    if (this.#gapStart !== undefined && atMs >= this.#gapStart) return true;
    return this.gaps.some(([from, to]) => atMs >= from && atMs <= to);
  }

  #record(key: string): void {
    if (!key.startsWith(this.#prefix) || !key.endsWith(OUTPUT_SUFFIX)) return;
    const id = key.slice(this.#prefix.length, -OUTPUT_SUFFIX.length);
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
