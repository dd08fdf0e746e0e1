import { errorMessage, type JobRepository, type Logger, type RedisClient } from '@cutout/shared';

export interface JobWaiterOptions {
  /** Duplicated for the blocking connection; never blocked itself. */
  redis: RedisClient;
  repository: Pick<JobRepository, 'waitForWork'>;
  logger: Logger;
  /** CLIENT LIST name of the blocking connection. */
  name: string;
  /** How long one wait blocks in Redis. */
  timeoutSeconds: number;
  /** How much longer than that the watchdog allows before it replaces the connection. */
  watchdogMarginMs: number;
}

export class WaitOverdueError extends Error {
  constructor(ms: number) {
    super(`the blocking wait did not return within ${ms} ms`);
    this.name = 'WaitOverdueError';
  }
}

/**
 * Blocks until the queue may hold work, on a connection of its own. A blocking command on a
 * connection that died quietly (a half-open socket, a frozen Redis) could wait forever, so a
 * watchdog throws it away once the wait is overdue; any connection error does the same. The
 * next wait starts on a fresh connection. Nothing is lost with it: the wait moves no id.
 */
export class JobWaiter {
  readonly #o: JobWaiterOptions;
  #client: RedisClient | null = null;
  #connecting: Promise<unknown> | null = null;
  #closed = false;

  constructor(options: JobWaiterOptions) {
    this.#o = options;
  }

  /** True when there may be work now, false when the wait timed out (or the waiter is closed). */
  async wait(): Promise<boolean> {
    if (this.#closed) return false;
    const client = this.#client ?? this.#open();
    const limitMs = this.#o.timeoutSeconds * 1_000 + this.#o.watchdogMarginMs;
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WaitOverdueError(limitMs)), limitMs);
    });
    try {
      await Promise.race([this.#connecting, watchdog]);
      return await Promise.race([this.#o.repository.waitForWork(client, this.#o.timeoutSeconds), watchdog]);
    } catch (error) {
      if (this.#closed) return false;
      this.#o.logger.warn('blocking connection replaced', { connection: this.#o.name, error: errorMessage(error) });
      this.#discard(client);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens the connection ahead of the first wait; does nothing when it is open or the waiter closed. */
  open(): void {
    if (!this.#closed && !this.#client) this.#open();
  }

  /** Drops the connection, ending a wait in progress (it returns false). Safe to call twice. */
  close(): void {
    this.#closed = true;
    if (this.#client) this.#discard(this.#client);
  }

  #open(): RedisClient {
    // No automatic reconnect: after the server drops this socket node-redis would open a new one
    // on its own, which destroy() never sees, leaking a connection per drop. The waiter opens a
    // fresh connection itself, so a dead one just stays dead.
    const client = this.#o.redis.duplicate({ name: this.#o.name, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
    // A duplicate does not inherit listeners, and an 'error' event with none would crash the process.
    client.on('error', (error: Error) => this.#o.logger.debug('redis blocking connection error', { connection: this.#o.name, error: error.message }));
    this.#client = client;
    // A failed connect surfaces as the wait's error, and the next wait tries a new connection.
    this.#connecting = client.connect().catch(() => undefined);
    return client;
  }

  #discard(client: RedisClient): void {
    if (this.#client === client) {
      this.#client = null;
      this.#connecting = null;
    }
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }
}
