import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/client.js';
import type { JobRepository } from '../redis/job.repository.js';
import { CallbackDeliverer, type CallbackSecrets } from './deliverer.js';
import { OutboxRepository } from './outbox.repository.js';

/** The settings a deliverer needs, as config names them. */
export interface CallbackSettings {
  redisKeyPrefix: string;
  deadLetterMax: number;
  callbackSecret: string;
  callbackMaxAttempts: number;
  callbackTimeoutMs: number;
  callbackAllowHosts: readonly string[];
  callbackKeyConcurrency: number;
  /** API keys; those with a callback_secret sign their own callbacks. */
  apiKeys: readonly { readonly name: string; readonly callbackSecret?: string }[];
}

/** A retry's first delay and a failing receiver's first rest; both double up to the longest. */
const FIRST_DELAY_MS = 1_000;
const LONGEST_DELAY_MS = 300_000;

/** CALLBACK_SECRET and every key's callback_secret. */
export function callbackSecrets(config: Pick<CallbackSettings, 'callbackSecret' | 'apiKeys'>): CallbackSecrets {
  const byKey = new Map<string, string>();
  for (const key of config.apiKeys) if (key.callbackSecret) byKey.set(key.name, key.callbackSecret);
  return { fallback: config.callbackSecret, byKey };
}

/**
 * Starts delivering the outbox in this process, or returns null (and says why) when no secret is
 * set at all (neither CALLBACK_SECRET nor any key's callback_secret): then no callback can have
 * been accepted, and none could be signed.
 */
export function startCallbackDeliverer(deps: { redis: RedisClient; jobs: JobRepository; logger: Logger; config: CallbackSettings; name: string; onOutcome?: (outcome: string) => void }): CallbackDeliverer | null {
  const { config, logger } = deps;
  const secrets = callbackSecrets(config);
  if (secrets.fallback === '' && secrets.byKey.size === 0) {
    logger.info('callbacks off: neither CALLBACK_SECRET nor any API key\'s callback_secret is set (submits with callback_url are refused)');
    return null;
  }
  const deliverer = new CallbackDeliverer({
    outbox: new OutboxRepository(deps.redis, {
      keyPrefix: config.redisKeyPrefix,
      deadLetterMax: config.deadLetterMax,
      laneConcurrency: config.callbackKeyConcurrency,
      restBaseMs: FIRST_DELAY_MS,
      restMaxMs: LONGEST_DELAY_MS,
    }),
    jobs: deps.jobs,
    logger,
    secrets,
    maxAttempts: config.callbackMaxAttempts,
    timeoutMs: config.callbackTimeoutMs,
    allowHosts: new Set(config.callbackAllowHosts),
    baseDelayMs: FIRST_DELAY_MS,
    maxDelayMs: LONGEST_DELAY_MS,
    name: deps.name,
    ...(deps.onOutcome ? { onOutcome: deps.onOutcome } : {}),
  });
  deliverer.start();
  return deliverer;
}
