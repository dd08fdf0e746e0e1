import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULTS, GRAPH_OPTIMIZATION_LEVELS, LOG_LEVELS, MAX_IMAGE_BYTES_CEILING, MAX_REQUEST_BYTES_CEILING, MIN_CALLBACK_SECRET_LENGTH, type GraphOptimizationLevel, type LogLevel } from './defaults.js';
import { readApiKeys, type ApiKey } from './api-keys.js';
import { isLoopbackAddress } from './loopback.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Config {
  readonly redisUrl: string;
  /** True when REDIS_URL was given, false when the default was used (npm start then runs its own redis-server). */
  readonly redisUrlSet: boolean;
  readonly redisKeyPrefix: string;
  readonly proxyHost: string;
  readonly proxyPort: number;
  readonly predictHost: string;
  readonly predictPort: number;
  readonly predictUrls: readonly string[];
  readonly predictTimeoutMs: number;
  readonly batchConcurrency: number;
  /** Where batch serves GET /metrics and GET /health; port 0 takes a free port (logged). */
  readonly batchMetricsHost: string;
  readonly batchMetricsPort: number;
  readonly jobTtlSeconds: number;
  readonly model: string;
  /** Absolute folder where `MODEL=<preset>` looks for `<preset>.onnx` (CUTOUT_MODELS_DIR, `~` expanded). */
  readonly modelsDir: string;
  /** onnxruntime threads per inference; 0 lets onnxruntime choose. */
  readonly predictIntraOpThreads: number;
  /** libvips threads per image in sharp; 0 keeps sharp's default. */
  readonly predictSharpConcurrency: number;
  /** onnxruntime threads across independent graph branches; 0 lets onnxruntime choose. */
  readonly predictInterOpThreads: number;
  readonly predictGraphOptimization: GraphOptimizationLevel;
  /** Whether onnxruntime's idle threads spin waiting for work: a little lower latency, much more CPU. */
  readonly predictThreadSpinning: boolean;
  /** Most requests predict runs through the model in one onnxruntime call; 1 turns batching off. */
  readonly predictMaxBatch: number;
  /** How long a request may wait for others to batch with, beyond the time a run is already busy. */
  readonly predictMaxDelayMs: number;
  /** zlib level (0–9) of the PNGs predict writes: higher is smaller and slower. */
  readonly outputPngCompression: number;
  readonly logLevel: LogLevel;
  readonly maxImageBytes: number;
  readonly maxImagePixels: number;
  readonly shutdownGraceMs: number;
  /** Claims a job may have before it ends FAILED (counts crashes of the worker too). */
  readonly jobMaxAttempts: number;
  /** How long a claim lasts without a heartbeat; workers renew it every third of this. */
  readonly jobLeaseMs: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  /** How often a batch process tries to run the reaper (expired leases, due retries). */
  readonly reaperIntervalMs: number;
  /** Above this many waiting jobs, POST /start_job answers 429. */
  readonly queueMaxDepth: number;
  /** Above this share of Redis's maxmemory (0..1), uploads answer 429. */
  readonly queueMaxMemoryRatio: number;
  readonly deadLetterMax: number;
  /** How long one Redis call may take before a request answers 503. */
  readonly redisCommandTimeoutMs: number;
  /** How long one of batch's Redis calls may go unanswered before batch gives it up and replaces the connection. */
  readonly batchRedisTimeoutMs: number;
  /** From API_KEYS or API_KEYS_FILE; empty: the API is open. */
  readonly apiKeys: readonly ApiKey[];
  /** Most unfinished jobs one API key may have; 0 for no limit. */
  readonly apiKeyMaxQueued: number;
  /** How long POST /v1/remove, /api/remove and the Vision API wait for their job. */
  readonly syncTimeoutMs: number;
  /** Most entries in one Vision-style body. */
  readonly visionMaxRequests: number;
  /** Most images in one POST /v1/groups. */
  readonly groupMaxImages: number;
  /** The most one request body may hold once decompressed; past it, 413. */
  readonly maxRequestBytes: number;
  /** Request bodies the proxy may hold at once; a large upload past it answers 503 with Retry-After. */
  readonly bodyBudgetBytes: number;
  /** Deadline for jobs that name none, in seconds; 0 for none. */
  readonly jobDefaultDeadlineS: number;
  /** HMAC key for X-Cutout-Signature; empty: callbacks are refused at submit. */
  readonly callbackSecret: string;
  readonly callbackMaxAttempts: number;
  readonly callbackTimeoutMs: number;
  /** Host names (lower case) a callback may reach whatever address they resolve to. */
  readonly callbackAllowHosts: readonly string[];
  /** Callback deliveries in flight at once for one API key (or one receiver, for jobs without a key). */
  readonly callbackKeyConcurrency: number;
  /** Host names (lower case) GET /api/remove?url= may fetch from whatever address they resolve to. */
  readonly fetchAllowHosts: readonly string[];
  /** GET /api/remove?url=: the whole fetch of the image, redirects included. */
  readonly fetchTimeoutMs: number;
  /** A request whose headers and body have not arrived by then is answered 408 (proxy and predict). */
  readonly httpRequestTimeoutMs: number;
  /** How long a response may wait on a client that does not read it, before its size is counted (proxy and predict). */
  readonly httpWriteTimeoutMs: number;
  /** The slowest rate a client may read a response at: each byte adds 1/this seconds to HTTP_WRITE_TIMEOUT_MS. */
  readonly httpWriteMinBytesPerS: number;
  /** Shared by batch (sends it) and predict (requires it); empty: predict is open. */
  readonly predictToken: string;
  /** Requests predict works on at once; past it, 429. */
  readonly predictMaxInflight: number;
  /** STACK_REDIS_DIR as an absolute path: npm start's private redis-server data; null: the launcher's default (.cutout/redis). */
  readonly stackRedisDir: string | null;
}

/** Thrown with every bad variable at once, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: keyof typeof DEFAULTS): string {
    return this.raw(name) ?? String(DEFAULTS[name]);
  }

  int(name: keyof typeof DEFAULTS, min: number, max: number): number {
    const fallback = DEFAULTS[name] as number;
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(text)}: expected a whole number from ${min} to ${max} (default ${fallback})`);
      return fallback;
    }
    return value;
  }

  /** A share above 0 and at most 1 ("0.9"). */
  /** True when `name` was read without a problem (a relation between settings is checked only then). */
  ok(name: string): boolean {
    return !this.problems.some((p) => p.startsWith(`${name}=`));
  }

  ratio(name: keyof typeof DEFAULTS): number {
    const fallback = DEFAULTS[name] as number;
    const text = this.raw(name);
    if (text === undefined) return fallback;
    const value = /^(0?\.\d+|1(\.0*)?)$/.test(text) ? Number(text) : Number.NaN;
    if (!(value > 0 && value <= 1)) {
      this.problems.push(`${name}=${JSON.stringify(text)}: expected a share above 0 and at most 1, e.g. 0.9 (default ${fallback})`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: keyof typeof DEFAULTS, allowed: readonly T[]): T {
    const text = this.string(name).toLowerCase();
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.problems.push(`${name}=${JSON.stringify(text)}: expected one of ${allowed.join(', ')}`);
    return DEFAULTS[name] as T;
  }

  url(name: string, text: string, protocols: readonly string[]): string {
    try {
      const parsed = new URL(text);
      if (protocols.includes(parsed.protocol)) return text.replace(/\/+$/, '');
    } catch {
      // reported below
    }
    this.problems.push(`${name}=${JSON.stringify(text)}: expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    return text;
  }
}

/**
 * A folder setting as an absolute path: a leading `~` is the home folder (as a shell would expand
 * it); relative paths start at the working directory. (CUTOUT_MODELS_DIR, STACK_REDIS_DIR.)
 */
export function resolveModelsDir(text: string): string {
  const expanded = text === '~' ? homedir() : /^~[\\/]/.test(text) ? join(homedir(), text.slice(2)) : text;
  return isAbsolute(expanded) ? expanded : resolve(expanded);
}

/**
 * BATCH_REDIS_TIMEOUT_MS, checked against the lease it protects. The heartbeat renews every
 * third of JOB_LEASE_MS and sends one renew at a time, so a renew that hangs for the whole call
 * deadline must leave room for the next one before the lease runs out: with a deadline of a
 * third of the lease or more, a single unanswered renew would cost the job its lease (and a
 * second run). Unset, the deadline is 5 s or a quarter of the lease, whichever is shorter.
 */
function batchRedisTimeout(r: Reader, jobLeaseMs: number): number {
  if (r.raw('BATCH_REDIS_TIMEOUT_MS') === undefined) return Math.max(50, Math.min(DEFAULTS.BATCH_REDIS_TIMEOUT_MS, Math.floor(jobLeaseMs / 4)));
  const timeoutMs = r.int('BATCH_REDIS_TIMEOUT_MS', 50, 60_000);
  if (r.ok('BATCH_REDIS_TIMEOUT_MS') && r.ok('JOB_LEASE_MS') && timeoutMs * 3 >= jobLeaseMs) {
    r.problems.push(
      `BATCH_REDIS_TIMEOUT_MS=${timeoutMs} with JOB_LEASE_MS=${jobLeaseMs}: the heartbeat renews every third of JOB_LEASE_MS and a renew may wait BATCH_REDIS_TIMEOUT_MS, ` +
        `so one unanswered renew would let the lease run out; keep BATCH_REDIS_TIMEOUT_MS under a third of JOB_LEASE_MS (at most ${Math.ceil(jobLeaseMs / 3) - 1}) or raise JOB_LEASE_MS above ${timeoutMs * 3}`,
    );
  }
  return timeoutMs;
}

/**
 * Reads and checks every setting; throws ConfigError naming each bad variable. `service` adds the
 * checks of the service that will run with them ('predict': its listening address needs a token).
 */
export function loadConfig(env: Env = process.env, service?: string): Config {
  const r = new Reader(env);
  const redisUrlRaw = r.raw('REDIS_URL');
  const redisUrl = r.url('REDIS_URL', redisUrlRaw ?? DEFAULTS.REDIS_URL, ['redis:', 'rediss:']);
  const predictUrlText = r.string('PREDICT_URL');
  const predictUrls = predictUrlText
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => r.url('PREDICT_URL', u, ['http:', 'https:']));
  if (predictUrls.length === 0) r.problems.push('PREDICT_URL: give at least one predict server URL');
  const logLevel = r.string('LOG_LEVEL').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    r.problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const prefix = env.REDIS_KEY_PREFIX ?? DEFAULTS.REDIS_KEY_PREFIX;
  if (/\s/.test(prefix)) r.problems.push(`REDIS_KEY_PREFIX=${JSON.stringify(prefix)}: must not contain white space`);

  const jobLeaseMs = r.int('JOB_LEASE_MS', 300, 3_600_000);
  const config: Config = {
    redisUrl,
    redisUrlSet: redisUrlRaw !== undefined,
    redisKeyPrefix: prefix,
    proxyHost: r.string('PROXY_HOST'),
    proxyPort: r.int('PROXY_PORT', 0, 65535),
    predictHost: r.string('PREDICT_HOST'),
    predictPort: r.int('PREDICT_PORT', 0, 65535),
    predictUrls,
    predictTimeoutMs: r.int('PREDICT_TIMEOUT_MS', 100, 3_600_000),
    batchConcurrency: r.int('BATCH_CONCURRENCY', 1, 1024),
    batchMetricsHost: r.string('BATCH_METRICS_HOST'),
    batchMetricsPort: r.int('BATCH_METRICS_PORT', 0, 65535),
    jobTtlSeconds: r.int('JOB_TTL_SECONDS', 1, 365 * 24 * 60 * 60),
    model: r.string('MODEL'),
    modelsDir: resolveModelsDir(r.string('CUTOUT_MODELS_DIR')),
    predictIntraOpThreads: r.int('PREDICT_INTRA_OP_THREADS', 0, 256),
    predictSharpConcurrency: r.int('PREDICT_SHARP_CONCURRENCY', 0, 256),
    predictInterOpThreads: r.int('PREDICT_INTER_OP_THREADS', 0, 256),
    predictGraphOptimization: r.oneOf('PREDICT_GRAPH_OPTIMIZATION', GRAPH_OPTIMIZATION_LEVELS),
    predictThreadSpinning: r.int('PREDICT_THREAD_SPINNING', 0, 1) === 1,
    predictMaxBatch: r.int('PREDICT_MAX_BATCH', 1, 256),
    predictMaxDelayMs: r.int('PREDICT_MAX_DELAY_MS', 0, 10_000),
    outputPngCompression: r.int('OUTPUT_PNG_COMPRESSION', 0, 9),
    logLevel: (LOG_LEVELS as readonly string[]).includes(logLevel) ? (logLevel as LogLevel) : 'info',
    maxImageBytes: r.int('MAX_IMAGE_BYTES', 1024, MAX_IMAGE_BYTES_CEILING),
    maxImagePixels: r.int('MAX_IMAGE_PIXELS', 1, 1_000_000_000),
    shutdownGraceMs: r.int('SHUTDOWN_GRACE_MS', 0, 3_600_000),
    jobMaxAttempts: r.int('JOB_MAX_ATTEMPTS', 1, 100),
    jobLeaseMs,
    retryBaseDelayMs: r.int('RETRY_BASE_DELAY_MS', 0, 3_600_000),
    retryMaxDelayMs: r.int('RETRY_MAX_DELAY_MS', 0, 3_600_000),
    reaperIntervalMs: r.int('REAPER_INTERVAL_MS', 50, 3_600_000),
    queueMaxDepth: r.int('QUEUE_MAX_DEPTH', 1, 100_000_000),
    queueMaxMemoryRatio: r.ratio('QUEUE_MAX_MEMORY_RATIO'),
    deadLetterMax: r.int('DEAD_LETTER_MAX', 1, 10_000_000),
    redisCommandTimeoutMs: r.int('REDIS_COMMAND_TIMEOUT_MS', 50, 60_000),
    batchRedisTimeoutMs: batchRedisTimeout(r, jobLeaseMs),
    apiKeys: readApiKeys(r.raw('API_KEYS'), r.raw('API_KEYS_FILE'), r.problems),
    apiKeyMaxQueued: r.int('API_KEY_MAX_QUEUED', 0, 100_000_000),
    syncTimeoutMs: r.int('SYNC_TIMEOUT_MS', 100, 3_600_000),
    visionMaxRequests: r.int('VISION_MAX_REQUESTS', 1, 1_000),
    groupMaxImages: r.int('GROUP_MAX_IMAGES', 1, 10_000),
    maxRequestBytes: r.int('MAX_REQUEST_BYTES', 64 * 1024, MAX_REQUEST_BYTES_CEILING),
    bodyBudgetBytes: r.int('BODY_BUDGET_BYTES', 64 * 1024, 64 * 1024 * 1024 * 1024),
    jobDefaultDeadlineS: r.int('JOB_DEFAULT_DEADLINE_S', 0, 365 * 24 * 3600),
    callbackSecret: r.raw('CALLBACK_SECRET') ?? '',
    callbackMaxAttempts: r.int('CALLBACK_MAX_ATTEMPTS', 1, 100),
    callbackTimeoutMs: r.int('CALLBACK_TIMEOUT_MS', 100, 600_000),
    httpRequestTimeoutMs: r.int('HTTP_REQUEST_TIMEOUT_MS', 1_000, 3_600_000),
    httpWriteTimeoutMs: r.int('HTTP_WRITE_TIMEOUT_MS', 100, 3_600_000),
    httpWriteMinBytesPerS: r.int('HTTP_WRITE_MIN_BYTES_PER_S', 1, 10_000_000_000),
    predictToken: r.raw('PREDICT_TOKEN') ?? '',
    predictMaxInflight: r.int('PREDICT_MAX_INFLIGHT', 1, 10_000),
    stackRedisDir: r.raw('STACK_REDIS_DIR') === undefined ? null : resolveModelsDir(r.string('STACK_REDIS_DIR')),
    callbackAllowHosts: hostList(r.raw('CALLBACK_ALLOW_HOSTS')),
    callbackKeyConcurrency: r.int('CALLBACK_KEY_CONCURRENCY', 1, 1_000),
    fetchAllowHosts: hostList(r.raw('FETCH_ALLOW_HOSTS')),
    fetchTimeoutMs: r.int('FETCH_TIMEOUT_MS', 100, 600_000),
  };
  if (config.predictToken !== '' && config.predictToken.length < MIN_CALLBACK_SECRET_LENGTH) {
    r.problems.push(`PREDICT_TOKEN: must be at least ${MIN_CALLBACK_SECRET_LENGTH} characters (it is not shown)`);
  }
  if (config.callbackSecret !== '' && config.callbackSecret.length < MIN_CALLBACK_SECRET_LENGTH) {
    r.problems.push(`CALLBACK_SECRET: must be at least ${MIN_CALLBACK_SECRET_LENGTH} characters (it is not shown)`);
  }
  if (config.retryMaxDelayMs < config.retryBaseDelayMs) {
    r.problems.push(`RETRY_MAX_DELAY_MS=${config.retryMaxDelayMs}: must be at least RETRY_BASE_DELAY_MS (${config.retryBaseDelayMs})`);
  }
  if (r.ok('BODY_BUDGET_BYTES') && r.ok('MAX_REQUEST_BYTES') && config.bodyBudgetBytes < config.maxRequestBytes) {
    r.problems.push(
      `BODY_BUDGET_BYTES=${config.bodyBudgetBytes} with MAX_REQUEST_BYTES=${config.maxRequestBytes}: a request of MAX_REQUEST_BYTES could never fit in the body budget; raise BODY_BUDGET_BYTES to at least ${config.maxRequestBytes} or lower MAX_REQUEST_BYTES`,
    );
  }
  if (service === 'predict') r.problems.push(...predictExposureProblems(config));
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return Object.freeze(config);
}

/** A comma-separated list of host names or addresses, lower case, IPv6 without brackets. */
function hostList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1'))
    .filter((h) => h !== '');
}

/**
 * predict runs images through the model for anyone who reaches it, around the queue, its
 * admission and API keys. Off loopback it must ask for PREDICT_TOKEN (batch sends it).
 */
function predictExposureProblems(config: Config): string[] {
  if (config.predictToken !== '' || isLoopbackAddress(config.predictHost)) return [];
  return [
    `PREDICT_HOST=${JSON.stringify(config.predictHost)} without PREDICT_TOKEN: predict would answer POST /predict and /metrics to anyone who can reach that address. ` +
      'Set PREDICT_TOKEN (16+ characters, the same on batch) or listen on loopback only (PREDICT_HOST=127.0.0.1, or ::1); ' +
      'a host name, even localhost, or a wildcard (0.0.0.0, ::) does not count as loopback',
  ];
}

/** For main.ts files: the config, or a clear message and exit code 2. */
export function loadConfigOrExit(service: string, env: Env = process.env): Config {
  try {
    return loadConfig(env, service);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`cutout ${service}: ${error.message}\n`);
    process.exit(2);
  }
}
