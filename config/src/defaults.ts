/** Every default in one place; the README's settings table mirrors this file. */
export const DEFAULTS = Object.freeze({
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: '',
  PROXY_HOST: '0.0.0.0',
  PROXY_PORT: 5000,
  /** predict takes work around the queue: loopback unless told otherwise (and then only with PREDICT_TOKEN). */
  PREDICT_HOST: '127.0.0.1',
  PREDICT_PORT: 5001,
  PREDICT_URL: 'http://127.0.0.1:5001',
  PREDICT_TIMEOUT_MS: 60_000,
  BATCH_CONCURRENCY: 4,
  /** batch's GET /metrics and GET /health; 0 takes a free port and logs it (tests run many batches). */
  BATCH_METRICS_HOST: '127.0.0.1',
  BATCH_METRICS_PORT: 5002,
  JOB_TTL_SECONDS: 24 * 60 * 60,
  MODEL: 'cutout-graphcut',
  /** `~` stands for the home folder of the user running the service. */
  CUTOUT_MODELS_DIR: '~/.cutout/models',
  PREDICT_INTRA_OP_THREADS: 0,
  PREDICT_SHARP_CONCURRENCY: 0,
  PREDICT_INTER_OP_THREADS: 0,
  PREDICT_GRAPH_OPTIMIZATION: 'all',
  PREDICT_THREAD_SPINNING: 0,
  PREDICT_MAX_BATCH: 4,
  PREDICT_MAX_DELAY_MS: 0,
  /** zlib level of PNG outputs; chosen by measurement (bench/results/2026-12-01.md, "What changed"). */
  OUTPUT_PNG_COMPRESSION: 4,
  LOG_LEVEL: 'info',
  /** npm start's private redis-server data folder; empty: .cutout/redis in the repository. */
  STACK_REDIS_DIR: '',
  MAX_IMAGE_BYTES: 20 * 1024 * 1024,
  MAX_IMAGE_PIXELS: 50_000_000,
  SHUTDOWN_GRACE_MS: 10_000,
  JOB_MAX_ATTEMPTS: 3,
  JOB_LEASE_MS: 30_000,
  RETRY_BASE_DELAY_MS: 500,
  RETRY_MAX_DELAY_MS: 30_000,
  REAPER_INTERVAL_MS: 1_000,
  QUEUE_MAX_DEPTH: 10_000,
  /** Share of Redis's maxmemory above which uploads are refused (429). */
  QUEUE_MAX_MEMORY_RATIO: 0.9,
  DEAD_LETTER_MAX: 1_000,
  REDIS_COMMAND_TIMEOUT_MS: 800,
  /** The most batch waits for one Redis call; unset, it is also held to a quarter of JOB_LEASE_MS. */
  BATCH_REDIS_TIMEOUT_MS: 5_000,
  API_KEYS: '',
  API_KEYS_FILE: '',
  /** 0: no per-key limit. */
  API_KEY_MAX_QUEUED: 0,
  SYNC_TIMEOUT_MS: 60_000,
  VISION_MAX_REQUESTS: 16,
  GROUP_MAX_IMAGES: 100,
  /** The most one request's body may hold once decompressed (every route; groups and Vision bodies meet it first). */
  MAX_REQUEST_BYTES: 128 * 1024 * 1024,
  /** Request bodies the proxy holds at once; a large upload past it waits its turn (503 BODY_BUDGET_FULL). */
  BODY_BUDGET_BYTES: 256 * 1024 * 1024,
  /** 0: no default deadline. */
  JOB_DEFAULT_DEADLINE_S: 0,
  CALLBACK_SECRET: '',
  CALLBACK_MAX_ATTEMPTS: 8,
  CALLBACK_TIMEOUT_MS: 10_000,
  CALLBACK_ALLOW_HOSTS: '',
  /** Callback deliveries in flight at once for one API key (or one receiver, for jobs without a key), across every process. */
  CALLBACK_KEY_CONCURRENCY: 2,
  FETCH_ALLOW_HOSTS: '',
  FETCH_TIMEOUT_MS: 10_000,
  HTTP_REQUEST_TIMEOUT_MS: 30_000,
  /** A response may wait this long on a client that does not read, plus its size at HTTP_WRITE_MIN_BYTES_PER_S. */
  HTTP_WRITE_TIMEOUT_MS: 30_000,
  /** 64 KiB/s (512 kbit/s): a client reading slower than this is cut once past HTTP_WRITE_TIMEOUT_MS. */
  HTTP_WRITE_MIN_BYTES_PER_S: 65_536,
  /** Empty: predict takes calls from anyone who can reach it (keep it on a private network). */
  PREDICT_TOKEN: '',
  PREDICT_MAX_INFLIGHT: 16,
});

/**
 * The most MAX_REQUEST_BYTES may be: half of V8's longest string (512 MiB), so no body a route
 * reads as one string (a single image's JSON) can come near it.
 */
export const MAX_REQUEST_BYTES_CEILING = 256 * 1024 * 1024;

/**
 * The most MAX_IMAGE_BYTES may be. predict still reads a base64 JSON body as one string, which is
 * 4/3 of the image: 256 MiB keeps that (about 350 MiB) under V8's 512 MiB string limit.
 */
export const MAX_IMAGE_BYTES_CEILING = 256 * 1024 * 1024;

/**
 * PREDICT_TOKEN's default in docker-compose.yml, so `docker compose up` starts as it is. Anyone
 * who has read the repository knows it: predict warns while it runs with it.
 */
export const COMPOSE_DEFAULT_PREDICT_TOKEN = 'compose-default-predict-token';

/** The shortest CALLBACK_SECRET accepted. */
export const MIN_CALLBACK_SECRET_LENGTH = 16;

/** The shortest API key accepted: a short key can be guessed. */
export const MIN_API_KEY_LENGTH = 16;

export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
