/**
 * Test support (not a test file): a real redis-server, the app on a free port, and a logger
 * that keeps its lines in memory so tests can read the access log.
 */
import { before, after } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import sharp, { type Color } from 'sharp';
import { closeRedisClient, createRedisClient, JobRepository, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import type { Express } from 'express';
import { createApp, type ProxyDeps } from './app.js';
import { JobDoneListener } from './job-done.listener.js';

import { memoryLogger, type LogLine } from '@cutout/shared/testing';

export { memoryLogger, type LogLine };

export interface RunningProxy {
  url: string;
  jobs: JobRepository;
  logs: LogLine[];
  /** The long-poll listener on its own duplicate connection (absent with longPoll: false). */
  jobDone: JobDoneListener | undefined;
  close(): Promise<void>;
}

export type ProxyOptions = Partial<Omit<ProxyDeps, 'jobs' | 'logger' | 'jobDone'>> & {
  keyPrefix: string;
  ttlSeconds?: number;
  maxQueueDepth?: number;
  /** Serve `?wait=` long polls (default true). */
  longPoll?: boolean;
  maxWaiters?: number;
};

/** Resolves once the listener's subscription is live (a freshly started one subscribes in the background). */
async function untilReady(listener: JobDoneListener): Promise<void> {
  while (!listener.ready) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * The app on 127.0.0.1 and a free port, over an existing client (and, for long polls, a
 * duplicate of it); close() stops the HTTP listener and the duplicate, not `redis`.
 */
export async function startProxy(redis: RedisClient, options: ProxyOptions): Promise<RunningProxy> {
  const { logger, lines } = memoryLogger();
  const ttlSeconds = options.ttlSeconds ?? 600;
  const jobs = new JobRepository(redis, {
    keyPrefix: options.keyPrefix,
    ttlSeconds,
    ...(options.maxQueueDepth === undefined ? {} : { maxQueueDepth: options.maxQueueDepth }),
  });
  let jobDone: JobDoneListener | undefined;
  if (options.longPoll ?? true) {
    const subscriber = redis.duplicate();
    jobDone = new JobDoneListener({ jobs, subscriber, logger, ...(options.maxWaiters === undefined ? {} : { maxWaiters: options.maxWaiters }) });
    jobDone.start();
    await untilReady(jobDone);
  }
  let app: Express;
  try {
    app = createApp({
      jobs,
      logger,
      ...(jobDone ? { jobDone } : {}),
      limits: options.limits ?? { maxImageBytes: 20 * 1024 * 1024, maxImagePixels: 50_000_000 },
      model: options.model ?? 'test-model',
      jobTtlSeconds: ttlSeconds,
      ...(options.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: options.healthTimeoutMs }),
      ...(options.redisTimeoutMs === undefined ? {} : { redisTimeoutMs: options.redisTimeoutMs }),
      ...(options.queueFullRetryAfterSeconds === undefined ? {} : { queueFullRetryAfterSeconds: options.queueFullRetryAfterSeconds }),
      ...(options.apiKeys === undefined ? {} : { apiKeys: options.apiKeys }),
      ...(options.maxQueuedPerKey === undefined ? {} : { maxQueuedPerKey: options.maxQueuedPerKey }),
      ...(options.syncTimeoutMs === undefined ? {} : { syncTimeoutMs: options.syncTimeoutMs }),
      ...(options.visionMaxRequests === undefined ? {} : { visionMaxRequests: options.visionMaxRequests }),
      ...(options.queueMaxMemoryRatio === undefined ? {} : { queueMaxMemoryRatio: options.queueMaxMemoryRatio }),
      ...(options.groupMaxImages === undefined ? {} : { groupMaxImages: options.groupMaxImages }),
      ...(options.maxRequestBytes === undefined ? {} : { maxRequestBytes: options.maxRequestBytes }),
      ...(options.bodyBudgetBytes === undefined ? {} : { bodyBudgetBytes: options.bodyBudgetBytes }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    });
  } catch (error) {
    await jobDone?.close();
    throw error;
  }
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    jobs,
    logs: lines,
    jobDone,
    async close() {
      if (closed) return;
      closed = true;
      await jobDone?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function connectRedis(url: string): Promise<RedisClient> {
  const client = createRedisClient(url, { name: 'proxy-test', onError: () => {} });
  await client.connect();
  return client;
}

export { closeRedisClient };

export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** One HTTP call; the body is parsed as JSON and must be JSON. */
export async function call<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<Reply<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

export function postJson<T = Record<string, unknown>>(url: string, body: string | Uint8Array, contentType = 'application/json'): Promise<Reply<T>> {
  return call<T>(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

export interface ProxyTestbed {
  /** A client on the file's redis-server; the proxies share it. */
  readonly redis: RedisClient;
  /** A small real PNG to upload. */
  readonly png: Buffer;
  /** Starts a proxy on a free port; it is closed after the file's tests. */
  start(options: ProxyOptions): Promise<RunningProxy>;
}

/**
 * Registers a test file's set-up and clean-up: a private redis-server, a client on it, a sample
 * PNG made with sharp, and closing every proxy started through `start`.
 */
export function useProxyTestbed(sample: { width: number; height: number; channels: 3 | 4; background: Color }): ProxyTestbed {
  let server: RedisServerHandle | undefined;
  let redis: RedisClient | undefined;
  let png: Buffer | undefined;
  const running: RunningProxy[] = [];
  before(async () => {
    server = await startRedisServer();
    redis = await connectRedis(server.url);
    png = await sharp({ create: sample }).png().toBuffer();
  });
  after(async () => {
    await Promise.all(running.map((p) => p.close()));
    if (redis) await closeRedisClient(redis);
    await server?.stop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the testbed is used before its before() hook ran');
    return value;
  };
  return {
    get redis() {
      return ready(redis);
    },
    get png() {
      return ready(png);
    },
    async start(options) {
      const p = await startProxy(ready(redis), options);
      running.push(p);
      return p;
    },
  };
}
