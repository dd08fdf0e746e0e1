import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, JobDoneListener, type ProxyDeps } from '@cutout/proxy';
import { closeRedisClient, createRedisClient, JobRepository, type RedisClient } from '@cutout/shared';
import { memoryLogger, type LogLine } from '@cutout/shared/testing';

export interface InProcessProxy {
  readonly url: string;
  /** Everything the app logged, as objects. */
  readonly logs: LogLine[];
  /** Its own Redis connection, for looking at what it queued. */
  readonly redis: RedisClient;
  close(): Promise<void>;
}

export type InProcessProxyOptions = Partial<Omit<ProxyDeps, 'jobs' | 'logger' | 'jobDone'>> & {
  /** A Redis the test owns (e.g. a test stack's). */
  redisUrl: string;
  /** A prefix no batch serves leaves every job QUEUED for as long as the test needs. */
  keyPrefix: string;
};

/**
 * The real proxy app (createApp, long polls on) in this process on 127.0.0.1 and a free port,
 * over a real Redis. Used where a test needs a queue no worker takes from.
 */
export async function startInProcessProxy(options: InProcessProxyOptions): Promise<InProcessProxy> {
  const { redisUrl, keyPrefix, ...deps } = options;
  const { logger, lines } = memoryLogger();
  const redis = createRedisClient(redisUrl, { name: 'in-process-proxy', onError: () => {} });
  await redis.connect();
  const jobTtlSeconds = deps.jobTtlSeconds ?? 600;
  const jobs = new JobRepository(redis, { keyPrefix, ttlSeconds: jobTtlSeconds });
  const jobDone = new JobDoneListener({ jobs, subscriber: redis.duplicate(), logger });
  jobDone.start();
  while (!jobDone.ready) await new Promise((resolve) => setTimeout(resolve, 5));
  const app = createApp({
    limits: { maxImageBytes: 20 * 1024 * 1024, maxImagePixels: 50_000_000 },
    model: 'in-process',
    ...deps,
    jobTtlSeconds,
    jobs,
    logger,
    jobDone,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  let closed = false;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logs: lines,
    redis,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await jobDone.close();
      await closeRedisClient(redis);
    },
  };
}
