import sharp from 'sharp';
import { randomUUID } from 'node:crypto';
import { JobRepository, RedisLink, type JobRecord, type JobRepositoryOptions, type RedisClient } from '@cutout/shared';
import { createPredictClient } from './predict.client.js';
import { createWorkerPool, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';

import { memoryLogger, type LogLine } from '@cutout/shared/testing';

/** Test support (not used by the service): a logger that keeps its lines, polling, a pool on a fresh prefix. */

export { memoryLogger, type LogLine };

/** Polls until `check` returns a value other than undefined (the test runner's timeout bounds the wait). */
export async function until<T>(check: () => Promise<T | undefined> | T | undefined, everyMs = 20): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves with the job once it is SUCCEEDED or FAILED. */
export function settled(repo: JobRepository, id: string): Promise<JobRecord> {
  return until(async () => {
    const job = await repo.get(id).catch(() => null); // Redis may be restarting
    return job && (job.status === 'SUCCEEDED' || job.status === 'FAILED') ? job : undefined;
  });
}

export interface PoolSetup {
  redisUrl: string;
  /** The test's own client: enqueues and reads go through it (the pool closes the one it gets). */
  inspect: RedisClient;
  predictUrls: string[];
  prefix?: string;
  concurrency?: number;
  predictTimeoutMs?: number;
  /** BATCH_REDIS_TIMEOUT_MS of the pool's connection. Default 1000. */
  redisTimeoutMs?: number;
  repository?: Partial<JobRepositoryOptions>;
  pool?: Partial<WorkerPoolOptions>;
}

export interface RunningPool {
  pool: WorkerPool;
  /** A repository on the test's client, with the pool's prefix and options. */
  repo: JobRepository;
  prefix: string;
  logs: LogLine[];
}

/** A pool with its own Redis connection (a RedisLink) and key prefix, built as main.ts builds it. */
export async function startPool(setup: PoolSetup): Promise<RunningPool> {
  const prefix = setup.prefix ?? `bp-${randomUUID().slice(0, 8)}:`;
  const repoOptions = { keyPrefix: prefix, ttlSeconds: 300, leaseMs: 5_000, ...setup.repository };
  const concurrency = setup.concurrency ?? 2;
  const { logger, lines } = memoryLogger();
  const redis = new RedisLink({ url: setup.redisUrl, name: 'test-batch', timeoutMs: setup.redisTimeoutMs ?? 1_000, logger }).client;
  await redis.connect();
  const pool = createWorkerPool({
    redis,
    repository: new JobRepository(redis, repoOptions),
    predict: createPredictClient({ urls: setup.predictUrls, timeoutMs: setup.predictTimeoutMs ?? 5_000, connections: concurrency }),
    logger,
    concurrency,
    shutdownGraceMs: 5_000,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    reaperIntervalMs: 50,
    name: `test-${prefix.replace(/:$/, '')}`,
    ...setup.pool,
  });
  await pool.start();
  return { pool, repo: new JobRepository(setup.inspect, repoOptions), prefix, logs: lines };
}

export async function enqueue(repo: JobRepository, bytes: Buffer = Buffer.from('hello')): Promise<string> {
  const id = randomUUID();
  await repo.enqueue({ id, imageBase64: bytes.toString('base64'), format: 'jpeg', width: 4, height: 3, bytes: bytes.length });
  return id;
}

/**
 * What a fake predict answers: a real 4×3 PNG, the size `enqueue` records for its inputs, so it
 * passes the output check batch runs on every answer.
 */
export function fakeCutout(): Promise<Buffer> {
  return sharp({ create: { width: 4, height: 3, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
}
