import { loadConfigOrExit } from '@cutout/config';
import { checkRedisDurability, createLogger, JobRepository } from '@cutout/shared';
import { startCallbackDeliverer } from '@cutout/shared/callbacks';
import { createPredictClient } from './predict.client.js';
import { createWorkerPool } from './worker-pool.js';
import { RedisLink } from './redis-link.js';

const config = loadConfigOrExit('batch');
const logger = createLogger('batch', config.logLevel);

// Every call through it has a deadline; a connection that stops answering is replaced (redis-link.ts).
const redis = new RedisLink({ url: config.redisUrl, name: 'cutout-batch', timeoutMs: config.batchRedisTimeoutMs, logger }).client;
const repository = new JobRepository(redis, {
  keyPrefix: config.redisKeyPrefix,
  ttlSeconds: config.jobTtlSeconds,
  maxAttempts: config.jobMaxAttempts,
  leaseMs: config.jobLeaseMs,
  deadLetterMax: config.deadLetterMax,
});
const predict = createPredictClient({
  urls: config.predictUrls,
  timeoutMs: config.predictTimeoutMs,
  connections: config.batchConcurrency,
  token: config.predictToken,
});
const pool = createWorkerPool({
  redis,
  repository,
  predict,
  logger,
  concurrency: config.batchConcurrency,
  shutdownGraceMs: config.shutdownGraceMs,
  retryBaseDelayMs: config.retryBaseDelayMs,
  retryMaxDelayMs: config.retryMaxDelayMs,
  reaperIntervalMs: config.reaperIntervalMs,
});

// Callbacks are delivered by whichever batch or proxy process claims them first.
const deliverer = startCallbackDeliverer({ redis, jobs: repository, logger, config, name: 'batch' });

let shuttingDown = false;
function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    // Jobs still running keep their leases until they expire; the reaper then requeues them.
    logger.warn('second signal; exiting now', { signal });
    process.exit(1);
  }
  shuttingDown = true;
  logger.info('shutting down', { signal, grace_ms: config.shutdownGraceMs });
  // The pool owns predict and every Redis connection, so one close covers them all; the
  // deliverer uses the same connection, so it stops first.
  Promise.resolve(deliverer?.close())
    .then(() => pool.close())
    .then(
    () => {
      logger.info('stopped');
      // Exit as soon as nothing is left running; the timer only catches a handle someone leaked.
      process.exitCode = 0;
      setTimeout(() => process.exit(0), 500).unref();
    },
    (error: unknown) => {
      logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
}
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

async function start(): Promise<void> {
  // connect() keeps retrying until Redis answers, so batch may start before Redis does.
  await redis.connect();
  if (shuttingDown) return;
  for (const warning of await checkRedisDurability(redis)) logger.warn('redis durability', { warning });
  if (shuttingDown) return;
  await pool.start();
  const health = await predict.health();
  logger.info('batch started', {
    concurrency: config.batchConcurrency,
    predict_urls: config.predictUrls,
    predict_timeout_ms: config.predictTimeoutMs,
    key_prefix: config.redisKeyPrefix,
    job_lease_ms: config.jobLeaseMs,
    redis_timeout_ms: config.batchRedisTimeoutMs,
    job_max_attempts: config.jobMaxAttempts,
    predict_ready: health.map((h) => ({ url: h.url, ok: h.ok, detail: h.detail })),
  });
}

start().catch((error: unknown) => {
  if (shuttingDown) return;
  logger.error('batch failed to start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
