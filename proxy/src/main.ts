import type { Server } from 'node:http';
import { loadConfigOrExit } from '@cutout/config';
import { closeRedisClient, createLogger, createRedisClient, JobRepository } from '@cutout/shared';
import { createApp } from './app.js';

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
});
// Not awaited: the proxy serves /health (503) while Redis is still away, and the client keeps
// retrying in the background rather than failing the start.
redis.connect().catch((error: unknown) => logger.error('redis connect failed', { error: error instanceof Error ? error.message : String(error) }));

const jobs = new JobRepository(redis, { keyPrefix: config.redisKeyPrefix, ttlSeconds: config.jobTtlSeconds });
const app = createApp({
  jobs,
  logger,
  limits: { maxImageBytes: config.maxImageBytes, maxImagePixels: config.maxImagePixels },
  model: config.model,
  jobTtlSeconds: config.jobTtlSeconds,
});

const server: Server = app.listen(config.proxyPort, config.proxyHost, (error?: Error) => {
  if (error) {
    logger.error('proxy could not listen', { host: config.proxyHost, port: config.proxyPort, error: error.message });
    process.exit(1);
  }
  logger.info('proxy listening', { host: config.proxyHost, port: config.proxyPort, model: config.model });
});

function closeServer(): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections with no request in flight would otherwise hold close() open.
    server.closeIdleConnections();
  });
}

let stopping = false;

/** Stop accepting, let in-flight requests finish (up to the grace period), then close Redis. */
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn('second signal: exiting now', { signal });
    process.exit(1);
  }
  stopping = true;
  logger.info('shutting down', { signal, grace_ms: config.shutdownGraceMs });
  const deadline = setTimeout(() => {
    logger.warn('grace period over: closing the remaining connections');
    server.closeAllConnections();
  }, config.shutdownGraceMs);
  deadline.unref();
  let code = 0;
  for (const [step, close] of [
    ['http server', closeServer],
    ['redis', () => closeRedisClient(redis)],
  ] as const) {
    try {
      await close();
    } catch (error) {
      code = 1;
      logger.error('shutdown step failed', { step, error: error instanceof Error ? error.message : String(error) });
    }
  }
  clearTimeout(deadline);
  logger.info('proxy stopped');
  process.exit(code);
}

process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
