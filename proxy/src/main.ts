import { createServer } from 'node:http';
import { loadConfigOrExit } from '@cutout/config';
import {
  checkRedisDurability,
  closeRedisClient,
  createLogger,
  enforceWriteDeadline,
  RedisLink,
  errorMessage,
  httpServerPart,
  JobRepository,
  listen,
  reportCuts,
  runService,
  serverLimits,
} from '@cutout/shared';
import { startCallbackDeliverer } from '@cutout/shared/callbacks';
import { callbackMetrics, createMetricsRegistry, HttpMetrics } from '@cutout/shared/metrics';
import { createProxy } from './app.js';
import { strayErrorMetric } from './body-metrics.js';
import { JobDoneListener } from './job-done.listener.js';

const config = loadConfigOrExit('proxy');
const logger = createLogger('proxy', config.logLevel);

function ignoreError(action: () => void): void {
  try {
    action();
  } catch {
    // Nothing more can be done on the way out.
  }
}

// Parts are added in start order and closed in reverse: the listener first (intake stops and
// requests in flight finish), then callbacks, the long-poll subscriber, and Redis last.
runService({
  name: 'proxy',
  logger,
  start: async (service) => {
    // Logged once per outage, not on every reconnect attempt.
    let redisDown = false;
    // The guard (app.ts) gives each call its deadline; the link replaces a connection that went
    // dead without an error (a black hole), which node-redis would keep for minutes.
    const link = new RedisLink({
      url: config.redisUrl,
      name: 'cutout-proxy',
      timeoutMs: config.redisCommandTimeoutMs,
      timeCalls: false,
      logger,
      onError: (error) => {
        if (!redisDown) logger.warn('redis unavailable; requests that need it answer 503 until it is back', { error: error.message });
        redisDown = true;
      },
    });
    const redis = link.client;
    service.add({ name: 'redis', close: () => closeRedisClient(redis), force: () => ignoreError(() => redis.destroy()) });
    redis.on('ready', () => {
      redisDown = false;
      logger.info('redis ready');
      // On every (re)connect: the Redis that comes back may be another one, with other settings.
      void checkRedisDurability(redis).then((warnings) => {
        for (const warning of warnings) logger.warn(`redis durability: ${warning}`);
      });
    });
    // Not awaited: the proxy serves /health (503) while Redis is still away, and the client keeps
    // retrying in the background rather than failing the start.
    redis.connect().catch((error: unknown) => logger.error('redis connect failed', { error: errorMessage(error) }));

    const jobs = new JobRepository(redis, { keyPrefix: config.redisKeyPrefix, ttlSeconds: config.jobTtlSeconds, maxQueueDepth: config.queueMaxDepth });
    // Long polls: one subscribed connection of its own (a subscribed connection runs nothing else).
    const subscriber = redis.duplicate({ name: 'cutout-proxy-job-done' });
    const jobDone = new JobDoneListener({ jobs, subscriber, logger });
    jobDone.start();
    // close() waits for pending replies, which a frozen Redis never sends: then reject them and
    // let the exit drop the socket (destroy() throws once close() has begun, after the flush).
    service.add({ name: 'job-done subscriber', close: () => jobDone.close(), force: () => ignoreError(() => subscriber.destroy()) });

    const metrics = createMetricsRegistry();
    // Callbacks are delivered by whichever batch or proxy process claims them first.
    const deliverer = startCallbackDeliverer({ redis, jobs, logger, config, name: 'proxy', onOutcome: callbackMetrics(metrics) });
    if (deliverer) service.add({ name: 'callback deliverer', close: () => deliverer.close() });
    if (config.apiKeys.length === 0) {
      logger.warn('API_KEYS and API_KEYS_FILE are not set: the API is open to anyone who can reach this port');
    } else {
      logger.info('API keys on', { keys: config.apiKeys.map((k) => k.name) });
    }

    const { listener } = createProxy({
      jobs,
      logger,
      metrics,
      limits: { maxImageBytes: config.maxImageBytes, maxImagePixels: config.maxImagePixels },
      model: config.model,
      jobTtlSeconds: config.jobTtlSeconds,
      redisTimeoutMs: config.redisCommandTimeoutMs,
      onRedisStuck: () => link.replace('stuck'),
      jobDone,
      apiKeys: config.apiKeys,
      maxQueuedPerKey: config.apiKeyMaxQueued,
      syncTimeoutMs: config.syncTimeoutMs,
      visionMaxRequests: config.visionMaxRequests,
      groupMaxImages: config.groupMaxImages,
      maxRequestBytes: config.maxRequestBytes,
      bodyBudgetBytes: config.bodyBudgetBytes,
      queueMaxMemoryRatio: config.queueMaxMemoryRatio,
      urlFetch: { allowHosts: new Set(config.fetchAllowHosts), timeoutMs: config.fetchTimeoutMs },
      submitPolicy: {
        callbackSecret: config.callbackSecret,
        callbackAllowHosts: new Set(config.callbackAllowHosts),
        defaultDeadlineS: config.jobDefaultDeadlineS,
      },
    });
    // A request must have arrived whole in time (408 otherwise): a client that trickles its headers
    // or body cannot hold a connection and its buffers for long.
    const server = createServer(serverLimits(config.httpRequestTimeoutMs), listener);
    // And an answer must be read in time: a client that reads only the status line of a big
    // result cannot hold it (and the proxy's memory) for long. Closed after the server, so it
    // still cuts such clients while the server drains at shutdown.
    const deadline = enforceWriteDeadline(server, {
      floorMs: config.httpWriteTimeoutMs,
      minBytesPerSecond: config.httpWriteMinBytesPerS,
      onCut: reportCuts(logger, new HttpMetrics(metrics, 'proxy')),
    });
    service.add({ name: 'write deadline', close: async () => deadline.close() });
    // At the signal, long polls answer at once with the state they have.
    service.add(httpServerPart(server, { logger, graceMs: config.shutdownGraceMs, beforeClose: () => void jobDone.close() }));
    const port = await listen(server, config.proxyPort, config.proxyHost);
    // From here on a stray error (one no handler caught) is logged and counted, and the proxy goes
    // on. Node's advice is to exit, because the code it interrupted may have left shared state
    // half-changed. The proxy's shared state is its Redis clients, which catch errors in their own
    // reply path (node-redis resets its decoder and reports the error), and its listener;
    // whatever else a throw can interrupt belongs to one request, which its client or
    // HTTP_REQUEST_TIMEOUT_MS ends. An exit, by contrast, would drop every request in flight: one
    // hostile request must not end the service for everyone. A failed start still exits.
    const strays = strayErrorMetric(metrics);
    service.containStrayErrors((error, origin) => {
      strays.inc({ origin });
      logger.error('stray error contained: the proxy goes on', { origin, error: errorMessage(error), stack: error instanceof Error ? error.stack : undefined });
    });
    logger.info('proxy listening', { host: config.proxyHost, port, model: config.model, queue_max_depth: config.queueMaxDepth });
  },
});
