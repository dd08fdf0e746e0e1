import { AppError, type Logger } from '@cutout/shared';

export interface RedisGuardOptions {
  logger: Logger;
  /** How long one call may take before the request gives up on it. */
  timeoutMs: number;
  /**
   * Called when calls that were given up stay unanswered and every call still waiting on the
   * connection is past its own deadline: the connection is dead (a black hole keeps it "open"
   * for minutes), so the caller replaces it (RedisLink.replace).
   */
  onStuck?: () => void;
  /** How long after a call was given up it may still be waiting before onStuck (default 2 × timeoutMs). */
  stuckMs?: number;
}

export interface GuardCallOptions {
  /** This call's own limit instead of the guard's. */
  timeoutMs?: number;
  /**
   * A probe (the health PING) is sent even while earlier calls are stuck: it is tiny, and it is
   * how the service finds out that Redis answers again.
   */
  probe?: boolean;
}

/** Runs one Redis call and turns any failure of it into a fast 503. */
export type RedisGuard = <T>(what: string, call: () => Promise<T>, options?: GuardCallOptions) => Promise<T>;

class RedisTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

export function redisUnavailable(): AppError {
  return new AppError(503, 'REDIS_UNAVAILABLE', 'the job store (Redis) cannot be reached or did not answer in time; retry in a moment (Retry-After)');
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The client has no offline queue, so a call fails at once while the connection is down; the
 * timeout covers the other case, a server that accepts the call and never answers (stopped,
 * swapping, a network black hole). Either way the caller gets 503 REDIS_UNAVAILABLE, never a
 * 500 or a hung request.
 *
 * A timed-out call cannot be taken back: node-redis keeps it (and an upload's whole base64) until
 * Redis answers or the socket dies. So while any abandoned call is still pending, new calls are
 * refused without being sent; otherwise a frozen Redis would let memory grow with every upload.
 */
export function createRedisGuard({ logger, timeoutMs, onStuck, stuckMs = 2 * timeoutMs }: RedisGuardOptions): RedisGuard {
  let abandoned = 0;
  /** The deadline (performance.now) of every call still waiting for Redis. */
  const waiting = new Set<{ deadline: number }>();
  let watching: NodeJS.Timeout | undefined;
  // A connection is only replaced once no waiting call can still be inside its own deadline:
  // an enqueue's script refuses by Redis's clock only after that deadline (jobs.service.ts), so
  // cutting a call off before it would let a job be queued under a 503.
  const watchStuck = (): void => {
    if (!onStuck || watching) return;
    watching = setTimeout(() => {
      watching = undefined;
      if (abandoned === 0) return;
      const now = performance.now();
      if ([...waiting].every((call) => call.deadline <= now)) {
        logger.warn('redis calls given up are still unanswered; replacing the connection', { abandoned, waiting: waiting.size });
        onStuck();
      }
      watchStuck();
    }, stuckMs);
    watching.unref();
  };
  return async <T>(what: string, call: () => Promise<T>, options: GuardCallOptions = {}): Promise<T> => {
    if (abandoned > 0 && !options.probe) {
      logger.debug('redis call skipped: earlier calls are still unanswered', { call: what, abandoned });
      throw redisUnavailable();
    }
    const ms = options.timeoutMs ?? timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new RedisTimeoutError(what, ms));
      }, ms);
    });
    const entry = { deadline: performance.now() + ms };
    waiting.add(entry);
    const pending = call();
    const settled = pending.then(
      () => waiting.delete(entry),
      () => waiting.delete(entry),
    );
    try {
      return await Promise.race([pending, timeout]);
    } catch (error) {
      if (timedOut) {
        abandoned++;
        void settled.then(() => abandoned--);
        watchStuck();
      }
      logger.warn('redis call failed', { call: what, error: describe(error) });
      throw redisUnavailable();
    } finally {
      clearTimeout(timer);
    }
  };
}
