import { createServer } from 'node:http';
import { loadConfigOrExit } from '@cutout/config';
import { checkRedisDurability, createLogger, httpServerPart, JobRepository, listen, RedisLink, runService, serverLimits } from '@cutout/shared';
import { startCallbackDeliverer } from '@cutout/shared/callbacks';
import { callbackMetrics, createMetricsRegistry, registerQueueMetrics } from '@cutout/shared/metrics';
import { createPredictClient } from './predict.client.js';
import { createWorkerPool } from './worker-pool.js';
import { BatchMetrics } from './batch-metrics.js';
import { createBatchHttp } from './batch-http.js';

const config = loadConfigOrExit('batch');
const logger = createLogger('batch', config.logLevel);

/** The pool's own close runs the grace period, the hand-back and four bounded cleanup steps. */
const POOL_CLOSE_MARGIN_MS = 12_000;

// Parts close in reverse: the callback deliverer (it shares the pool's connection), then the
// pool (running jobs finish or go back to the queue, then predict and Redis), and the metrics
// listener last, so /health answers 503 while the pool drains.
runService({
  name: 'batch',
  logger,
  start: async (service) => {
    const registry = createMetricsRegistry();
    // Every call through it has a deadline; a connection that stops answering is replaced (redis-link.ts).
    const redis = new RedisLink({ url: config.redisUrl, name: 'cutout-batch', timeoutMs: config.batchRedisTimeoutMs, timeoutSetting: 'BATCH_REDIS_TIMEOUT_MS', logger }).client;
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
      metrics: new BatchMetrics(registry),
    });
    registerQueueMetrics(registry, { stats: () => repository.stats(), timeoutMs: config.redisCommandTimeoutMs });
    const server = createServer(serverLimits(config.httpRequestTimeoutMs), createBatchHttp({ registry, health: () => ({ redis: redis.isReady, working: pool.working, running: pool.running }) }));
    service.add(httpServerPart(server, { name: 'metrics server', logger, graceMs: 1_000 }));
    // The pool owns predict and every Redis connection, so one close covers them all.
    service.add({ name: 'worker pool', close: () => pool.close(), timeoutMs: config.shutdownGraceMs + POOL_CLOSE_MARGIN_MS });
    // Callbacks are delivered by whichever batch or proxy process claims them first.
    const deliverer = startCallbackDeliverer({ redis, jobs: repository, logger, config, name: 'batch', onOutcome: callbackMetrics(registry) });
    if (deliverer) service.add({ name: 'callback deliverer', close: () => deliverer.close() });

    const port = await listen(server, config.batchMetricsPort, config.batchMetricsHost);
    logger.info('metrics listening', { host: config.batchMetricsHost, port });
    // connect() keeps retrying until Redis answers, so batch may start before Redis does.
    await redis.connect();
    if (service.stopping.aborted) return;
    for (const warning of await checkRedisDurability(redis)) logger.warn('redis durability', { warning });
    if (service.stopping.aborted) return;
    await pool.start();
    const health = await predict.health();
    logger.info('batch started', {
      concurrency: config.batchConcurrency,
      predict_urls: config.predictUrls,
      predict_timeout_ms: config.predictTimeoutMs,
      key_prefix: config.redisKeyPrefix,
      job_lease_ms: config.jobLeaseMs,
      job_max_attempts: config.jobMaxAttempts,
      metrics_port: port,
      predict_ready: health.map((h) => ({ url: h.url, ok: h.ok, detail: h.detail })),
    });
  },
});
