import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { createRedisClient, type RedisClient } from './client.js';

export interface RedisLinkOptions {
  url: string;
  /** CLIENT LIST name of each connection. */
  name: string;
  /** How long one call may go unanswered before it is given up and the connection replaced. */
  timeoutMs: number;
  /**
   * Whether the link times each call itself (default true). The proxy says false: its guard
   * gives each call its own deadline and calls replace() once none can still be inside it.
   */
  timeCalls?: boolean;
  /** Each connection error; default: a warning per error. */
  onError?: (error: Error) => void;
  /** The setting `timeoutMs` comes from, named in the timeout's message (batch: BATCH_REDIS_TIMEOUT_MS). */
  timeoutSetting?: string;
  logger: Logger;
  /** How long a new connection may take to be ready (TCP connect and handshake) before it is thrown away. Default max(2 × timeoutMs, 1000). */
  handshakeMs?: number;
}

/** A call that Redis did not answer in time; whether it ran there is unknown. */
export class RedisCallTimeoutError extends Error {
  constructor(what: string, ms: number, setting: string) {
    super(`redis ${what} did not answer within ${ms} ms (${setting}); the connection is replaced`);
    this.name = 'RedisCallTimeoutError';
  }
}

const CLOSING = new Set<PropertyKey>(['close', 'quit', 'destroy', 'disconnect']);
const EXECS = new Set<PropertyKey>(['exec', 'execAsPipeline']);

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function isMulti(value: unknown): value is object {
  return typeof (value as { exec?: unknown } | null)?.exec === 'function';
}

/**
 * A Redis connection with a deadline on every call (batch's, and the proxy's). node-redis v5 cannot give one
 * itself: its `timeout` command option stops counting once a command is written, and on a
 * socket that went quiet (a network black hole, a failed-over server, a NAT that forgot the
 * flow) nothing ever errors, so take, renew, complete and the reaper would wait until TCP gives
 * up, minutes later. Here a call unanswered after `timeoutMs` is rejected, the connection is
 * destroyed (every call still waiting on it is rejected too: their outcome is unknown, and
 * each caller retries a fenced step that recognises a repeat) and a fresh one is opened in its
 * place. While it connects, calls fail at once (no offline queue), so the workers back off.
 *
 * `client` is the handle everyone holds (the repository, the callback deliverer, duplicates
 * for blocking waits): it always sends to the current connection, so replacing one is
 * invisible to them; listeners given to its on() are put on every connection ('ready' then
 * fires for each new one). Its close() closes the link.
 */
export class RedisLink {
  readonly client: RedisClient;
  readonly #o: Required<RedisLinkOptions>;
  #current: RedisClient;
  #establishing: Promise<void> | null = null;
  /** Connections that were ready once; node-redis reconnects these by itself after an error. */
  readonly #established = new WeakSet<RedisClient>();
  /** Listeners given to `client.on`: each connection gets them, so they outlive a replacement. */
  readonly #listeners: Array<[string, (...args: unknown[]) => void]> = [];
  #closed = false;
  #replacements = 0;

  constructor(options: RedisLinkOptions) {
    if (!(options.timeoutMs > 0)) throw new Error(`RedisLink timeoutMs must be positive, got ${options.timeoutMs}`);
    this.#o = { handshakeMs: Math.max(2 * options.timeoutMs, 1_000), timeoutSetting: 'timeoutMs',
      timeCalls: true,
      onError: (error) => this.#o.logger.warn('redis connection error', { connection: this.#o.name, error: error.message }),
      ...options,
    };
    this.#current = this.#fresh();
    this.client = this.#facade();
  }

  /** Gives up the current connection (every call waiting on it is rejected) and opens another. */
  replace(reason: string): void {
    this.#giveUp(this.#current, reason);
  }

  /** How many times a connection was given up and replaced. */
  get replacements(): number {
    return this.#replacements;
  }

  /**
   * Resolves once a connection is ready. Keeps trying until Redis answers (batch may start
   * before Redis does); a connection whose handshake hangs is thrown away and another tried.
   */
  connect(): Promise<void> {
    this.#establishing ??= this.#establish().finally(() => (this.#establishing = null));
    return this.#establishing;
  }

  /** Closes the connection (waiting for calls in flight, within the call deadline); safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#current;
    if (!client.isOpen) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#o.timeoutMs)));
    await Promise.race([client.close().catch(() => undefined), late]);
    clearTimeout(timer);
    if (client.isOpen) client.destroy();
  }

  #fresh(): RedisClient {
    const client = createRedisClient(this.#o.url, {
      name: this.#o.name,
      onError: this.#o.onError,
    });
    client.on('reconnecting', () => this.#watchReconnect(client));
    for (const [event, listener] of this.#listeners) client.on(event, listener);
    return client;
  }

  async #establish(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      const client = this.#current;
      if (client.isReady) return;
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<'overdue'>((resolve) => (timer = setTimeout(() => resolve('overdue'), this.#o.handshakeMs)));
      const outcome = await Promise.race([client.connect().then(() => 'ready' as const, (error: unknown) => error), overdue]);
      clearTimeout(timer);
      if (this.#closed) return;
      // Replaced meanwhile (a call on it timed out): connect its successor instead.
      if (client !== this.#current) continue;
      if (outcome === 'ready' && client.isReady) {
        this.#established.add(client);
        return;
      }
      // node-redis retries a refused connect by itself; a handshake that hangs it never gives up.
      if (outcome === 'overdue' && attempt === 0) this.#o.logger.warn('redis connection not ready in time; trying a new one', { connection: this.#o.name, handshake_ms: this.#o.handshakeMs });
      this.#current = this.#fresh();
      client.destroy();
      await sleep(Math.min(50 * 2 ** attempt, 1_000));
    }
  }

  /**
   * node-redis reconnects a connection that errored by itself, and that reconnect's handshake has
   * no deadline either: one that is not ready in time is replaced like a call that timed out.
   */
  #watchReconnect(client: RedisClient): void {
    if (!this.#established.has(client)) return; // the link is still connecting it, under its own deadline
    const timer = setTimeout(() => {
      if (!client.isReady) this.#giveUp(client, 'reconnect');
    }, this.#o.handshakeMs);
    client.once('ready', () => clearTimeout(timer));
  }

  /** A call on `target` timed out: replace it, unless that happened already. */
  #giveUp(target: RedisClient, what: string): void {
    if (this.#closed || target !== this.#current) return;
    this.#replacements++;
    const message = what === 'reconnect' ? 'redis reconnect not ready in time; replacing the connection' : 'redis call timed out; replacing the connection';
    this.#o.logger.warn(message, { connection: this.#o.name, call: what, timeout_ms: what === 'reconnect' ? this.#o.handshakeMs : this.#o.timeoutMs });
    this.#current = this.#fresh();
    // Rejects every call still waiting on the old socket (DisconnectsClientError).
    target.destroy();
    this.connect().then(
      () => this.#current.isReady && this.#o.logger.info('redis connection replaced', { connection: this.#o.name, replacements: this.#replacements }),
      (error: unknown) => this.#o.logger.error('redis connection could not be replaced', { connection: this.#o.name, error: errorMessage(error) }),
    );
  }

  #timed(what: string, target: RedisClient, result: unknown): unknown {
    if (!isThenable(result)) return isMulti(result) ? this.#timedMulti(what, target, result) : result;
    const ms = this.#o.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new RedisCallTimeoutError(what, ms, this.#o.timeoutSetting));
        this.#giveUp(target, what);
      }, ms);
    });
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  }

  /** A MULTI builder whose exec has the deadline; its chained calls return the wrapper. */
  #timedMulti(what: string, target: RedisClient, multi: object): object {
    const link = this;
    const wrapper: object = new Proxy(multi, {
      get(builder, prop) {
        const value: unknown = Reflect.get(builder, prop, builder);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out: unknown = (value as (...a: unknown[]) => unknown).apply(builder, args);
          if (EXECS.has(prop)) return link.#timed(`${what}.${String(prop)}`, target, out);
          return out === builder ? wrapper : out;
        };
      },
    });
    return wrapper;
  }

  #facade(): RedisClient {
    const link = this;
    return new Proxy({} as RedisClient, {
      get(_shell, prop) {
        if (prop === 'connect') return () => link.connect().then(() => link.client);
        if (CLOSING.has(prop)) return () => link.close();
        if (prop === 'isOpen') return !link.#closed;
        if (prop === 'on') {
          return (event: string, listener: (...args: unknown[]) => void) => {
            link.#listeners.push([event, listener]);
            link.#current.on(event, listener);
            return link.client;
          };
        }
        const target = link.#current;
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (!link.#o.timeCalls) return (value as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => link.#timed(String(prop), target, (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  }
}
