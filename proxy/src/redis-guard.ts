import { AppError, type Logger } from '@cutout/shared';

export interface RedisGuardOptions {
  logger: Logger;
  /** How long one call may take before the request gives up on it. */
  timeoutMs: number;
}

/** Runs one Redis call and turns any failure of it into a fast 503. */
export type RedisGuard = <T>(what: string, call: () => Promise<T>, timeoutMs?: number) => Promise<T>;

class RedisTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

export function redisUnavailable(): AppError {
  return new AppError(503, 'REDIS_UNAVAILABLE', 'the job store (Redis) cannot be reached right now; nothing was changed, retry in a moment');
}

/**
 * The client has no offline queue, so a call fails at once while the connection is down; the
 * timeout covers the other case, a server that accepts the call and never answers (stopped,
 * swapping, a network black hole). Either way the caller gets 503 REDIS_UNAVAILABLE, never a
 * 500 or a hung request.
 */
export function createRedisGuard({ logger, timeoutMs }: RedisGuardOptions): RedisGuard {
  return async <T>(what: string, call: () => Promise<T>, ms = timeoutMs): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError(what, ms)), ms);
    });
    const pending = call();
    // After a timeout nobody awaits the call any more; its late failure must not become an unhandled rejection.
    pending.catch(() => {});
    try {
      return await Promise.race([pending, timeout]);
    } catch (error) {
      logger.warn('redis call failed', { call: what, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      throw redisUnavailable();
    } finally {
      clearTimeout(timer);
    }
  };
}
