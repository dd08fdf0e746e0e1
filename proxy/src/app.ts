import type { IncomingMessage, RequestListener } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AppError, errorHandler, notFoundHandler, requestContext, type Logger } from '@cutout/shared';
import { HttpMetrics, metricsHandler, registerQueueMetrics, type Registry } from '@cutout/shared/metrics';
import { DEFAULTS, type ApiKey } from '@cutout/config';
import { BODY_BUDGET_RETRY_AFTER_S, BodyBudget } from './body-budget.js';
import type { BodyLimits } from './body-source.js';
import { registerBodyMetrics } from './body-metrics.js';
import { createKeyring, requireApiKey } from './auth.js';
import { clientErrors } from './client-errors.js';
import { docsRoutes, isPublicPath } from './docs.routes.js';
import { isPagePath, pageRoutes } from './page.routes.js';
import { buildOpenApiDocument } from './openapi.js';
import { syncRoutes, type UrlFetchPolicy } from './sync.routes.js';
import { taskRoutes } from './tasks.routes.js';
import { v1Routes } from './v1.routes.js';
import { groupRoutes } from './groups.routes.js';
import { DEFAULT_GROUP_MAX_IMAGES, GroupService } from './groups.service.js';
import { DEFAULT_SUBMIT_POLICY, type KeyPolicy, type SubmitPolicy } from './submit-fields.js';
import { MemoryGuard } from './memory-guard.js';
import { createFastJobs } from './fast-jobs.js';

export const DEFAULT_QUEUE_MAX_MEMORY_RATIO = 0.9;
import { visionRoutes } from './vision.routes.js';
import type { JobDoneWaits } from './job-done.listener.js';
import { getJobHandler, jobsRoutes } from './jobs.routes.js';
import { inMiB } from './jobs.schema.js';
import { JobService, type JobStore, type UploadLimits } from './jobs.service.js';
import { createRedisGuard } from './redis-guard.js';
import { statusRoutes } from './status.routes.js';
import { StatusService } from './status.service.js';

export const DEFAULT_HEALTH_TIMEOUT_MS = 500;
/** REDIS_COMMAND_TIMEOUT_MS's default; main.ts passes the configured value. */
export const DEFAULT_REDIS_TIMEOUT_MS = 800;
/** Retry-After (seconds) on 429 QUEUE_FULL when createApp is not told otherwise. */
export const DEFAULT_QUEUE_FULL_RETRY_AFTER_S = 5;

export interface ProxyDeps {
  /** Job state in Redis; its `ping` is the health check. */
  jobs: JobStore;
  logger: Logger;
  /** MAX_IMAGE_BYTES and MAX_IMAGE_PIXELS. */
  limits: UploadLimits;
  /** MODEL, reported by /metadata. */
  model: string;
  /** JOB_TTL_SECONDS, reported by /metadata. */
  jobTtlSeconds: number;
  /** How long /health waits for PING before answering 503 (default 500 ms). */
  healthTimeoutMs?: number;
  /** How long any other Redis call may take before the request answers 503 (REDIS_COMMAND_TIMEOUT_MS, default 800 ms). */
  redisTimeoutMs?: number;
  /** Replaces the Redis connection when calls given up on it stay unanswered (main.ts: RedisLink.replace). */
  onRedisStuck?: () => void;
  /** Retry-After seconds sent with 429 QUEUE_FULL (default 5). */
  queueFullRetryAfterSeconds?: number;
  /** Long polls (`GET /get_job/{id}?wait=`); without it a wait answers at once. The caller starts and closes it. */
  jobDone?: JobDoneWaits;
  /** API_KEYS / API_KEYS_FILE; none (default): the API is open. */
  apiKeys?: readonly ApiKey[];
  /** API_KEY_MAX_QUEUED (default 0: no limit); a key's own max_queued (API_KEYS_FILE) overrides it. */
  maxQueuedPerKey?: number;
  /** SYNC_TIMEOUT_MS (default 60 000). */
  syncTimeoutMs?: number;
  /** VISION_MAX_REQUESTS (default 16). */
  visionMaxRequests?: number;
  /** GROUP_MAX_IMAGES (default 100). */
  groupMaxImages?: number;
  /** MAX_REQUEST_BYTES (default 128 MiB): the most one body may hold once decompressed. */
  maxRequestBytes?: number;
  /** BODY_BUDGET_BYTES (default 256 MiB): request bodies held at once, by the whole app. */
  bodyBudgetBytes?: number;
  /** QUEUE_MAX_MEMORY_RATIO (default 0.9): uploads are refused above that share of Redis's maxmemory. */
  queueMaxMemoryRatio?: number;
  /** GET /api/remove?url= (FETCH_ALLOW_HOSTS, FETCH_TIMEOUT_MS); default: public addresses only, 10 s. */
  urlFetch?: UrlFetchPolicy;
  /** Callbacks (CALLBACK_SECRET, CALLBACK_ALLOW_HOSTS) and JOB_DEFAULT_DEADLINE_S; default: no callbacks, no deadline. */
  submitPolicy?: Omit<SubmitPolicy, 'maxQueuedPerKey' | 'keys'>;
  /**
   * This process's metrics registry: GET /metrics serves it, every request is timed into it,
   * and the queue's sizes are read into it from Redis at each scrape. None: no /metrics.
   */
  metrics?: Registry;
}

export const DEFAULT_SYNC_TIMEOUT_MS = 60_000;
export const DEFAULT_VISION_MAX_REQUESTS = 16;
const VERSION = '0.1.0';

function checkDeps(deps: ProxyDeps): void {
  const { maxImageBytes, maxImagePixels } = deps.limits;
  for (const [name, value] of Object.entries({ maxImageBytes, maxImagePixels, jobTtlSeconds: deps.jobTtlSeconds, maxRequestBytes: deps.maxRequestBytes ?? 1, bodyBudgetBytes: deps.bodyBudgetBytes ?? 1 })) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createApp: ${name} must be a positive whole number, got ${value}`);
  }
  for (const [name, value] of Object.entries({ healthTimeoutMs: deps.healthTimeoutMs, redisTimeoutMs: deps.redisTimeoutMs })) {
    if (value !== undefined && !(value > 0)) throw new TypeError(`createApp: ${name} must be a positive number of milliseconds, got ${value}`);
  }
  const retryAfter = deps.queueFullRetryAfterSeconds;
  if (retryAfter !== undefined && !(Number.isSafeInteger(retryAfter) && retryAfter > 0)) {
    throw new TypeError(`createApp: queueFullRetryAfterSeconds must be a positive whole number of seconds, got ${retryAfter}`);
  }
}

/** Errors that go away with time: Retry-After tells the client when to come back. */
function retryAfterHeader(retryAfter: Readonly<Record<string, number>>) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const seconds = error instanceof AppError ? retryAfter[error.code] : undefined;
    if (seconds !== undefined) res.setHeader('Retry-After', String(seconds));
    next(error);
  };
}

/** Each key's own max_queued, priorities and whether it signs its callbacks itself, by name: what a submit checks. */
function keyPolicies(keys: readonly ApiKey[]): ReadonlyMap<string, KeyPolicy> {
  return new Map(
    keys.map(({ name, maxQueued, priorities, callbackSecret }) => [
      name,
      { ...(maxQueued === undefined ? {} : { maxQueued }), ...(priorities === undefined ? {} : { priorities }), ...(callbackSecret ? { hasCallbackSecret: true } : {}) },
    ]),
  );
}

/** Builds the proxy's express app; the caller listens and owns the Redis connection. */
export function createApp(deps: ProxyDeps): Express {
  return createProxy(deps).app;
}

/**
 * The proxy's app and the listener main.ts serves it with: the fast lane (fast-jobs.ts) takes
 * POST /start_job and GET /get_job/:id before express is entered at all, and everything else goes
 * to express. The app runs the same fast lane as its first step, so whoever listens on the app
 * alone (tests) gets the same answers from the same code.
 */
export function createProxy(deps: ProxyDeps): { app: Express; listener: RequestListener } {
  checkDeps(deps);
  const guard = createRedisGuard({ logger: deps.logger, timeoutMs: deps.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS, ...(deps.onRedisStuck ? { onStuck: deps.onRedisStuck } : {}) });
  const policy = { ...DEFAULT_SUBMIT_POLICY, ...deps.submitPolicy, maxQueuedPerKey: deps.maxQueuedPerKey ?? 0, keys: keyPolicies(deps.apiKeys ?? []) };
  const redisTimeoutMs = deps.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const memory = new MemoryGuard({ jobs: deps.jobs, maxRatio: deps.queueMaxMemoryRatio ?? DEFAULT_QUEUE_MAX_MEMORY_RATIO });
  const jobService = new JobService({ jobs: deps.jobs, logger: deps.logger, limits: deps.limits, guard, jobDone: deps.jobDone, policy, redisTimeoutMs, memory });
  const groupService = new GroupService({ jobs: jobService, logger: deps.logger, limits: deps.limits, maxImages: deps.groupMaxImages ?? DEFAULT_GROUP_MAX_IMAGES, jobDone: deps.jobDone });
  const keyring = createKeyring(deps.apiKeys ?? []);
  const syncTimeoutMs = deps.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  const statusService = new StatusService({
    jobs: deps.jobs,
    guard,
    limits: deps.limits,
    model: deps.model,
    jobTtlSeconds: deps.jobTtlSeconds,
    healthTimeoutMs: deps.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    countsOnly: keyring.enabled,
  });

  const queueFullRetryAfter = deps.queueFullRetryAfterSeconds ?? DEFAULT_QUEUE_FULL_RETRY_AFTER_S;
  const retryAfter = { REDIS_UNAVAILABLE: 1, QUEUE_FULL: queueFullRetryAfter, KEY_QUEUE_FULL: queueFullRetryAfter, JOB_NOT_FINISHED: 1, BODY_BUDGET_FULL: BODY_BUDGET_RETRY_AFTER_S };
  const http = deps.metrics ? new HttpMetrics(deps.metrics, 'proxy') : undefined;
  const body: BodyLimits = {
    maxImageBytes: deps.limits.maxImageBytes,
    maxRequestBytes: deps.maxRequestBytes ?? DEFAULTS.MAX_REQUEST_BYTES,
    budget: new BodyBudget(deps.bodyBudgetBytes ?? DEFAULTS.BODY_BUDGET_BYTES),
  };
  const limits = { ...deps.limits, ...body };
  const fast = createFastJobs({ service: jobService, keyring, logger: deps.logger, body, retryAfter, ...(http ? { http } : {}) });

  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!(req as FastChecked)[FAST_CHECKED] && fast(req, res)) return;
    next();
  });
  app.use(requestContext(deps.logger, http));
  app.use(requireApiKey(keyring, (req) => isPublicPath(req.method, req.path) || isPagePath(req.method, req.path)));
  if (deps.metrics) {
    registerQueueMetrics(deps.metrics, { stats: () => deps.jobs.stats(), timeoutMs: redisTimeoutMs });
    registerBodyMetrics(deps.metrics, body.budget);
    // Behind the API key like every call but /health (a scraper sends it as a bearer token).
    app.get('/metrics', metricsHandler(deps.metrics));
  }
  // The call a polling client makes most, first: no other router defines this path.
  app.get('/get_job/:job_id', getJobHandler(jobService));
  app.use(statusRoutes(statusService));
  app.use(docsRoutes(buildOpenApiDocument(VERSION)));
  app.use(pageRoutes({ maxImageBytes: deps.limits.maxImageBytes }));
  app.use(jobsRoutes(jobService, body));
  app.use(v1Routes(jobService, limits));
  app.use(groupRoutes(groupService, body));
  app.use(syncRoutes({ service: jobService, limits, timeoutMs: syncTimeoutMs, model: deps.model, ...(deps.urlFetch ? { fetch: deps.urlFetch } : {}) }));
  app.use(taskRoutes(jobService, limits));
  app.use(visionRoutes({ service: jobService, limits, timeoutMs: syncTimeoutMs, maxRequests: deps.visionMaxRequests ?? DEFAULT_VISION_MAX_REQUESTS }));
  app.use(notFoundHandler());
  app.use(clientErrors());
  app.use(retryAfterHeader(retryAfter));
  app.use(errorHandler({ logger: deps.logger, bodyLimitHint: `an upload may hold an image of up to ${inMiB(deps.limits.maxImageBytes)} (MAX_IMAGE_BYTES)` }));
  const listener: RequestListener = (req, res) => {
    if (fast(req, res)) return;
    // Already looked at: the app's own first step need not look again.
    (req as FastChecked)[FAST_CHECKED] = true;
    app(req, res);
  };
  return { app, listener };
}

const FAST_CHECKED = Symbol('fast lane already declined');
type FastChecked = IncomingMessage & { [FAST_CHECKED]?: true };
