import { AppError, type Logger } from '@cutout/shared';

export interface RedisGuardOptions {
  logger: Logger;
  /** How long one call may take before the request gives up on it. */
  timeoutMs: number;
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
export function createRedisGuard({ logger, timeoutMs }: RedisGuardOptions): RedisGuard {
  let abandoned = 0;
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
    const pending = call();
    const settled = pending.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await Promise.race([pending, timeout]);
    } catch (error) {
      if (timedOut) {
        abandoned++;
        void settled.then(() => abandoned--);
      }
      logger.warn('redis call failed', { call: what, error: describe(error) });
      throw redisUnavailable();
    } finally {
      clearTimeout(timer);
    }
  };
}
