import { createServer, type Server } from 'node:http';
import { loadConfigOrExit } from '@cutout/config';
import { checkRedisDurability, closeRedisClient, createLogger, createRedisClient, JobRepository, serverLimits } from '@cutout/shared';
import { startCallbackDeliverer } from '@cutout/shared/callbacks';
import { createProxy } from './app.js';
import { JobDoneListener } from './job-done.listener.js';
import { gracefulShutdown } from './shutdown.js';

const config = loadConfigOrExit('proxy');
const logger = createLogger('proxy', config.logLevel);

// Logged once per outage, not on every reconnect attempt.
let redisDown = false;
const redis = createRedisClient(config.redisUrl, {
  name: 'cutout-proxy',
  onError: (error) => {
    if (!redisDown) logger.warn('redis unavailable; requests that need it answer 503 until it is back', { error: error.message });
    redisDown = true;
  },
});
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
redis.connect().catch((error: unknown) => logger.error('redis connect failed', { error: error instanceof Error ? error.message : String(error) }));

const jobs = new JobRepository(redis, { keyPrefix: config.redisKeyPrefix, ttlSeconds: config.jobTtlSeconds, maxQueueDepth: config.queueMaxDepth });
// Long polls: one subscribed connection of its own (a subscribed connection runs nothing else).
const subscriber = redis.duplicate({ name: 'cutout-proxy-job-done' });
const jobDone = new JobDoneListener({ jobs, subscriber, logger });
jobDone.start();
const { listener } = createProxy({
  jobs,
  logger,
  limits: { maxImageBytes: config.maxImageBytes, maxImagePixels: config.maxImagePixels },
  model: config.model,
  jobTtlSeconds: config.jobTtlSeconds,
  redisTimeoutMs: config.redisCommandTimeoutMs,
  jobDone,
  apiKeys: config.apiKeys,
  maxQueuedPerKey: config.apiKeyMaxQueued,
  syncTimeoutMs: config.syncTimeoutMs,
  visionMaxRequests: config.visionMaxRequests,
  groupMaxImages: config.groupMaxImages,
  queueMaxMemoryRatio: config.queueMaxMemoryRatio,
  submitPolicy: {
    callbackSecret: config.callbackSecret,
    callbackAllowHosts: new Set(config.callbackAllowHosts),
    defaultDeadlineS: config.jobDefaultDeadlineS,
  },
});
// Callbacks are delivered by whichever batch or proxy process claims them first.
const deliverer = startCallbackDeliverer({ redis, jobs, logger, config, name: 'proxy' });
if (config.apiKeys.length === 0) {
  logger.warn('API_KEYS and API_KEYS_FILE are not set: the API is open to anyone who can reach this port');
} else {
  logger.info('API keys on', { keys: config.apiKeys.map((k) => k.name) });
}

// A request must have arrived whole in time (408 otherwise): a client that trickles its headers
// or body cannot hold a connection and its buffers for long.
const server: Server = createServer(serverLimits(config.httpRequestTimeoutMs), listener);
server.once('error', (error: Error) => {
  logger.error('proxy could not listen', { host: config.proxyHost, port: config.proxyPort, error: error.message });
  process.exit(1);
});
server.listen(config.proxyPort, config.proxyHost, () => {
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : config.proxyPort;
  logger.info('proxy listening', { host: config.proxyHost, port, model: config.model, queue_max_depth: config.queueMaxDepth });
});

function ignoreError(action: () => void): void {
  try {
    action();
  } catch {
    // Nothing more can be done on the way out.
  }
}

const onSignal = gracefulShutdown({
  server,
  logger,
  graceMs: config.shutdownGraceMs,
  // close() waits for pending replies, which a frozen Redis never sends: then reject them and
  // let the exit drop the socket (destroy() throws once close() has begun, after the flush).
  beforeClose: () => void jobDone.close(),
  steps: [
    { name: 'callback deliverer', close: async () => deliverer?.close(), force: () => undefined },
    { name: 'job-done subscriber', close: () => jobDone.close(), force: () => ignoreError(() => subscriber.destroy()) },
    { name: 'redis', close: () => closeRedisClient(redis), force: () => ignoreError(() => redis.destroy()) },
  ],
  exit: (code) => process.exit(code),
});
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
