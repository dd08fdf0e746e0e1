import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/client.js';
import type { JobRepository } from '../redis/job.repository.js';
import { CallbackDeliverer } from './deliverer.js';
import { OutboxRepository } from './outbox.repository.js';

/** The settings a deliverer needs, as config names them. */
export interface CallbackSettings {
  redisKeyPrefix: string;
  deadLetterMax: number;
  callbackSecret: string;
  callbackMaxAttempts: number;
  callbackTimeoutMs: number;
  callbackAllowHosts: readonly string[];
}

/**
 * Starts delivering the outbox in this process, or returns null (and says why) when
 * CALLBACK_SECRET is not set: then no callback can have been accepted, and none could be signed.
 */
export function startCallbackDeliverer(deps: { redis: RedisClient; jobs: JobRepository; logger: Logger; config: CallbackSettings; name: string; onOutcome?: (outcome: string) => void }): CallbackDeliverer | null {
  const { config, logger } = deps;
  if (config.callbackSecret === '') {
    logger.info('callbacks off: CALLBACK_SECRET is not set (submits with callback_url are refused)');
    return null;
  }
  const deliverer = new CallbackDeliverer({
    outbox: new OutboxRepository(deps.redis, { keyPrefix: config.redisKeyPrefix, deadLetterMax: config.deadLetterMax }),
    jobs: deps.jobs,
    logger,
    secret: config.callbackSecret,
    maxAttempts: config.callbackMaxAttempts,
    timeoutMs: config.callbackTimeoutMs,
    allowHosts: new Set(config.callbackAllowHosts),
    name: deps.name,
    ...(deps.onOutcome ? { onOutcome: deps.onOutcome } : {}),
  });
  deliverer.start();
  return deliverer;
}
